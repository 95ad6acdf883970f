"""Exact belief updates shared by the bandit reference agents and the choice models.

Two hypotheses about what an in-context learner carries, as pure array updates:

* the **Bayes learner** over the continuous prior: per-arm Beta counts
  (``BetaCounts``), whose posterior means are what a learner that generalises to
  any task in the prior knows;
* the **task locator** over a finite training set: a log posterior over the N
  memorised tasks (``task_log_posterior``), which can only ever recognise one of them.

Both read only what an agent may see (previous action and reward), so the same
functions serve a policy acting online and a choice model replayed on a recorded
history.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

# Bernoulli likelihoods of memorised means of exactly 0 or 1 would make one
# contradicting reward an impossible event (log 0); the locator must stay defined.
_PROB_FLOOR = 1e-6


@struct.dataclass
class BetaCounts:
    successes: jax.Array
    """[B, k] rewarded pulls per arm this episode."""
    failures: jax.Array
    """[B, k] unrewarded pulls per arm this episode."""


def empty_beta_counts(batch: int, num_arms: int) -> BetaCounts:
    zeros = jnp.zeros((batch, num_arms), jnp.float32)
    return BetaCounts(successes=zeros, failures=zeros)


def update_beta_counts(
    counts: BetaCounts, prev_action: jax.Array, prev_reward: jax.Array, episode_start: jax.Array
) -> BetaCounts:
    """Add the previous pull's outcome ([B] each); forget everything at an episode start.

    ``prev_action`` is -1 where there was no previous pull.
    """
    num_arms = counts.successes.shape[-1]
    pulled = jax.nn.one_hot(prev_action, num_arms) * (prev_action >= 0)[:, None]
    reward = prev_reward[:, None]
    keep = (~episode_start)[:, None]
    return BetaCounts(
        successes=(counts.successes + pulled * reward) * keep,
        failures=(counts.failures + pulled * (1.0 - reward)) * keep,
    )


def beta_posterior_mean(
    counts: BetaCounts, prior_a: float = 1.0, prior_b: float = 1.0
) -> jax.Array:
    """[B, k] posterior mean of each arm's success probability."""
    return (prior_a + counts.successes) / (prior_a + prior_b + counts.successes + counts.failures)


def uniform_task_log_posterior(batch: int, num_tasks: int) -> jax.Array:
    """[B, N] log of the uniform prior over the training tasks."""
    return jnp.full((batch, num_tasks), -jnp.log(num_tasks), jnp.float32)


def reward_log_likelihood(
    task_means: jax.Array,
    action: jax.Array,
    reward: jax.Array,
    reward_type: str = "bernoulli",
    reward_noise: float = 1.0,
) -> jax.Array:
    """[B, N] log p(reward | action, task) for every task. task_means [N, k]; action, reward [B]."""
    means = task_means[:, jnp.clip(action, 0)].T  # [B, N]
    if reward_type == "bernoulli":
        means = jnp.clip(means, _PROB_FLOOR, 1.0 - _PROB_FLOOR)
        return jnp.where(reward[:, None] > 0.5, jnp.log(means), jnp.log1p(-means))
    if reward_type == "gaussian":
        return -0.5 * ((reward[:, None] - means) / reward_noise) ** 2
    raise ValueError(f"reward_type must be 'bernoulli' or 'gaussian', got {reward_type!r}")


def update_task_log_posterior(
    log_posterior: jax.Array,
    task_means: jax.Array,
    prev_action: jax.Array,
    prev_reward: jax.Array,
    episode_start: jax.Array,
    reward_type: str = "bernoulli",
    reward_noise: float = 1.0,
) -> jax.Array:
    """Bayes' rule over the N training tasks for the previous pull, normalised; [B, N].

    Resets to the uniform prior at an episode start; no-op where ``prev_action`` is -1.
    """
    batch, num_tasks = log_posterior.shape
    evidence = reward_log_likelihood(
        task_means, prev_action, prev_reward, reward_type, reward_noise
    )
    updated = log_posterior + jnp.where((prev_action >= 0)[:, None], evidence, 0.0)
    updated = updated - jax.nn.logsumexp(updated, axis=-1, keepdims=True)
    return jnp.where(episode_start[:, None], uniform_task_log_posterior(batch, num_tasks), updated)


def task_posterior_expected_means(log_posterior: jax.Array, task_means: jax.Array) -> jax.Array:
    """[B, k] arm means expected under the posterior over tasks."""
    return jnp.exp(log_posterior) @ task_means
