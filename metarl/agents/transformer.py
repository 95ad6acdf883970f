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

* replay (``step_recorded`` / ``replay``, the A2C loss): acting also records the
  activations the training form's backward pass reads, and the loss returns them
  with that backward pass attached, running no forward pass at all
  (``metarl.agents.transformer_replay``). PPO, whose later epochs move the
  parameters away from the acting ones, re-runs ``unroll``.

The forms agree to float32 rounding (tests/agents/test_transformer.py), across
sequence boundaries, episode starts inside a sequence and past the context.

Where the time goes on CPU (scripts/bench_train.py): acting reads the whole cache at
every step, so the cache is kept in blocks and only the blocks that can hold a slot
of a running episode are read (``metarl.agents.attention``); training runs the blocks
with a hand-written backward pass (``metarl.agents.transformer_blocks``), which
also reads only those memory blocks.

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

from metarl.agents import attention, transformer_blocks, transformer_replay
from metarl.agents.cores import ParallelCore, ReplayableCore


@struct.dataclass
class TransformerCarry:
    keys: tuple[jax.Array, ...]
    """Cached attention keys, a ring buffer of ``context`` slots, in blocks of slots
    (``metarl.agents.attention.CacheBlocks``): per block [B, layers, heads, block_length,
    head_size] (one block, [B, layers, heads, context, head_size], up to 32 slots)."""
    values: tuple[jax.Array, ...]
    """Cached attention values, laid out as ``keys``."""
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


class _AttentionBlock(nn.Module):
    """The parameters of a pre-LayerNorm causal self-attention + MLP block.

    Only ``init`` runs it; both forms apply the parameters with the functions of
    ``metarl.agents.transformer_blocks``.
    """

    model_size: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        # The block on an episode's first step, where a step attends only to itself
        # (softmax over one key: the attention output is its value).
        value = nn.Dense(3 * self.model_size, name="qkv")(nn.LayerNorm(name="attention_norm")(x))
        x = x + nn.Dense(self.model_size, name="attention_out")(value[..., -self.model_size :])
        hidden = nn.Dense(2 * self.model_size, name="mlp_in")(nn.LayerNorm(name="mlp_norm")(x))
        return x + nn.Dense(self.model_size, name="mlp_out")(nn.gelu(hidden))


class TransformerCore(ParallelCore, ReplayableCore):
    """Causal transformer over the episode so far, with a bounded memory of ``context`` steps.

    Parameters ``{'input', 'block_0', ..., 'output_norm'}``; see the module docstring
    for the acting and training forms.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        num_layers: int,
        context: int,
        cache_block: int = attention.BLOCK,
    ):
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size {hidden_size} must be divisible by num_heads {num_heads}"
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.context = context
        # Only the speed depends on the block length (tests use short ones).
        self.cache = attention.CacheBlocks(context, cache_block)
        self.embed = nn.Dense(hidden_size)
        self.block = _AttentionBlock(hidden_size)
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
        head = self.hidden_size // self.num_heads
        blocks = tuple(
            jnp.zeros((batch, self.num_layers, self.num_heads, length, head), jnp.float32)
            for _, length in self.cache.spans
        )
        return TransformerCarry(keys=blocks, values=blocks, position=jnp.zeros((batch,), jnp.int32))

    def reset(self, carry, episode_start):
        # Position 0 masks every slot but the one the next step writes, so the cache
        # itself needs no reset (rewriting it is most of a step's memory traffic).
        return carry.replace(position=jnp.where(episode_start, 0, carry.position))

    def _embed(self, params, inputs, position):
        x = self.embed.apply({"params": params["input"]}, inputs)
        return x + sinusoidal_position(position, self.hidden_size)

    def step(self, params, carry, inputs):
        carry, hidden, _ = self._step(params, carry, inputs, record=False)
        return carry, hidden

    def step_recorded(self, params, carry, inputs):
        return self._step(params, carry, inputs, record=True)

    def _step(self, params, carry, inputs, record: bool):
        """One cached step -> (carry, hidden, its StepRecord when ``record`` else None)."""
        batch = inputs.shape[0]
        rows = jnp.arange(batch)
        slot = carry.position % self.context
        valid = jnp.arange(self.context)[None, :] <= carry.position[:, None]
        masks = self.cache.split(valid[:, None, :])
        # Blocks past the longest episode's position hold no visible slot: not read.
        count = self.cache.holding(jnp.max(carry.position) + 1)
        heads = (batch, self.num_heads, self.hidden_size // self.num_heads)
        x = self._embed(params, inputs, carry.position)
        keys, values = carry.keys, carry.values
        layers = []
        for layer in range(self.num_layers):
            block = params[f"block_{layer}"]
            (query, key, value), (_, norm_saved) = transformer_blocks.project(block, x)
            # Written before the cache is read (see attention.cache_attention).
            keys = self.cache.write(keys, rows, layer, slot, key.reshape(heads))
            values = self.cache.write(values, rows, layer, slot, value.reshape(heads))
            attended, log_total = attention.cache_attention(
                query.reshape(heads)[:, :, None],
                tuple(k[:, layer] for k in keys),
                tuple(v[:, layer] for v in values),
                masks,
                count,
            )
            attended = attended.reshape(x.shape)
            x, finish_saved = transformer_blocks.finish(block, x, attended)
            if record:
                _, (mlp_norm, mlp_inverse_std), _, before, tanh, _ = finish_saved
                layers.append(
                    transformer_replay.LayerRecord(
                        attention_norm=norm_saved[0],
                        attention_inverse_std=norm_saved[1],
                        query=query,
                        key=key,
                        value=value,
                        attended=attended,
                        log_total=log_total.reshape(batch, self.num_heads),
                        mlp_norm=mlp_norm,
                        mlp_inverse_std=mlp_inverse_std,
                        before=before,
                        tanh=tanh,
                    )
                )
        hidden, (output_norm, output_inverse_std) = transformer_blocks.layer_norm(
            params["output_norm"], x
        )
        step_record = (
            transformer_replay.StepRecord(tuple(layers), output_norm, output_inverse_std)
            if record
            else None
        )
        return TransformerCarry(keys, values, carry.position + 1), hidden, step_record

    def _sequence(self, params, carry, episode_start):
        """What both training forms attend with: -> (positions [T, B], the mask of the
        sequence's own steps [B, T, T], the memory per layer, memory blocks to read, the
        block parameters as ``sequence_stack`` takes them)."""
        position, last_start = sequence_positions(carry.position, episode_start)
        mask = sequence_mask(carry.position, last_start, self.context)
        memory_masks = self.cache.split(mask[..., : self.context])
        keys, values = jax.lax.stop_gradient((carry.keys, carry.values))
        memory = tuple(
            (tuple(k[:, layer] for k in keys), tuple(v[:, layer] for v in values), memory_masks)
            for layer in range(self.num_layers)
        )
        # Memory slots at or past the start position are of no episode of this sequence.
        count = self.cache.holding(jnp.max(carry.position))
        stack = {
            "blocks": [params[f"block_{layer}"] for layer in range(self.num_layers)],
            "output_norm": params["output_norm"],
        }
        return position, mask[..., self.context :], memory, count, stack

    def replay(self, params, inputs, episode_start, record, carry):
        """The outputs [T, B, H] of recorded acting steps from ``carry``, with the training
        form's backward pass and no forward (``metarl.agents.transformer_replay``)."""
        position, mask, memory, count, stack = self._sequence(params, carry, episode_start)
        x = self._embed(params, inputs, position)  # [T, B, H]: only its gradient is used
        return transformer_replay.replay_stack(
            self.num_heads, stack, x, mask, memory, count, record
        )

    def unroll(self, params, carry, inputs, episode_start):
        """All T steps at once (see the module docstring); -> (carry after them, outputs [T, B, H])."""
        position, mask, memory, count, stack = self._sequence(params, carry, episode_start)
        x = jnp.swapaxes(self._embed(params, inputs, position), 0, 1)  # [B, T, H]
        hidden, written_keys, written_values = transformer_blocks.sequence_stack(
            self.num_heads, stack, x, mask, memory, count
        )
        slot = self._written_slots(position)
        final = TransformerCarry(
            keys=self._write(carry.keys, jnp.stack(written_keys, axis=1), slot),
            values=self._write(carry.values, jnp.stack(written_values, axis=1), slot),
            position=position[-1] + 1,
        )
        return final, jnp.swapaxes(hidden, 0, 1)

    def _written_slots(self, position):
        """[B, T] slot each step of a sequence lands in, ``context`` (dropped) for a step
        whose slot a later step of the sequence writes again: so the scatter has no
        duplicate indices and its result is the acting cache's, stale slots included."""
        slot = (position % self.context).T  # [B, T]
        later = jnp.arange(slot.shape[1])[None, :, None] < jnp.arange(slot.shape[1])[None, None]
        overwritten = jnp.any((slot[:, :, None] == slot[:, None, :]) & later, axis=-1)
        return jnp.where(overwritten, self.context, slot)

    def _write(self, blocks, written, slot):
        """The cache blocks after the sequence: written [B, layers, heads, T, head]."""
        rows = jnp.arange(slot.shape[0])[:, None]
        # [B, T, layers, heads, head]: index rows and steps together.
        moved = jnp.moveaxis(written, 3, 1)
        result = []
        for block, (start, length) in zip(blocks, self.cache.spans, strict=True):
            index = jnp.where((slot >= start) & (slot < start + length), slot - start, length)
            block = jnp.moveaxis(block, 3, 1).at[rows, index].set(moved, mode="drop")
            result.append(jnp.moveaxis(block, 1, 3))
        return tuple(result)
