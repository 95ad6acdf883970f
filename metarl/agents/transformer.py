"""The transformer core: causal attention over the episode, acted step by step, trained in parallel.

Two forms of one computation:

* acting (``step``): each step embeds its input, adds a sinusoidal encoding of its
  position in the episode, writes its key/value into slot ``position % context`` of
  a per-layer KV cache (one scattered row per env, nothing else of the cache is
  rewritten) and attends over the slots filled in this episode, itself included.
* training (``unroll``): the whole ``[T, B]`` sequence at once, Transformer-XL
  style. Every step attends over [the cache the sequence started with (the memory
  of the episode before it); the sequence itself], masked so that a step sees only
  steps of its own episode (never one before an episode start) and only the last
  ``context`` of them (itself included), which is exactly what the cache would
  hold when acting. The memory is constant (``stop_gradient``): as with a
  recurrent carry at a rollout start, no gradient flows into the steps before the
  sequence.

The two agree to float32 rounding (tests/agents/test_transformer.py), across
sequence boundaries, episode starts inside a sequence and past the context.

Memory is bounded: each layer attends to a sliding window of the last ``context``
steps, and windows stack across layers, so with L layers an input can influence
outputs up to L * (context - 1) steps later and never after. Positions keep
counting past the context, so the agent still knows how far into the episode it
is; order inside the window comes from the position encoding alone.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from metarl.agents.cores import ParallelCore


@struct.dataclass
class TransformerCarry:
    keys: jax.Array
    """[B, layers, heads, context, head_size] cached attention keys (a ring buffer)."""
    values: jax.Array
    """[B, layers, heads, context, head_size] cached attention values."""
    position: jax.Array
    """[B] int32: steps taken in the current episode (the next step's position).

    Slot s holds the step at the latest position before this one that is s modulo
    the context; slots at or above ``position`` (when ``position < context``) are
    left over from an earlier episode and masked out, so a reset touches nothing else.
    """


def sinusoidal_position(position: jax.Array, size: int) -> jax.Array:
    """[...] int positions -> [..., size] sin/cos features (Vaswani et al. 2017)."""
    half = size // 2
    rates = jnp.exp(-math.log(10_000.0) * jnp.arange(half, dtype=jnp.float32) / max(half, 1))
    angles = position.astype(jnp.float32)[..., None] * rates
    features = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)
    return jnp.pad(features, [(0, 0)] * position.ndim + [(0, size - 2 * half)])


def sequence_positions(
    start_position: jax.Array, episode_start: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Episode positions of a sequence and where its latest episode began.

    start_position [B] (the carry's position), episode_start [T, B] bool ->
    (position [T, B], last_start [T, B]: the index of the latest episode start at or
    before each step, -1 when the step's episode began before the sequence).
    """
    steps = jnp.arange(episode_start.shape[0])[:, None]
    last_start = jax.lax.cummax(jnp.where(episode_start, steps, -1), axis=0)
    position = jnp.where(last_start >= 0, steps - last_start, start_position[None] + steps)
    return position, last_start


def sequence_mask(start_position: jax.Array, last_start: jax.Array, context: int) -> jax.Array:
    """[B, T, context + T] bool: which keys each step of a sequence attends to.

    Keys are [the ``context`` cache slots the sequence started with; its own T
    steps]. A step sees a key of its own episode no more than ``context - 1`` steps
    back. Cache slot s holds position ``p0 - 1 - ((p0 - 1 - s) mod context)`` (the
    latest before the sequence that is s modulo the context), which is of this
    episode when not negative, and ``t + p0 - that`` steps back from step t.
    """
    length = last_start.shape[0]
    steps = jnp.arange(length)
    start = start_position[:, None, None]  # [B, 1, 1]
    slots = jnp.arange(context)[None, None, :]
    slot_position = start - 1 - jnp.mod(start - 1 - slots, context)
    no_reset_yet = (last_start < 0).T[:, :, None]  # [B, T, 1]: the episode began before
    memory = (
        no_reset_yet & (slot_position >= 0) & (steps[:, None] + start - slot_position < context)
    )
    query, key = steps[:, None], steps[None, :]
    window = (key <= query) & (query - key < context)  # [T, T]
    same_episode = last_start.T[:, :, None] <= key[None]  # [B, T, T]
    return jnp.concatenate([memory, window[None] & same_episode], axis=-1)


def attend(
    query: jax.Array, parts: list[tuple[jax.Array, jax.Array]], mask: jax.Array
) -> jax.Array:
    """Masked softmax attention over keys given in parts, heads-major.

    query [B, heads, T, head]; parts: (keys, values) pairs, each [B, heads, S_i, head],
    attended as if concatenated along S; mask [B, T, sum S_i] -> [B, heads, T, head].

    Hand-written rather than ``jax.nn.dot_product_attention``: that one takes
    [B, S, heads, head] keys, and XLA:CPU then transposes the whole KV cache at every
    acting step (most of the step's time); heads-major keys are multiplied where they
    lie. Parts spare the training forward a copy of the memory into one key array.
    """
    scale = 1.0 / math.sqrt(query.shape[-1])
    scores = jnp.concatenate(
        [jnp.einsum("bhtd,bhsd->bhts", query, keys) * scale for keys, _ in parts], axis=-1
    )
    scores = jnp.where(mask[:, None], scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores, axis=-1)
    attended, start = 0.0, 0
    for _, values in parts:
        size = values.shape[2]
        attended += jnp.einsum("bhts,bhsd->bhtd", weights[..., start : start + size], values)
        start += size
    return attended


class _AttentionBlock(nn.Module):
    """Pre-LayerNorm causal self-attention + MLP block, split where the attention goes.

    ``project`` gives the queries, keys and values of its inputs; the caller
    assembles what they attend over (the acting cache, or memory + sequence) and
    ``finish`` adds the attention output and the MLP to the residual stream.
    """

    model_size: int
    num_heads: int

    def setup(self):
        self.attention_norm = nn.LayerNorm()
        self.qkv = nn.Dense(3 * self.model_size)
        self.attention_out = nn.Dense(self.model_size)
        self.mlp_norm = nn.LayerNorm()
        self.mlp_in = nn.Dense(2 * self.model_size)
        self.mlp_out = nn.Dense(self.model_size)

    def project(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """x [..., D] -> query, key, value, each [..., heads, head]."""
        qkv = self.qkv(self.attention_norm(x))
        qkv = qkv.reshape(*x.shape[:-1], 3, self.num_heads, self.model_size // self.num_heads)
        return qkv[..., 0, :, :], qkv[..., 1, :, :], qkv[..., 2, :, :]

    def finish(self, x: jax.Array, attended: jax.Array) -> jax.Array:
        """x [..., D], attended [..., heads, head] -> the block's output [..., D]."""
        x = x + self.attention_out(attended.reshape(x.shape))
        return x + self.mlp_out(nn.gelu(self.mlp_in(self.mlp_norm(x))))

    def __call__(self, x: jax.Array) -> jax.Array:
        # The block on an episode's first step, where a step attends only to itself
        # (softmax over one key: the attention output is its value). Used by init.
        _, _, value = self.project(x)
        return self.finish(x, value)


class TransformerCore(ParallelCore):
    """Causal transformer over the episode so far, with a bounded memory of ``context`` steps.

    Parameters ``{'input', 'block_0', ..., 'output_norm'}``; see the module docstring
    for the acting and training forms.
    """

    def __init__(self, hidden_size: int, num_heads: int, num_layers: int, context: int):
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size {hidden_size} must be divisible by num_heads {num_heads}"
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.context = context
        self.embed = nn.Dense(hidden_size)
        self.block = _AttentionBlock(hidden_size, num_heads)
        self.output_norm = nn.LayerNorm()

    def init(self, key, input_size):
        keys = jax.random.split(key, self.num_layers + 2)
        x = jnp.zeros((1, self.hidden_size))
        params = {
            "input": self.embed.init(keys[0], jnp.zeros((1, input_size)))["params"],
            "output_norm": self.output_norm.init(keys[1], x)["params"],
        }
        for layer in range(self.num_layers):
            params[f"block_{layer}"] = self.block.init(keys[layer + 2], x)["params"]
        return params

    def initialize_carry(self, batch):
        shape = (
            batch,
            self.num_layers,
            self.num_heads,
            self.context,
            self.hidden_size // self.num_heads,
        )
        return TransformerCarry(
            keys=jnp.zeros(shape, jnp.float32),
            values=jnp.zeros(shape, jnp.float32),
            position=jnp.zeros((batch,), jnp.int32),
        )

    def reset(self, carry, episode_start):
        # Position 0 masks every slot but the one the next step writes, so the cache
        # itself needs no reset (rewriting it is most of a step's memory traffic).
        return carry.replace(position=jnp.where(episode_start, 0, carry.position))

    def _embed(self, params, inputs, position):
        x = self.embed.apply({"params": params["input"]}, inputs)
        return x + sinusoidal_position(position, self.hidden_size)

    def _block(self, params, layer, method, *args):
        return self.block.apply({"params": params[f"block_{layer}"]}, *args, method=method)

    def step(self, params, carry, inputs):
        rows = jnp.arange(inputs.shape[0])
        slot = carry.position % self.context
        valid = (jnp.arange(self.context)[None, :] <= carry.position[:, None])[:, None, :]
        x = self._embed(params, inputs, carry.position)
        keys, values = carry.keys, carry.values
        for layer in range(self.num_layers):
            query, key, value = self._block(params, layer, _AttentionBlock.project, x)
            # One [heads, head] row per env, written before the cache is read: then the
            # scatter runs in place in the rollout loop (read first, XLA copies the cache).
            keys = keys.at[rows, layer, :, slot].set(key, unique_indices=True)
            values = values.at[rows, layer, :, slot].set(value, unique_indices=True)
            attended = attend(query[:, :, None], [(keys[:, layer], values[:, layer])], valid)
            x = self._block(params, layer, _AttentionBlock.finish, x, attended[:, :, 0])
        hidden = self.output_norm.apply({"params": params["output_norm"]}, x)
        return TransformerCarry(keys, values, carry.position + 1), hidden

    def unroll(self, params, carry, inputs, episode_start):
        """All T steps at once (see the module docstring); -> (carry after them, outputs [T, B, H])."""
        position, last_start = sequence_positions(carry.position, episode_start)
        mask = sequence_mask(carry.position, last_start, self.context)
        x = jnp.swapaxes(self._embed(params, inputs, position), 0, 1)  # [B, T, H]
        written_keys, written_values = [], []
        for layer in range(self.num_layers):
            # [B, T, heads, head] -> heads-major [B, heads, T, head], as the cache lies.
            query, key, value = (
                jnp.swapaxes(a, 1, 2)
                for a in self._block(params, layer, _AttentionBlock.project, x)
            )
            memory = (
                jax.lax.stop_gradient(carry.keys[:, layer]),
                jax.lax.stop_gradient(carry.values[:, layer]),
            )
            attended = attend(query, [memory, (key, value)], mask)
            x = self._block(params, layer, _AttentionBlock.finish, x, jnp.swapaxes(attended, 1, 2))
            written_keys.append(key)
            written_values.append(value)
        hidden = self.output_norm.apply({"params": params["output_norm"]}, x)
        final = TransformerCarry(
            keys=self._write_cache(carry.keys, jnp.stack(written_keys, axis=1), position),
            values=self._write_cache(carry.values, jnp.stack(written_values, axis=1), position),
            position=position[-1] + 1,
        )
        return final, jnp.swapaxes(hidden, 0, 1)

    def _write_cache(self, cache, written, position):
        """The cache after acting the sequence: cache [B, L, heads, C, head], written
        [B, L, heads, T, head].

        Step t lands in slot ``position[t] % context``; a step whose slot a later step
        of the sequence writes again is dropped, so the scatter has no duplicate
        indices and its result is the acting cache's, stale slots included.
        """
        slot = (position % self.context).T  # [B, T]
        later = jnp.arange(slot.shape[1])[None, :, None] < jnp.arange(slot.shape[1])[None, None]
        overwritten = jnp.any((slot[:, :, None] == slot[:, None, :]) & later, axis=-1)
        slot = jnp.where(overwritten, self.context, slot)  # out of bounds: dropped
        rows = jnp.arange(cache.shape[0])[:, None]
        # [B, C, L, heads, head]: index rows and slots together.
        moved = (
            jnp.moveaxis(cache, 3, 1).at[rows, slot].set(jnp.moveaxis(written, 3, 1), mode="drop")
        )
        return jnp.moveaxis(moved, 1, 3)
