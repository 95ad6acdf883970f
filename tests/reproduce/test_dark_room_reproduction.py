"""dark_room: the claim rule on constructed curves (it can fail), the spec, the report and figure.

The rule is fed summaries built with the measure module's own helpers (``trial_returns``,
``rise``, ``seed_level_interval``) from constructed per-trial returns: a rising curve
passes, a flat one fails, a small rise is partly. The end-to-end run (train a tiny
agent, measure, report) is slow.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from metarl.errors import ConfigError
from metarl.reporting import json_ready
from metarl.reproduce import NOT_REPRODUCED, PARTLY, REPRODUCED, STATUSES, Setting
from metarl.reproduce import dark_room_curve as curve
from metarl.reproduce.registry import list_reproductions, load_reproduction, reproduction_files
from metarl.reproduce.runner import prepare, run_reproduction
from metarl.reproduce.seed_stats import seed_level_interval

EXPLORER_RISE = 15.0
"""About the sweep explorer's expected rise on the room (the rule's scale)."""


def _module():
    from metarl.experiments import load_experiment_module

    return load_experiment_module(str(reproduction_files()["dark_room"]))


def _summary(per_trial: np.ndarray) -> dict:
    """What the measure returns for the rule, from ``[seeds, trials, episodes]`` returns."""
    value, unit = seed_level_interval(curve.rise(per_trial))
    return json.loads(
        json.dumps(
            json_ready(
                {
                    "rise": value,
                    "interval_unit": unit,
                    "explorer_rise": EXPLORER_RISE,
                    "last_trials": curve.LAST_TRIALS,
                }
            )
        )
    )


def _curves(level_by_trial, seeds=3, episodes=256, noise=3.0, seed=0):
    """[seeds, trials, episodes] returns around ``level_by_trial`` (each seed shifted a bit)."""
    rng = np.random.default_rng(seed)
    level = np.asarray(level_by_trial, float)[None, :, None]
    per_seed = rng.normal(0.0, 0.3, (seeds, 1, 1))
    return level + per_seed + rng.normal(0.0, noise, (seeds, level.shape[1], episodes))


def test_trial_returns_and_rise_by_hand():
    rewards = np.zeros((6, 2))  # 3 trials of 2 steps, 2 episodes
    rewards[[1, 2, 3, 5], 0] = 1.0
    rewards[4, 1] = 1.0
    per_trial = curve.trial_returns(rewards, 3)
    np.testing.assert_array_equal(per_trial, [[1, 0], [2, 0], [1, 1]])
    np.testing.assert_allclose(curve.rise(per_trial, last=2), [0.5, 0.5])


@pytest.mark.parametrize(
    "levels, status",
    [
        (np.linspace(2.0, 12.0, 10), REPRODUCED),  # a constructed rising curve
        (np.r_[2.0, np.full(9, 2.8)], PARTLY),  # a rise above 0, below 0.1 x the explorer's
        (np.full(10, 2.0), NOT_REPRODUCED),  # flat: the rule can fail
        (np.linspace(6.0, 2.0, 10), NOT_REPRODUCED),  # falling
    ],
)
def test_rule_on_constructed_curves(levels, status):
    result = _module().return_rises_across_episodes({"dark_room": _summary(_curves(levels))})
    assert result.status == status, result.reason
    assert "minimum effect 1.50" in result.reason


def test_rule_without_an_interval_does_not_pass():
    summary = _summary(_curves(np.linspace(2.0, 12.0, 10)))
    summary["rise"] = {"value": 10.0, "low": None, "high": None}
    result = _module().return_rises_across_episodes({"dark_room": summary})
    assert result.status == NOT_REPRODUCED


@pytest.mark.parametrize("variant", ["cpu", "pod"])
def test_spec_loads_lists_and_passes_the_checks_made_before_training(variant):
    repro = load_reproduction("dark_room", variant)
    assert repro.variant == variant and [c.name for c in repro.claims] == [
        "return_rises_across_episodes"
    ]
    config = prepare(repro).configs["dark_room"]
    assert config.env.name == "dark-room-v0" and config.run.num_seeds >= 3
    assert config.env.overrides["num_tasks"] == 64
    assert any(row["name"] == "dark_room" and "budget_pod" in row for row in list_reproductions())


def test_the_rule_inputs_cannot_be_changed_from_the_command_line():
    repro = load_reproduction("dark_room")
    with pytest.raises(ConfigError, match="unknown field 'measure.last_trials'"):
        prepare(repro, ["measure.last_trials=1"])
    with pytest.raises(ConfigError, match="'env.overrides.num_tasks' is the published"):
        prepare(repro, ["env.overrides.num_tasks=81"])
    with pytest.raises(ConfigError, match="'measure.episodes' = 1 is out of range"):
        prepare(repro, ["measure.episodes=1"])


def _synthetic_measured() -> dict:
    per_trial = _curves(np.linspace(1.0, 8.0, 10))
    value, unit = seed_level_interval(curve.rise(per_trial))
    trials = [seed_level_interval(per_trial[:, k])[0] for k in range(10)]
    explorer = [1.5, 4.6, 9.1, 13.5] + [16.6] * 6
    return json.loads(
        json.dumps(
            json_ready(
                {
                    "num_trials": 10,
                    "trial_length": 20,
                    "episodes": 256,
                    "num_seeds": 3,
                    "last_trials": 3,
                    "curves": {
                        "checkpoint": trials,
                        "checkpoint_train_goals": trials,
                        "sweep_explorer": [{"value": v, "low": v, "high": v} for v in explorer],
                        "random": [{"value": 0.28, "low": 0.2, "high": 0.3}] * 10,
                        "oracle": [16.6] * 10,
                    },
                    "exact": {"sweep_explorer": explorer, "random": [0.28] * 10},
                    "rise": value,
                    "explorer_rise": 15.1,
                    "interval_unit": unit,
                    "table": {
                        "checkpoint": value,
                        "sweep_explorer": {"value": 15.1, "low": 14.9, "high": 15.3},
                        "random": {"value": 0.0, "low": -0.05, "high": 0.05},
                    },
                    "per_seed": {"curve": per_trial.mean(-1), "rise": [6.9, 7.0, 7.1]},
                }
            )
        )
    )


def test_report_and_figure_from_a_synthetic_measure(tmp_path):
    from metarl.reproduce import report as reporting

    repro = load_reproduction("dark_room")
    measured = {"dark_room": _synthetic_measured()}
    results = {c.name: c.check(measured) for c in repro.claims}
    assert results["return_rises_across_episodes"].status == REPRODUCED
    document = reporting.build_report(repro, measured, results, {}, ())
    paths = reporting.write_outputs(document, tmp_path, repro)
    assert {p.name for p in paths} == {"report.md", "reproduction.png", "reproduction.pdf"}
    text = (tmp_path / "report.md").read_text()
    assert "return_rises_across_episodes: reproduced" in text and "sweep_explorer" in text


@pytest.mark.slow
def test_dark_room_end_to_end_tiny(tmp_path):
    module = _module()
    base = load_reproduction("dark_room")
    (setting,) = base.settings
    run = dataclasses.replace(
        setting.config.run,
        num_envs=8,
        rollout_length=20,
        updates_per_chunk=5,
        checkpoint_every_chunks=1,
        total_env_steps=8 * 20 * 10,
        num_seeds=2,
    )
    config = module.setting_config(run, dataclasses.replace(setting.config.agent, hidden_size=8))
    repro = dataclasses.replace(
        base,
        settings=(Setting(setting.name, setting.label, config=config),),
        measure_options={"episodes": 16, "eval_seed": 0, "greedy": False},
    )
    run_reproduction(repro, tmp_path, progress=False, report=lambda line: None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] in STATUSES and report["claims"][0]["reason"]
    summary = report["measured"]["dark_room"]
    assert summary["num_seeds"] == 2 and len(summary["curves"]["checkpoint"]) == 10
    assert len(summary["held_out_goals"]) == 17 and summary["num_training_goals"] == 64
    # The explorer is deterministic: played on the episodes' goals, it averages its exact
    # per-goal returns over those goals (the exact curve weighs every held-out goal equally).
    assert summary["exact"]["sweep_explorer"][4] == pytest.approx(
        summary["curves"]["oracle"][0], abs=1.5
    )
    assert (tmp_path / "report.md").is_file() and (tmp_path / "reproduction.png").is_file()
