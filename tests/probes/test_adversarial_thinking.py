"""The thinking probe's verdict with several K: the K > 0 gains are tested as one family.

An agent whose return does not depend on K must get ``no_change`` but for the family-wise
error (5%); an agent that searches deeper with each think (the maze's depth-limited planner)
must still get ``improves``. The null agents here think idly (``with_idle_thinking``: a think
only reseeds the next action's random numbers), so their play differs from one K to the next
while its distribution does not: the noise a multiple-comparison correction has to absorb.

Measured (fixed seeds): 400 replicates of 128 episodes of a null bandit agent give 17 false
verdicts with the correction (4.3%) against 62 without it (15.5%); the bound for a 5%
family-wise error is 35 (the 99.9% binomial quantile). The slow grid, 256 episodes per agent:
15 null agents (Thompson sampling and Q-learners at inverse temperature 3 and 30 on a bandit,
the local heuristic and the BFS planner in the maze, each with action noise 0, 0.1, 0.3) and 6
thinkers (the depth-limited planner at depth 1 and 2, same noises). The 6 thinkers improve;
14 null agents get no_change and one (noiseless Thompson sampling) 'worsens' on its K = 8 gain
(-0.56, p about 0.003): the family-wise error at work, not a trend (over 25,600 episodes its
gains are +0.02 +- 0.02 at every K). With 15 null agents at 5% each, up to 4 such verdicts
stay within the 99.9% binomial quantile, which the grid test asserts instead of zero.
"""

from __future__ import annotations

import functools

import jax
import metarl.envs as menvs
import numpy as np
import pytest
import scipy.stats

from metarl.evaluation.baselines.bandit import q_learning, thompson_sampling
from metarl.evaluation.baselines.maze import bfs_planner, depth_limited_planner, local_heuristic
from metarl.evaluation.baselines.nuisance import with_action_noise, with_idle_thinking
from metarl.probes import thinking
from metarl.probes.difficulty import held_out_maze

KEY = jax.random.PRNGKey(3)
KS = thinking.DEFAULT_KS
GREEDY = float("inf")
NULL_VERDICTS = ("no_change",)
THINKER_VERDICTS = ("improves", "no_change")  # no_change: no evidence either way
REPLICATES, REPLICATE_EPISODES = 400, 128


def _uncorrected_label(gains, halves) -> str:
    """The rule before the correction: any K whose own 95% interval excludes 0."""
    better = bool(np.any(gains[1:] - halves[1:] > 0))
    worse = bool(np.any(gains[1:] + halves[1:] < 0))
    return {(True, True): "mixed", (True, False): "improves", (False, True): "worsens"}.get(
        (better, worse), "no_change"
    )


def _false_rate_bound(trials: int, alpha: float = thinking.FAMILY_WISE_ERROR) -> int:
    """Most false verdicts a rule with family-wise error ``alpha`` gives in ``trials`` independent
    agents, but for a 0.1% chance (the binomial quantile)."""
    return int(scipy.stats.binom.ppf(0.999, trials, alpha))


def test_holm_rejects_step_down_and_the_label_uses_it():
    # Bonferroni would keep 0.02 (> 0.05 / 3); Holm rejects 0.01 at 0.05 / 3, then 0.02 at 0.05 / 2.
    np.testing.assert_array_equal(
        thinking.holm_rejections(np.array([0.02, 0.9, 0.01])), [True, False, True]
    )
    np.testing.assert_array_equal(
        thinking.holm_rejections(np.array([0.02, 0.03, 0.04])), [False, False, False]
    )
    z = thinking.Z_95
    # One K of four at p = 0.03 (its 95% interval excludes 0): significant alone, not as a family.
    half = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
    gains = np.array([0.0, 0.1, scipy.stats.norm.isf(0.015) / z, -0.2, 0.3])
    assert _uncorrected_label(gains, half) == "improves"
    assert thinking.thinking_label(gains, half) == "no_change"
    gains[2] = scipy.stats.norm.isf(0.005 / 2) / z  # p = 0.005 < 0.05 / 4
    assert thinking.thinking_label(gains, half) == "improves"
    gains[3] = -gains[2]
    assert thinking.thinking_label(gains, half) == "mixed"
    # A flat curve (no think step: every K the same play) is exact: no change.
    assert thinking.thinking_label(np.zeros(5), np.zeros(5)) == "no_change"


@functools.cache
def _bandit():
    return menvs.make("bandit-bernoulli-v0", num_arms=5, horizon=50)


def test_family_wise_error_of_a_null_agent_is_held_and_would_not_be_without_the_correction():
    env, params = _bandit()
    null = with_idle_thinking(with_action_noise(q_learning(5, 0.3, inverse_temperature=10.0), 0.1))
    returns, successes = thinking.thinking_outcomes(
        null, env, params, KEY, KS, REPLICATES * REPLICATE_EPISODES
    )
    corrected = uncorrected = 0
    for block in range(REPLICATES):
        episodes = slice(block * REPLICATE_EPISODES, (block + 1) * REPLICATE_EPISODES)
        curve = thinking.curve_from_outcomes(KS, returns[:, episodes], successes[:, episodes])
        gains, halves = curve.return_gain, curve.return_gain_half_width
        corrected += thinking.thinking_label(gains, halves) != "no_change"
        uncorrected += _uncorrected_label(gains, halves) != "no_change"
    bound = _false_rate_bound(REPLICATES)
    print(
        f"\nthinking null agent, {REPLICATES} replicates of {REPLICATE_EPISODES} episodes: "
        f"{corrected} false verdicts with Holm, {uncorrected} without (bound {bound})"
    )
    assert corrected <= bound
    # The test has teeth: four uncorrected comparisons exceed the family-wise bound.
    assert uncorrected > bound


# ----------------------------------------------------------------- the grid


@functools.cache
def _maze():
    return held_out_maze(held_out_size=64, prior_bank_size=256)


def _bandit_agents():
    q = {
        f"q_learning beta {beta:g}": q_learning(5, 0.3, inverse_temperature=beta)
        for beta in (3.0, 30.0)
    }
    return {"thompson_sampling": thompson_sampling(5), **q}


def _maze_agents(params):
    return {"local_heuristic": local_heuristic(params), "bfs_planner": bfs_planner(params)}


def _grid_rows(noises, episodes: int, bandit: bool, maze: bool, depths) -> list[dict]:
    """Every null agent (idle thinking) x noise, and the depth-limited planners x noise."""
    cases = []
    for noise in noises:
        if bandit:
            env, params = _bandit()
            for name, agent in _bandit_agents().items():
                cases.append((f"bandit {name}", agent, env, params, noise, NULL_VERDICTS))
        if maze:
            env, params = _maze()
            for name, agent in _maze_agents(params).items():
                cases.append((f"maze {name}", agent, env, params, noise, NULL_VERDICTS))
        env, params = _maze()
        for depth in depths:
            planner = depth_limited_planner(params, depth=depth)
            cases.append((f"planner depth {depth}", planner, env, params, noise, THINKER_VERDICTS))
    rows = []
    for name, agent, env, params, noise, right in cases:
        agent = with_action_noise(agent, noise)
        if right is NULL_VERDICTS:
            agent = with_idle_thinking(agent)
        curve = thinking.thinking_curve(agent, env, params, KEY, KS, episodes)
        verdict = thinking.thinking_label(curve.return_gain, curve.return_gain_half_width)
        rows.append(
            {
                "agent": f"{name} noise {noise:g}",
                "null": right is NULL_VERDICTS,
                "verdict": verdict,
                "wrong": verdict not in right,
                "gains": ", ".join(f"{g:+.2f}" for g in curve.return_gain[1:]),
            }
        )
    return rows


def _report(title: str, rows: list[dict]) -> tuple[int, int]:
    """Print the grid; (wrong verdicts of null agents, wrong verdicts of thinkers)."""
    null_wrong = sum(row["wrong"] for row in rows if row["null"])
    thinker_wrong = sum(row["wrong"] for row in rows if not row["null"])
    nulls = sum(row["null"] for row in rows)
    print(
        f"\n{title}: {len(rows)} agents ({nulls} null, {len(rows) - nulls} thinkers), "
        f"{null_wrong + thinker_wrong} wrong verdicts"
    )
    for row in rows:
        flag = "WRONG " if row["wrong"] else ""
        print(f"  {flag}{row['agent']}: {row['verdict']} (gains at K>0: {row['gains']})")
    return null_wrong, thinker_wrong


def test_thinking_verdict_corners():
    rows = _grid_rows((0.3,), 128, bandit=False, maze=True, depths=(1,))
    null_wrong, thinker_wrong = _report("thinking adversarial corners", rows)
    assert null_wrong == 0 and thinker_wrong == 0
    # A planner acting at random 30% of the time still gains from searching deeper.
    assert rows[-1]["verdict"] == "improves", rows[-1]


@pytest.mark.slow
def test_thinking_verdict_over_the_grid():
    rows = _grid_rows((0.0, 0.1, 0.3), 256, bandit=True, maze=True, depths=(1, 2))
    null_wrong, thinker_wrong = _report("thinking adversarial grid", rows)
    nulls = sum(row["null"] for row in rows)
    assert len(rows) == 3 * (3 + 2 + 2) and nulls == 15
    # Each null agent may be called a thinker at the family-wise error: the count is bounded by
    # the binomial quantile, not zero; a thinker is never called a worsener.
    assert null_wrong <= _false_rate_bound(nulls)
    assert thinker_wrong == 0
    assert all(row["verdict"] == "improves" for row in rows if not row["null"]), rows
