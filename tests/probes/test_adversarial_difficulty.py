"""The difficulty probe's verdict against maze agents of known mechanism with swept nuisances.

No heuristic may get ``planner_like``, however strong; the BFS planner must get it or
``undecided``, however noisy. Every agent stands in for the checkpoint: it plays the probe's
held-out mazes on the same key as the probe's references (the BFS planner and the local
heuristic), and the probe's own search cost and verdict rule judge it.

Grid (the slow test, 256 episodes of 200 steps, the probe's default): heuristics of several
strengths (the local heuristic; wall followers, right or left hand, with a patience of 4, 16 or
unlimited steps per wall) and the BFS planner, each with action noise 0, 0.1 and 0.3: 24
agents. Measured: 0 wrong verdicts; every heuristic pays 8-21 steps per detour (heuristic_like),
the planner -0.1 to +0.1 (planner_like). Before the margin, the strongest wall followers passed
for planners: they pay less for detours than the local heuristic and walk fewer steps.
"""

from __future__ import annotations

import functools

import jax
import pytest

from metarl.evaluation.baselines.maze import bfs_planner, local_heuristic, wall_follower
from metarl.evaluation.baselines.nuisance import with_action_noise
from metarl.interval import Interval
from metarl.probes import difficulty as probe

KEY = jax.random.PRNGKey(0)
EPISODES = 256
NOISES = (0.0, 0.1, 0.3)
PATIENCES = (4, 16, None)


@functools.cache
def _maze():
    return probe.held_out_maze(held_out_size=64, prior_bank_size=256)


def _budget() -> int:
    horizon = int(_maze()[1].max_steps_in_episode)
    return min(probe.DEFAULT_BUDGET, max(1, horizon // 2))


def _cost(policy) -> dict:
    env, params = _maze()
    horizon = int(params.max_steps_in_episode)
    batch = probe.run_with_ground_truth(policy, env, params, KEY, EPISODES, horizon)
    return probe.search_cost(probe.analyze_difficulty(batch, horizon, _budget()), _budget())


@functools.cache
def _reference_costs() -> dict:
    params = _maze()[1]
    return {
        "bfs_planner": _cost(bfs_planner(params)),
        "local_heuristic": _cost(local_heuristic(params)),
    }


def _judge(name: str, planner: bool, policy) -> dict:
    cost = {"checkpoint": _cost(policy), **_reference_costs()}
    versus_local = {
        key: probe.difference(cost["checkpoint"][key], cost["local_heuristic"][key])
        for key in ("detour_effect", "excess_ratio")
    }
    verdict = probe.difficulty_verdict(cost, versus_local).label
    right = ("planner_like", "undecided") if planner else ("heuristic_like", "undecided")
    effect = cost["checkpoint"]["detour_effect"]
    return {
        "agent": name,
        "verdict": verdict,
        "wrong": verdict not in right,
        # What the rule before the margin asked of a planner (fewer detour steps and fewer steps
        # per path step than the local heuristic): a strong heuristic passed it.
        "beats_local": versus_local["detour_effect"].below(0.0)
        and versus_local["excess_ratio"].below(0.0),
        "detail": f"detour effect {effect.value:+.2f} +- {effect.half_width:.2f}",
    }


def _heuristics(params) -> dict:
    heuristics = {"local_heuristic": local_heuristic(params)}
    for patience in PATIENCES:
        for hand in ("right", "left"):
            name = f"wall_follower {hand} patience {patience or 'unlimited'}"
            heuristics[name] = wall_follower(params, hand, patience)
    return heuristics


def _report(title: str, rows: list[dict]) -> int:
    wrong = sum(row["wrong"] for row in rows)
    print(f"\n{title}: {len(rows)} agents, {wrong} wrong verdicts")
    for row in rows:
        flag = "WRONG " if row["wrong"] else ""
        print(f"  {flag}{row['agent']}: {row['verdict']} ({row['detail']})")
    return wrong


def test_the_verdict_is_an_equivalence_test_around_the_margin():
    def verdict(low: float, high: float, beats_local: bool = True) -> str:
        mine = {
            "detour_effect": Interval((low + high) / 2, low, high),
            "excess_ratio": Interval(1.5, 1.4, 1.6),
            "trials_with_detour": 100,
            "trials_straight": 100,
        }
        cost = {"checkpoint": mine, "local_heuristic": mine, "bfs_planner": mine}
        sign = -1.0 if beats_local else 1.0
        versus = {
            k: Interval(sign, sign - 0.5, sign + 0.5) for k in ("detour_effect", "excess_ratio")
        }
        return probe.difficulty_verdict(cost, versus).label

    margin = probe.DETOUR_MARGIN
    assert verdict(-0.2, 0.9 * margin) == "planner_like"
    assert verdict(-0.2, 0.9 * margin, beats_local=False) == "undecided"  # e.g. capped everywhere
    assert verdict(0.5 * margin, 1.5 * margin) == "undecided"  # cannot tell at this sample size
    assert verdict(1.1 * margin, 3.0 * margin) == "heuristic_like"
    # A heuristic that pays for detours but less than the local heuristic is still a heuristic.
    assert verdict(5.0, 9.0, beats_local=True) == "heuristic_like"


def test_strongest_heuristic_and_noisiest_planner():
    params = _maze()[1]
    rows = [
        _judge("wall_follower right patience unlimited noise 0", False, wall_follower(params)),
        _judge("bfs_planner noise 0.3", True, with_action_noise(bfs_planner(params), 0.3)),
    ]
    assert _report("difficulty adversarial corners", rows) == 0
    assert [row["verdict"] for row in rows] == ["heuristic_like", "planner_like"]
    # The wall follower beats the local heuristic on both counts: without the margin it would
    # have passed for a planner.
    assert rows[0]["beats_local"], rows[0]


def test_wall_follower_finds_and_regains_goals_in_a_perfect_maze():
    """With unlimited patience it visits every square: later trials (goal known) all succeed
    within the episode, and its extras report the remembered goal."""
    env, params = _maze()
    horizon = int(params.max_steps_in_episode)
    batch = probe.run_with_ground_truth(
        wall_follower(params, "left"), env, params, KEY, 64, horizon
    )
    trials = probe.maze_trials(batch, horizon)
    later = (trials.trial_index > 0) & (trials.remaining >= 2 * params.num_free_cells)
    assert later.sum() > 100 and trials.reached[later].all()
    with pytest.raises(ValueError):
        wall_follower(params, "middle")


@pytest.mark.slow
def test_difficulty_verdict_over_the_grid():
    params = _maze()[1]
    agents = {**{n: (False, p) for n, p in _heuristics(params).items()}}
    agents["bfs_planner"] = (True, bfs_planner(params))
    rows = [
        _judge(f"{name} noise {noise:g}", planner, with_action_noise(policy, noise))
        for name, (planner, policy) in agents.items()
        for noise in NOISES
    ]
    assert len(rows) == 24
    assert _report("difficulty adversarial grid", rows) == 0
