"""Masked softmax attention over a KV cache kept in blocks, skipping blocks no query can see.

The transformer's cache of ``context`` slots is split into blocks (``CacheBlocks``),
each its own array. On CPU attention over the cache is bound by reading it (every
acting step reads every key and value), and a slot is visible only once written in
the current episode, so while every env's episode is shorter than the context the
slots past the longest one are masked anyway. ``lax.switch`` picks a branch that
reads only the blocks up to the last one that can hold a visible slot: the same
result (masked keys have weight exactly 0) for a fraction of the traffic.

Separate arrays, not one cache sliced: XLA:CPU copies a slice before a dot reads it
(for the strided prefix of a [..., context, head] array and even for a leading block
of a blocked one), so a sliced prefix costs as much as the whole cache; a block that
is an array of its own is read in place.

The training form comes with its backward pass (``sequence_attention_backward``, the
same switch), for the transformer's hand-written one: differentiating ``lax.switch``
would make every branch emit the residuals of every other branch (zero-filled),
more than the branches save.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

BLOCK = 32
"""Default slots per cache block: four blocks for the default context of 128."""


class CacheBlocks:
    """How a cache of ``context`` slots splits into blocks of ``block`` slots (the last shorter)."""

    def __init__(self, context: int, block: int = BLOCK):
        if block < 1:
            raise ValueError(f"cache block length must be positive, got {block}")
        self.context = context
        self.spans = [(start, min(block, context - start)) for start in range(0, context, block)]
        self.block = block

    def holding(self, slots: jax.Array) -> jax.Array:
        """The number of leading blocks that hold the first ``slots`` slots (0 for none)."""
        return (jnp.minimum(slots, self.context) + self.block - 1) // self.block

    def split(self, array: jax.Array) -> tuple[jax.Array, ...]:
        """An array with ``context`` slots on its last axis -> one array per block."""
        return tuple(array[..., start : start + length] for start, length in self.spans)

    def write(
        self,
        blocks: Sequence[jax.Array],
        rows: jax.Array,
        layer: int,
        slot: jax.Array,
        update: jax.Array,
    ) -> tuple[jax.Array, ...]:
        """Write ``update[i]`` into slot ``slot[i]`` of row ``rows[i]`` and ``layer``:
        blocks [B, layers, heads, len, head], rows/slot [B], update [B, heads, head].

        Each block takes the rows whose slot it holds; the other rows' indices fall out
        of bounds and are dropped, so nothing else is rewritten.
        """
        written = []
        for block, (start, length) in zip(blocks, self.spans, strict=True):
            index = jnp.where((slot >= start) & (slot < start + length), slot - start, length)
            written.append(
                block.at[rows, layer, :, index].set(update, mode="drop", unique_indices=True)
            )
        return tuple(written)


def _scores(query: jax.Array, keys: jax.Array, mask: jax.Array) -> jax.Array:
    """query [B, heads, T, head], keys [B, heads, S, head], mask [B, T, S] -> [B, heads, T, S]."""
    if query.shape[2] == 1:  # acting: one matrix-vector product per env and head
        scores = _one_query("bhd,bhsd->bhs", query, keys)
    else:
        scores = jnp.einsum("bhtd,bhsd->bhts", query, keys)
    scores = scores * (1.0 / math.sqrt(query.shape[-1]))
    return jnp.where(mask[:, None], scores, jnp.finfo(scores.dtype).min)


def _one_query(spec: str, lhs: jax.Array, rhs: jax.Array) -> jax.Array:
    """``einsum(spec)`` of a single-query [B, heads, 1, *] ``lhs``, unit axis kept in the result.

    Without the unit axis XLA:CPU emits a plain batched matrix-vector product: 20 acting
    steps' attention over a [256, 2, 128, 32] cache took 0.79 ms a step against 1.03 ms with
    it, and ``scripts/bench_train.py --only transformer`` went from 0.247 to 0.257-0.261 of
    the GRU (2026-12-03, run alternately on this 2-core CPU).
    """
    return jnp.einsum(spec, lhs[:, :, 0], rhs)[:, :, None]


def attend_parts(
    query: jax.Array,
    keys: Sequence[jax.Array],
    values: Sequence[jax.Array],
    masks: Sequence[jax.Array],
) -> tuple[jax.Array, jax.Array]:
    """Masked softmax attention over keys given in parts, heads-major.

    query [B, heads, T, head]; keys and values: parts [B, heads, S_i, head], attended
    as if concatenated along S; masks: [B, T, S_i] per part (every query must see at
    least one key) -> (attended [B, heads, T, head], log-sum-exp of the scores
    [B, heads, T, 1]).

    Hand-written rather than ``jax.nn.dot_product_attention``: that one takes
    [B, S, heads, head] keys, and XLA:CPU then transposes the whole KV cache at every
    acting step; heads-major keys are multiplied where they lie.
    """
    scores = [_scores(query, part, mask) for part, mask in zip(keys, masks, strict=True)]
    peak = scores[0].max(axis=-1, keepdims=True)
    for part in scores[1:]:
        peak = jnp.maximum(peak, part.max(axis=-1, keepdims=True))
    # A masked score is the float32 minimum: its exp underflows to exactly 0.
    weights = [jnp.exp(part - peak) for part in scores]
    total = sum(w.sum(axis=-1, keepdims=True) for w in weights)
    if query.shape[2] == 1:
        attended = sum(
            _one_query("bhs,bhsd->bhd", w, part) for w, part in zip(weights, values, strict=True)
        )
    else:
        attended = sum(
            jnp.einsum("bhts,bhsd->bhtd", w, part) for w, part in zip(weights, values, strict=True)
        )
    return attended / total, peak + jnp.log(total)


def _attend_parts_backward(query, keys, values, masks, attended, log_total, grad):
    """Gradients of ``attend_parts``'s output wrt the query and the last part's keys and
    values, recomputing the weights from the log-sum-exp (the other parts are memory)."""
    scale = 1.0 / math.sqrt(query.shape[-1])
    # An einsum: under vmap XLA:CPU runs sum(grad * attended) ten times slower.
    delta = jnp.einsum("bhtd,bhtd->bht", grad, attended)[..., None]
    grad_query = 0.0
    for part_keys, part_values, mask in zip(keys, values, masks, strict=True):
        weights = jnp.exp(_scores(query, part_keys, mask) - log_total)
        grad_weights = jnp.einsum("bhtd,bhsd->bhts", grad, part_values)
        grad_scores = weights * (grad_weights - delta) * scale
        grad_query = grad_query + jnp.einsum("bhts,bhsd->bhtd", grad_scores, part_keys)
    grad_keys = jnp.einsum("bhts,bhtd->bhsd", grad_scores, query)
    grad_values = jnp.einsum("bhts,bhtd->bhsd", weights, grad)
    return grad_query, grad_keys, grad_values


def _one_branch_per_batch(function):
    """``function(count, *operands)`` (a ``lax.switch`` on ``count``) whose ``vmap`` takes
    the batch's largest count and runs that one branch for every element.

    ``vmap`` of a switch on a batched index runs every branch and selects, which
    would read the whole cache and more. The trainer vmaps over seeds, so the count
    is batched there. More blocks than an element needs read only masked slots, so
    the largest count gives every element its own result.
    """

    @custom_vmap
    def run(count, *operands):
        return function(count, *operands)

    @run.def_vmap
    def run_batched(axis_size, in_batched, count, *operands):
        if in_batched[0]:
            count = jnp.max(count)
        in_axes = jax.tree.map(lambda batched: 0 if batched else None, list(in_batched[1:]))
        result = jax.vmap(
            lambda *operands: function(count, *operands), in_axes=in_axes, axis_size=axis_size
        )(*operands)
        return result, jax.tree.map(lambda _: True, result)

    return run


@_one_branch_per_batch
def _cache_attention(count, query, keys, values, masks):
    def over(n):
        return lambda q, k, v, m: attend_parts(q, k[:n], v[:n], m[:n])

    branches = [over(n) for n in range(1, len(keys) + 1)]
    return jax.lax.switch(count - 1, branches, query, keys, values, masks)


@jax.custom_vjp
def cache_attention(
    query: jax.Array,
    keys: Sequence[jax.Array],
    values: Sequence[jax.Array],
    masks: Sequence[jax.Array],
    count: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """The acting form: attention over the first ``count`` (>= 1) cache blocks only.

    query [B, heads, 1, head]; keys/values: blocks [B, heads, len, head], the step's
    own key and value already written; masks: per block [B, 1, len]; every slot in a
    block past ``count`` must be masked -> (attended [B, heads, 1, head], log-sum-exp
    of the scores [B, heads, 1, 1], which the A2C replay keeps).

    The caller writes the step's key and value into the cache before this reads it:
    read first, XLA copies the whole cache at every step to write in place after the
    read (measured; with the step's own key as a part of its own, it does).
    """
    return _cache_attention(count, query, tuple(keys), tuple(values), tuple(masks))


def _cache_attention_forward(query, keys, values, masks, count):
    return cache_attention(query, keys, values, masks, count), (query, keys, values, masks)


def _cache_attention_backward(residuals, grad):
    # Acting is differentiated only to check the training form against it (the
    # custom_vmap above has no autodiff): through every block, which is the same
    # gradient (masked slots have weight 0).
    query, keys, values, masks = residuals
    _, pullback = jax.vjp(lambda q, k, v: attend_parts(q, k, v, masks), query, keys, values)
    return (*pullback(grad), None, None)


cache_attention.defvjp(_cache_attention_forward, _cache_attention_backward)


@_one_branch_per_batch
def _sequence_attention(count, query, keys, values, mask, memory_keys, memory_values, memory_masks):
    def over(n):
        def run(query, keys, values, mask, memory_keys, memory_values, memory_masks):
            return attend_parts(
                query,
                memory_keys[:n] + (keys,),
                memory_values[:n] + (values,),
                memory_masks[:n] + (mask,),
            )

        return run

    branches = [over(n) for n in range(len(memory_keys) + 1)]
    return jax.lax.switch(
        count, branches, query, keys, values, mask, memory_keys, memory_values, memory_masks
    )


def sequence_attention(query, keys, values, mask, memory_keys, memory_values, memory_masks, count):
    """The training form: a sequence attends over the first ``count`` memory blocks and itself.

    query/keys/values [B, heads, T, head] (the sequence's), mask [B, T, T];
    memory_keys/values: blocks [B, heads, len, head], memory_masks per block [B, T, len]
    (every slot in a block past ``count`` masked) -> (attended [B, heads, T, head],
    log-sum-exp [B, heads, T, 1]: the residual ``sequence_attention_backward`` needs).
    Not differentiable itself: the transformer's backward pass calls that one.
    """
    memory = (tuple(memory_keys), tuple(memory_values), tuple(memory_masks))
    return _sequence_attention(count, query, keys, values, mask, *memory)


@_one_branch_per_batch
def _sequence_attention_backward(
    count,
    query,
    keys,
    values,
    mask,
    memory_keys,
    memory_values,
    memory_masks,
    attended,
    log_total,
    grad,
):
    def over(n):
        def run(query, keys, values, mask, memory_keys, memory_values, memory_masks):
            return _attend_parts_backward(
                query,
                memory_keys[:n] + (keys,),
                memory_values[:n] + (values,),
                memory_masks[:n] + (mask,),
                attended,
                log_total,
                grad,
            )

        return run

    branches = [over(n) for n in range(len(memory_keys) + 1)]
    return jax.lax.switch(
        count, branches, query, keys, values, mask, memory_keys, memory_values, memory_masks
    )


def sequence_attention_backward(
    query,
    keys,
    values,
    mask,
    memory_keys,
    memory_values,
    memory_masks,
    count,
    attended,
    log_total,
    grad,
):
    """Gradients of ``sequence_attention`` wrt query, keys and values (the memory is a
    constant): the same switch, the weights recomputed from the log-sum-exp."""
    memory = (tuple(memory_keys), tuple(memory_values), tuple(memory_masks))
    return _sequence_attention_backward(
        count, query, keys, values, mask, *memory, attended, log_total, grad
    )
