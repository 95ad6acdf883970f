"""Nuisance-parameter variants of any reference agent: its beliefs, a different choice rule.

A probe's verdict is about a mechanism (a learner or a locator, a planner or a
heuristic); it should not flip when an agent of known mechanism is given a softer or
harder choice rule, random lapses, or idle computation. The adversarial tests sweep
these wrappers over the range a trained network can show:

* ``tempered_choice(policy, beta)``: keeps ``policy``'s beliefs (its
  ``extras["action_values"]``) and replaces its choice by softmax(beta * values);
  beta = inf is greedy (ties broken uniformly). Thompson sampling's posterior means
  become the softmax Bayes learner, the locator's expected means the softmax locator.
* ``with_action_noise(policy, epsilon)``: with probability epsilon a uniform action
  instead of the policy's (the policy still learns from what was done: it sees the
  taken action as ``prev_action`` next step, as a trained agent would).
* ``with_idle_thinking(policy)``: a ``think`` step that changes nothing but the random
  stream of the next action: a policy that does not gain from thinking, whose play
  still differs from one thinking budget to the next (the null of the thinking probe).

Every constant may be a traced scalar, so one compiled program serves a whole grid.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from metarl.evaluation.baselines.common import argmax_random_ties
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs, policy_thinks


def tempered_choice(policy, inverse_temperature) -> FunctionalPolicy:
    """``policy``'s beliefs, chosen by softmax(``inverse_temperature`` * action values).

    ``inverse_temperature`` = inf (``jnp.inf``) plays greedily with uniform tie-breaking.
    The inner policy's own action is discarded; its key is split off, so the choice's
    random numbers are independent of the ones the inner policy drew.
    """

    def act(carry, inputs: PolicyInputs, key: jax.Array):
        inner_key, choice_key, tie_key = jax.random.split(key, 3)
        carry, _, extras = policy.act(carry, inputs, inner_key)
        values = extras["action_values"]
        beta = jnp.asarray(inverse_temperature, jnp.float32)
        greedy = jnp.isinf(beta)
        # A finite stand-in for inf keeps the softmax branch free of inf * 0 = nan.
        soft = jax.random.categorical(choice_key, jnp.where(greedy, 0.0, beta) * values)
        action = jnp.where(greedy, argmax_random_ties(values, tie_key), soft).astype(jnp.int32)
        return carry, action, extras

    return FunctionalPolicy(
        init_carry_fn=policy.init_carry, act_fn=act, num_actions=policy.num_actions
    )


def with_action_noise(policy, epsilon) -> FunctionalPolicy:
    """``policy`` whose action is replaced by a uniform one with probability ``epsilon``."""

    def act(carry, inputs: PolicyInputs, key: jax.Array):
        inner_key, coin_key, noise_key = jax.random.split(key, 3)
        carry, action, extras = policy.act(carry, inputs, inner_key)
        batch = action.shape[0]
        lapse = jax.random.uniform(coin_key, (batch,)) < epsilon
        uniform = jax.random.randint(noise_key, (batch,), 0, policy.num_actions, jnp.int32)
        return carry, jnp.where(lapse, uniform, action).astype(jnp.int32), extras

    # A thinker keeps its think step: only the action it settles on is perturbed.
    return FunctionalPolicy(
        init_carry_fn=policy.init_carry,
        act_fn=act,
        num_actions=policy.num_actions,
        think_fn=policy.think if policy_thinks(policy) else None,
    )


@struct.dataclass
class IdleThinkingCarry:
    inner: object
    thoughts: jax.Array
    """[B] int32 think steps taken since the last action (only reseed the next action)."""


def with_idle_thinking(policy) -> FunctionalPolicy:
    """``policy`` with a ``think`` that only reseeds its next action's random numbers.

    K thinks fold K into the action key, so thinking budgets see the same episodes but
    independent choice noise: the same policy in distribution at every K, never better.
    """

    def init_carry(batch: int) -> IdleThinkingCarry:
        return IdleThinkingCarry(policy.init_carry(batch), jnp.zeros((batch,), jnp.int32))

    def think(carry: IdleThinkingCarry, inputs: PolicyInputs) -> IdleThinkingCarry:
        # The think contract: the first think of a step applies the episode-start reset (the
        # act after it sees episode_start cleared); the baselines reset to their init carry.
        fresh = policy.init_carry(inputs.episode_start.shape[0])
        inner = jax.tree.map(
            lambda f, c: jnp.where(inputs.episode_start.reshape((-1,) + (1,) * (c.ndim - 1)), f, c),
            fresh,
            carry.inner,
        )
        return IdleThinkingCarry(inner, carry.thoughts + 1)

    def act(carry: IdleThinkingCarry, inputs: PolicyInputs, key: jax.Array):
        # One count per step for the whole batch (think is applied to all episodes alike).
        inner, action, extras = policy.act(
            carry.inner, inputs, jax.random.fold_in(key, carry.thoughts[0])
        )
        return IdleThinkingCarry(inner, jnp.zeros_like(carry.thoughts)), action, extras

    return FunctionalPolicy(
        init_carry_fn=init_carry, act_fn=act, num_actions=policy.num_actions, think_fn=think
    )
