"""Categorical policy over discrete actions, from logits (no distribution library)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sample(key: jax.Array, logits: jax.Array) -> jax.Array:
    """Actions drawn from softmax(logits) along the last axis: [..., A] -> [...] int32."""
    return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)


def sample_with_noise(logits: jax.Array, gumbel_noise: jax.Array) -> jax.Array:
    """Gumbel-max sampling with noise drawn ahead: [..., A] logits and noise -> [...] int32.

    ``argmax(logits + g)`` with ``g ~ Gumbel(0, 1)`` is exactly how
    ``jax.random.categorical`` samples; drawing ``g`` for a whole rollout in one call
    keeps the PRNG (a rolled loop on CPU) out of the per-step loop.
    """
    return jnp.argmax(logits + gumbel_noise, axis=-1).astype(jnp.int32)


def greedy(logits: jax.Array) -> jax.Array:
    """The most probable action: [..., A] -> [...] int32."""
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


def log_prob(logits: jax.Array, action: jax.Array) -> jax.Array:
    """log pi(action): logits [..., A], action [...] -> [...]."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(log_probs, action[..., None].astype(jnp.int32), axis=-1)[..., 0]


def entropy(logits: jax.Array) -> jax.Array:
    """Entropy of softmax(logits) in nats: [..., A] -> [...]."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)
