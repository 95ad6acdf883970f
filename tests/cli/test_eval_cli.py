"""``metarl eval`` / ``metarl plot`` end to end on a tiny trained run.

One tiny two-seed bandit run is trained once per module; evaluation uses few
episodes and one reference agent (Thompson sampling) so that each eval compiles
three small programs. Checked: the files and their shapes, agreement between
the arrays and the summary, exact reproducibility from (checkpoint, suite,
seed), the drift suite's change at mid-episode, refusal of a checkpoint whose
config differs from the run's, and suite-name errors before anything is built.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from metarl import cli
from metarl.errors import ConfigError
from metarl.evaluation import suites

HORIZON = 20
NUM_ARMS = 3
EPISODES = 48
TINY_RUN = [
    "--set", "run.total_env_steps=1600",
    "--set", "run.num_envs=8",
    "--set", "run.rollout_length=10",
    "--set", "run.updates_per_chunk=5",
    "--set", "run.num_seeds=2",
    "--set", "agent.hidden_size=8",
    "--set", f"env.overrides.num_arms={NUM_ARMS}",
    "--set", f"env.overrides.horizon={HORIZON}",
]  # fmt: skip
EVAL_ARGS = ["--episodes", str(EPISODES), "--seed", "7", "--references", "thompson_sampling"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("eval_cli") / "run"
    code = cli.main(
        ["train", "bandit_default", "--run-dir", str(run_dir), "--no-progress", *TINY_RUN]
    )
    assert code == cli.EXIT_OK
    return run_dir


@pytest.fixture(scope="module")
def drift_eval(trained_run) -> Path:
    code = cli.main(["eval", str(trained_run), "--suite", "drift", *EVAL_ARGS])
    assert code == cli.EXIT_OK
    return trained_run / "eval" / "drift"


def _load(directory: Path) -> tuple[dict, dict, dict]:
    summary = json.loads((directory / "summary.json").read_text())
    with np.load(directory / "episodes.npz") as data:
        episodes = {k: data[k] for k in data.files}
    with np.load(directory / "curves.npz") as data:
        curves = {k: data[k] for k in data.files}
    return summary, episodes, curves


def test_eval_writes_arrays_summary_and_plots(drift_eval):
    for name in (
        "episodes.npz",
        "curves.npz",
        "summary.json",
        "learning_curves.png",
        "learning_curves.pdf",
    ):
        assert (drift_eval / name).stat().st_size > 0, name
    assert (drift_eval / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary, episodes, curves = _load(drift_eval)
    assert summary["checkpoint"]["num_seeds"] == 2 and summary["episodes"] == EPISODES
    assert summary["suite"]["change_step"] == HORIZON // 2 - 1
    assert set(summary["agents"]) == {
        "checkpoint", "checkpoint_seed0", "checkpoint_seed1", "random", "thompson_sampling", "oracle"
    }  # fmt: skip
    # The checkpoint's arrays carry the seed axis: [seed, step, episode].
    assert episodes["checkpoint/rewards"].shape == (2, HORIZON, EPISODES)
    assert episodes["random/rewards"].shape == (HORIZON, EPISODES)
    # The summary is computed from exactly these arrays.
    pooled_totals = episodes["checkpoint/rewards"].astype(np.float64).sum(axis=1).mean(axis=0)
    assert summary["agents"]["checkpoint"]["total_reward"]["value"] == pytest.approx(
        pooled_totals.mean()
    )
    seed1 = episodes["checkpoint/rewards"][1].astype(np.float64).sum(axis=0).mean()
    assert summary["agents"]["checkpoint_seed1"]["total_reward"]["value"] == pytest.approx(seed1)
    ts_totals = episodes["thompson_sampling/rewards"].astype(np.float64).sum(axis=0)
    diff = summary["agents"]["thompson_sampling"]["checkpoint_minus_this"]
    assert diff["value"] == pytest.approx(pooled_totals.mean() - ts_totals.mean())
    assert diff["low"] <= diff["value"] <= diff["high"]
    # Paired episodes: the tasks (hence the oracle's expected reward) do not depend on the
    # agent, so they are stored once; the oracle total is their sum.
    oracle = episodes["episode/optimal_expected_reward"].astype(np.float64)
    assert summary["agents"]["oracle"]["total_expected_reward"]["value"] == pytest.approx(
        oracle.sum(0).mean()
    )
    assert curves["checkpoint/reward/mean"].shape == (HORIZON,)
    assert np.all(curves["random/reward/low"] <= curves["random/reward/high"])
    # Recovery is measured around the scheduled reversal.
    assert summary["recovery"]["window_after"] == HORIZON - summary["suite"]["change_step"] - 1
    assert "recovery" in summary["agents"]["thompson_sampling"]
    assert summary["agents"]["thompson_sampling"]["recovery"]["episodes_with_event"] == EPISODES


def test_drift_suite_reverses_the_arms_after_mid_episode(drift_eval):
    _, episodes, _ = _load(drift_eval)
    optimal = episodes["episode/optimal_action"]
    change = HORIZON // 2 - 1
    switched = optimal[change + 1] != optimal[change]
    # Reversing 3 arms swaps arms 0 and 2: the best arm changes unless it is the middle one.
    assert switched.mean() > 0.4
    assert np.array_equal(switched, optimal[change] != 1)
    steady = np.delete(np.diff(optimal, axis=0) != 0, change, axis=0)
    assert not steady.any()  # no other change within episodes


def test_eval_is_reproducible_from_checkpoint_suite_and_seed(drift_eval, trained_run):
    first_summary, first_episodes, first_curves = _load(drift_eval)
    code = cli.main(["eval", str(trained_run), "--suite", "drift", "--no-plot", *EVAL_ARGS])
    assert code == cli.EXIT_OK
    summary, episodes, curves = _load(drift_eval)
    first_summary.pop("timing")
    summary.pop("timing")
    assert summary == first_summary
    assert episodes.keys() == first_episodes.keys() and curves.keys() == first_curves.keys()
    for key in episodes:
        assert np.array_equal(episodes[key], first_episodes[key]), key
    for key in curves:
        assert np.array_equal(curves[key], first_curves[key], equal_nan=True), key


def test_plot_reads_only_files(drift_eval, trained_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained_run / "eval", copy / "eval")
    shutil.copy(trained_run / "metrics.jsonl", copy / "metrics.jsonl")
    (copy / "eval" / "drift" / "learning_curves.png").unlink()
    code = cli.main(["plot", str(copy)])  # no config.json, no checkpoints
    assert code == cli.EXIT_OK
    out = capsys.readouterr().out
    assert (copy / "eval" / "drift" / "learning_curves.png").is_file()
    assert (copy / "plots" / "training.pdf").is_file()
    assert str(copy / "eval" / "drift" / "learning_curves.pdf") in out
    code = cli.main(["plot", str(copy), "--suite", "ood"])
    assert code == cli.EXIT_CONFIG
    assert "suite(s) 'ood' not evaluated" in capsys.readouterr().err


@pytest.fixture
def no_trainer(monkeypatch):
    """Fail the test if evaluation gets as far as building the agent and env (or a trainer)."""
    import metarl.runner.frozen as frozen
    import metarl.training.trainer as trainer

    def refuse(*args, **kwargs):
        raise AssertionError("a bad request must be refused before the agent is built")

    monkeypatch.setattr(trainer, "make_trainer", refuse)
    monkeypatch.setattr(frozen, "build", refuse)


def test_a_checkpoint_from_another_config_is_refused(trained_run, tmp_path, no_trainer, capsys):
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy, ignore=shutil.ignore_patterns("eval", "plots", "tb"))
    config = json.loads((copy / "config.json").read_text())
    config["agent"]["hidden_size"] = 16
    (copy / "config.json").write_text(json.dumps(config))
    code = cli.main(["eval", str(copy), *EVAL_ARGS])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CHECKPOINT
    assert "incompatible with the current config: agent.hidden_size: 8 -> 16" in err
    assert "Traceback" not in err
    assert not (copy / "eval").exists()


def test_bad_requests_exit_2_or_4_before_building_anything(trained_run, no_trainer, capsys):
    code = cli.main(["eval", str(trained_run), "--suite", "nope", *EVAL_ARGS])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CONFIG
    assert err.strip().splitlines() == [
        "metarl: error: suite 'nope' is not defined for 'bandit-bernoulli-v0' (bandit family); "
        "allowed values: 'train', 'held_out', 'drift', 'change_point', 'ood', or 'all'"
    ]
    code = cli.main(["eval", str(trained_run), "--checkpoint", "soon"])
    assert (
        code == cli.EXIT_CONFIG
        and "allowed values: 'latest', 'best', or an update number" in capsys.readouterr().err
    )
    code = cli.main(["eval", str(trained_run), "--checkpoint", "99999"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CHECKPOINT and "no checkpoint at update 99999; available: " in err
    code = cli.main(["eval", str(trained_run / "missing")])
    assert code == cli.EXIT_CONFIG and "has no config.json" in capsys.readouterr().err


def test_suites_per_family_and_their_errors():
    assert suites.check_suite("two-step-v0", "all") == ["train", "held_out", "drift", "ood"]
    assert suites.check_suite("bandit-bernoulli-v0", "train,drift") == ["train", "drift"]
    with pytest.raises(ConfigError, match="suite 'change_point' is not defined for 'maze-v0'"):
        suites.check_suite("maze-v0", "change_point")
    pool = suites.build_suite("bandit-bernoulli-v0", {"num_tasks": 4}, "held_out")
    assert pool.overrides == {"num_tasks": 4, "split": "held_out"}
    infinite = suites.build_suite("bandit-bernoulli-v0", {}, "held_out")
    assert infinite.overrides == {}  # fresh prior draws are new tasks already
    drift = suites.build_suite("bandit-restless-v0", {"horizon": 50}, "drift")
    assert drift.overrides["drift"] == "random_walk+change_point+reversal"
    assert drift.overrides["reversal_steps"] == (24,) and drift.change_step == 24
    ood = suites.build_suite("rule-grid-v0", {"reward_scale": 0.5}, "ood")
    assert ood.overrides == {"reward_scale": 1.0}


def test_frozen_run_restores_the_params_and_verifies_the_checkpoint(trained_run, tmp_path):
    import jax

    from metarl.runner.checkpointing import CHECKSUMS_KEY, Checkpointer, CheckpointError
    from metarl.runner.frozen import load_frozen_run
    from metarl.runner.run_dir import RunDir
    from metarl.training.trainer import make_trainer

    frozen = load_frozen_run(trained_run, "latest")
    config = RunDir(trained_run).read_config()
    # The same params as a whole-state restore onto the trainer's abstract state.
    checkpointer = Checkpointer(trained_run / "checkpoints", config, read_only=True)
    try:
        state, _ = checkpointer.restore(frozen.step, make_trainer(config).abstract_state())
    finally:
        checkpointer.close()
    restored, full = jax.tree.leaves(frozen.params), jax.tree.leaves(state.params)
    assert len(restored) == len(full) > 0
    for a, b in zip(restored, full, strict=True):
        assert a.dtype == b.dtype and np.array_equal(np.asarray(a), np.asarray(b))
    assert frozen.num_seeds == 2 and frozen.agent.num_actions == NUM_ARMS
    assert jax.tree.leaves(frozen.seed_params(1))[0].shape == restored[0].shape[1:]

    # A params array that no longer matches its recorded checksum is refused ...
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy, ignore=shutil.ignore_patterns("eval", "plots", "tb"))
    meta_file = copy / "checkpoints" / str(frozen.step) / "meta" / "metadata"
    meta = json.loads(meta_file.read_text())
    arrays = meta[CHECKSUMS_KEY]["arrays"]
    name = next(path for path in arrays if path.startswith("params."))
    arrays[name]["digest"] = "0" * 32
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"fails verification: checksum mismatch"):
        load_frozen_run(copy, frozen.step)
    # ... and so is damage outside the params: the whole checkpoint is verified before
    # its params are read (a damaged checkpoint is not trusted in part).
    arrays[name] = json.loads((trained_run / meta_file.relative_to(copy)).read_text())[
        CHECKSUMS_KEY
    ]["arrays"][name]
    other = next(path for path in arrays if path.startswith("opt_state."))
    arrays[other]["digest"] = "0" * 32
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"fails verification: checksum mismatch"):
        load_frozen_run(copy, frozen.step)
    # The sidecar restored: the copy loads again, with the same params.
    shutil.copy(trained_run / meta_file.relative_to(copy), meta_file)
    again = load_frozen_run(copy, frozen.step)
    for a, b in zip(jax.tree.leaves(again.params), restored, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
