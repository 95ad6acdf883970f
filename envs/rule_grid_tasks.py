"""What the rule grid draws: rulesets from their prior and placements from a bank.

A ruleset (the task) gives every object type a reward and an effect on collection.
The prior draws each field uniformly; all of a draw's choices are read as
mixed-radix digits from one or two hashed key words (``metarl.envs.key_hash``)
rather than one threefry call each, which on CPU would cost as much as the step.
Placements (the agent and every object on distinct interior cells) are drawn once
on the host into a bank, so a trial start at run time is one gather.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from metarl.envs.key_hash import key_words

if TYPE_CHECKING:
    from metarl.envs.rule_grid import RuleGridParams

EFFECTS = ("disappear", "respawn", "transform")
DISAPPEAR, RESPAWN, TRANSFORM = 0, 1, 2
# A continuous reward is a uniform 24-bit digit (exact in float32).
CONTINUOUS_RADIX = 1 << 24
# Digits share a uint32 word while the product of their radices stays below this, so the
# probabilities of a word's digits are off from uniform by a relative 2**20 / 2**32 < 2.5e-4
# at most (a single radix above the cap, e.g. a 2**24 continuous digit, gets a word alone).
_RADIX_CAP = 1 << 20


@struct.dataclass
class Ruleset:
    """One task: what each object type is worth and what collecting it does."""

    rewards: jax.Array
    """[num_object_types] float32: reward for collecting an object of each type."""
    effects: jax.Array
    """[num_object_types] int32: DISAPPEAR (0), RESPAWN (1) or TRANSFORM (2)."""
    transform_to: jax.Array
    """[num_object_types] int32: the type a TRANSFORM object becomes; the type itself otherwise
    (canonical, so two rulesets that behave the same are the same pool entry)."""


def make_layouts(
    interior: int, num_object_types: int, objects_per_type: int, num_layouts: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``num_layouts`` uniform placements: (grid [L, cells] int8, agent row [L], agent col [L]).

    Each placement puts the agent and every object on distinct interior cells. Drawn
    once on the host, so the per-trial re-placement at run time is a gather.
    """
    cells = interior * interior
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((num_layouts, cells)), axis=1)
    agent = order[:, 0]
    object_cells = order[:, 1 : 1 + num_object_types * objects_per_type]
    codes = np.repeat(np.arange(1, num_object_types + 1, dtype=np.int8), objects_per_type)
    grid = np.zeros((num_layouts, cells), np.int8)
    grid[np.arange(num_layouts)[:, None], object_cells] = codes[None, :]
    return grid, (agent // interior).astype(np.int32), (agent % interior).astype(np.int32)


def words_needed(radices: list[int]) -> int:
    """uint32 words ``decode_uniform`` reads for these radices."""
    words, room = 1, 1
    for radix in radices:
        if room * radix > _RADIX_CAP and room > 1:
            words, room = words + 1, 1
        room *= radix
    return words


def _decode(words: jax.Array, radices: list[int]):
    """``decode_uniform``'s digits and where it stopped: (digits, word index, room, word)."""
    digits, index, room = [], 0, 1
    word = words[0]
    for radix in radices:
        if room * radix > _RADIX_CAP and room > 1:
            index, room = index + 1, 1
            word = words[index]
        digits.append((word % jnp.uint32(radix)).astype(jnp.int32))
        word = word // jnp.uint32(radix)
        room *= radix
    return digits, index, room, word


def decode_uniform(words: jax.Array, radices: list[int]) -> list[jax.Array]:
    """Uniform int32 digits in [0, radix), read mixed-radix from random uint32 words.

    A reset's choices (layout, task, every prior field) then need a word or two
    rather than one random call each; see ``_RADIX_CAP`` for the bias bound.
    """
    return _decode(words, radices)[0]


def decode_with_count(
    words: jax.Array, radices: list[int], count: jax.Array, capacity: int
) -> list[jax.Array]:
    """``decode_uniform(words, radices + [count])`` for a traced ``count`` <= ``capacity``.

    A padded pool's size is traced, but which word its digit comes from depends on it
    (a digit moves to the next word when it would pass the cap). Both candidates are
    read and the one an unpadded pool of ``count`` tasks would read is kept, so padded
    and unpadded draws agree bit for bit. ``words`` must hold
    ``words_needed(radices + [capacity])`` words.
    """
    digits, index, room, word = _decode(words, radices)
    count = count.astype(jnp.uint32)
    same_word = (word % count).astype(jnp.int32)
    if room == 1 or room * capacity <= _RADIX_CAP:
        return digits + [same_word]  # no count up to the capacity passes the cap
    next_word = (words[index + 1] % count).astype(jnp.int32)
    # room * count > cap, without an overflow of the product.
    return digits + [jnp.where(count > _RADIX_CAP // room, next_word, same_word)]


def prior_radices(params: RuleGridParams) -> list[int]:
    """How many choices each random field of a prior draw has (see ``decode_uniform``)."""
    t = params.num_object_types
    reward = CONTINUOUS_RADIX if params.continuous_rewards else params.reward_values.shape[0]
    per_type = [reward, len(params.effects)]
    if t > 1 and TRANSFORM in params.effects:
        per_type.append(t - 1)
    radices = per_type * t
    if params.require_positive:
        fix_value = (
            CONTINUOUS_RADIX
            if params.continuous_rewards
            else params.positive_reward_values.shape[0]
        )
        radices += [t, fix_value]
    return radices


def ruleset_from_digits(digits: list[jax.Array], params: RuleGridParams) -> Ruleset:
    """A prior draw from uniform digits, one per entry of ``prior_radices``."""
    t = params.num_object_types
    types = jnp.arange(t, dtype=jnp.int32)
    with_target = t > 1 and TRANSFORM in params.effects
    stride = 3 if with_target else 2
    per_type = [digits[i * stride : (i + 1) * stride] for i in range(t)]
    reward_digits = jnp.stack([d[0] for d in per_type])
    effect_digits = jnp.stack([d[1] for d in per_type])
    if params.continuous_rewards:
        unit = reward_digits.astype(jnp.float32) / CONTINUOUS_RADIX
        rewards = params.reward_low + (params.reward_high - params.reward_low) * unit
    else:
        rewards = params.reward_values[reward_digits]
    if params.require_positive:
        # A ruleset with nothing worth collecting teaches nothing: give one random
        # type a positive reward instead.
        fix_type, fix_digit = digits[stride * t], digits[stride * t + 1]
        if params.continuous_rewards:
            low = jnp.maximum(params.reward_low, 0.0)
            # In (0, 1]: the fixed reward is strictly positive.
            unit = (fix_digit + 1).astype(jnp.float32) / CONTINUOUS_RADIX
            fix_value = low + (params.reward_high - low) * unit
        else:
            fix_value = params.positive_reward_values[fix_digit]
        none_positive = jnp.logical_not(jnp.any(rewards > 0.0))
        rewards = jnp.where(none_positive & (types == fix_type), fix_value, rewards)
    effects = jnp.asarray(params.effects, jnp.int32)[effect_digits]
    if with_target:
        other = (types + 1 + jnp.stack([d[2] for d in per_type])) % t
        transform_to = jnp.where(effects == TRANSFORM, other, types)
    else:
        transform_to = types
    return Ruleset(rewards=rewards.astype(jnp.float32), effects=effects, transform_to=transform_to)


@jax.jit
def sample_prior(key: jax.Array, params: RuleGridParams) -> Ruleset:
    """One ruleset from the prior of ``params``."""
    # Jitted so eager callers (analyses, tests) compile it once per batch shape instead
    # of dispatching and compiling it primitive by primitive.
    radices = prior_radices(params)
    words = key_words(key, words_needed(radices))
    return ruleset_from_digits(decode_uniform(words, radices), params)
