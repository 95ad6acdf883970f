"""Parametric choice models of a bandit player, scored on a recorded history.

Each model turns what an agent could have known at step t (its own previous
actions and rewards in this episode) into a distribution over the next action. On
a recorded history (actions, rewards [T, B]) the models give per-step action
values [T, B, k] (values at step t use outcomes of steps < t only) and per-step
log-probabilities of the recorded action [T, B]:

* **Bayes learner**: softmax(beta * Beta-posterior mean of each arm), the learner
  that generalises to any task of the prior;
* **task locator**: softmax(beta * arm means expected under the posterior over the
  N training tasks), which can only recognise a memorised task;
* **Q-learning / Rescorla-Wagner**: softmax(beta * Q), Q[a] += alpha * (r - Q[a]) for
  the pulled arm, Q reset to ``initial_value`` at each episode start;
* **win-stay lose-shift** with a lapse epsilon: with probability 1 - epsilon repeat a
  rewarded arm or switch uniformly to another arm after no reward; with probability
  epsilon choose uniformly among all arms (the first choice is uniform).

Everything is a pure function of arrays (``lax.scan`` over time), jit- and
vmap-able in the model parameters. The belief updates are those of
``metarl.evaluation.beliefs``, shared with the reference agents. Rewards must be
on the Bernoulli 0/1 scale for the Bayes learner and the locator: divide out any
``reward_scale`` first.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metarl.evaluation import beliefs
from metarl.evaluation.replay import previous_outcomes


def bayes_learner_values(
    actions: jax.Array,
    rewards: jax.Array,
    num_arms: int,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    episode_start: jax.Array | None = None,
) -> jax.Array:
    """[T, B, k] Beta-posterior mean of every arm before each choice."""
    prev_action, prev_reward, starts = previous_outcomes(actions, rewards, episode_start)
    batch = prev_action.shape[1]

    def one_step(counts, xs):
        action_tm1, reward_tm1, start = xs
        counts = beliefs.update_beta_counts(counts, action_tm1, reward_tm1, start)
        return counts, beliefs.beta_posterior_mean(counts, prior_a, prior_b)

    _, values = jax.lax.scan(
        one_step, beliefs.empty_beta_counts(batch, num_arms), (prev_action, prev_reward, starts)
    )
    return values


def pull_counts(
    actions: jax.Array, rewards: jax.Array, num_arms: int, episode_start: jax.Array | None = None
) -> beliefs.BetaCounts:
    """Beta counts (successes, failures) [T, B, k] before each choice (what a Bayes learner carries)."""
    prev_action, prev_reward, starts = previous_outcomes(actions, rewards, episode_start)
    batch = prev_action.shape[1]

    def one_step(counts, xs):
        counts = beliefs.update_beta_counts(counts, *xs)
        return counts, counts

    _, counts = jax.lax.scan(
        one_step, beliefs.empty_beta_counts(batch, num_arms), (prev_action, prev_reward, starts)
    )
    return counts


def task_locator_values(
    actions: jax.Array,
    rewards: jax.Array,
    task_means: jax.Array,
    reward_type: str = "bernoulli",
    reward_noise: float = 1.0,
    episode_start: jax.Array | None = None,
) -> jax.Array:
    """[T, B, k] arm means expected under the posterior over the N training tasks ``task_means`` [N, k]."""
    return task_locator_beliefs(
        actions, rewards, task_means, reward_type, reward_noise, episode_start
    )[0]


def task_locator_beliefs(
    actions: jax.Array,
    rewards: jax.Array,
    task_means: jax.Array,
    reward_type: str = "bernoulli",
    reward_noise: float = 1.0,
    episode_start: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """(expected means [T, B, k], task log posterior [T, B, N]) before each choice."""
    task_means = jnp.asarray(task_means, jnp.float32)
    prev_action, prev_reward, starts = previous_outcomes(actions, rewards, episode_start)
    batch = prev_action.shape[1]

    def one_step(log_posterior, xs):
        action_tm1, reward_tm1, start = xs
        log_posterior = beliefs.update_task_log_posterior(
            log_posterior, task_means, action_tm1, reward_tm1, start, reward_type, reward_noise
        )
        expected = beliefs.task_posterior_expected_means(log_posterior, task_means)
        return log_posterior, (expected, log_posterior)

    initial = beliefs.uniform_task_log_posterior(batch, task_means.shape[0])
    _, (values, log_posteriors) = jax.lax.scan(
        one_step, initial, (prev_action, prev_reward, starts)
    )
    return values, log_posteriors


def q_learning_values(
    actions: jax.Array,
    rewards: jax.Array,
    num_arms: int,
    learning_rate: jax.Array | float,
    initial_value: float = 0.5,
    episode_start: jax.Array | None = None,
) -> jax.Array:
    """[T, B, k] Rescorla-Wagner values before each choice (learning rate alpha, traced)."""
    prev_action, prev_reward, starts = previous_outcomes(actions, rewards, episode_start)
    batch = prev_action.shape[1]
    initial = jnp.full((batch, num_arms), initial_value, jnp.float32)

    def one_step(values, xs):
        action_tm1, reward_tm1, start = xs
        pulled = jax.nn.one_hot(action_tm1, num_arms) * (action_tm1 >= 0)[:, None]
        values = values + learning_rate * pulled * (reward_tm1[:, None] - values)
        values = jnp.where(start[:, None], initial, values)
        return values, values

    _, values = jax.lax.scan(one_step, initial, (prev_action, prev_reward, starts))
    return values


def softmax_log_probs(values: jax.Array, actions: jax.Array, inverse_temperature) -> jax.Array:
    """[T, B] log softmax(beta * values)[action]; values [T, B, k], actions [T, B]."""
    actions = jnp.asarray(actions, jnp.int32)
    if values.shape[-1] == 2:
        # Two arms: log sigmoid(beta * (chosen - other)), a third of the work of a log-softmax
        # (this is the inner loop of every grid fit).
        gap = (values[..., 1] - values[..., 0]) * jnp.where(actions == 1, 1.0, -1.0)
        return jax.nn.log_sigmoid(inverse_temperature * gap)
    log_probs = jax.nn.log_softmax(inverse_temperature * values, axis=-1)
    return jnp.take_along_axis(log_probs, actions[..., None], axis=-1)[..., 0]


def wsls_log_probs(
    actions: jax.Array,
    rewards: jax.Array,
    num_arms: int,
    lapse: jax.Array | float,
    win_threshold: float = 0.5,
    episode_start: jax.Array | None = None,
) -> jax.Array:
    """[T, B] log-probability of each recorded action under win-stay lose-shift with lapse epsilon.

    A reward above ``win_threshold`` is a win. No lookahead: purely a function of
    the previous action and reward, so no scan is needed.
    """
    actions = jnp.asarray(actions, jnp.int32)
    prev_action, prev_reward, starts = previous_outcomes(actions, rewards, episode_start)
    uniform = 1.0 / num_arms
    repeated = actions == prev_action
    won = prev_reward > win_threshold
    rule = jnp.where(won, repeated.astype(jnp.float32), (~repeated) / (num_arms - 1.0))
    probability = (1.0 - lapse) * rule + lapse * uniform
    probability = jnp.where(starts | (prev_action < 0), uniform, probability)
    return jnp.log(probability)


# Convenience: log-probabilities straight from the model parameters.


def bayes_learner_log_probs(
    actions,
    rewards,
    num_arms: int,
    inverse_temperature,
    prior_a=1.0,
    prior_b=1.0,
    episode_start=None,
) -> jax.Array:
    """[T, B] log-probabilities of the recorded actions under the Bayes learner."""
    values = bayes_learner_values(actions, rewards, num_arms, prior_a, prior_b, episode_start)
    return softmax_log_probs(values, actions, inverse_temperature)


def task_locator_log_probs(
    actions,
    rewards,
    task_means,
    inverse_temperature,
    reward_type="bernoulli",
    reward_noise=1.0,
    episode_start=None,
) -> jax.Array:
    """[T, B] log-probabilities of the recorded actions under the task locator."""
    values = task_locator_values(
        actions, rewards, task_means, reward_type, reward_noise, episode_start
    )
    return softmax_log_probs(values, actions, inverse_temperature)


def q_learning_log_probs(
    actions,
    rewards,
    num_arms: int,
    learning_rate,
    inverse_temperature,
    initial_value=0.5,
    episode_start=None,
) -> jax.Array:
    """[T, B] log-probabilities of the recorded actions under softmax Q-learning."""
    values = q_learning_values(
        actions, rewards, num_arms, learning_rate, initial_value, episode_start
    )
    return softmax_log_probs(values, actions, inverse_temperature)
