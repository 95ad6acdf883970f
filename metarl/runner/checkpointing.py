"""Orbax checkpoints of the whole TrainState, with a JSON sidecar, kept latest + best.

Layout: ``<run_dir>/checkpoints/<update>/{state, meta}``. ``state`` is the whole
in-flight TrainState (params, optimizer state, RNG, update step, env states,
carries), saved with ``StandardSave`` so a resume is exact; ``meta`` is a JSON
sidecar (``format_version``, the full config, the update, the chunk's summary
metrics) saved in the same orbax step, so both appear atomically or not at all.

Retention is orbax's own: ``AnyPreservationPolicy([LatestN(keep), BestN(1)])``
keeps the last ``run.keep_checkpoints`` plus the best by ``run.best_metric``; the
metric is stored with each step, so the best survives restarts. Saves
happen every ``run.checkpoint_every_chunks`` chunks (orbax ``FixedIntervalPolicy``
over update counts) and always at the end of the run.

A killed save leaves only an orbax tmp dir (``*.orbax-checkpoint-tmp-*``), which
orbax never lists as a step and which ``cleanup_tmp_directories`` removes when
the next run opens the manager.

Integrity: the sidecar records a checksum of every saved array (``integrity``:
blake2b of its bytes, dtype and shape, by array name), and ``restore`` verifies
every array it returns against it (a partial restore, such as eval's params,
verifies the whole checkpoint first), so damaged data is refused
(``CheckpointError`` naming the checkpoint, the array and the reason, plus the
checkpoints that are intact) and never restored with changed values; every
caller (eval, probe, resume, sweeps) gets the check by restoring through here.
A resume takes the newest checkpoint that verifies (``restore_newest_intact``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers

from metarl.config import ExperimentConfig
from metarl.config_io import config_differences, config_from_dict, config_to_dict
from metarl.errors import ConfigError, check_choice
from metarl.runner import integrity

FORMAT_VERSION = 1
"""Bumped whenever the TrainState layout or the sidecar changes incompatibly."""

STATE_ITEM = "state"
META_ITEM = "meta"
CHECKSUMS_KEY = "integrity"

BEST_METRICS = {"mean_episode_return": "max", "mean_regret_per_step": "min"}
"""Metrics a run may pick its kept 'best' checkpoint by, and which direction is better."""

RESUME_SAFE_FIELDS = (
    "name",
    "description",
    "run.checkpoint_every_chunks",
    "run.keep_checkpoints",
    "run.best_metric",
)
"""Config fields that may change between a checkpoint and its resume: none of them
changes the training computation, so the resumed run stays bit-identical."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message names its path and the reason.

    ``damaged`` is False only for a checkpoint that is whole but not ours to read
    (another format version): an older checkpoint is no substitute for it.
    """

    def __init__(self, path: Path | str, reason: str, *, damaged: bool = True):
        super().__init__(f"checkpoint {path}: {reason}")
        self.path = str(path)
        self.reason = reason
        self.damaged = damaged


def best_metric_mode(metric: str) -> str:
    check_choice("config", "run.best_metric", metric, tuple(BEST_METRICS))
    return BEST_METRICS[metric]


def incompatible_fields(saved: ExperimentConfig, current: ExperimentConfig) -> list[str]:
    """Differences (as 'field: saved -> current') that make a resume inexact or impossible."""
    return [
        f"{field}: {old!r} -> {new!r}"
        for field, old, new in config_differences(saved, current)
        if field not in RESUME_SAFE_FIELDS
    ]


@dataclasses.dataclass
class CheckpointInfo:
    step: int
    path: Path
    meta: dict[str, Any]


class Checkpointer:
    """The run's orbax ``CheckpointManager`` plus sidecar handling and error reporting."""

    def __init__(self, directory: Path | str, config: ExperimentConfig, *, read_only: bool = False):
        self.directory = Path(directory).absolute()
        self.config = config
        run = config.run
        mode = best_metric_mode(run.best_metric)
        best = run.best_metric
        preservation = checkpoint_managers.AnyPreservationPolicy(
            [
                checkpoint_managers.LatestN(n=run.keep_checkpoints),
                checkpoint_managers.BestN(
                    get_metric_fn=lambda metrics: metrics[best],
                    # BestN keeps the last n after sorting ascending; reverse keeps the lowest.
                    reverse=mode == "min",
                    n=1,
                    keep_checkpoints_without_metrics=False,
                ),
            ]
        )
        saving = checkpoint_managers.AnySavePolicy(
            [
                checkpoint_managers.FixedIntervalPolicy(
                    run.updates_per_chunk * run.checkpoint_every_chunks
                ),
                checkpoint_managers.PreemptionCheckpointingPolicy(),
            ]
        )
        options = ocp.CheckpointManagerOptions(
            save_decision_policy=saving,
            preservation_policy=preservation,
            # Not for deletion (the preservation policy decides that) but because orbax
            # only writes each step's metrics to disk, and only answers best_step(),
            # when best_fn is set; without them a resumed run would forget the best.
            best_fn=lambda metrics: metrics[best],
            best_mode=mode,
            cleanup_tmp_directories=not read_only,
            enable_async_checkpointing=True,
            read_only=read_only,
            create=not read_only,
        )
        self.manager = ocp.CheckpointManager(
            self.directory, options=options, item_names=(STATE_ITEM, META_ITEM)
        )
        # Kept open with the manager: closing a reader right after a failed read lets
        # tensorstore's late callbacks hit a closed event loop (pages of tracebacks).
        self._reader = ocp.PyTreeCheckpointer()

    # ------------------------------------------------------------------ save
    def save(
        self, update: int, state: Any, summary: dict[str, Any], *, force: bool = False
    ) -> bool:
        """Queue an async save of ``state`` at ``update`` (a no-op off the save interval unless forced)."""
        if self.config.run.best_metric not in summary:
            raise ConfigError(
                f"config: field 'run.best_metric' = {self.config.run.best_metric!r} is not reported by "
                f"this run; allowed values here: {', '.join(repr(k) for k in BEST_METRICS if k in summary)}"
            )
        if not force and not self.manager.should_save(int(update)):
            return False  # off the save interval: skip hashing the state too
        value = summary[self.config.run.best_metric]
        if value is None:  # no finite value this chunk (e.g. no episode finished): never the best
            value = (
                -math.inf if best_metric_mode(self.config.run.best_metric) == "max" else math.inf
            )
        meta = {
            "format_version": FORMAT_VERSION,
            "update": int(update),
            "config": config_to_dict(self.config),
            "summary": summary,
            # Hashed from the state handed to orbax, before its async write begins.
            CHECKSUMS_KEY: {
                "algorithm": integrity.ALGORITHM,
                "arrays": integrity.array_digests(state),
            },
        }
        return self.manager.save(
            int(update),
            args=ocp.args.Composite(
                **{STATE_ITEM: ocp.args.StandardSave(state), META_ITEM: ocp.args.JsonSave(meta)}
            ),
            metrics={self.config.run.best_metric: float(value)},
            force=force,
        )

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()
        self._reader.close()

    # --------------------------------------------------------------- inspect
    def steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def best_step(self) -> int | None:
        return self.manager.best_step()

    def step_path(self, step: int) -> Path:
        return self.directory / str(step)

    def read_meta(self, step: int) -> dict[str, Any]:
        """The sidecar of ``step``, checked for format version and config compatibility."""
        path = self.step_path(step)
        meta_file = path / META_ITEM / "metadata"
        try:
            meta = json.loads(meta_file.read_text())
        except FileNotFoundError:
            raise CheckpointError(path, f"sidecar {meta_file} is missing") from None
        except (OSError, ValueError) as error:
            raise CheckpointError(path, f"sidecar {meta_file} is unreadable ({error})") from None
        if not isinstance(meta, dict):
            raise CheckpointError(path, f"sidecar {meta_file} is not a JSON object")
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise CheckpointError(
                path,
                f"format_version {version!r} is not supported by this metarl (needs {FORMAT_VERSION})",
                damaged=False,
            )
        if meta.get("update") != step:
            raise CheckpointError(
                path, f"sidecar says update {meta.get('update')!r}, directory says {step}"
            )
        checksums = meta.get(CHECKSUMS_KEY)
        if not isinstance(checksums, dict) or not isinstance(checksums.get("arrays"), dict):
            raise CheckpointError(
                path,
                f"sidecar {meta_file} records no array checksums (saved by a metarl that did not "
                "record them, or damaged), so its data cannot be verified",
            )
        if checksums.get("algorithm") != integrity.ALGORITHM:
            raise CheckpointError(
                path,
                f"sidecar checksums use {checksums.get('algorithm')!r}; this metarl verifies "
                f"{integrity.ALGORITHM!r}",
            )
        try:
            saved = config_from_dict(meta["config"])
        except (KeyError, ConfigError) as error:
            raise CheckpointError(path, f"sidecar config is unusable ({error})") from None
        mismatched = incompatible_fields(saved, self.config)
        if mismatched:
            raise CheckpointError(
                path, "incompatible with the current config: " + "; ".join(mismatched)
            )
        return meta

    # --------------------------------------------------------------- restore
    def restore(
        self, step: int, abstract_state: Any, *, partial: bool = False
    ) -> tuple[Any, dict[str, Any]]:
        """(state, sidecar) of ``step`` restored onto ``abstract_state``'s shapes and shardings.

        ``partial``: ``abstract_state`` is a part of the saved state (e.g.
        ``{"params": ...}``) and only that part is returned, after the whole
        checkpoint is verified (``verify``). Every restored array is verified against
        the checksum saved with it. On any failure the CheckpointError also names
        the checkpoints that are intact.
        """
        try:
            return self.restore_verified(step, abstract_state, partial=partial)
        except CheckpointError as error:
            if not error.damaged:
                raise
            others = self.intact_steps(abstract_state, exclude=(step,), partial=partial)
            raise CheckpointError(
                error.path,
                error.reason
                + (
                    f"; intact checkpoints: {', '.join(map(str, others))}"
                    " (pass --checkpoint STEP to use one)"
                    if others
                    else "; no other checkpoint here is intact"
                ),
            ) from error

    def restore_verified(
        self, step: int, abstract_state: Any, *, partial: bool = False
    ) -> tuple[Any, dict[str, Any]]:
        """``restore`` without the search for intact alternatives on failure."""
        meta = self.verify(step) if partial else self.read_meta(step)
        if partial:
            restore_args = ocp.args.PyTreeRestore(
                item=abstract_state,
                restore_args=ocp.checkpoint_utils.construct_restore_args(abstract_state),
                partial_restore=True,
            )
        else:
            restore_args = ocp.args.StandardRestore(abstract_state)
        state = self._restore_checked(step, restore_args, meta)
        return state, meta

    def verify(self, step: int) -> dict[str, Any]:
        """The sidecar of ``step`` after checking every saved array against its checksum.

        Reads the whole state as host arrays, as saved. A partial restore runs this
        first, so a checkpoint damaged outside the part read (optimizer state, env
        states) is refused too: it is the checkpoint, not the part, that is damaged.
        """
        meta = self.read_meta(step)
        path = self.step_path(step)
        try:
            tree = ocp.PyTreeCheckpointHandler().metadata(path / STATE_ITEM).tree
            device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
            as_saved = jax.tree.map(
                lambda leaf: ocp.ArrayRestoreArgs(
                    sharding=device, global_shape=leaf.shape, dtype=leaf.dtype
                ),
                tree,
            )
            restore_args = ocp.args.PyTreeRestore(restore_args=as_saved)
        except Exception as error:  # unreadable tree metadata: the checkpoint is damaged
            reason = _first_lines(f"{type(error).__name__}: {error}".strip())
            raise CheckpointError(path, f"state cannot be restored ({reason})") from error
        state = self._restore_checked(step, restore_args, meta)
        missing = sorted(set(meta[CHECKSUMS_KEY]["arrays"]) - set(integrity.array_digests(state)))
        if missing:
            raise CheckpointError(path, f"array {missing[0]} was saved but is missing")
        return meta

    def _restore_checked(self, step: int, restore_args: Any, meta: dict[str, Any]) -> Any:
        """orbax's restore of the state item, then every restored array checked."""
        path = self.step_path(step)
        failure = None
        try:
            if isinstance(restore_args, ocp.args.StandardRestore):
                state = self.manager.restore(
                    step, args=ocp.args.Composite(**{STATE_ITEM: restore_args})
                )[STATE_ITEM]
            else:
                # The manager ties an item to the handler of its first use (StandardSave
                # in a training run); partial and as-saved reads go through their own.
                state = self._reader.restore(path / STATE_ITEM, args=restore_args)
        except Exception as error:  # orbax/tensorstore raise many types; all mean "unusable"
            failure = error
        if not integrity.all_processes_ok(failure is None):
            if failure is not None:
                root = _root_cause(failure)
                reason = _first_lines(f"{type(root).__name__}: {root}".strip())
            else:
                reason = "another process could not read its part"
            raise CheckpointError(path, f"state cannot be restored ({reason})") from failure
        mismatch = integrity.find_mismatch(state, meta[CHECKSUMS_KEY]["arrays"])
        if mismatch is not None:
            array, reason = mismatch
            raise CheckpointError(path, f"array {array} fails verification: {reason}")
        return state

    def intact_steps(
        self, abstract_state: Any, exclude: tuple[int, ...] = (), *, partial: bool = False
    ) -> list[int]:
        """Steps (ascending) whose ``abstract_state`` part restores and verifies (read to know)."""
        intact = []
        for step in sorted(self.steps()):
            if step in exclude:
                continue
            try:
                self.restore_verified(step, abstract_state, partial=partial)
            except CheckpointError:
                continue
            intact.append(step)
        return intact

    def restore_newest_intact(
        self, abstract_state: Any
    ) -> tuple[int | None, Any, dict[str, Any] | None, list[CheckpointError]]:
        """(step, state, sidecar, errors of the newer steps passed over) for a resume.

        Walks from the latest step down and stops at the first that verifies; step is
        None when there is no checkpoint. Raises when none is intact, or when a step
        is whole but of another format (an older one is no substitute for it).
        """
        skipped: list[CheckpointError] = []
        for step in sorted(self.steps(), reverse=True):
            try:
                state, meta = self.restore_verified(step, abstract_state)
            except CheckpointError as error:
                if not error.damaged:
                    raise
                skipped.append(error)
                continue
            return step, state, meta, skipped
        if skipped:
            raise CheckpointError(
                self.directory,
                "no checkpoint is intact: " + "; ".join(str(e) for e in skipped),
            )
        return None, None, None, []

    def set_aside(self, steps: list[int], destination: Path) -> list[Path]:
        """Move ``steps`` out of the manager's directory (kept for inspection, never read)."""
        moved = []
        destination.mkdir(parents=True, exist_ok=True)
        for step in steps:
            source = self.step_path(step)
            if not source.exists():
                continue
            target = destination / str(step)
            suffix = 1
            while target.exists():  # an earlier resume set the same step aside
                target = destination / f"{step}.{suffix}"
                suffix += 1
            source.rename(target)
            moved.append(target)
        return moved

    def reload(self) -> None:
        """Re-read the step list from disk (after ``set_aside`` by this or another process)."""
        self.manager.reload()


def _root_cause(error: BaseException) -> BaseException:
    """The innermost cause: orbax wraps tensorstore's error (which names the array and the
    file) in one that prints the whole TensorStore spec instead."""
    seen = {id(error)}
    while True:
        inner = error.__cause__ or error.__context__
        if inner is None or id(inner) in seen:
            return error
        seen.add(id(inner))
        error = inner


def _first_lines(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
