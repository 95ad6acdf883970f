"""Checkpoint integrity: damaged data is refused, a resume falls back to the newest intact one.

One tiny run is trained once for the module; each test damages a copy of it the
way the issue describes (truncate, overwrite a 512-byte block, delete a file,
garble the sidecar, SIGKILL during a save's finalization) and checks that the
damage is refused, or survived, exactly as specified: nothing is ever restored
with changed values, and a resumed run ends bit-identical to the uninterrupted one.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from metarl import cli
from metarl.experiments import load_experiment
from metarl.runner import integrity
from metarl.runner.checkpointing import CHECKSUMS_KEY, Checkpointer, CheckpointError
from metarl.runner.metrics_log import read_records
from metarl.runner.train_loop import train

UPDATES_PER_CHUNK = 2
TOTAL_UPDATES = 10  # saves at 2, 4, 6, 8, 10; keeps the last 2 plus the best

EXPERIMENT_SOURCE = f'''"""Tiny bandit for the checkpoint integrity tests."""
from metarl.config import AgentConfig, EnvConfig, ExperimentConfig, RunConfig

CONFIG = ExperimentConfig(
    name="tiny_integrity",
    description="Tiny 2-armed bandit: checkpoint integrity tests.",
    env=EnvConfig(name="bandit-bernoulli-v0", overrides={{"num_arms": 2, "horizon": 5}}),
    # hidden 32: the recurrent kernels (12 KB) exceed orbax's 1 KB inline limit, so they
    # sit in the OCDBT data files (d/) that the block overwrites aim at.
    agent=AgentConfig(hidden_size=32, embed_size=8),
    run=RunConfig(
        num_envs=4,
        rollout_length=5,
        total_env_steps={4 * 5 * TOTAL_UPDATES},
        updates_per_chunk={UPDATES_PER_CHUNK},
        checkpoint_every_chunks=1,
        keep_checkpoints=2,
    ),
)
'''


@pytest.fixture(scope="module")
def experiment_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("experiments") / "tiny_integrity.py"
    path.write_text(EXPERIMENT_SOURCE)
    return path


@pytest.fixture(scope="module")
def config(experiment_file):
    return load_experiment(str(experiment_file))


@pytest.fixture(scope="module")
def trainer(config):
    from metarl.training.trainer import make_trainer

    return make_trainer(config)


@pytest.fixture(scope="module")
def reference_run(trainer, config, tmp_path_factory):
    """The uninterrupted run every test copies and damages."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    result = train(config, run_dir, trainer=trainer, show_progress=False)
    return run_dir, result


def _steps(run_dir: Path) -> list[int]:
    directory = run_dir / "checkpoints"
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


def _copy(reference_run, tmp_path: Path) -> tuple[Path, int]:
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run[0], run_dir)
    return run_dir, max(_steps(run_dir))


def _largest_state_file(run_dir: Path, step: int) -> Path:
    files = [p for p in (run_dir / "checkpoints" / str(step) / "state").rglob("*") if p.is_file()]
    return max(files, key=lambda p: (p.stat().st_size, p.name))


def _largest_data_file(run_dir: Path, step: int) -> Path:
    """The largest file of array data (OCDBT ``d/`` files; small arrays live in the index)."""
    state = run_dir / "checkpoints" / str(step) / "state"
    files = [p for p in state.rglob("*") if p.is_file() and p.parent.name == "d"]
    return max(files, key=lambda p: (p.stat().st_size, p.name))


def _restore(run_dir: Path, step: int, trainer, config):
    checkpointer = Checkpointer(run_dir / "checkpoints", config, read_only=True)
    try:
        return checkpointer.restore(step, trainer.abstract_state())
    finally:
        checkpointer.close()


def _leaves(tree) -> list[np.ndarray]:
    return [integrity.host_array(leaf) for leaf in jax.tree.leaves(tree)]


def _same(a, b) -> bool:
    left, right = _leaves(a), _leaves(b)
    return len(left) == len(right) > 0 and all(
        x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(left, right, strict=True)
    )


def _overwrite_block(path: Path, seed: int = 0, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    assert len(data) >= 1024, f"{path} is too small to hold a 512-byte block inside"
    start = (len(data) - 512) // 2 if offset is None else offset
    block = np.random.default_rng(seed).integers(0, 256, 512, dtype=np.uint8).tobytes()
    assert data[start : start + 512] != block
    data[start : start + 512] = block
    path.write_bytes(bytes(data))


def _resume(run_dir: Path, config, trainer):
    stream = io.StringIO()
    result = train(config, run_dir, resume=True, trainer=trainer, progress_stream=stream)
    return result, stream.getvalue()


# ------------------------------------------------------------------ what is recorded
def test_sidecar_records_a_checksum_of_every_array(reference_run, trainer, config):
    run_dir, result = reference_run
    latest = max(_steps(run_dir))
    meta = json.loads((run_dir / "checkpoints" / str(latest) / "meta" / "metadata").read_text())
    recorded = meta[CHECKSUMS_KEY]
    assert recorded["algorithm"] == integrity.ALGORITHM
    paths = [
        integrity.leaf_name(p) for p, _ in jax.tree_util.tree_flatten_with_path(result.state)[0]
    ]
    assert sorted(recorded["arrays"]) == sorted(paths) and len(paths) > 5
    assert recorded["arrays"] == integrity.array_digests(result.state)
    state, _ = _restore(run_dir, latest, trainer, config)
    assert _same(state, result.state)


def test_a_changed_recorded_checksum_is_refused_naming_the_array(
    reference_run, trainer, config, tmp_path
):
    run_dir, latest = _copy(reference_run, tmp_path)
    sidecar = run_dir / "checkpoints" / str(latest) / "meta" / "metadata"
    meta = json.loads(sidecar.read_text())
    name = sorted(name for name in meta[CHECKSUMS_KEY]["arrays"] if name.startswith("params."))[0]
    meta[CHECKSUMS_KEY]["arrays"][name]["digest"] = "0" * 32
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as caught:
        _restore(run_dir, latest, trainer, config)
    message = str(caught.value)
    assert caught.value.path == str(run_dir / "checkpoints" / str(latest))
    assert f"array {name} fails verification: checksum mismatch" in message
    intact = [step for step in _steps(run_dir) if step != latest]
    assert f"intact checkpoints: {', '.join(map(str, intact))}" in message


def test_a_partial_restore_of_the_params_is_verified_too(reference_run, trainer, config, tmp_path):
    """What eval and probe read: the params alone, checked against the same checksums."""
    run_dir, latest = _copy(reference_run, tmp_path)
    target = {"params": trainer.abstract_state().params}
    checkpointer = Checkpointer(run_dir / "checkpoints", config, read_only=True)
    try:
        restored, _ = checkpointer.restore(latest, target, partial=True)
        assert _same(restored["params"], reference_run[1].state.params)
        sidecar = run_dir / "checkpoints" / str(latest) / "meta" / "metadata"
        meta = json.loads(sidecar.read_text())
        name = sorted(n for n in meta[CHECKSUMS_KEY]["arrays"] if n.startswith("params."))[-1]
        meta[CHECKSUMS_KEY]["arrays"][name]["digest"] = "f" * 32
        sidecar.write_text(json.dumps(meta))
        with pytest.raises(CheckpointError) as caught:
            checkpointer.restore(latest, target, partial=True)
    finally:
        checkpointer.close()
    assert f"array {name} fails verification: checksum mismatch" in str(caught.value)
    assert f"intact checkpoints: {', '.join(map(str, _steps(run_dir)[:-1]))}" in str(caught.value)


def test_a_partial_restore_refuses_damage_outside_the_part_it_reads(
    reference_run, trainer, config, tmp_path
):
    """The checkpoint, not only the params, must be intact for eval to use it."""
    run_dir, latest = _copy(reference_run, tmp_path)
    sidecar = run_dir / "checkpoints" / str(latest) / "meta" / "metadata"
    meta = json.loads(sidecar.read_text())
    name = sorted(n for n in meta[CHECKSUMS_KEY]["arrays"] if n.startswith("opt_state."))[0]
    meta[CHECKSUMS_KEY]["arrays"][name]["digest"] = "0" * 32
    sidecar.write_text(json.dumps(meta))
    checkpointer = Checkpointer(run_dir / "checkpoints", config, read_only=True)
    try:
        with pytest.raises(CheckpointError) as caught:
            checkpointer.restore(latest, {"params": trainer.abstract_state().params}, partial=True)
    finally:
        checkpointer.close()
    assert f"array {name} fails verification: checksum mismatch" in str(caught.value)


def test_the_saving_checkpointer_restores_whole_and_partial_states(config, tmp_path):
    """orbax ties an item to the handler it was saved with; both restore kinds still work."""
    state = {"w": np.arange(4.0, dtype=np.float32), "v": np.ones((2, 3), np.int32)}
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
    checkpointer = Checkpointer(tmp_path / "checkpoints", config)
    try:
        checkpointer.save(1, state, {"mean_episode_return": 0.0}, force=True)
        checkpointer.wait()
        whole, _ = checkpointer.restore(1, abstract)
        part, _ = checkpointer.restore(1, {"w": abstract["w"]}, partial=True)
        again, _ = checkpointer.restore(1, abstract)
    finally:
        checkpointer.close()
    assert _same(whole, state) and _same(again, state) and _same(part["w"], state["w"])
    assert sorted(part) == ["w"]


def test_only_saved_states_are_hashed(config, tmp_path, monkeypatch):
    """Off the save interval nothing is hashed (nor, on a pod, gathered)."""
    import dataclasses

    every_third = dataclasses.replace(
        config, run=dataclasses.replace(config.run, checkpoint_every_chunks=3)
    )
    hashed = []
    real = integrity.array_digests
    monkeypatch.setattr(integrity, "array_digests", lambda tree: hashed.append(1) or real(tree))
    checkpointer = Checkpointer(tmp_path / "checkpoints", every_third)
    state = {"w": np.zeros(2, np.float32)}
    try:
        saved = [
            update
            for update in range(2, 13, 2)
            if checkpointer.save(update, state, {"mean_episode_return": 0.0})
        ]
        checkpointer.wait()
    finally:
        checkpointer.close()
    assert saved == [6, 12] and len(hashed) == 2


def test_a_sidecar_without_checksums_is_refused(reference_run, trainer, config, tmp_path):
    run_dir, latest = _copy(reference_run, tmp_path)
    sidecar = run_dir / "checkpoints" / str(latest) / "meta" / "metadata"
    meta = json.loads(sidecar.read_text())
    del meta[CHECKSUMS_KEY]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="records no array checksums"):
        _restore(run_dir, latest, trainer, config)


# -------------------------------------------------------------------- fault injection
def _damage_truncate(run_dir: Path, step: int) -> None:
    path = _largest_state_file(run_dir, step)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage_block(run_dir: Path, step: int) -> None:
    _overwrite_block(_largest_data_file(run_dir, step))


def _damage_delete(run_dir: Path, step: int) -> None:
    _largest_state_file(run_dir, step).unlink()


def _damage_sidecar(run_dir: Path, step: int) -> None:
    _overwrite_block(run_dir / "checkpoints" / str(step) / "meta" / "metadata", offset=0)


DAMAGES = {
    "truncate": _damage_truncate,
    "overwrite_512_block": _damage_block,
    "delete_file": _damage_delete,
    "garble_sidecar": _damage_sidecar,
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_latest_is_refused_and_resume_falls_back_bit_identical(
    damage, reference_run, trainer, config, tmp_path
):
    run_dir, latest = _copy(reference_run, tmp_path)
    previous = _steps(run_dir)[-2]
    DAMAGES[damage](run_dir, latest)

    with pytest.raises(CheckpointError) as caught:
        _restore(run_dir, latest, trainer, config)
    message = str(caught.value)
    assert caught.value.path == str(run_dir / "checkpoints" / str(latest))
    assert f"intact checkpoints: {', '.join(map(str, _steps(run_dir)[:-1]))}" in message

    result, stderr = _resume(run_dir, config, trainer)
    assert f"metarl: warning: checkpoint {run_dir / 'checkpoints' / str(latest)}:" in stderr
    assert f"resuming from the newest intact checkpoint (update {previous})" in stderr
    assert result.start_update == previous and result.update == TOTAL_UPDATES
    assert _same(result.state, reference_run[1].state)
    # The replayed checkpoint is whole again and restores the uninterrupted run's values.
    restored, _ = _restore(run_dir, latest, trainer, config)
    assert _same(restored, reference_run[1].state)
    assert (run_dir / "damaged_checkpoints" / str(latest)).is_dir()
    updates = [r["update"] for r in read_records(run_dir / "metrics.jsonl")]
    assert updates == list(range(UPDATES_PER_CHUNK, TOTAL_UPDATES + 1, UPDATES_PER_CHUNK))


def _outcome(restore, reference) -> str:
    """'refused: <reason>', or 'unchanged' when what was read equals ``reference``."""
    try:
        restored = restore()
    except CheckpointError as error:
        return f"refused: {error.reason}"
    assert _same(restored, reference), "restored with changed values"
    return "unchanged"


def test_no_overwritten_block_in_array_data_restores_changed_values(
    reference_run, trainer, config, tmp_path, capfd
):
    """Ten 512-byte overwrites across the largest data file: each is refused, or (a block
    of bytes no array references) restores the saved values; refusals are one line each
    (no tracebacks from orbax's abandoned reads)."""
    run_dir, latest = _copy(reference_run, tmp_path)
    path = _largest_data_file(run_dir, latest)
    original = path.read_bytes()
    reference_state = reference_run[1].state
    target = {"params": trainer.abstract_state().params}
    outcomes = []
    for trial, offset in enumerate(np.linspace(0, len(original) - 512, 10).astype(int)):
        path.write_bytes(original)
        _overwrite_block(path, seed=trial, offset=int(offset))
        outcomes.append(
            _outcome(lambda: _restore(run_dir, latest, trainer, config)[0], reference_state)
        )
        checkpointer = Checkpointer(run_dir / "checkpoints", config, read_only=True)
        try:
            partial = _outcome(
                lambda c=checkpointer: c.restore(latest, target, partial=True)[0]["params"],
                reference_state.params,
            )
        finally:
            checkpointer.close()
        assert (partial == "unchanged") == (outcomes[-1] == "unchanged"), (trial, partial)
    assert "Traceback" not in capfd.readouterr().err
    # Most blocks land in raw float data that decodes to changed values: only the checksum
    # catches those (others break a zstd frame or an index and fail to decode).
    assert sum("checksum mismatch" in outcome for outcome in outcomes) >= 5, outcomes


def test_cli_eval_refuses_a_damaged_latest_and_names_the_intact_ones(
    reference_run, tmp_path, capsys
):
    run_dir, latest = _copy(reference_run, tmp_path)
    _damage_block(run_dir, latest)
    code = cli.main(["eval", str(run_dir), "--episodes", "8", "--no-plot"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CHECKPOINT
    assert f"checkpoint {run_dir / 'checkpoints' / str(latest)}:" in err
    assert f"intact checkpoints: {', '.join(map(str, _steps(run_dir)[:-1]))}" in err
    assert "Traceback" not in err


def test_resume_with_no_intact_checkpoint_is_refused(reference_run, trainer, config, tmp_path):
    run_dir, _ = _copy(reference_run, tmp_path)
    for step in _steps(run_dir):
        _damage_block(run_dir, step)
    with pytest.raises(CheckpointError, match="no checkpoint is intact") as caught:
        _resume(run_dir, config, trainer)
    for step in _steps(run_dir):
        assert str(run_dir / "checkpoints" / str(step)) in str(caught.value)


# ------------------------------------------------------------- SIGKILL during a save
KILL_WORKER = r"""
import os, pathlib, signal, sys
from orbax.checkpoint._src.path import async_path, atomicity, deleter

moment, step, experiment, run_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


real_write_text, real_rename = async_path.write_text, async_path.rename


async def write_text(path, text):
    if moment == "before_commit_file" and path.name == atomicity.COMMIT_SUCCESS_FILE:
        if path.parent.name.startswith(f"{step}.orbax-checkpoint-tmp"):
            die()
    return await real_write_text(path, text)


async def rename(src, dst):
    if dst.name == str(step) and moment == "before_rename":
        die()
    result = await real_rename(src, dst)
    if dst.name == str(step) and moment == "after_rename":
        die()
    return result


def delete(self, victim):
    # Half-deleted: the largest file of the old step's state goes, then the process dies.
    root = pathlib.Path(str(self._directory)) / str(victim) / "state"
    files = [p for p in root.rglob("*") if p.is_file()]
    max(files, key=lambda p: p.stat().st_size).unlink()
    die()


async_path.write_text, async_path.rename = write_text, rename
if moment == "mid_delete":
    deleter.StandardCheckpointDeleter.delete = delete

from metarl import cli

code = cli.main(["train", experiment, "--run-dir", run_dir, "--no-progress"])
sys.exit(f"not killed at {moment} (exit {code})")
"""

KILL_MOMENTS = {
    # moment: (step whose save is killed, newest step a resume must start from)
    "before_commit_file": (6, 4),
    "before_rename": (6, 4),
    "after_rename": (6, 6),
    # Killed in the first deletion of an old step, which orbax runs after committing the
    # new one: the resume starts from that new one (the newest step on disk).
    "mid_delete": (None, None),
}


@pytest.mark.parametrize("moment", sorted(KILL_MOMENTS))
def test_sigkill_while_a_save_is_finalized_is_survived_bit_identical(
    moment, reference_run, experiment_file, trainer, config, tmp_path_factory
):
    kill_step, resume_from = KILL_MOMENTS[moment]
    cache = tmp_path_factory.getbasetemp() / "integrity_jax_cache"
    run_dir = tmp_path_factory.mktemp(moment) / "run"
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        # One compile for the four workers (the others load the executable).
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    worker = subprocess.run(
        [sys.executable, "-c", KILL_WORKER, moment, str(kill_step or -1), str(experiment_file)]
        + [str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode == -signal.SIGKILL, worker.stderr[-3000:]
    if resume_from is None:
        resume_from = max(_steps(run_dir))
        assert resume_from < TOTAL_UPDATES

    result, stderr = _resume(run_dir, config, trainer)
    assert f"from checkpoint at update {resume_from}" in stderr
    assert result.start_update == resume_from and result.update == TOTAL_UPDATES
    assert _same(result.state, reference_run[1].state)
    for step in _steps(run_dir):  # whatever survives either restores exactly or is refused
        try:
            state, _ = _restore(run_dir, step, trainer, config)
        except CheckpointError:
            assert moment == "mid_delete"
            continue
        reference, _ = _restore(reference_run[0], step, trainer, config)
        assert _same(state, reference)
