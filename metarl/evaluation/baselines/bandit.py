"""Bernoulli-bandit reference agents: random and Thompson sampling.

Thompson sampling keeps Beta(1 + successes, 1 + failures) per arm and plays the arm
whose posterior sample is largest (it *learns*: its regret per step goes to zero).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs


@struct.dataclass
class BetaCounts:
    successes: jax.Array  # [B, k]
    failures: jax.Array  # [B, k]


def _update_counts(counts: BetaCounts, inputs: PolicyInputs, num_arms: int) -> BetaCounts:
    """Add the previous pull's outcome; forget everything at an episode start."""
    pulled = jax.nn.one_hot(inputs.prev_action, num_arms) * (inputs.prev_action >= 0)[:, None]
    reward = inputs.prev_reward[:, None]
    keep = (~inputs.episode_start)[:, None]
    return BetaCounts(
        successes=(counts.successes + pulled * reward) * keep,
        failures=(counts.failures + pulled * (1.0 - reward)) * keep,
    )


def thompson_sampling(num_arms: int, prior_a: float = 1.0, prior_b: float = 1.0) -> FunctionalPolicy:
    def init_carry(batch: int) -> BetaCounts:
        zeros = jnp.zeros((batch, num_arms), jnp.float32)
        return BetaCounts(successes=zeros, failures=zeros)

    def act(counts: BetaCounts, inputs: PolicyInputs, key: jax.Array):
        counts = _update_counts(counts, inputs, num_arms)
        samples = jax.random.beta(key, prior_a + counts.successes, prior_b + counts.failures)
        action = jnp.argmax(samples, axis=-1).astype(jnp.int32)
        posterior_mean = (prior_a + counts.successes) / (prior_a + prior_b + counts.successes + counts.failures)
        return counts, action, {"posterior_mean": posterior_mean}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


def random_policy(num_actions: int) -> FunctionalPolicy:
    def act(carry, inputs: PolicyInputs, key: jax.Array):
        batch = inputs.prev_action.shape[0]
        return carry, jax.random.randint(key, (batch,), 0, num_actions, dtype=jnp.int32), {}

    return FunctionalPolicy(init_carry_fn=lambda batch: jnp.zeros((batch,)), act_fn=act, num_actions=num_actions)
