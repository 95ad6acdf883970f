"""``metarl probe`` end to end on tiny trained runs (a pooled bandit, the two-step task, a maze).

Each run is trained once per module (a few hundred env steps: the point is the
plumbing, not the agent) and probed with few episodes. Checked: every probe of
the family writes its summary, arrays and figures; verdicts come from the
allowed set and the numbers are finite with ordered intervals; the references of
known mechanism are run beside the checkpoint; an infinite-task bandit skips the
likelihood probe with its reason; bad probe names, seed indices and episode
counts exit 2 before anything is built; a checkpoint from another config exits 4;
the same command twice gives the same summaries apart from timing.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from metarl import cli
from metarl.probes import volatility
from metarl.probes.run_probes import PROBES_BY_FAMILY, VERDICTS

HORIZON = 20
NUM_ARMS = 3
EPISODES = "16"
TINY = [
    "--set", "run.num_envs=8",
    "--set", "run.rollout_length=10",
    "--set", "run.updates_per_chunk=5",
    "--set", "agent.hidden_size=8",
]  # fmt: skip
TINY_BANDIT = [
    *TINY,
    "--set", "run.total_env_steps=800",
    "--set", f"env.overrides.num_arms={NUM_ARMS}",
    "--set", f"env.overrides.horizon={HORIZON}",
]  # fmt: skip
EXPERIMENT = """
from metarl.config import AgentConfig, EnvConfig, ExperimentConfig, RunConfig

CONFIG = ExperimentConfig(
    name="{name}",
    description="tiny {name} run for the probe CLI tests",
    env=EnvConfig(name="{env}", overrides={overrides}),
    agent=AgentConfig(core="gru", hidden_size=8, embed_size=0),
    run=RunConfig(num_envs=8, rollout_length=10, total_env_steps=800, updates_per_chunk=5),
)
"""
TWO_STEP_TRIALS = 10
MAZE_HORIZON = 30


def _train(directory: Path, experiment: str, extra: list[str]) -> Path:
    run_dir = directory / "run"
    code = cli.main(["train", experiment, "--run-dir", str(run_dir), "--no-progress", *extra])
    assert code == cli.EXIT_OK
    return run_dir


def _experiment(directory: Path, name: str, env: str, overrides: dict) -> str:
    path = directory / f"{name}.py"
    path.write_text(EXPERIMENT.format(name=name, env=env, overrides=repr(overrides)))
    return str(path)


def _probe(run_dir: Path, *args: str) -> int:
    return cli.main(["probe", str(run_dir), "--episodes", EPISODES, "--seed", "3", *args])


def _summary(run_dir: Path, probe: str) -> dict:
    return json.loads((run_dir / "probes" / probe / "summary.json").read_text())


@pytest.fixture(scope="module")
def bandit_run(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("probe_bandit")
    return _train(directory, "bandit_default", [*TINY_BANDIT, "--set", "env.overrides.num_tasks=4"])


@pytest.fixture(scope="module")
def bandit_probed(bandit_run) -> tuple[Path, str]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert _probe(bandit_run, "--probe", "all") == cli.EXIT_OK
    return bandit_run, out.getvalue()


@pytest.fixture(scope="module")
def two_step_run(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("probe_two_step")
    experiment = _experiment(
        directory, "tiny_two_step", "two-step-v0", {"num_trials": TWO_STEP_TRIALS}
    )
    run_dir = _train(directory, experiment, [])
    assert _probe(run_dir) == cli.EXIT_OK
    return run_dir


@pytest.fixture
def no_trainer(monkeypatch):
    """Fail the test if the probe command gets as far as building the trainer."""
    import metarl.training.trainer as trainer

    def refuse(*args, **kwargs):
        raise AssertionError("a bad request must be refused before the trainer is built")

    monkeypatch.setattr(trainer, "make_trainer", refuse)


def _check_files(run_dir: Path, probe: str, figure: bool = True) -> dict:
    directory = run_dir / "probes" / probe
    summary = _summary(run_dir, probe)
    assert summary["probe"] == probe
    if figure:
        assert (directory / f"{probe}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (directory / f"{probe}.pdf").stat().st_size > 0
    return summary


def _check_verdict(summary: dict) -> None:
    assert summary["status"] == "done"
    verdict = summary["verdict"]
    assert verdict["label"] in VERDICTS[summary["probe"]]
    assert verdict["allowed"] == list(VERDICTS[summary["probe"]])
    assert verdict["reason"]


def _finite(*values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _ordered(interval: dict) -> bool:
    """An ``Interval`` JSON entry with finite, ordered ends around its value."""
    value, low, high = interval["value"], interval["low"], interval["high"]
    return _finite(value, low, high) and low <= value <= high


def _values(intervals: list[dict]) -> list:
    return [interval["value"] for interval in intervals]


# ------------------------------------------------------------------ bandit


def test_bandit_probes_write_every_file_with_verdicts(bandit_probed):
    run_dir, printed = bandit_probed
    assert sorted(p.name for p in (run_dir / "probes").iterdir()) == sorted(
        PROBES_BY_FAMILY["bandit"]
    )
    for probe in PROBES_BY_FAMILY["bandit"]:
        summary = _check_files(run_dir, probe)
        _check_verdict(summary)
        assert summary["episodes"] == int(EPISODES) and summary["seed"] == 3
        assert summary["env"]["probe_suite"] == "held_out"
        assert summary["checkpoint"]["seed_index"] == 0
        assert f"probe {probe}:" in printed
        assert f"verdict: {summary['verdict']['label']}" in printed


def test_likelihood_compares_the_checkpoint_with_a_learner_and_a_locator(bandit_probed):
    run_dir, _ = bandit_probed
    summary = _summary(run_dir, "likelihood")
    agents = summary["results"]["agents"]
    assert set(agents) == {"checkpoint", "thompson_sampling", "task_locator"}
    assert summary["results"]["training_pool_size"] == 4
    for row in agents.values():
        assert _ordered(row["difference"])
        assert row["verdict"] in VERDICTS["likelihood"]
        assert row["num_episodes"] == int(EPISODES)
    assert agents["checkpoint"]["verdict"] == summary["verdict"]["label"]
    with np.load(run_dir / "probes" / "likelihood" / "arrays.npz") as arrays:
        assert arrays["checkpoint/difference_by_step"].shape == (HORIZON,)
        # The per-step curve averages to the per-choice difference of the summary.
        assert arrays["checkpoint/difference_by_step"].mean() == pytest.approx(
            agents["checkpoint"]["difference"]["value"]
        )


def test_model_fit_tables_are_sorted_by_bic_for_every_agent(bandit_probed):
    run_dir, _ = bandit_probed
    agents = _summary(run_dir, "model_fit")["results"]["agents"]
    assert set(agents) == {
        "checkpoint",
        "thompson_sampling",
        "task_locator",
        "q_learning",
        "win_stay_lose_shift",
    }
    for row in agents.values():
        table = row["table"]
        assert {r["model"] for r in table} == {
            "random",
            "wsls",
            "q_learning",
            "bayes_learner",
            "task_locator",
        }
        bics = [r["bic"] for r in table]
        assert _finite(*bics) and bics == sorted(bics)
        assert row["best_model"] == table[0]["model"]
        assert all(r["num_choices"] == HORIZON * int(EPISODES) for r in table)
        random_row = next(r for r in table if r["model"] == "random")
        assert random_row["per_trial_likelihood"] == pytest.approx(1.0 / NUM_ARMS)


def test_decoding_reports_the_agent_beside_a_random_network_and_a_clock(bandit_probed):
    run_dir, _ = bandit_probed
    summary = _summary(run_dir, "decoding")
    rows = {row["target"]: row for row in summary["results"]["targets"]}
    assert set(rows) == {"posterior_mean", "pull_count", "posterior_best_arm"}
    for row in rows.values():
        assert _finite(row["agent"], row["control"], row["time_only"])
        low, high = row["agent_range"]
        assert low <= row["agent"] <= high
        assert row["above_controls"] == (row["margin_range"][0] > 0)
    assert (
        rows["posterior_best_arm"]["metric"] == "accuracy"
        and 0 <= rows["posterior_best_arm"]["agent"] <= 1
    )
    assert summary["results"]["hidden_size"] == 8


def test_volatility_puts_the_checkpoint_beside_fixed_and_adaptive_references(bandit_probed):
    run_dir, _ = bandit_probed
    results = _summary(run_dir, "volatility")["results"]
    agents = results["agents"]
    assert set(agents) == {"checkpoint", *volatility.FIXED_REFERENCES, "bayes_told_hazard"}
    assert results["fixed_references"] == list(volatility.FIXED_REFERENCES)
    assert (
        results["conditions"]["num_arms"] == NUM_ARMS
        and results["conditions"]["horizon"] == HORIZON
    )
    for name, row in agents.items():
        for condition in ("stable", "volatile"):
            assert 0 < row[f"{condition}_learning_rate"]["value"] < 1
            assert _ordered(row[f"{condition}_learning_rate"])
        assert _finite(*row["difference"].values())
        if name != "checkpoint":
            excess = row["checkpoint_difference_minus_this"]
            assert _finite(excess["low"], excess["high"])
    # Told the hazard = the hazard-0 Bayesian's stable fit and the true-hazard one's volatile fit.
    told = agents["bayes_told_hazard"]
    stable_part, volatile_part = volatility.TOLD_HAZARD_PARTS
    assert stable_part == "bayes_hazard_0" and volatile_part == "bayes_hazard_0.05"
    assert (
        told["stable_learning_rate"]["value"]
        == agents[stable_part]["stable_learning_rate"]["value"]
    )
    assert (
        told["volatile_learning_rate"]["value"]
        == agents[volatile_part]["volatile_learning_rate"]["value"]
    )


def test_thinking_curve_for_the_checkpoint_and_a_flat_reference(bandit_probed):
    run_dir, _ = bandit_probed
    results = _summary(run_dir, "thinking")["results"]
    assert results["ks"] == [0, 1, 2, 4, 8]
    checkpoint = results["agents"]["checkpoint"]
    gains = checkpoint["return_gain"]
    assert _finite(*_values(checkpoint["return"]), *(g["high"] - g["low"] for g in gains))
    assert gains[0]["value"] == 0.0
    # Thompson sampling does not think: the same program on the same episodes for every K.
    reference = results["agents"]["thompson_sampling"]
    assert _values(reference["return_gain"]) == [0.0] * 5 and reference["verdict"] == "no_change"


def test_infinite_task_bandit_skips_likelihood_with_the_reason(tmp_path):
    run_dir = _train(tmp_path, "bandit_default", TINY_BANDIT)
    assert _probe(run_dir, "--probe", "likelihood", "--no-plot") == cli.EXIT_OK
    summary = _check_files(run_dir, "likelihood", figure=False)
    assert summary["status"] == "skipped" and summary["verdict"] is None
    assert "infinite prior" in summary["reason"] and "no finite training pool" in summary["reason"]
    assert not (run_dir / "probes" / "likelihood" / "likelihood.png").exists()


# ------------------------------------------------------------------ errors


def test_bad_requests_exit_2_naming_the_allowed_probes(
    bandit_run, two_step_run, no_trainer, capsys
):
    allowed = (
        "allowed values: 'likelihood', 'model_fit', 'decoding', 'volatility', 'thinking', or 'all'"
    )
    assert _probe(bandit_run, "--probe", "nope") == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"metarl: error: probe 'nope' is not defined for 'bandit-bernoulli-v0' (bandit family); {allowed}"
    ]
    assert _probe(bandit_run, "--probe", "likelihood,two_step") == cli.EXIT_CONFIG
    assert "probe 'two_step' does not apply to 'bandit-bernoulli-v0'" in capsys.readouterr().err
    assert _probe(two_step_run, "--probe", "decoding") == cli.EXIT_CONFIG
    assert "allowed values: 'two_step', 'thinking', or 'all'" in capsys.readouterr().err
    assert _probe(bandit_run, "--seed-index", "1") == cli.EXIT_CONFIG
    assert "--seed-index 1 is out of range; allowed: 0 to 0" in capsys.readouterr().err
    assert cli.main(["probe", str(bandit_run), "--episodes", "2"]) == cli.EXIT_CONFIG
    assert "--episodes 2 is out of range" in capsys.readouterr().err
    assert _probe(bandit_run, "--checkpoint", "soon") == cli.EXIT_CONFIG
    assert _probe(bandit_run.parent / "missing") == cli.EXIT_CONFIG
    assert "Traceback" not in capsys.readouterr().err


def test_a_checkpoint_from_another_config_is_refused(bandit_run, tmp_path, no_trainer, capsys):
    copy = tmp_path / "run"
    shutil.copytree(
        bandit_run, copy, ignore=shutil.ignore_patterns("probes", "eval", "plots", "tb")
    )
    config = json.loads((copy / "config.json").read_text())
    config["agent"]["hidden_size"] = 16
    (copy / "config.json").write_text(json.dumps(config))
    assert _probe(copy, "--probe", "thinking") == cli.EXIT_CHECKPOINT
    assert "agent.hidden_size: 8 -> 16" in capsys.readouterr().err
    assert not (copy / "probes").exists()


# ------------------------------------------------------------------ two-step


def test_two_step_probe_judges_the_checkpoint_against_model_free_references(two_step_run):
    assert sorted(p.name for p in (two_step_run / "probes").iterdir()) == sorted(
        PROBES_BY_FAMILY["two_step"]
    )
    summary = _check_files(two_step_run, "two_step")
    _check_verdict(summary)
    results = summary["results"]
    assert len(results["model_free_references"]) == 8
    assert set(results["agents"]) == {
        "checkpoint",
        "model_based",
        *results["model_free_references"],
    }
    for row in results["agents"].values():
        for condition in results["conditions"]:
            stay = row["stay"][condition]["value"]
            assert stay is None or 0.0 <= stay <= 1.0  # None: no such transition in tiny episodes
        index = row["model_based_index"]
        assert _ordered(index)  # finite, with a non-negative width
    differences = results["verdict_detail"]["interaction_minus_reference"]
    assert set(differences) == set(results["model_free_references"])
    thinking = _check_files(two_step_run, "thinking")
    _check_verdict(thinking)
    assert set(thinking["results"]["agents"]) == {"checkpoint", "model_based", "model_free"}


def test_a_probe_rerun_alone_gives_the_same_summary_and_arrays(two_step_run):
    """Reproducible from (checkpoint, probe, seed), whichever other probes ran in the same call."""

    def snapshot():
        summary = _summary(two_step_run, "thinking")
        summary.pop("timing")
        with np.load(two_step_run / "probes" / "thinking" / "arrays.npz") as data:
            return summary, {k: data[k] for k in data.files}

    first_summary, first_arrays = snapshot()  # written by '--probe all'
    assert _probe(two_step_run, "--probe", "thinking", "--no-plot") == cli.EXIT_OK
    summary, arrays = snapshot()
    assert summary == first_summary
    assert arrays.keys() == first_arrays.keys()
    for key in arrays:
        assert np.array_equal(arrays[key], first_arrays[key]), key


# ------------------------------------------------------------------ maze


@pytest.mark.slow
def test_maze_probes_run_beside_the_planners(tmp_path):
    experiment = _experiment(
        tmp_path, "tiny_maze", "maze-v0", {"cells_per_side": 4, "horizon": MAZE_HORIZON}
    )
    run_dir = _train(tmp_path, experiment, [])
    assert _probe(run_dir) == cli.EXIT_OK
    for probe in PROBES_BY_FAMILY["maze"]:
        _check_verdict(_check_files(run_dir, probe))
    difficulty = _summary(run_dir, "difficulty")["results"]
    assert set(difficulty["agents"]) == {"checkpoint", "bfs_planner", "local_heuristic"}
    assert difficulty["budget"] == MAZE_HORIZON // 2
    planner = difficulty["agents"]["bfs_planner"]["search_cost"]
    if planner["trials_straight"] and planner["trials_with_detour"]:
        # The BFS planner walks shortest paths once the goal is known: no extra steps at all.
        assert planner["excess_ratio"]["value"] == pytest.approx(1.0)
        assert planner["detour_effect"]["value"] == pytest.approx(0.0, abs=1e-9)
    thinking = _summary(run_dir, "thinking")["results"]["agents"]
    assert set(thinking) == {"checkpoint", "depth_limited_planner", "local_heuristic"}
    decoding = {row["target"] for row in _summary(run_dir, "decoding")["results"]["targets"]}
    assert decoding == {"goal", "position", "visited"}
