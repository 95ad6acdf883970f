"""Bernoulli-bandit reference agents: random and Thompson sampling.

Thompson sampling keeps Beta(1 + successes, 1 + failures) per arm and plays the arm
whose posterior sample is largest (it *learns*: its regret per step goes to zero).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metarl.evaluation.beliefs import (
    BetaCounts,
    beta_posterior_mean,
    empty_beta_counts,
    update_beta_counts,
)
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs


def thompson_sampling(num_arms: int, prior_a: float = 1.0, prior_b: float = 1.0) -> FunctionalPolicy:
    def init_carry(batch: int) -> BetaCounts:
        return empty_beta_counts(batch, num_arms)

    def act(counts: BetaCounts, inputs: PolicyInputs, key: jax.Array):
        counts = update_beta_counts(counts, inputs.prev_action, inputs.prev_reward, inputs.episode_start)
        samples = jax.random.beta(key, prior_a + counts.successes, prior_b + counts.failures)
        action = jnp.argmax(samples, axis=-1).astype(jnp.int32)
        posterior_mean = beta_posterior_mean(counts, prior_a, prior_b)
        return counts, action, {"posterior_mean": posterior_mean}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


def random_policy(num_actions: int) -> FunctionalPolicy:
    def act(carry, inputs: PolicyInputs, key: jax.Array):
        batch = inputs.prev_action.shape[0]
        return carry, jax.random.randint(key, (batch,), 0, num_actions, dtype=jnp.int32), {}

    return FunctionalPolicy(init_carry_fn=lambda batch: jnp.zeros((batch,)), act_fn=act, num_actions=num_actions)
