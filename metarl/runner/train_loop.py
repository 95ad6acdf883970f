"""The host loop: drive compiled chunks; log, check and checkpoint between them.

``train(config, run_dir, resume=...)`` is the whole of ``metarl train`` after the
config is resolved. Each chunk is one device call of ``trainer.train_chunk``
(``run.updates_per_chunk`` updates); between chunks the host pulls the chunk's
metrics, stops on a non-finite loss *before* anything of that chunk is saved,
appends one metrics.jsonl line and TensorBoard scalars (process 0), reports
progress, and hands the whole TrainState to orbax (every process).

Exact resume: the checkpoint at update U holds the entire state the next chunk
reads, so restoring it and running the remaining chunks replays the same
computation; metrics.jsonl is cut back to U so the log has no orphan updates.
A resume restores the newest checkpoint that verifies (see checkpointing): newer,
damaged ones are reported on stderr and set aside, and the run replays from there.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import jax
import numpy as np

from metarl.config import ExperimentConfig
from metarl.runner import distributed, integrity
from metarl.runner.checkpointing import Checkpointer, CheckpointError
from metarl.runner.metrics_log import MetricsLog, TensorBoardLog, chunk_record
from metarl.runner.progress import Progress
from metarl.runner.run_dir import RunDir


class NonFiniteLossError(RuntimeError):
    """A loss went NaN/inf; the chunk was discarded and the last good checkpoint kept."""

    def __init__(self, update: int, seed: int, last_checkpoint: int | None):
        kept = (
            f"the last good checkpoint is at update {last_checkpoint}"
            if last_checkpoint is not None
            else "no checkpoint was saved before it"
        )
        super().__init__(
            f"non-finite loss at update {update} (seed {seed}): stopped without saving that chunk; "
            f"{kept}. Try a lower algo.learning_rate or algo.max_grad_norm."
        )
        self.update = update
        self.seed = seed
        self.last_checkpoint = last_checkpoint


@dataclasses.dataclass
class TrainResult:
    state: Any
    """The final TrainState (on device)."""
    update: int
    """Updates done."""
    start_update: int
    """The update this invocation started from (0, or the restored checkpoint's)."""
    records: list[dict[str, Any]]
    """The metrics.jsonl records written by this invocation."""


def total_updates(config: ExperimentConfig) -> int:
    """Updates the run performs: whole chunks covering ``run.num_updates``."""
    per_chunk = config.run.updates_per_chunk
    return math.ceil(config.run.num_updates / per_chunk) * per_chunk


def env_steps_per_update(config: ExperimentConfig) -> int:
    """Env steps per seed per update."""
    return config.run.num_envs * config.run.rollout_length


def to_host(tree: Any) -> Any:
    """Host numpy copies; arrays spread over processes are gathered (all processes call this)."""
    return jax.tree.map(integrity.host_array, tree)


def first_non_finite(loss_is_finite: np.ndarray) -> tuple[int, int] | None:
    """(update index within the chunk, seed) of the earliest non-finite loss, or None."""
    bad = ~np.asarray(loss_is_finite, bool)  # [num_seeds, updates]
    if not bad.any():
        return None
    seeds, updates = np.nonzero(bad)
    order = np.lexsort((seeds, updates))  # earliest update first, then lowest seed
    return int(updates[order[0]]), int(seeds[order[0]])


def _barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def train(
    config: ExperimentConfig,
    run_dir: Path | str,
    *,
    resume: bool = False,
    trainer: Any = None,
    mesh: jax.sharding.Mesh | None = None,
    progress_stream: TextIO | None = None,
    show_progress: bool = True,
) -> TrainResult:
    """Train ``config`` into ``run_dir`` (fresh, or resumed from its newest intact checkpoint).

    Raises RunDirError (directory unusable), CheckpointError (no checkpoint is
    intact: path and reason), NonFiniteLossError; every process raises alike. A
    fresh run that fails before its first checkpoint removes what it created, so
    the same command, corrected, can start there again.
    """
    directory = RunDir(run_dir)
    primary = distributed.is_primary()
    if resume:
        directory.check_resumable(config)
    else:
        directory.check_fresh()
    if trainer is None:
        trainer = _make_trainer(config, mesh)  # validates env values; compiles nothing yet
    _barrier("metarl_run_dir_checked")  # nobody writes before every process has checked
    created_root = not directory.root.exists()
    if primary:
        if resume:
            directory.update_config(config)
        else:
            directory.create(config)
    _barrier("metarl_run_dir_ready")
    try:
        return _train_in(directory, config, trainer, resume, progress_stream, show_progress)
    except BaseException:
        if not resume and primary:
            directory.remove_if_unused(remove_root=created_root)
        raise


def _train_in(
    directory: RunDir,
    config: ExperimentConfig,
    trainer: Any,
    resume: bool,
    progress_stream: TextIO | None,
    show_progress: bool,
) -> TrainResult:
    primary = distributed.is_primary()
    checkpointer = Checkpointer(directory.checkpoint_dir, config)
    metrics_log = MetricsLog(directory.metrics_path, enabled=primary)
    tb_log = None
    progress = Progress(
        total_updates(config), stream=progress_stream, enabled=show_progress and primary
    )
    try:
        start_update, state = 0, None
        if resume:
            warn = (progress_stream or sys.stderr) if primary else None
            start_update, state = _resume_state(directory, checkpointer, trainer, warn)
            dropped = metrics_log.truncate_after(start_update)
            progress.message(
                f"resuming {directory.root} from "
                + (
                    f"checkpoint at update {start_update}"
                    if state is not None
                    else "scratch (no checkpoint yet)"
                )
                + (f"; dropped {dropped} metrics.jsonl line(s) past it" if dropped else "")
            )
        if state is None:
            state = trainer.init(jax.random.key(config.run.seed))
        tb_log = TensorBoardLog(
            directory.tb_dir, enabled=primary, purge_step=start_update if resume else None
        )
        state, update, records = _run_chunks(
            config, trainer, state, start_update, checkpointer, metrics_log, tb_log, progress
        )
        checkpointer.wait()
        return TrainResult(state=state, update=update, start_update=start_update, records=records)
    finally:
        progress.close()
        # A failed run still finishes the saves it queued, so the last good checkpoint is whole.
        checkpointer.close()
        if tb_log is not None:
            tb_log.close()


def _resume_state(
    directory: RunDir, checkpointer: Checkpointer, trainer: Any, warn: TextIO | None
) -> tuple[int, Any]:
    """(update, state) of the newest intact checkpoint, or (0, None) when there is none.

    Newer checkpoints that fail verification are reported on ``warn`` and moved to
    ``<run_dir>/damaged_checkpoints/`` (kept for inspection): the resumed run saves
    those steps again, and orbax must not see the damaged ones.
    """
    step, state, _, skipped = checkpointer.restore_newest_intact(trainer.abstract_state())
    if skipped:
        if warn is not None:
            for error in skipped:
                warn.write(f"metarl: warning: {error}\n")
            warn.write(
                f"metarl: warning: resuming from the newest intact checkpoint (update {step}); "
                f"the damaged ones move to {directory.damaged_checkpoint_dir}\n"
            )
            warn.flush()
        damaged = [int(Path(error.path).name) for error in skipped]
        _barrier("metarl_damaged_found")  # every process has read them before they move
        if distributed.is_primary():
            checkpointer.set_aside(damaged, directory.damaged_checkpoint_dir)
        _barrier("metarl_damaged_moved")
        checkpointer.reload()
    if step is None:
        return 0, None
    _check_restored_update(state, step, checkpointer)
    return step, state


def _run_chunks(
    config: ExperimentConfig,
    trainer: Any,
    state: Any,
    start_update: int,
    checkpointer: Checkpointer,
    metrics_log: MetricsLog,
    tb_log: TensorBoardLog,
    progress: Progress,
) -> tuple[Any, int, list[dict[str, Any]]]:
    """Run chunks from ``start_update`` to the end; log, check and checkpoint after each."""
    end_update = total_updates(config)
    steps_per_update = env_steps_per_update(config)
    per_chunk = config.run.updates_per_chunk
    update = start_update
    records: list[dict[str, Any]] = []
    run_start = time.monotonic()
    progress.start(update)
    first_chunk = True
    while update < end_update:
        chunk_start = time.monotonic()
        next_state, metrics = trainer.train_chunk(state)
        metrics = to_host(metrics)
        chunk_seconds = time.monotonic() - chunk_start
        bad = first_non_finite(metrics["loss_is_finite"])
        if bad is not None:
            raise NonFiniteLossError(update + bad[0] + 1, bad[1], checkpointer.latest_step())
        state = next_state
        update += per_chunk
        # The trainer counts env steps itself (cumulative per seed); all seeds agree.
        env_steps = (
            int(np.max(metrics["env_steps"][..., -1]))
            if "env_steps" in metrics
            else update * steps_per_update
        )
        chunk_env_steps = per_chunk * steps_per_update * config.run.num_seeds
        record = chunk_record(
            metrics,
            update=update,
            env_steps=env_steps,
            steps_per_s=chunk_env_steps / max(chunk_seconds, 1e-9),
            chunk_seconds=chunk_seconds,
            wall_time_s=time.monotonic() - run_start,
        )
        records.append(record)
        metrics_log.append(record)
        tb_log.write(record)
        checkpointer.save(update, state, _summary(record), force=update >= end_update)
        if first_chunk:
            # The first chunk includes compilation; rates and ETA count from after it.
            progress.start(update)
            first_chunk = False
        progress.update(update, env_steps, record["steps_per_s"], record.get("mean_episode_return"))
    return state, update, records


def _make_trainer(config: ExperimentConfig, mesh: jax.sharding.Mesh | None) -> Any:
    from metarl.errors import ConfigError
    from metarl.training.trainer import make_trainer

    try:
        return make_trainer(config, mesh=mesh)
    except ConfigError as error:
        if str(error).startswith("config"):
            raise
        # The env family's own check (e.g. "bandit-bernoulli-v0: field 'num_arms' ..."):
        # say where in the experiment config that family's fields live.
        raise ConfigError(f"config: field 'env.overrides' is invalid: {error}") from None


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.endswith("_per_seed")}


def _check_restored_update(state: Any, step: int, checkpointer: Checkpointer) -> None:
    """The state's own update counter must agree with the checkpoint step it came from."""
    counter = getattr(state, "update_step", None)
    if counter is None:
        return
    values = np.unique(to_host(counter))
    if values.size != 1 or int(values[0]) != step:
        raise CheckpointError(
            checkpointer.step_path(step),
            f"state.update_step = {values.tolist()} does not match the checkpoint step {step}",
        )
