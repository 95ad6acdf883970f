"""Returns, advantages and actor-critic losses, rlax-style.

Every function is unbatched over time: arrays are ``[T]`` (or ``[T, A]`` for
logits) with time-suffixed names (``r_t``, ``discount_t``, ``v_t``); callers
``jax.vmap`` them over the env axis (``in_axes=1`` for ``[T, B]`` arrays).
``discount_t`` is ``gamma * (1 - done_t)``: zero where the transition at t ended
the episode, so nothing is bootstrapped across an episode boundary.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metarl.agents import policy


def n_step_returns(r_t: jax.Array, discount_t: jax.Array, bootstrap_value: jax.Array) -> jax.Array:
    """Returns to the end of the rollout, bootstrapped once at its end.

    G_t = r_t + discount_t * G_{t+1}, G_T = bootstrap_value: each step uses every
    reward left in the rollout (the A2C target of Mnih et al. 2016 / Wang et al. 2016).

    Args:
      r_t: [T] rewards.
      discount_t: [T] discounts (0 at episode ends).
      bootstrap_value: [] value of the state after the last step.
    Returns:
      [T] returns.
    """

    def backward(next_return, xs):
        reward, discount = xs
        value = reward + discount * next_return
        return value, value

    _, returns = jax.lax.scan(backward, bootstrap_value, (r_t, discount_t), reverse=True)
    return returns


def gae_advantages(
    r_t: jax.Array, discount_t: jax.Array, values: jax.Array, lambda_: float | jax.Array
) -> jax.Array:
    """Generalized advantage estimation (Schulman et al. 2016), truncated at the rollout end.

    A_t = delta_t + discount_t * lambda * A_{t+1}, delta_t = r_t + discount_t v_{t+1} - v_t.
    With lambda = 1 this is ``n_step_returns(...) - v_t``.

    Args:
      r_t: [T] rewards.
      discount_t: [T] discounts (0 at episode ends).
      values: [T + 1] value estimates v_0..v_T (v_T bootstraps the rollout end).
      lambda_: [] mixing parameter in [0, 1].
    Returns:
      [T] advantages (targets for the value are advantages + values[:-1]).
    """
    deltas = r_t + discount_t * values[1:] - values[:-1]

    def backward(next_advantage, xs):
        delta, discount = xs
        advantage = delta + discount * lambda_ * next_advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(deltas[-1]), (deltas, discount_t), reverse=True
    )
    return advantages


def policy_gradient_loss(logits_t: jax.Array, a_t: jax.Array, adv_t: jax.Array) -> jax.Array:
    """-mean_t log pi(a_t) * adv_t, with the advantage held fixed.

    Args:
      logits_t: [T, A] policy logits.
      a_t: [T] actions taken.
      adv_t: [T] advantages (not differentiated).
    Returns:
      [] loss.
    """
    log_pi = policy.log_prob(logits_t, a_t)
    return -jnp.mean(log_pi * jax.lax.stop_gradient(adv_t))


def clipped_surrogate_loss(
    ratio_t: jax.Array, adv_t: jax.Array, epsilon: float | jax.Array
) -> jax.Array:
    """PPO's clipped surrogate (Schulman et al. 2017), as a loss to minimise.

    -mean_t min(ratio_t * adv_t, clip(ratio_t, 1 - epsilon, 1 + epsilon) * adv_t).

    Args:
      ratio_t: [T] pi_new(a_t) / pi_old(a_t).
      adv_t: [T] advantages (not differentiated).
      epsilon: [] clip range.
    Returns:
      [] loss.
    """
    adv_t = jax.lax.stop_gradient(adv_t)
    unclipped = ratio_t * adv_t
    clipped = jnp.clip(ratio_t, 1.0 - epsilon, 1.0 + epsilon) * adv_t
    return -jnp.mean(jnp.minimum(unclipped, clipped))


def value_loss(v_t: jax.Array, target_t: jax.Array) -> jax.Array:
    """0.5 * mean_t (target_t - v_t)^2, target held fixed.

    Args:
      v_t: [T] value estimates.
      target_t: [T] return targets (not differentiated).
    Returns:
      [] loss.
    """
    return 0.5 * jnp.mean(jnp.square(jax.lax.stop_gradient(target_t) - v_t))


def entropy_loss(logits_t: jax.Array) -> jax.Array:
    """-mean_t entropy(pi_t): minimising it raises entropy.

    Args:
      logits_t: [T, A] policy logits.
    Returns:
      [] loss.
    """
    return -jnp.mean(policy.entropy(logits_t))
