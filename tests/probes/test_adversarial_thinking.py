"""The thinking probe's verdict with several K: significant, practically large, or equivalent.

An agent whose return does not depend on K must get ``no_change`` or ``undecided``, never
'improves', 'worsens' or 'mixed'; an agent that searches deeper with each think (the maze's
depth-limited planner) must still get ``improves``. The null agents here think idly
(``with_idle_thinking``: a think only reseeds the next action's random numbers), so their play
differs from one K to the next while its distribution does not: the noise a multiple-comparison
correction has to absorb.

Measured (fixed seeds): 400 replicates of 128 episodes of a null bandit agent give 17 false
verdicts with Holm's correction alone (4.3%) against 62 without it (15.5%); the bound for a 5%
family-wise error is 35 (the 99.9% binomial quantile). With the minimum effect as well (a gain's
interval must lie beyond a tenth of the agent's margin over random play) the same replicates
give none. The slow grid, 256 episodes per agent: 15 null agents (Thompson sampling and
Q-learners at inverse temperature 3 and 30 on a bandit, the local heuristic and the BFS
planner in the maze, each with action noise 0, 0.1, 0.3) and 6 thinkers (the depth-limited
planner at depth 1 and 2, same noises). By Holm alone noiseless Thompson sampling was called
'worsens' on its K = 8 gain (-0.56, p about 0.003) though over 25,600 episodes its gains are
+0.02 +- 0.02: a pure false positive, which the minimum effect removes. The grid test asserts
no wrong verdict and every thinker 'improves'.
"""

from __future__ import annotations

import functools

import jax
import metarl.envs as menvs
import numpy as np
import pytest
import scipy.stats

from metarl.evaluation.baselines.bandit import q_learning, random_policy, thompson_sampling
from metarl.evaluation.baselines.maze import bfs_planner, depth_limited_planner, local_heuristic
from metarl.evaluation.baselines.nuisance import with_action_noise, with_idle_thinking
from metarl.probes import thinking
from metarl.probes.difficulty import held_out_maze

KEY = jax.random.PRNGKey(3)
KS = thinking.DEFAULT_KS
GREEDY = float("inf")
NULL_VERDICTS = ("no_change", "undecided")
THINKER_VERDICTS = ("improves", "undecided")  # undecided: no evidence either way
FALSE = ("improves", "worsens", "mixed")  # what an agent that cannot think must never get
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
    assert thinking.thinking_label(gains, half, 0.0) == "undecided"
    gains[2] = scipy.stats.norm.isf(0.005 / 2) / z  # p = 0.005 < 0.05 / 4
    assert thinking.thinking_label(gains, half, 0.0) == "improves"
    gains[3] = -gains[2]
    assert thinking.thinking_label(gains, half, 0.0) == "mixed"
    # A flat curve (no think step: every K the same play) is exact: no change at any margin.
    assert thinking.thinking_label(np.zeros(5), np.zeros(5), 0.0) == "no_change"


def test_a_significant_gain_is_named_only_beyond_the_minimum_effect():
    half = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
    # K = 2 at p = 0.001 (gain 1.68, interval [0.68, 2.68]): rejected by Holm at any margin.
    gains = np.array([0.0, 0.0, 1.68, 0.0, 0.0])
    assert thinking.thinking_label(gains, half, 0.5) == "improves"
    assert thinking.thinking_label(gains, half, 0.68 + 1e-9) == "undecided"
    assert thinking.thinking_label(-gains, half, 0.5) == "worsens"
    # Every interval inside [-margin, margin]: equivalent, whatever the p-values.
    assert thinking.thinking_label(gains, half, 2.7) == "no_change"
    # One interval reaching past the margin, none beyond it: no evidence either way.
    assert thinking.thinking_label(gains, half, 2.0) == "undecided"
    # The bandit checkpoint's K = 8 cost (-9.3 +- 1.8, return 66.9 at K = 0) is still called:
    # bandit_default (5 arms, 100 pulls, success rates uniform on [0, 1]) pays 50 at random
    # (the grid's 50-pull bandit: 24.5 measured), so its minimum effect is 1.69.
    measured = np.array([0.0, -2.0, -4.0, -6.0, -9.3]), np.array([0.0, 1.0, 1.2, 1.5, 1.8])
    assert thinking.minimum_effect(66.9, 50.0) == pytest.approx(1.69)
    assert thinking.thinking_label(*measured, thinking.minimum_effect(66.9, 50.0)) == "worsens"


@functools.cache
def _bandit():
    return menvs.make("bandit-bernoulli-v0", num_arms=5, horizon=50)


@functools.cache
def _random_return(env_name: str, num_actions: int, episodes: int) -> float:
    """Random play's mean return on the episodes every agent of ``env_name`` plays (same key)."""
    env, params = _bandit() if env_name == "bandit" else _maze()
    returns, _ = thinking.thinking_outcomes(
        random_policy(num_actions), env, params, KEY, (0,), episodes
    )
    return float(returns.mean())


def test_family_wise_error_of_a_null_agent_is_held_and_would_not_be_without_the_correction():
    env, params = _bandit()
    null = with_idle_thinking(with_action_noise(q_learning(5, 0.3, inverse_temperature=10.0), 0.1))
    episodes = REPLICATES * REPLICATE_EPISODES
    returns, successes = thinking.thinking_outcomes(null, env, params, KEY, KS, episodes)
    random_returns, _ = thinking.thinking_outcomes(
        random_policy(5), env, params, KEY, (0,), episodes
    )
    holm = uncorrected = with_margin = 0
    for block in range(REPLICATES):
        episodes = slice(block * REPLICATE_EPISODES, (block + 1) * REPLICATE_EPISODES)
        curve = thinking.curve_from_outcomes(KS, returns[:, episodes], successes[:, episodes])
        gains, halves = curve.return_gain, curve.return_gain_half_width
        margin = thinking.minimum_effect(curve.return_mean[0], random_returns[0, episodes].mean())
        holm += thinking.thinking_label(gains, halves, 0.0) in FALSE
        with_margin += thinking.thinking_label(gains, halves, margin) in FALSE
        uncorrected += _uncorrected_label(gains, halves) != "no_change"
    bound = _false_rate_bound(REPLICATES)
    print(
        f"\nthinking null agent, {REPLICATES} replicates of {REPLICATE_EPISODES} episodes: "
        f"{with_margin} false verdicts with Holm and the minimum effect, {holm} with Holm alone, "
        f"{uncorrected} without either (bound {bound})"
    )
    assert with_margin <= holm <= bound
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
            for name, agent in _bandit_agents().items():
                cases.append((f"bandit {name}", agent, "bandit", noise, NULL_VERDICTS))
        if maze:
            for name, agent in _maze_agents(_maze()[1]).items():
                cases.append((f"maze {name}", agent, "maze", noise, NULL_VERDICTS))
        for depth in depths:
            planner = depth_limited_planner(_maze()[1], depth=depth)
            cases.append((f"planner depth {depth}", planner, "maze", noise, THINKER_VERDICTS))
    rows = []
    for name, agent, env_name, noise, right in cases:
        env, params = _bandit() if env_name == "bandit" else _maze()
        random_return = _random_return(env_name, agent.num_actions, episodes)
        agent = with_action_noise(agent, noise)
        if right is NULL_VERDICTS:
            agent = with_idle_thinking(agent)
        curve = thinking.thinking_curve(agent, env, params, KEY, KS, episodes)
        margin = thinking.minimum_effect(curve.return_mean[0], random_return)
        verdict = thinking.thinking_label(curve.return_gain, curve.return_gain_half_width, margin)
        rows.append(
            {
                "agent": f"{name} noise {noise:g}",
                "null": right is NULL_VERDICTS,
                "verdict": verdict,
                "wrong": verdict not in right,
                "gains": ", ".join(
                    f"{g:+.2f} +- {h:.2f}"
                    for g, h in zip(
                        curve.return_gain[1:], curve.return_gain_half_width[1:], strict=True
                    )
                ),
                "margin": f"minimum effect {margin:.2f} (K = 0 return {curve.return_mean[0]:.2f}, "
                f"random {random_return:.2f})",
            }
        )
    return rows


def _report(title: str, rows: list[dict]) -> tuple[int, int]:
    """Print the grid; (wrong verdicts of null agents, wrong verdicts of thinkers)."""
    null_wrong = sum(row["wrong"] for row in rows if row["null"])
    thinker_wrong = sum(row["wrong"] for row in rows if not row["null"])
    nulls = sum(row["null"] for row in rows)
    undecided = sum(row["verdict"] == "undecided" for row in rows)
    print(
        f"\n{title}: {len(rows)} agents ({nulls} null, {len(rows) - nulls} thinkers), "
        f"{undecided} undecided, {null_wrong + thinker_wrong} wrong verdicts"
    )
    for row in rows:
        flag = "WRONG " if row["wrong"] else ""
        print(
            f"  {flag}{row['agent']}: {row['verdict']} (gains at K>0: {row['gains']}; "
            f"{row['margin']})"
        )
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
    # An agent that cannot think is never called a thinker, a worsener or mixed; a thinker never
    # a worsener; and every thinker is found.
    assert null_wrong == 0 and thinker_wrong == 0
    assert all(row["verdict"] == "improves" for row in rows if not row["null"]), rows
