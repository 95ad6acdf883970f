"""The ruleset-diversity sweep: its definition, its measures on hand-made numbers, and one tiny
sweep end to end through ``metarl sweep``.

The tiny sweep (``tiny_sweeps.tiny_rule_grid_sweep``: N = 1, 3, inf x pool seeds 0, 1 x
2 training seeds on a 3x3 grid with 12 rulesets, 10 updates, 32 held-out episodes)
trains, evaluates with the real references and likelihood, and plots once.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from metarl.cli import main
from metarl.experiments import load_experiment, load_experiment_module
from metarl.sweeps import diversity
from metarl.sweeps import rule_grid_diversity as rgd
from metarl.sweeps.run_sweep import SUMMARY_FILE
from metarl.sweeps.spec import point_config


# --------------------------------------------------------------------------- definitions
def test_the_sweep_is_the_default_experiment_over_n_and_pools():
    module = load_experiment_module("rule_grid_diversity")
    sweep, default = module.SWEEP, load_experiment("rule_grid_default")
    assert [a.values for a in sweep.axes] == [(1, 4, 16, 64, 256, None), (0, 1)]
    run = sweep.experiment.run
    assert run.num_seeds == 3 and run.num_envs == 256 and run.rollout_length == 60
    # 3M env steps are 195 updates; 4 whole chunks of 49 train 196 of them (3,010,560 steps).
    assert run.num_updates == 195 and run.updates_per_chunk == 49
    assert sweep.experiment.agent == default.agent and sweep.experiment.algo == default.algo
    overrides = {**default.env.overrides}
    for key in ("num_tasks", "task_seed"):
        overrides.pop(key)
    assert {k: sweep.experiment.env.overrides[k] for k in overrides} == overrides
    assert sweep.analysis == "metarl.sweeps.rule_grid_diversity"


def test_the_pod_variant_is_the_same_sweep_scaled_up():
    cpu = load_experiment_module("rule_grid_diversity").SWEEP
    pod = load_experiment_module("rule_grid_diversity_pod").SWEEP
    run = pod.experiment.run
    assert run.num_seeds >= 8 and len(pod.axes[1].values) == 3 and run.num_envs == 1024
    # Exactly 200M env steps in whole chunks.
    assert run.num_updates % run.updates_per_chunk == 0
    assert run.num_updates * run.num_envs * run.rollout_length == pytest.approx(200e6, rel=1e-3)
    assert set(cpu.axes[0].values) <= set(pod.axes[0].values)
    assert pod.experiment.agent == cpu.experiment.agent
    assert pod.experiment.algo == cpu.experiment.algo
    assert pod.experiment.env == cpu.experiment.env
    assert pod.analysis == cpu.analysis


def test_held_out_rulesets_are_disjoint_from_every_pool_of_their_pool_seed():
    sweep = load_experiment_module("rule_grid_diversity").SWEEP
    configs = [point_config(sweep, p) for p in sweep.points()]
    labels = [p.name(sweep.axes) for p in sweep.points()]
    train = diversity.env_params(configs)
    held = rgd.held_out_sets(configs, labels, train)
    for config, source, overlap in zip(configs, held.source, held.overlap, strict=True):
        seed = config.env.overrides["task_seed"]
        assert source == f"num_tasks=256,task_seed={seed}"
        assert overlap == (None if config.env.overrides["num_tasks"] is None else 0)
    # The check is not vacuous: the held-out split of the prior point (drawn with no pool to
    # avoid) does share rulesets with the N = 256 pool of the same seed.
    prior_held = diversity.env_params([configs[-2]], split="held_out")[0]
    pool = set(rgd.ruleset_keys(train[-4].task_pool))
    assert configs[-4].env.overrides["num_tasks"] == 256
    assert sum(k in pool for k in rgd.ruleset_keys(prior_held.task_pool)) > 0


# --------------------------------------------------------------------------- measures
def _steps(per_trial_steps: list[list[float]], episodes: int) -> np.ndarray:
    """[T, E]: each trial's step rewards, the same in every episode."""
    column = np.concatenate([np.asarray(t, float) for t in per_trial_steps])
    return np.repeat(column[:, None], episodes, axis=1)


def test_seed_measures_on_hand_made_rewards():
    episodes, trial_length = 3, 2
    # Seed 0 improves from 0 to 2 per trial; seed 1 gets 1 in both trials.
    agent_held = np.stack([_steps([[0, 0], [1, 1]], episodes), _steps([[1, 0], [0, 1]], episodes)])
    agent_train = np.stack([_steps([[2, 2], [0, 0]], episodes), _steps([[1, 1], [0, 0]], episodes)])
    refs = {
        "oracle_planner": _steps([[1, 1], [1, 1]], episodes),  # 2 per trial
        "random": _steps([[0, 0], [0, 0]], episodes),  # 0 per trial: the gap is 2
        "ruleset_learner": _steps([[1, 1], [1, 0]], episodes),  # 3 per episode
    }
    learner_train = _steps([[1, 0], [0, 0]], episodes)  # 1 per episode
    got = rgd.seed_measures(agent_held, agent_train, refs, learner_train, trial_length)
    np.testing.assert_allclose(got["held_out_return"], [2.0, 2.0])
    np.testing.assert_allclose(got["held_out_improvement_raw"], [2.0, 0.0])
    np.testing.assert_allclose(got["held_out_improvement"], [1.0, 0.0])
    # (agent - learner on training) - (agent - learner held out): (4 - 1) - (2 - 3) and
    # (2 - 1) - (2 - 3).
    np.testing.assert_allclose(got["memorisation_advantage"], [4.0, 2.0])
    summary = rgd.reference_summary(refs, trial_length)
    assert summary["ruleset_learner"] == 3.0 and summary["oracle_planner"] == 4.0
    assert summary["ruleset_learner_improvement"] == pytest.approx(-1 / 2)
    # An oracle no better than random leaves nothing to normalise by: NaN, not a division.
    flat = {**refs, "oracle_planner": refs["random"]}
    got = rgd.seed_measures(agent_held, agent_train, flat, learner_train, trial_length)
    assert np.isnan(got["held_out_improvement"]).all()


def test_per_trial_returns_refuses_partial_trials():
    with pytest.raises(ValueError, match="whole trials"):
        rgd.per_trial_returns(np.zeros((5, 2)), 2)


def _row(n, verdict):
    return {"num_tasks": n, "verdict": verdict}


def test_a_clean_transition_is_one_switch_from_locator_to_learner():
    clean = diversity.clean_transition(
        [_row(1, "locator"), _row(4, "locator"), _row(16, "learner"), _row("inf", "learner")]
    )
    assert clean["clean"] and clean["between"] == [4, 16]
    for verdicts in (
        ["locator", "undecided", "learner"],
        ["learner", "learner", "learner"],
        ["locator", "learner", "locator"],
        ["not available"] * 3,
    ):
        rows = [_row(n, v) for n, v in zip((1, 4, 16), verdicts, strict=True)]
        assert not diversity.clean_transition(rows)["clean"], verdicts


def test_a_verdict_names_a_belief_only_where_it_beats_distance_alone():
    from metarl.interval import Interval

    above, below, across = Interval(0.2, 0.1, 0.3), Interval(-0.2, -0.3, -0.1), Interval(0, -1, 1)
    assert diversity.verdict_of(above) == "learner" and diversity.verdict_of(below) == "locator"
    assert diversity.verdict_of(above, above, below) == "learner"
    assert diversity.verdict_of(below, below, above) == "locator"
    # A difference on one side, but the belief it names is no better than distance alone.
    assert diversity.verdict_of(above, across, above) == "undecided"
    assert diversity.verdict_of(below, above, across) == "undecided"
    assert diversity.verdict_of(across, above, above) == "undecided"
    assert diversity.verdict_of(Interval(float("nan"))) == diversity.NOT_AVAILABLE
    # The bandit sweeps' minimum effect: a gain above 0 but not above it names nothing.
    small = Interval(0.0005, 0.0002, 0.0008)
    assert diversity.verdict_of(above, small, below) == "learner"
    assert diversity.verdict_of(above, small, below, min_gain=0.001) == "undecided"
    assert diversity.verdict_of(above, above, below, min_gain=0.001) == "learner"


# --------------------------------------------------------------------------- end to end
SWEEP_SOURCE = textwrap.dedent(
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location("tiny_sweeps", {module!r})
    tiny_sweeps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny_sweeps)
    SWEEP = tiny_sweeps.tiny_rule_grid_sweep()
    """
)


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """(out dir, stdout, summary) of the tiny sweep run once through ``metarl sweep``."""
    path = tmp_path_factory.mktemp("experiments") / "tiny_rule_grid_sweep.py"
    path.write_text(SWEEP_SOURCE.format(module=str(Path(__file__).with_name("tiny_sweeps.py"))))
    out = tmp_path_factory.mktemp("sweep") / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["sweep", str(path), "--out", str(out)])
    assert code == 0, stderr.getvalue()

    def refuse(constant):
        raise ValueError(f"the summary holds a non-JSON constant {constant}")

    summary = json.loads((out / SUMMARY_FILE).read_text(), parse_constant=refuse)
    return out, stdout.getvalue(), summary


def test_one_command_writes_the_summary_figure_and_table(tiny_sweep):
    out, stdout, summary = tiny_sweep
    for name in (SUMMARY_FILE, "rule_grid_diversity.png", "rule_grid_diversity.pdf"):
        assert (out / name).stat().st_size > 0, name
    assert "seed-level verdict" in stdout and "transition" in stdout
    table = (out / "rule_grid_diversity.md").read_text().splitlines()
    assert table[0].startswith("| N | runs | held-out return")
    assert [line.split(" | ")[0] for line in table[2:5]] == [
        "| 1",
        "| 3",
        "| inf (prior; held-out seen, stand-in locator)",
    ]
    assert summary["prior_rulesets"] == 12 and summary["num_trials"] == 2


def test_every_n_has_seed_level_intervals_and_a_verdict(tiny_sweep):
    _, _, summary = tiny_sweep
    rows = {row["num_tasks"]: row for row in summary["by_num_tasks"]}
    assert list(rows) == [1, 3, "inf"]
    for row in rows.values():
        assert row["runs"] == 4 and row["pool_seeds"] == [0, 1]
        assert row["verdict"] in ("learner", "locator", "undecided")
        for measure in rgd.MEASURES:
            estimate = row["iqm"][measure]
            low, value, high = estimate["low"], estimate["value"], estimate["high"]
            assert all(math.isfinite(v) for v in (low, value, high)), (measure, estimate)
            assert low <= value + 1e-9 <= high + 2e-9, (measure, estimate)
    assert rows["inf"]["stand_in_locator"] and not rows[1]["stand_in_locator"]
    assert isinstance(summary["clean_transition"]["clean"], bool)


def test_per_seed_measures_agree_with_the_recorded_curves(tiny_sweep):
    _, _, summary = tiny_sweep
    for point in summary["points"]:
        seeds, refs, curves = point["per_seed"], point["references"], point["per_trial"]
        gap = np.mean(curves["oracle_planner"]) - np.mean(curves["random"])
        for s, trials in enumerate(curves["agent"]):
            assert seeds["held_out_return"][s] == pytest.approx(sum(trials))
            assert seeds["held_out_improvement_raw"][s] == pytest.approx(trials[-1] - trials[0])
            assert seeds["held_out_improvement"][s] == pytest.approx((trials[-1] - trials[0]) / gap)
            train = sum(curves["agent_train"][s])
            expected = (train - refs["ruleset_learner_train"]) - (
                seeds["held_out_return"][s] - refs["ruleset_learner"]
            )
            assert seeds["memorisation_advantage"][s] == pytest.approx(expected)
        finite = point["num_tasks"] != "inf"
        assert point["held_out"]["unseen"] is finite
        assert point["held_out"]["overlap_with_training_pool"] == (0 if finite else None)


def test_the_likelihood_tells_the_references_apart_where_the_pool_is_small(tiny_sweep):
    # Calibration: on its own episodes the ruleset learner is explained better by the learner
    # belief, the locator over one memorised ruleset by the locator belief. With 32 held-out
    # episodes the 95% intervals over episodes must already exclude 0 at N = 1; a wrong pool
    # or unrecorded ground truth would not separate them.
    _, _, summary = tiny_sweep
    for point in summary["points"][:2]:
        assert point["num_tasks"] == 1
        calibration = point["likelihood"]["calibration"]
        assert calibration["ruleset_learner"]["difference"]["low"] > 0, calibration
        assert calibration["ruleset_locator"]["difference"]["high"] < 0, calibration
        assert all(row["available"] for row in point["likelihood"]["per_seed"])
