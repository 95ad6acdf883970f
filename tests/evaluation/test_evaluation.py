"""Frozen evaluation loop: paired episodes, and Thompson sampling's published level."""

import jax
import metarl.envs as menvs
import numpy as np

from metarl.evaluation import evaluate_policy, mean_interval, paired_difference
from metarl.evaluation.baselines import random_policy, thompson_sampling


def _run(policy, env, params, key, episodes, steps):
    return jax.jit(lambda k: evaluate_policy(policy, env, params, k, episodes, steps))(key)


def test_policies_share_tasks_and_reward_draws():
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=3, horizon=20)
    key = jax.random.PRNGKey(0)
    a = _run(random_policy(3), env, params, key, 256, 20)
    b = _run(thompson_sampling(3), env, params, key, 256, 20)
    np.testing.assert_array_equal(
        np.asarray(a.info["optimal_expected_reward"]), np.asarray(b.info["optimal_expected_reward"])
    )
    # Where both pulled the same arm at the same step, they got the same reward (common random numbers).
    same = np.asarray(a.actions) == np.asarray(b.actions)
    assert same.mean() > 0.2
    np.testing.assert_array_equal(np.asarray(a.rewards)[same], np.asarray(b.rewards)[same])
    assert a.rewards.shape == (20, 256)


def test_thompson_sampling_reaches_the_published_level_at_k5_n100():
    # RL^2 paper (Duan et al. 2016) table: Thompson sampling 74.7 at k=5, n=100; an independent
    # simulation gives 75.0. Random play: 50 (means ~ U(0,1)).
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=5, horizon=100)
    episodes = 2000
    key = jax.random.PRNGKey(1)
    ts = np.asarray(_run(thompson_sampling(5), env, params, key, episodes, 100).returns)
    rnd = np.asarray(_run(random_policy(5), env, params, key, episodes, 100).returns)
    ts_mean, ts_half = mean_interval(ts)
    # The interval is the 95% one; 5 standard errors = 2.55 half-widths, plus the references' spread.
    assert abs(ts_mean - 74.85) < 2.55 * ts_half + 0.15, (ts_mean, ts_half)
    rnd_mean, rnd_half = mean_interval(rnd)
    assert abs(rnd_mean - 50.0) < 2.55 * rnd_half
    diff, diff_half = paired_difference(ts, rnd)
    assert diff - diff_half > 20.0
    # Thompson sampling learns: regret per step falls from the first to the last 10 pulls.
    regret = np.asarray(_run(thompson_sampling(5), env, params, key, episodes, 100).info["regret"])
    assert regret[-10:].mean() < 0.25 * regret[:10].mean()
