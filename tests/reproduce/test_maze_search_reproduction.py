"""maze_search: the claim rules on constructed measurements (each status reachable, the
not-trained prerequisite included), the measure's helpers by hand, the spec, the report and
figure; the end-to-end run (train tiny DRC and GRU, measure, report) is slow.

The rules are fed summaries built with the measure module's own helpers
(``thinking_summary``, ``seed_level_interval``) from constructed goals per episode
``[seeds, K, episodes]``.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy import stats

from metarl.errors import ConfigError
from metarl.interval import Interval
from metarl.reporting import json_ready
from metarl.reproduce import NOT_REPRODUCED, PARTLY, REPRODUCED, STATUSES, Setting
from metarl.reproduce import maze_search as ms
from metarl.reproduce.registry import list_reproductions, load_reproduction, reproduction_files
from metarl.reproduce.runner import prepare, run_reproduction
from metarl.reproduce.seed_stats import seed_level_interval

EPISODES = 120
HARD = np.arange(EPISODES) % 3 == 0


def _module():
    from metarl.experiments import load_experiment_module

    return load_experiment_module(str(reproduction_files()["maze_search"]))


def _json(data):
    return json.loads(json.dumps(json_ready(data)))


def _goals(base, hard_gain_per_k, seeds=3, seed=0, noise=0.6):
    """[seeds, K, episodes] goals: ``base`` at K = 0, plus ``hard_gain_per_k[k]`` on hard mazes."""
    rng = np.random.default_rng(seed)
    gain = np.asarray(hard_gain_per_k, float)[None, :, None] * HARD[None, None, :]
    shift = rng.normal(0.0, 0.05, (seeds, 1, 1))
    return base + gain + shift + rng.normal(0.0, noise, (seeds, len(ms.KS), EPISODES))


def _summary(goals, random_goals=0.4, verdict="undecided", versus_local=(-5.0, -8.0, -2.0)):
    summary = ms.thinking_summary(goals, HARD)
    margin = seed_level_interval(goals[:, 0, :] - random_goals)[0]
    return _json(
        {
            **summary,
            "episodes": EPISODES,
            "hard_episodes": int(HARD.sum()),
            "hard_episode_index": np.flatnonzero(HARD),
            "trained_margin": margin,
            "difficulty": {
                "verdict": verdict,
                "reason": "constructed",
                "checkpoint_minus_local": {"detour_effect": Interval(*versus_local)},
            },
            "learning_curve": {"env_steps": [1000, 2000], "return_per_seed": [[4.0, 5.0]] * 3},
        }
    )


def _measured(drc_gain, gru_gain, drc_base=2.0, **drc_options):
    return {
        "drc": _summary(_goals(drc_base, drc_gain, seed=1), **drc_options),
        "gru": _summary(_goals(2.0, gru_gain, seed=2)),
    }


@pytest.mark.parametrize(
    "drc_gain, gru_gain, status",
    [
        ((0, 0.5, 1.0, 1.5), (0, -0.2, -0.4, -0.7), REPRODUCED),  # the DRC gains, the GRU loses
        ((0, 0.5, 1.0, 1.5), (0, 0.5, 1.0, 1.5), PARTLY),  # both gain alike
        ((0, 0.0, 0.0, 0.0), (0, -0.2, -0.4, -0.7), NOT_REPRODUCED),  # the DRC flat: can fail
        ((0, -0.5, -1.0, -1.5), (0, 0.0, 0.0, 0.0), NOT_REPRODUCED),
    ],
)
def test_main_rule_on_constructed_gains(drc_gain, gru_gain, status):
    result = _module().drc_thinks_on_hard_mazes(_measured(drc_gain, gru_gain))
    assert result.status == status, result.reason
    assert "DRC - GRU" in result.reason


def test_main_rule_not_trained_prerequisite():
    """Large thinking gains do not count when the DRC is at random play at K = 0."""
    measured = _measured((0, 1.0, 2.0, 3.0), (0, -0.2, -0.4, -0.7), drc_base=0.4)
    result = _module().drc_thinks_on_hard_mazes(measured)
    assert result.status == NOT_REPRODUCED
    assert "did not train the DRC" in result.reason and "5.0, 5.0, 5.0" in result.reason


def test_main_rule_refuses_different_episodes():
    measured = _measured((0, 0.5, 1.0, 1.5), (0, 0, 0, 0))
    measured["gru"]["hard_episode_index"] = measured["gru"]["hard_episode_index"][1:]
    with pytest.raises(ValueError, match="same hard mazes"):
        _module().drc_thinks_on_hard_mazes(measured)


@pytest.mark.parametrize(
    "verdict, versus_local, base, status",
    [
        ("planner_like", (-10.0, -12.0, -8.0), 2.0, REPRODUCED),
        ("undecided", (-10.0, -12.0, -8.0), 2.0, PARTLY),
        ("undecided", (-1.0, -4.0, 2.0), 2.0, NOT_REPRODUCED),
        ("heuristic_like", (-1.0, -2.0, -0.5), 2.0, NOT_REPRODUCED),
        ("insufficient_trials", (float("nan"), float("nan"), float("nan")), 2.0, NOT_REPRODUCED),
        ("planner_like", (-10.0, -12.0, -8.0), 0.4, NOT_REPRODUCED),  # not trained
    ],
)
def test_placement_rule(verdict, versus_local, base, status):
    measured = _measured((0, 0, 0, 0), (0, 0, 0, 0), drc_base=base, verdict=verdict,
                         versus_local=versus_local)  # fmt: skip
    result = _module().drc_places_as_planner(measured)
    assert result.status == status, result.reason
    assert verdict in result.reason


# ------------------------------------------------------------------ helpers by hand
def test_gain_difference_by_hand():
    rng = np.random.default_rng(3)
    a = rng.normal(1.0, 1.0, (3, 50))
    b = rng.normal(0.0, 1.0, (4, 50))
    interval, unit = ms.gain_difference(a, b)
    ma, mb = a.mean(1), b.mean(1)
    va, vb = ma.var(ddof=1) / 3, mb.var(ddof=1) / 4
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)
    ve = (a.mean(0) - b.mean(0)).var(ddof=1) / 50
    half = stats.t.ppf(0.975, df) * np.sqrt(va + vb + ve)
    assert interval.value == pytest.approx(ma.mean() - mb.mean())
    assert interval.high - interval.value == pytest.approx(half)
    assert "3 vs 4" in unit
    one, _ = ms.gain_difference(a[:1], b)
    assert not one.has_bounds
    with pytest.raises(ValueError, match="same episodes"):
        ms.gain_difference(a, b[:, :10])


def test_goals_per_episode_counts_rewarded_trial_ends():
    rewards = np.array([[0, 10], [10, 0], [0, 0], [10, 10.0]])
    boundary = np.array([[0, 1], [1, 0], [1, 0], [0, 1]])  # a boundary without reward: a drift
    np.testing.assert_array_equal(ms.goals_per_episode(rewards, boundary), [1, 2])


def test_thinking_summary_gains_are_paired():
    goals = _goals(2.0, (0, 1.0, 1.0, 1.0), noise=0.0)
    summary = ms.thinking_summary(goals, HARD)
    assert summary["gain"]["hard"][1].value == pytest.approx(1.0)
    assert summary["gain"]["easy"][1].value == pytest.approx(0.0)
    assert summary["claim_gain_by_episode"].shape == (3, HARD.sum())


def test_maze_labels_match_the_layout_tables():
    import jax.numpy as jnp
    import metarl.envs as menvs

    _, params = menvs.make("maze-grid-v0", cells_per_side=4, horizon=80, split="held_out")
    layouts = params.layouts
    state = type("State", (), {"layout": jnp.array([0, 5]), "goal": jnp.array([3, 17])})
    labels = ms.maze_labels(state, layouts)
    for b, (layout, goal) in enumerate([(0, 3), (5, 17)]):
        distance = np.asarray(layouts.distance[layout, :, goal], float)
        cells = np.asarray(layouts.cells[layout], int)
        manhattan = np.abs(cells - cells[goal]).sum(-1)
        others = np.arange(len(distance)) != goal
        assert labels["maze_path"][b] == pytest.approx(distance[others].mean(), rel=1e-5)
        ratio = distance[others] / manhattan[others]
        assert labels["maze_detour"][b] == pytest.approx(ratio.mean(), rel=1e-5)
    assert ms.hard_mazes([8.0, 9.0, 7.9], [1.5, 1.4, 2.0]).tolist() == [True, False, False]


# ------------------------------------------------------------------ the spec
@pytest.mark.parametrize("variant", ["cpu", "pod"])
def test_spec_loads_lists_and_passes_the_checks_made_before_training(variant):
    repro = load_reproduction("maze_search", variant)
    configs = prepare(repro).configs
    drc, gru = configs["drc"], configs["gru"]
    assert drc.agent.core == "drc" and (drc.agent.drc_depth, drc.agent.drc_ticks) == (3, 3)
    assert gru.agent.core == "gru"
    assert drc.env == gru.env and drc.env.name == "maze-grid-v0"
    assert min(drc.run.num_seeds, gru.run.num_seeds) >= 3
    if variant == "cpu":
        assert drc.run.total_env_steps < gru.run.total_env_steps
        assert "8 channels" in repro.budget and "min" in repro.budget
    else:
        assert drc.agent.drc_channels == 32 and "not measured" in repro.budget
    assert [c.name for c in repro.claims] == ["drc_thinks_on_hard_mazes", "drc_places_as_planner"]
    assert repro.published_value("drc", "checkpoint") == 0.766
    assert repro.published_value("drc", ms.THINKING) == 0.813
    assert any(row["name"] == "maze_search" and "budget_pod" in row for row in list_reproductions())


def test_the_rule_inputs_cannot_be_changed_from_the_command_line():
    repro = load_reproduction("maze_search")
    with pytest.raises(ConfigError, match="unknown field 'measure.ks'"):
        prepare(repro, ["measure.ks=0,8"])
    with pytest.raises(ConfigError, match="'env.overrides.horizon' is the published"):
        prepare(repro, ["env.overrides.horizon=40"])
    with pytest.raises(ConfigError, match="'measure.episodes' = 8 is out of range"):
        prepare(repro, ["measure.episodes=8"])


def _synthetic_report(tmp_path):
    from metarl.reproduce import report as reporting

    repro = load_reproduction("maze_search")
    measured = _measured((0, 0.5, 1.0, 1.5), (0, -0.2, -0.4, -0.7), verdict="planner_like")
    success = [{"value": 0.5, "low": 0.3, "high": 0.7}] * 6
    for summary in measured.values():
        summary.update(
            ks=list(ms.KS),
            table={"checkpoint": success[0], "bfs_planner": {"value": 1.0, "low": 1, "high": 1}},
            references={"random": {"return_per_episode": 4.0}},
            difficulty={
                **summary["difficulty"],
                "path_bins": [1, 4, 8, 12, 16, 24, 1000],
                "success_by_path": {
                    n: success for n in ("checkpoint", "bfs_planner", "local_heuristic")
                },
            },
        )
    results = {c.name: c.check(measured) for c in repro.claims}
    document = reporting.build_report(repro, measured, results, {}, ())
    return document, reporting.write_outputs(document, tmp_path, repro)


def test_report_and_figure_from_a_synthetic_measure(tmp_path):
    document, paths = _synthetic_report(tmp_path)
    assert document["status"] == "reproduced"
    assert {p.name for p in paths} == {"report.md", "reproduction.png", "reproduction.pdf"}
    text = (tmp_path / "report.md").read_text()
    assert "drc_thinks_on_hard_mazes: reproduced" in text and "0.77" in text


@pytest.mark.slow
def test_maze_search_end_to_end_tiny(tmp_path):
    module = _module()
    base = load_reproduction("maze_search")
    drc, gru = base.settings

    def tiny(setting):
        run = dataclasses.replace(setting.config.run, num_envs=4, updates_per_chunk=2,
                                  checkpoint_every_chunks=1, total_env_steps=4 * 20 * 2,
                                  num_seeds=2)  # fmt: skip
        return dataclasses.replace(setting.config, run=run)

    tiny_drc = module.drc_config(tiny(drc).run, channels=4, hidden=8)
    repro = dataclasses.replace(
        base,
        settings=(
            Setting(drc.name, drc.label, config=tiny_drc),
            Setting(gru.name, gru.label, config=tiny(gru)),
        ),
        measure_options={"episodes": 16, "eval_seed": 0, "greedy": False},
    )
    run_reproduction(repro, tmp_path, progress=False, report=lambda line: None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] in STATUSES and all(c["reason"] for c in report["claims"])
    summary = report["measured"]["drc"]
    assert summary["num_seeds"] == 2 and len(summary["gain"]["hard"]) == len(ms.KS)
    assert summary["gain"]["all"][0] == {"value": 0.0, "low": 0.0, "high": 0.0}
    assert summary["hard_episode_index"] == report["measured"]["gru"]["hard_episode_index"]
    assert len(summary["learning_curve"]["return_per_seed"]) == 2
    assert summary["references"]["bfs_planner"]["success_later"]["value"] == pytest.approx(1.0)
    assert (tmp_path / "report.md").is_file() and (tmp_path / "reproduction.png").is_file()
