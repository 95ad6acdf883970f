"""``jax.random.split`` and ``jax.random.gumbel`` bit for bit, with threefry unrolled.

On CPU, JAX lowers the threefry2x32 hash to a rolled loop (5 iterations of 4 rounds,
each a separate pass over the whole array); XLA:CPU then runs it at ~12 ns per word,
which for the rollout's Gumbel noise (T x B x A words per update) was ~3.5% of an
A2C update of the default experiment. The same 20 rounds written out straight
fuse into one elementwise pass.

Only the default configuration is reproduced: raw uint32[2] keys of the threefry impl,
``jax_threefry_partitionable`` on (the default since JAX 0.5) and the "low" Gumbel
mode (``jax_high_dynamic_range_gumbel`` off). Anything else falls back to
``jax.random`` itself. tests/test_losses.py checks bit equality against jax.random.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotate_left(x: jax.Array, amount: int) -> jax.Array:
    return (x << jnp.uint32(amount)) | (x >> jnp.uint32(32 - amount))


def threefry2x32(key_1, key_2, count_1, count_2) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 with 20 rounds (Salmon et al. 2011), as JAX computes it, unrolled."""
    schedule = (key_1, key_2, key_1 ^ key_2 ^ jnp.uint32(0x1BD11BDA))
    x_1 = count_1 + schedule[0]
    x_2 = count_2 + schedule[1]
    for block in range(5):
        for rotation in _ROTATIONS[block % 2]:
            x_1 = x_1 + x_2
            x_2 = _rotate_left(x_2, rotation) ^ x_1
        x_1 = x_1 + schedule[(block + 1) % 3]
        x_2 = x_2 + schedule[(block + 2) % 3] + jnp.uint32(block + 1)
    return x_1, x_2


def _supported(key: jax.Array, shape: tuple[int, ...]) -> bool:
    """Whether this module reproduces jax.random for ``key`` and ``shape`` under the config."""
    return (
        not jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
        and key.dtype == jnp.uint32
        and key.shape == (2,)
        and jax.config.jax_default_prng_impl == "threefry2x32"
        and bool(jax.config.jax_threefry_partitionable)
        and 0 < math.prod(shape) < 2**32
    )


def _counts(shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """The 64-bit linear index of every element as (high, low) words (high = 0 here)."""
    size = math.prod(shape)
    low = jax.lax.iota(jnp.uint32, size).reshape(shape)
    return jnp.zeros(shape, jnp.uint32), low


def split(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """``jax.random.split(key, shape)`` for a raw uint32[2] key: -> uint32[*shape, 2]."""
    if not _supported(key, shape):
        return jax.random.split(key, shape)
    bits_1, bits_2 = threefry2x32(key[0], key[1], *_counts(shape))
    return jnp.stack([bits_1, bits_2], axis=-1)


def gumbel(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """``jax.random.gumbel(key, shape)`` (float32): -> float32[*shape]."""
    if not _supported(key, shape) or jax.config.jax_high_dynamic_range_gumbel:
        return jax.random.gumbel(key, shape)
    bits_1, bits_2 = threefry2x32(key[0], key[1], *_counts(shape))
    bits = bits_1 ^ bits_2
    # jax.random.uniform(minval=tiny, maxval=1): 23 random mantissa bits under exponent 0.
    one = jnp.uint32(np.array(1.0, np.float32).view(np.uint32))
    floats = jax.lax.bitcast_convert_type((bits >> jnp.uint32(9)) | one, jnp.float32) - 1.0
    tiny = jnp.float32(np.finfo(np.float32).tiny)
    uniform = jnp.maximum(tiny, floats * (jnp.float32(1.0) - tiny) + tiny)
    return -jnp.log(-jnp.log(uniform))
