"""The host-side runner: run dirs, orbax checkpoints, exact resume, logs, progress.

One tiny real trainer is compiled once for the module and shared; the resume test
runs the real CLI in a subprocess, SIGKILLs it after its first checkpoint, resumes
it, and compares every leaf of the final state with an uninterrupted run.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from metarl import cli
from metarl.config import AgentConfig, EnvConfig, ExperimentConfig, RunConfig
from metarl.config_io import config_to_dict
from metarl.experiments import load_experiment
from metarl.runner import checkpointing
from metarl.runner.checkpointing import Checkpointer, CheckpointError
from metarl.runner.metrics_log import MetricsLog, chunk_record, read_records
from metarl.runner.progress import Progress, format_duration
from metarl.runner.run_dir import RunDir, RunDirError
from metarl.runner.train_loop import NonFiniteLossError, first_non_finite, train

UPDATES_PER_CHUNK = 2
TOTAL_UPDATES = 60
CHECKPOINT_EVERY = 5  # chunks: saves at updates 10, 20, ..., 60
KEEP = 2

EXPERIMENT_SOURCE = f'''"""Tiny two-seed bandit run for the runner tests."""
from metarl.config import AgentConfig, EnvConfig, ExperimentConfig, RunConfig

CONFIG = ExperimentConfig(
    name="tiny_runner",
    description="Tiny 2-armed bandit, two seeds: runner tests.",
    env=EnvConfig(name="bandit-bernoulli-v0", overrides={{"num_arms": 2, "horizon": 10}}),
    agent=AgentConfig(hidden_size=8, embed_size=8),
    run=RunConfig(
        num_envs=8,
        rollout_length=10,
        total_env_steps={8 * 10 * TOTAL_UPDATES},
        num_seeds=2,
        updates_per_chunk={UPDATES_PER_CHUNK},
        checkpoint_every_chunks={CHECKPOINT_EVERY},
        keep_checkpoints={KEEP},
    ),
)
'''


@pytest.fixture(scope="module")
def experiment_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("experiments") / "tiny_runner.py"
    path.write_text(EXPERIMENT_SOURCE)
    return path


@pytest.fixture(scope="module")
def config(experiment_file) -> ExperimentConfig:
    return load_experiment(str(experiment_file))


@pytest.fixture(scope="module")
def trainer(config):
    from metarl.training.trainer import make_trainer

    return make_trainer(config)


@pytest.fixture(scope="module")
def reference_run(trainer, config, tmp_path_factory):
    """An uninterrupted run, trained once and read by several tests."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    stream = io.StringIO()
    result = train(config, run_dir, trainer=trainer, progress_stream=stream)
    return run_dir, result, stream.getvalue()


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


def _restore(run_dir: Path, step: int, trainer, config):
    checkpointer = Checkpointer(Path(run_dir) / "checkpoints", config, read_only=True)
    try:
        return checkpointer.restore(step, trainer.abstract_state())
    finally:
        checkpointer.close()


def _step_dirs(run_dir: Path) -> list[int]:
    directory = Path(run_dir) / "checkpoints"
    if not directory.is_dir():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


# --------------------------------------------------------------------- fresh run
def test_fresh_run_writes_config_metrics_tensorboard_and_checkpoints(reference_run, config):
    run_dir, result, progress_text = reference_run
    assert json.loads((run_dir / "config.json").read_text()) == config_to_dict(config)

    records = read_records(run_dir / "metrics.jsonl")
    assert [r["update"] for r in records] == list(
        range(UPDATES_PER_CHUNK, TOTAL_UPDATES + 1, UPDATES_PER_CHUNK)
    )
    steps_per_update = config.run.num_envs * config.run.rollout_length
    assert [r["env_steps"] for r in records] == [r["update"] * steps_per_update for r in records]
    for record in records:
        for name in ("mean_episode_return", "policy_loss", "value_loss", "entropy", "total_loss"):
            per_seed = record[f"{name}_per_seed"]
            assert len(per_seed) == config.run.num_seeds
            assert record[name] == pytest.approx(np.mean(per_seed), rel=1e-12)
        assert record["steps_per_s"] > 0 and record["wall_time_s"] >= 0
        assert "mean_regret_per_step" in record  # the bandit reports regret
    assert result.update == TOTAL_UPDATES and result.start_update == 0

    assert list((run_dir / "tb").glob("events.out.tfevents.*")), "no TensorBoard event file"

    # Non-TTY progress: one plain line per chunk, the last one complete.
    lines = progress_text.strip().splitlines()
    assert len(lines) == TOTAL_UPDATES // UPDATES_PER_CHUNK and "\r" not in progress_text
    assert lines[-1].startswith(f"update {TOTAL_UPDATES}/{TOTAL_UPDATES} (100.0%)")
    assert "steps/s" in lines[-1] and "ETA" in lines[-1] and "return" in lines[-1]


def test_retention_keeps_latest_plus_best(reference_run, config):
    run_dir, _, _ = reference_run
    records = {r["update"]: r for r in read_records(run_dir / "metrics.jsonl")}
    saved = list(
        range(
            UPDATES_PER_CHUNK * CHECKPOINT_EVERY,
            TOTAL_UPDATES + 1,
            UPDATES_PER_CHUNK * CHECKPOINT_EVERY,
        )
    )
    best = max(saved, key=lambda step: (records[step]["mean_episode_return"], step))
    assert set(_step_dirs(run_dir)) == set(saved[-KEEP:]) | {best}


def test_checkpoint_holds_whole_state_and_sidecar(reference_run, trainer, config):
    run_dir, result, _ = reference_run
    state, meta = _restore(run_dir, TOTAL_UPDATES, trainer, config)
    assert meta["format_version"] == checkpointing.FORMAT_VERSION
    assert meta["config"] == config_to_dict(config)
    assert meta["update"] == TOTAL_UPDATES
    # Every leaf (params, optimizer state, rng, env states, carries) round-trips exactly.
    final, restored = _leaves(result.state), _leaves(state)
    assert len(final) == len(restored)
    assert all(np.array_equal(a, b) for a, b in zip(final, restored, strict=True))
    assert np.all(np.asarray(state.update_step) == TOTAL_UPDATES)


def test_fresh_run_refuses_a_non_empty_run_dir(tmp_path, config, monkeypatch):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("keep me")
    with pytest.raises(RunDirError, match="--resume"):
        train(config, run_dir, trainer=object())
    assert (run_dir / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in run_dir.iterdir()) == ["notes.txt"]


def test_resume_refuses_a_changed_config(reference_run, config):
    import dataclasses

    run_dir, _, _ = reference_run
    changed = dataclasses.replace(config, algo=dataclasses.replace(config.algo, learning_rate=0.5))
    with pytest.raises(RunDirError, match=r"algo\.learning_rate: 0\.001 \(run dir\) vs 0\.5"):
        RunDir(run_dir).check_resumable(changed)


# ------------------------------------------------------------------ exact resume
def test_sigkilled_cli_run_resumes_bit_identical(
    reference_run, experiment_file, trainer, config, tmp_path
):
    """SIGKILL the CLI after its first checkpoint, resume it, compare every leaf."""
    run_dir = tmp_path / "killed"
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "PYTHONUNBUFFERED": "1",
        # Compile once for both subprocesses (the resumed one loads the executable).
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax_cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    command = [
        sys.executable,
        "-m",
        "metarl.cli",
        "train",
        str(experiment_file),
        "--run-dir",
        str(run_dir),
    ]
    process = subprocess.Popen(
        command + ["--no-progress"], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 240
    try:
        # Kill once a checkpoint is finalized and a chunk past it is logged: the log
        # then holds orphan updates that the resume must drop.
        while time.monotonic() < deadline and process.poll() is None:
            steps = _step_dirs(run_dir)
            logged = [r["update"] for r in _read_complete_records(run_dir / "metrics.jsonl")]
            if steps and logged and max(logged) > max(steps):
                break
            time.sleep(0.005)
        assert process.poll() is None, (
            f"run ended before it could be killed: {process.stderr.read()}"
        )
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = max(_step_dirs(run_dir))
    assert killed_at < TOTAL_UPDATES

    resumed = subprocess.run(
        command + ["--resume"], env=env, capture_output=True, text=True, timeout=240
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"from checkpoint at update {killed_at}" in resumed.stderr

    # The log has each chunk exactly once, in order: orphans were cut, not duplicated.
    updates = [r["update"] for r in read_records(run_dir / "metrics.jsonl")]
    assert updates == list(range(UPDATES_PER_CHUNK, TOTAL_UPDATES + 1, UPDATES_PER_CHUNK))

    reference_dir, reference_result, _ = reference_run
    resumed_state, _ = _restore(run_dir, TOTAL_UPDATES, trainer, config)
    reference_state, _ = _restore(reference_dir, TOTAL_UPDATES, trainer, config)
    resumed_params, reference_params = (
        _leaves(resumed_state.params),
        _leaves(reference_state.params),
    )
    assert len(resumed_params) == len(reference_params) > 0
    assert all(np.array_equal(a, b) for a, b in zip(resumed_params, reference_params, strict=True))
    # Not only the params: the whole in-flight state matches bit for bit.
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_leaves(resumed_state), _leaves(reference_state), strict=True)
    )
    # The logged metrics after the resume point match the uninterrupted run too.
    reference_records = {r["update"]: r for r in read_records(reference_dir / "metrics.jsonl")}
    for record in read_records(run_dir / "metrics.jsonl"):
        assert (
            record["mean_episode_return_per_seed"]
            == reference_records[record["update"]]["mean_episode_return_per_seed"]
        )
        assert (
            record["total_loss_per_seed"]
            == reference_records[record["update"]]["total_loss_per_seed"]
        )


def _read_complete_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines(keepends=True):
        if line.endswith("\n"):
            records.append(json.loads(line))
    return records


def _copy_run(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


# ---------------------------------------------------- corrupt / incompatible / tmp
def test_truncated_checkpoint_file_is_reported_with_path_and_reason(
    reference_run, trainer, config, tmp_path
):
    run_dir = _copy_run(reference_run[0], tmp_path / "run")
    latest = max(_step_dirs(run_dir))
    state_dir = run_dir / "checkpoints" / str(latest) / "state"
    data_files = [p for p in state_dir.rglob("*") if p.is_file() and p.parent.name == "d"]
    assert data_files
    for path in data_files:
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    # Restored as eval and probe do: a resume falls back to an intact checkpoint instead
    # (tests/runner/test_checkpoint_integrity.py).
    with pytest.raises(CheckpointError) as caught:
        _restore(run_dir, latest, trainer, config)
    assert caught.value.path == str(run_dir / "checkpoints" / str(latest))
    assert str(run_dir / "checkpoints" / str(latest)) in str(caught.value)
    assert "state cannot be restored" in str(caught.value)


def test_format_version_and_shape_config_mismatch_are_reported(
    reference_run, trainer, config, tmp_path
):
    run_dir = _copy_run(reference_run[0], tmp_path / "run")
    latest = max(_step_dirs(run_dir))
    sidecar = run_dir / "checkpoints" / str(latest) / "meta" / "metadata"
    original = json.loads(sidecar.read_text())

    sidecar.write_text(json.dumps({**original, "format_version": 999}))
    with pytest.raises(CheckpointError, match=r"format_version 999 is not supported .*needs 1"):
        _restore(run_dir, latest, trainer, config)

    bad_config = json.loads(json.dumps(original["config"]))
    bad_config["run"]["num_envs"] = 16
    bad_config["env"]["overrides"]["num_arms"] = 3
    sidecar.write_text(json.dumps({**original, "config": bad_config}))
    with pytest.raises(CheckpointError) as caught:
        _restore(run_dir, latest, trainer, config)
    message = str(caught.value)
    assert str(run_dir / "checkpoints" / str(latest)) in message
    assert "run.num_envs: 16 -> 8" in message and "env.overrides.num_arms: 3 -> 2" in message

    sidecar.write_text('{"format_version": 1, "upd')  # torn JSON
    with pytest.raises(CheckpointError, match="unreadable"):
        _restore(run_dir, latest, trainer, config)


def test_cli_reports_corrupt_checkpoint_with_exit_4(
    reference_run, trainer, tmp_path, monkeypatch, capsys
):
    run_dir = _copy_run(reference_run[0], tmp_path / "run")
    latest = max(_step_dirs(run_dir))
    # Every checkpoint damaged: with one intact, the resume would fall back to it instead.
    for step in _step_dirs(run_dir):
        (run_dir / "checkpoints" / str(step) / "state" / "_METADATA").write_text("{not json")
    monkeypatch.setattr("metarl.training.trainer.make_trainer", lambda config, mesh=None: trainer)
    code = cli.main(["train", "--run-dir", str(run_dir), "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CHECKPOINT
    assert f"checkpoint {run_dir / 'checkpoints' / str(latest)}:" in err
    assert "Traceback" not in err


def test_unfinished_tmp_checkpoint_is_ignored_and_in_process_resume_is_exact(
    reference_run, trainer, config, tmp_path
):
    import shutil

    reference_dir, reference_result, _ = reference_run
    run_dir = _copy_run(reference_dir, tmp_path / "run")
    # Back to the state of a run killed during its save at update 60: the step is gone,
    # its unfinished tmp dir is left behind, and the log ran ahead of the checkpoint.
    shutil.rmtree(run_dir / "checkpoints" / str(TOTAL_UPDATES))
    tmp_dir = run_dir / "checkpoints" / f"{TOTAL_UPDATES}.orbax-checkpoint-tmp-1234567890"
    (tmp_dir / "state").mkdir(parents=True)
    (tmp_dir / "state" / "garbage").write_bytes(b"\x00" * 10)
    latest = max(_step_dirs(run_dir))
    assert latest == TOTAL_UPDATES - UPDATES_PER_CHUNK * CHECKPOINT_EVERY

    result = train(config, run_dir, resume=True, trainer=trainer, show_progress=False)
    assert result.start_update == latest and result.update == TOTAL_UPDATES
    assert not tmp_dir.exists(), "orbax cleans up unfinished tmp dirs before its next save"
    assert [r["update"] for r in read_records(run_dir / "metrics.jsonl")] == list(
        range(UPDATES_PER_CHUNK, TOTAL_UPDATES + 1, UPDATES_PER_CHUNK)
    )
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_leaves(result.state), _leaves(reference_result.state), strict=True)
    )


# -------------------------------------------------------------------- non-finite
class _PoisonedTrainer:
    """The real trainer, with seed 1's params set to NaN before chunk ``poison_chunk``."""

    def __init__(self, trainer, poison_chunk: int):
        self._trainer = trainer
        self._poison_chunk = poison_chunk
        self._chunks = 0

    def init(self, key):
        return self._trainer.init(key)

    def abstract_state(self):
        return self._trainer.abstract_state()

    def train_chunk(self, state):
        if self._chunks == self._poison_chunk:
            params = jax.tree.map(lambda leaf: leaf.at[1].set(np.nan), state.params)
            state = state.replace(params=params)
        self._chunks += 1
        return self._trainer.train_chunk(state)


def test_non_finite_loss_stops_without_saving_the_bad_chunk(trainer, config, tmp_path):
    run_dir = tmp_path / "run"
    poison_chunk = 7  # updates 15-16; the last good checkpoint is at update 10
    with pytest.raises(NonFiniteLossError) as caught:
        train(config, run_dir, trainer=_PoisonedTrainer(trainer, poison_chunk), show_progress=False)
    error = caught.value
    assert (error.update, error.seed, error.last_checkpoint) == (
        poison_chunk * UPDATES_PER_CHUNK + 1,
        1,
        10,
    )
    assert str(error).startswith(
        "non-finite loss at update 15 (seed 1): stopped without saving that chunk; "
        "the last good checkpoint is at update 10."
    )
    assert _step_dirs(run_dir) == [10]
    assert [r["update"] for r in read_records(run_dir / "metrics.jsonl")][
        -1
    ] == poison_chunk * UPDATES_PER_CHUNK
    state, _ = _restore(run_dir, 10, trainer, config)
    assert all(np.isfinite(leaf).all() for leaf in _leaves(state.params))


def test_cli_non_finite_exit_code_and_message(
    trainer, experiment_file, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(
        "metarl.training.trainer.make_trainer",
        lambda config, mesh=None: _PoisonedTrainer(trainer, 0),
    )
    code = cli.main(
        ["train", str(experiment_file), "--run-dir", str(tmp_path / "run"), "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == cli.EXIT_NON_FINITE
    assert err.strip().splitlines() == [
        "metarl: error: non-finite loss at update 1 (seed 1): stopped without saving that chunk; "
        "no checkpoint was saved before it. Try a lower algo.learning_rate or algo.max_grad_norm."
    ]
    assert _step_dirs(tmp_path / "run") == []


def test_first_non_finite_picks_earliest_update_then_lowest_seed():
    finite = np.ones((3, 4), bool)
    assert first_non_finite(finite) is None
    finite[2, 1] = False
    finite[1, 3] = False
    finite[0, 1] = False
    assert first_non_finite(finite) == (1, 0)


# ------------------------------------------------------- retention without trainer
def test_orbax_retention_on_a_small_state(tmp_path):
    import dataclasses

    config = ExperimentConfig(
        env=EnvConfig(overrides={"num_arms": 2, "horizon": 10}),
        agent=AgentConfig(hidden_size=4, embed_size=4),
        run=RunConfig(num_envs=2, rollout_length=2, updates_per_chunk=1, keep_checkpoints=2),
    )
    returns = [0.1, 0.9, 0.3, 0.2, 0.4, 0.05]
    checkpointer = Checkpointer(tmp_path / "checkpoints", config)
    state = {"w": np.arange(3.0, dtype=np.float32)}
    for step, value in enumerate(returns, start=1):
        assert checkpointer.save(step, {"w": state["w"] + step}, {"mean_episode_return": value})
    checkpointer.wait()
    assert checkpointer.steps() == [2, 5, 6]  # best (0.9 at 2) plus the last two
    assert checkpointer.best_step() == 2
    restored, meta = checkpointer.restore(5, {"w": jax.ShapeDtypeStruct((3,), np.float32)})
    checkpointer.close()
    assert np.array_equal(restored["w"], np.arange(3.0, dtype=np.float32) + 5)
    assert meta["summary"] == {"mean_episode_return": 0.4}

    # A resumed run (a new manager on the same directory) still knows and keeps the best.
    checkpointer = Checkpointer(tmp_path / "checkpoints", config)
    assert checkpointer.best_step() == 2
    for step in (7, 8, 9):
        checkpointer.save(step, state, {"mean_episode_return": 0.5})
    checkpointer.wait()
    assert checkpointer.steps() == [2, 8, 9]
    checkpointer.close()

    # Lower is better for regret.
    regret = dataclasses.replace(
        config, run=dataclasses.replace(config.run, best_metric="mean_regret_per_step")
    )
    checkpointer = Checkpointer(tmp_path / "regret", regret)
    for step, value in enumerate(returns, start=1):
        checkpointer.save(step, state, {"mean_episode_return": 0.0, "mean_regret_per_step": value})
    checkpointer.wait()
    assert checkpointer.steps() == [5, 6] and checkpointer.best_step() == 6
    checkpointer.close()


# ------------------------------------------------------------ logs and progress
def test_metrics_truncation_drops_orphans_and_torn_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"update": u}) + "\n" for u in (2, 4, 6, 8)]
    path.write_text("".join(lines) + '{"update": 10, "env_st')
    dropped = MetricsLog(path).truncate_after(4)
    assert dropped == 3
    assert [r["update"] for r in read_records(path)] == [2, 4]
    assert (
        MetricsLog(path, enabled=False).truncate_after(0) == 0
    )  # non-primary processes never write
    assert [r["update"] for r in read_records(path)] == [2, 4]


def test_chunk_record_means_over_updates_then_seeds():
    metrics = {
        "mean_episode_return": np.array([[1.0, 3.0], [5.0, 7.0]]),
        "total_loss": np.array([[0.5, 0.5], [1.5, np.nan]]),
    }
    record = chunk_record(
        metrics, update=4, env_steps=320, steps_per_s=10.0, chunk_seconds=1.0, wall_time_s=2.0
    )
    assert record["mean_episode_return_per_seed"] == [2.0, 6.0]
    assert record["mean_episode_return"] == 4.0
    assert record["total_loss_per_seed"] == [0.5, None] and record["total_loss"] is None
    assert "policy_loss" not in record
    json.dumps(record, allow_nan=False)  # strict JSON


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_tty_and_prints_lines_otherwise():
    now = [100.0]
    tty = _FakeTTY()
    progress = Progress(10, stream=tty, clock=lambda: now[0])
    progress.start(0)
    now[0] = 104.0
    progress.update(2, 2000, 500.0, 1.5)
    now[0] = 108.0
    progress.update(4, 4000, 500.0, 2.0)
    progress.close()
    text = tty.getvalue()
    assert text.count("\r\x1b[2K") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "update 4/10 ( 40.0%)" in text and "ETA 0m12s" in text and "return 2" in text

    plain = io.StringIO()
    progress = Progress(10, stream=plain, clock=lambda: now[0])
    progress.start(4)
    progress.update(4, 4000, 0.0, None)  # nothing done since start: no rate, no ETA
    now[0] = 110.0
    progress.update(6, 6000, 1.2e6, None)
    assert plain.getvalue() == (
        "update 4/10 ( 40.0%) | env steps 4.00k | 0 steps/s | ETA ?\n"
        "update 6/10 ( 60.0%) | env steps 6.00k | 1.20M steps/s | ETA 0m04s\n"
    )
    assert format_duration(3725) == "1h02m05s" and format_duration(float("nan")) == "?"
