"""A run's frozen policy: config, agent, env and the params of one checkpoint.

``load_frozen_run(run_dir, checkpoint="latest") -> FrozenRun`` is what ``metarl
eval``, ``metarl probe`` and sweeps restore through:

1. the run's ``config.json``; the checkpoint named by ``checkpoint`` (``latest``,
   ``best`` or an update number: ``parse_checkpoint_choice`` /
   ``resolve_checkpoint_step``), whose sidecar config must match the run's
   (``CheckpointError`` naming the differing fields otherwise, before anything is
   built);
2. the agent and env from ``metarl.training.build.build(config)``: no optimizer,
   no compiled trainer;
3. the params alone, restored from the checkpoint's saved train state by a
   partial restore onto ``jax.eval_shape`` of the agent's own init (with the
   leading ``[num_seeds]`` axis): no optimizer is needed to know the target.
   ``Checkpointer.restore`` first verifies the whole checkpoint against the
   checksums its sidecar recorded at save (damage anywhere refuses it).

Checkpoints are opened read-only (``open_read_only``), with orbax's "a read-only
manager does not save" warning muted: expected here, not news.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import jax

from metarl.config import ExperimentConfig
from metarl.errors import ConfigError
from metarl.runner.checkpointing import Checkpointer, CheckpointError
from metarl.runner.run_dir import RunDir
from metarl.training.build import Built, build

CHOICES = ("latest", "best")


def parse_checkpoint_choice(text: str) -> str | int:
    """'latest', 'best', or a non-negative update number (ConfigError otherwise)."""
    if text in CHOICES:
        return text
    if text.isdigit():
        return int(text)
    raise ConfigError(
        f"--checkpoint {text!r} is not allowed; allowed values: 'latest', 'best', or an update number"
    )


def resolve_checkpoint_step(checkpointer: Checkpointer, choice: str | int) -> int:
    """The update number ``choice`` names among the run's checkpoints (CheckpointError if none)."""
    steps = sorted(checkpointer.steps())
    if not steps:
        raise CheckpointError(
            checkpointer.directory, "no checkpoints saved yet (train the run first)"
        )
    if choice == "latest":
        return steps[-1]
    if choice == "best":
        best = checkpointer.best_step()
        if best is None:
            raise CheckpointError(
                checkpointer.directory, "no checkpoint carries a best-metric value"
            )
        return best
    if choice not in steps:
        raise CheckpointError(
            checkpointer.step_path(int(choice)),
            f"no checkpoint at update {choice}; available: {', '.join(map(str, steps))}",
        )
    return int(choice)


def open_read_only(run_dir: str | Path, config: ExperimentConfig) -> Checkpointer:
    """A read-only ``Checkpointer`` on ``run_dir``'s checkpoints (close it when done).

    orbax warns (through absl) that a read-only manager does not save: expected
    when reading a frozen run, so muted while the manager opens.
    """
    run = RunDir(run_dir)
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        return Checkpointer(run.checkpoint_dir, config, read_only=True)
    finally:
        absl_logger.setLevel(level)


def abstract_params(built: Built, num_seeds: int) -> Any:
    """Shapes and dtypes of the agent's params with a leading [num_seeds] axis (one device)."""
    one_seed = jax.eval_shape(built.agent.init_params, jax.random.PRNGKey(0))
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct((num_seeds, *leaf.shape), leaf.dtype, sharding=device),
        one_seed,
    )


def restore_params(checkpointer: Checkpointer, step: int, target: Any) -> Any:
    """The ``params`` of ``step``'s saved train state, restored onto ``target`` and verified.

    A partial restore: the optimizer state, env states and carries are not restored
    (a frozen policy has no use for them, and their layout depends on the
    algorithm), though ``Checkpointer.restore`` checks them with the rest of the
    checkpoint against the recorded checksums (``CheckpointError``: path, reason).
    """
    state, _ = checkpointer.restore(step, {"params": target}, partial=True)
    return state["params"]


@dataclasses.dataclass(frozen=True)
class FrozenRun:
    """A run's config, its agent and env (as built for training) and one checkpoint's params."""

    run_dir: Path
    config: ExperimentConfig
    built: Built
    """Env (RL^2-wrapped and bare), the training env params and the agent."""
    params: Any
    """Agent params with a leading [num_seeds] axis."""
    step: int
    """The restored checkpoint's update number."""
    choice: str
    """What was asked for: 'latest', 'best' or the update number."""
    restore_s: float

    @property
    def agent(self):
        return self.built.agent

    @property
    def env(self):
        """The RL^2-wrapped training env."""
        return self.built.env

    @property
    def base_env(self):
        """The family env the RL^2 wrapper wraps (suites rebuild it with their overrides)."""
        return self.built.base_env

    @property
    def env_params(self):
        """The training env params (its task pool, drift)."""
        return self.built.env_params

    @property
    def num_seeds(self) -> int:
        return int(jax.tree.leaves(self.params)[0].shape[0])

    def seed_params(self, index: int) -> Any:
        """Training seed ``index``'s params (no seed axis)."""
        if not 0 <= index < self.num_seeds:
            raise ConfigError(
                f"--seed-index {index} is out of range; allowed: 0..{self.num_seeds - 1}"
            )
        return jax.tree.map(lambda leaf: leaf[index], self.params)


def load_frozen_run(run_dir: str | Path, checkpoint: str | int = "latest") -> FrozenRun:
    """Restore ``run_dir``'s checkpoint as a frozen policy (RunDirError / CheckpointError on failure)."""
    start = time.perf_counter()
    run = RunDir(run_dir)
    config = run.read_config()
    if isinstance(checkpoint, str):
        checkpoint = parse_checkpoint_choice(checkpoint)
    if not run.checkpoint_dir.is_dir():
        raise CheckpointError(run.checkpoint_dir, "no checkpoints directory (train the run first)")
    checkpointer = open_read_only(run.root, config)
    try:
        step = resolve_checkpoint_step(checkpointer, checkpoint)
        checkpointer.read_meta(step)  # config mismatch: refuse before building anything
        built = build(config)
        params = restore_params(checkpointer, step, abstract_params(built, config.run.num_seeds))
    finally:
        checkpointer.close()
    return FrozenRun(
        run_dir=run.root,
        config=config,
        built=built,
        params=params,
        step=step,
        choice=str(checkpoint),
        restore_s=time.perf_counter() - start,
    )
