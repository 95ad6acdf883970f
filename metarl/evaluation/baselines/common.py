"""Choice helpers every baseline family shares (one home, so no baseline imports another's module)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Values within this (relative) distance of the best count as tied: symmetric states
# (e.g. every arm unpulled) must not always fall to arm 0 through argmax's
# first-index rule, which would bias probes of choice behaviour.
TIE_TOLERANCE = 1e-6


def argmax_random_ties(values: jax.Array, key: jax.Array) -> jax.Array:
    """[B] int32 argmax over the last axis of ``values`` [B, k], ties broken uniformly."""
    best = values.max(axis=-1, keepdims=True)
    tied = values >= best - TIE_TOLERANCE * (1.0 + jnp.abs(best))
    return jax.random.categorical(key, jnp.where(tied, 0.0, -jnp.inf)).astype(jnp.int32)
