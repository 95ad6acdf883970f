"""Choice models, model fits and the learner-vs-locator comparison, on agents of known mechanism."""

import functools

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest

from metarl.evaluation import evaluate_policy
from metarl.evaluation.baselines.bandit import (
    q_learning,
    random_policy,
    task_locator,
    thompson_sampling,
    win_stay_lose_shift,
)
from metarl.evaluation.replay import replay_policy
from metarl.interval import Interval
from metarl.probes import choice_models, likelihood, model_fit
from metarl.probes.likelihood import compare_learner_vs_locator

NUM_ARMS = 5
HORIZON = 50
EPISODES = 200


@functools.cache
def _envs():
    """(env, held-out params, training pool means [4, k]) of a num_tasks=4 Bernoulli bandit."""
    env, held_out = menvs.make(
        "bandit-bernoulli-v0", num_arms=NUM_ARMS, horizon=HORIZON, num_tasks=4, split="held_out"
    )
    _, train = menvs.make("bandit-bernoulli-v0", num_arms=NUM_ARMS, horizon=HORIZON, num_tasks=4)
    return env, held_out, np.asarray(train.task_pool.means)


_HELD_OUT_POLICIES = {
    "thompson_sampling": lambda train_means: thompson_sampling(NUM_ARMS),
    "locator_greedy": lambda train_means: task_locator(train_means, mode="greedy"),
    "locator_sampling": lambda train_means: task_locator(train_means, mode="sampling"),
    "random": lambda train_means: random_policy(NUM_ARMS),
}


@functools.cache
def _held_out_episodes(name: str, seed: int = 21):
    """EPISODES held-out episodes of one reference agent (extras and observations recorded),
    shared by the tests so each agent's rollout compiles once."""
    env, held_out, train_means = _envs()
    policy = _HELD_OUT_POLICIES[name](train_means)
    run = jax.jit(
        lambda key: evaluate_policy(
            policy,
            env,
            held_out,
            key,
            EPISODES,
            HORIZON,
            record_extras=True,
            record_observations=True,
        )
    )
    return run(jax.random.PRNGKey(seed))


def _play(policy, env, params, seed, episodes, steps):
    return jax.jit(lambda key: evaluate_policy(policy, env, params, key, episodes, steps))(
        jax.random.PRNGKey(seed)
    )


# ----------------------------------------------------------------- choice models are the agents' beliefs


def test_choice_model_values_equal_the_reference_agents_beliefs_on_a_replayed_history():
    """Replaying the reference agents on Thompson sampling's history gives exactly the choice models' values."""
    _, _, train_means = _envs()
    episodes = _held_out_episodes("thompson_sampling")
    actions, rewards = episodes.actions, episodes.rewards
    key = jax.random.PRNGKey(0)

    # Replay is faithful: Thompson sampling replayed on its own history believes what it believed.
    replayed = jax.jit(lambda e: replay_policy(thompson_sampling(NUM_ARMS), e, key))(episodes)
    np.testing.assert_array_equal(
        np.asarray(replayed["posterior_mean"]), np.asarray(episodes.extras["posterior_mean"])
    )
    np.testing.assert_allclose(
        choice_models.bayes_learner_values(actions, rewards, NUM_ARMS),
        replayed["posterior_mean"],
        atol=1e-6,
    )
    replayed = jax.jit(lambda e: replay_policy(task_locator(train_means), e, key))(episodes)
    np.testing.assert_allclose(
        choice_models.task_locator_values(actions, rewards, train_means),
        replayed["action_values"],
        atol=1e-5,
    )
    replayed = jax.jit(
        lambda e: replay_policy(q_learning(NUM_ARMS, 0.3, inverse_temperature=5.0), e, key)
    )(episodes)
    np.testing.assert_allclose(
        choice_models.q_learning_values(actions, rewards, NUM_ARMS, 0.3),
        replayed["action_values"],
        atol=1e-6,
    )


def test_q_learning_values_match_a_hand_computed_history():
    # One episode, 2 arms: pull 0 (reward 1), pull 0 (reward 0), pull 1 (reward 1), pull 0.
    actions = jnp.array([[0], [0], [1], [0]])
    rewards = jnp.array([[1.0], [0.0], [1.0], [0.0]])
    values = np.asarray(
        choice_models.q_learning_values(actions, rewards, 2, 0.5, initial_value=0.5)
    )[:, 0]
    expected = [[0.5, 0.5], [0.75, 0.5], [0.375, 0.5], [0.375, 0.75]]
    np.testing.assert_allclose(values, expected, atol=1e-6)
    # Beta(1, 1) posterior means of the same history: (1 + s) / (2 + n).
    posterior = np.asarray(choice_models.bayes_learner_values(actions, rewards, 2))[:, 0]
    np.testing.assert_allclose(
        posterior, [[0.5, 0.5], [2 / 3, 0.5], [0.5, 0.5], [0.5, 2 / 3]], atol=1e-6
    )
    # The two-arm fast path of softmax_log_probs is the log-softmax.
    for beta in (0.0, 3.0, 40.0):
        general = jax.nn.log_softmax(beta * values, axis=-1)[
            np.arange(4), np.asarray(actions[:, 0])
        ]
        np.testing.assert_allclose(
            choice_models.softmax_log_probs(jnp.asarray(values)[:, None], actions, beta)[:, 0],
            general,
            atol=1e-5,
        )


def test_wsls_log_probs_match_the_rule():
    # 3 arms, lapse 0.3: stay after a win has probability 0.7 + 0.1, a shift after a loss
    # to a given other arm 0.35 + 0.1, anything the rule forbids 0.1; the first choice 1/3.
    actions = jnp.array([[0], [0], [2], [2], [2]])
    rewards = jnp.array([[1.0], [0.0], [1.0], [0.0], [0.0]])
    probs = np.exp(np.asarray(choice_models.wsls_log_probs(actions, rewards, 3, 0.3)))[:, 0]
    np.testing.assert_allclose(probs, [1 / 3, 0.8, 0.45, 0.8, 0.1], atol=1e-6)


# ----------------------------------------------------------------- parameter recovery and BIC


def test_q_learning_fit_recovers_alpha_and_beta_and_wins_the_bic_table():
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=2, horizon=100)
    true_alpha, true_beta = 0.3, 5.0
    episodes = _play(
        q_learning(2, true_alpha, inverse_temperature=true_beta), env, params, 11, EPISODES, 100
    )
    table = model_fit.fit_choice_models(episodes.actions, episodes.rewards, 2)
    fit = next(row for row in table if row["model"] == "q_learning")
    errors = fit["standard_errors"]
    # 5 asymptotic standard errors (inverse observed information; 20,000 choices).
    assert abs(fit["params"]["learning_rate"] - true_alpha) < 5 * errors["learning_rate"], fit
    assert (
        abs(fit["params"]["inverse_temperature"] - true_beta) < 5 * errors["inverse_temperature"]
    ), fit
    assert errors["learning_rate"] < 0.02 and errors["inverse_temperature"] < 0.3, errors
    assert table[0]["model"] == "q_learning", table
    assert table[-1]["model"] == "random"
    assert [row["bic"] for row in table] == sorted(row["bic"] for row in table)


def test_wsls_fit_finds_a_rule_follower_and_wins_the_bic_table():
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=3, horizon=50)
    episodes = _play(win_stay_lose_shift(3), env, params, 12, 100, 50)
    table = model_fit.fit_choice_models(episodes.actions, episodes.rewards, 3)
    assert table[0]["model"] == "wsls", table
    # The agent never lapses: the ML lapse sits at the bound, and the likelihood is the rule's:
    # 1/3 for each first choice, 1 for each stay after a win, 1/2 for each shift after a loss.
    assert table[0]["params"]["lapse"] < 1e-3
    losses = int((np.asarray(episodes.rewards)[:-1] < 0.5).sum())
    exact = episodes.actions.shape[1] * np.log(1 / 3) + losses * np.log(1 / 2)
    assert abs(table[0]["log_likelihood"] - exact) < 1e-3 * abs(exact), (table[0], exact)


def test_bayes_learner_wins_the_bic_table_for_thompson_sampling_and_locator_for_the_locator():
    _, _, train_means = _envs()
    ts = _held_out_episodes("thompson_sampling")
    table = model_fit.fit_choice_models(
        ts.actions, ts.rewards, NUM_ARMS, training_task_means=train_means
    )
    assert table[0]["model"] == "bayes_learner", table
    locator = _held_out_episodes("locator_greedy")
    table = model_fit.fit_choice_models(
        locator.actions, locator.rewards, NUM_ARMS, training_task_means=train_means
    )
    assert table[0]["model"] == "task_locator", table


# ----------------------------------------------------------------- learner vs locator


def test_thompson_sampling_is_a_learner_on_held_out_tasks():
    _, _, train_means = _envs()
    episodes = _held_out_episodes("thompson_sampling")
    comparison = compare_learner_vs_locator(episodes.actions, episodes.rewards, train_means)
    assert comparison.verdict == "learner", comparison
    assert comparison.cross_validated
    # The interval is the 95% one (1.96 SE): excluding zero by 2.5 half-widths is ~5 SE.
    assert comparison.difference > 2.5 * comparison.half_width, comparison
    assert comparison.difference_by_step.shape == (HORIZON,)
    # Both models are equal on the first choice (nothing observed yet, both near uniform for
    # Thompson sampling's uniform first pull); the learner pulls ahead later in the episode.
    assert comparison.difference_by_step[-10:].mean() > comparison.difference_by_step[:3].mean()
    # The learner explains more than the last step does (the memoryless floor), and the summary
    # and its text carry that gain as an interval.
    assert comparison.gain_intervals["learner"].above(0.0), comparison
    row = comparison.summary()
    assert row["learner_gain"] == comparison.gain_intervals["learner"]
    as_json = {k: v.to_json() if isinstance(v, Interval) else v for k, v in row.items()}
    summary = {"results": {"agents": {"checkpoint": as_json}}}
    assert "beyond the memoryless floor: learner +" in likelihood.format_lines(summary)[0]


@pytest.mark.parametrize("mode", ["greedy", "sampling"])
def test_the_task_locator_is_a_locator_on_held_out_tasks(mode):
    _, _, train_means = _envs()
    episodes = _held_out_episodes(f"locator_{mode}")
    comparison = compare_learner_vs_locator(episodes.actions, episodes.rewards, train_means)
    assert comparison.verdict == "locator", comparison
    assert comparison.difference < -2.5 * comparison.half_width, comparison


def test_random_play_is_undecided():
    """Uniform choices favour neither model: both fit beta near 0 and the interval contains 0."""
    _, _, train_means = _envs()
    episodes = _held_out_episodes("random")
    comparison = compare_learner_vs_locator(episodes.actions, episodes.rewards, train_means)
    assert comparison.verdict == "undecided", comparison
    # Held out, both models are at most a hair worse than uniform play (log 1/5 = -1.609).
    assert comparison.learner_log_lik_per_choice > np.log(1 / NUM_ARMS) - 0.01
    assert comparison.locator_log_lik_per_choice > np.log(1 / NUM_ARMS) - 0.01
