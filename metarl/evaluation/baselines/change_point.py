"""A bandit reference that knows arm means get redrawn: the change-point Bayesian.

``change_point_bayesian(num_arms, max_run_length, hazard)`` is exact Bayesian
online change-point inference (Adams & MacKay 2007) for independent Beta arms that
are redrawn together at change-points, assuming a *fixed* ``hazard``. Hazard 0 is
the Bayes learner. The volatility probe plays it at hazard 0 and at the volatile
world's hazard, to show what a fixed (non-adaptive) Bayesian's fitted learning rate
does in a stable vs a volatile bandit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs

DEFAULT_INVERSE_TEMPERATURE = 10.0
"""Softmax inverse temperature on the expected arm means (near-greedy, still stochastic)."""


@struct.dataclass
class RunLengthBeliefs:
    """Posterior over the run length r (steps since the last change) and per-r Beta counts."""

    log_run_length: jax.Array
    """[B, R] log posterior of the run length."""
    successes: jax.Array
    """[B, R, k] reward sums of the last r outcomes, per arm."""
    failures: jax.Array
    """[B, R, k] (1 - reward) sums of the last r outcomes, per arm."""


def change_point_bayesian(
    num_arms: int,
    max_run_length: int,
    hazard,
    inverse_temperature: float = DEFAULT_INVERSE_TEMPERATURE,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
) -> FunctionalPolicy:
    """Bayesian learner of a bandit whose arm means are redrawn with a *fixed assumed* ``hazard``.

    Exact Bayesian online change-point inference (Adams & MacKay 2007) for
    independent Beta(prior_a, prior_b) arms redrawn together at change-points: it
    carries the posterior over the run length r (steps since the last change,
    0..``max_run_length``) and, per r, the Beta counts of the last r outcomes. The
    outcome of step t comes from the task before any change after it (as the
    bandit's ``info["change_point"]`` is defined). Hazard 0 is the Bayes learner
    (all counts since the episode start). Choice is softmax(``inverse_temperature``
    * expected arm means); ``action_values`` are those means. ``hazard`` may be a
    traced scalar (one compile for every hazard). Rewards are treated as Bernoulli
    probabilities of success (divide out any reward scale first).
    """
    size = max_run_length + 1

    def init_carry(batch: int) -> RunLengthBeliefs:
        log_run_length = jnp.full((batch, size), -jnp.inf, jnp.float32).at[:, 0].set(0.0)
        zeros = jnp.zeros((batch, size, num_arms), jnp.float32)
        return RunLengthBeliefs(log_run_length, zeros, zeros)

    def expected_means(beliefs: RunLengthBeliefs) -> jax.Array:
        means = (prior_a + beliefs.successes) / (
            prior_a + prior_b + beliefs.successes + beliefs.failures
        )
        return jnp.einsum("br,brk->bk", jnp.exp(beliefs.log_run_length), means)

    def learn(beliefs: RunLengthBeliefs, action, reward) -> RunLengthBeliefs:
        pulled = jax.nn.one_hot(action, num_arms)  # [B, k]
        success = (prior_a + beliefs.successes) / (
            prior_a + prior_b + beliefs.successes + beliefs.failures
        )
        p_success = jnp.einsum("brk,bk->br", success, pulled)
        likelihood = reward[:, None] * p_success + (1.0 - reward[:, None]) * (1.0 - p_success)
        joint = beliefs.log_run_length + jnp.log(jnp.maximum(likelihood, 1e-30))
        successes = beliefs.successes + (reward[:, None] * pulled)[:, None, :]
        failures = beliefs.failures + ((1.0 - reward[:, None]) * pulled)[:, None, :]
        # After the outcome: no change (r -> r + 1, with 1 - hazard) or a change (r -> 0, counts empty).
        grown = joint + jnp.log1p(-hazard)
        changed = jax.nn.logsumexp(joint, axis=-1) + jnp.log(hazard)
        # The last run length absorbs the overflow (never reached when max_run_length >= horizon).
        tail = jnp.logaddexp(grown[:, -2], grown[:, -1])
        log_run_length = jnp.concatenate([changed[:, None], grown[:, :-2], tail[:, None]], axis=-1)
        log_run_length = log_run_length - jax.nn.logsumexp(log_run_length, axis=-1, keepdims=True)

        def shift(counts):
            zero = jnp.zeros_like(counts[:, :1])
            return jnp.concatenate([zero, counts[:, :-2], counts[:, -1:]], axis=1)

        return RunLengthBeliefs(log_run_length, shift(successes), shift(failures))

    def act(beliefs: RunLengthBeliefs, inputs: PolicyInputs, key):
        batch = inputs.prev_action.shape[0]
        fresh = init_carry(batch)
        has_outcome = (inputs.prev_action >= 0) & ~inputs.episode_start
        learned = learn(
            beliefs, jnp.maximum(inputs.prev_action, 0), inputs.prev_reward.astype(jnp.float32)
        )
        beliefs = jax.tree.map(
            lambda new, old, init: jnp.where(
                inputs.episode_start.reshape((-1,) + (1,) * (old.ndim - 1)),
                init,
                jnp.where(has_outcome.reshape((-1,) + (1,) * (old.ndim - 1)), new, old),
            ),
            learned,
            beliefs,
            fresh,
        )
        values = expected_means(beliefs)
        action = jax.random.categorical(key, inverse_temperature * values).astype(jnp.int32)
        return beliefs, action, {"action_values": values}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)
