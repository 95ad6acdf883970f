"""The transformer's A2C replay: the backward pass of the acting forward, from its record.

A2C differentiates at the very parameters that acted, so every activation the
training form's backward pass (``transformer_blocks.sequence_stack``) reads was
already computed, step by step, by acting. ``TransformerCore.step_recorded`` keeps
them (``StepRecord``: per layer the two LayerNorms' normalised inputs and inverse
deviations, the query, key and value, the attention output and its log-sum-exp, the
MLP's pre-activation and its GELU's tanh; the final norm's), and ``replay_stack``
returns the recorded outputs with that same backward pass attached, so the loss runs
no forward pass of the core at all (as the GRU's ``gru_replay`` does). What the record
does not hold is cheap to rebuild: the norms' affine outputs and the GELU's output from
its tanh.

The memory (the cache at the rollout's start) comes from the rollout's initial
carry, as in the parallel ``unroll``; it is a constant of the loss there too.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import struct

from metarl.agents import transformer_blocks as blocks


@struct.dataclass
class LayerRecord:
    """One block's activations at one step (acting) or stacked [T, B, ...] (the rollout)."""

    attention_norm: jax.Array
    """The attention LayerNorm's normalised input (before scale and bias), [B, D]."""
    attention_inverse_std: jax.Array
    """Its 1 / std, [B, 1]."""
    query: jax.Array
    """[B, D], heads concatenated; key and value likewise."""
    key: jax.Array
    value: jax.Array
    attended: jax.Array
    """The attention output, [B, D] heads concatenated."""
    log_total: jax.Array
    """Log-sum-exp of the step's attention scores, [B, heads]."""
    mlp_norm: jax.Array
    """The MLP LayerNorm's normalised input, [B, D]."""
    mlp_inverse_std: jax.Array
    before: jax.Array
    """The MLP's first layer's output, before the GELU, [B, 2D]."""
    tanh: jax.Array
    """The GELU's tanh at ``before`` [B, 2D]: recorded, since recomputing it over the
    rollout cost the backward pass more (0.69 ms per update, profiled) than acting pays
    to store it."""


@struct.dataclass
class StepRecord:
    layers: tuple[LayerRecord, ...]
    output_norm: jax.Array
    """The final LayerNorm's normalised input, [B, D]."""
    output_inverse_std: jax.Array

    def hidden(self, output_norm_params) -> jax.Array:
        """The core's recorded outputs (the final norm's affine output)."""
        return _affine(output_norm_params, self.output_norm)


def _affine(params, normalised):
    """A LayerNorm's output from its normalised input (``transformer_blocks.layer_norm``)."""
    return normalised * params["scale"] + params["bias"]


def _rows(x):
    """[T, B, ...] -> [T * B, ...]: token rows in the record's own order, no copy
    (``stack_backward(time_major=True)``)."""
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def _heads_major(x, num_heads):
    """[T, B, D] -> [B, heads, T, head]."""
    length, batch, size = x.shape
    return x.reshape(length, batch, num_heads, size // num_heads).transpose(1, 2, 0, 3)


def _saved(num_heads, params, record: StepRecord):
    """The record, stacked [T, B, ...], in the layout ``sequence_stack``'s forward saves
    (token rows time-major)."""
    saved = []
    for layer_params, layer in zip(params["blocks"], record.layers, strict=True):
        attention_norm = _rows(layer.attention_norm)
        mlp_norm = _rows(layer.mlp_norm)
        before, tanh = _rows(layer.before), _rows(layer.tanh)
        activated = 0.5 * before * (1.0 + tanh)  # blocks.gelu's output from its tanh
        finish_saved = (
            _rows(layer.attended),
            (mlp_norm, _rows(layer.mlp_inverse_std)),
            _affine(layer_params["mlp_norm"], mlp_norm),
            before,
            tanh,
            activated,
        )
        saved.append(
            (
                _affine(layer_params["attention_norm"], attention_norm),
                (attention_norm, _rows(layer.attention_inverse_std)),
                _heads_major(layer.query, num_heads),
                _heads_major(layer.key, num_heads),
                _heads_major(layer.value, num_heads),
                _heads_major(layer.attended, num_heads),
                jnp.moveaxis(layer.log_total, 0, -1)[..., None],  # [B, heads, T, 1]
                finish_saved,
            )
        )
    output = (_rows(record.output_norm), _rows(record.output_inverse_std))
    return saved, output


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def replay_stack(num_heads, params, x, mask, memory, count, record: StepRecord):
    """The hidden outputs [T, B, D] of a recorded acting pass over x [T, B, D] (embedded
    inputs), differentiable wrt ``params`` and ``x`` through ``sequence_stack``'s backward.

    params, mask [B, T, T], memory, count: as ``transformer_blocks.sequence_stack`` takes
    them. Valid only at the params and inputs the record was made with (the caller's
    guarantee: A2C records the rollout with the parameters it differentiates at).
    """
    return record.hidden(params["output_norm"])


def _replay_forward(num_heads, params, x, mask, memory, count, record):
    return replay_stack(num_heads, params, x, mask, memory, count, record), (
        params,
        mask,
        memory,
        count,
        record,
    )


def _replay_backward(num_heads, residuals, grad_hidden):
    params, mask, memory, count, record = residuals
    saved, output_saved = _saved(num_heads, params, record)
    zeros = tuple(jnp.zeros_like(layer[3]) for layer in saved)  # no cotangent for the keys
    stack_grads = blocks.stack_backward(
        num_heads,
        (params, mask, memory, count, saved, output_saved),
        (grad_hidden, zeros, zeros),
        time_major=True,
    )
    param_grads, grad_x = stack_grads[0], stack_grads[1]
    record_grads = jax.tree.map(jnp.zeros_like, record)
    memory_grads = jax.tree.map(lambda _: None, memory)
    return param_grads, grad_x, None, memory_grads, None, record_grads


replay_stack.defvjp(_replay_forward, _replay_backward)
