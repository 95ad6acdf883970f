"""The transformer core's blocks as plain functions of its parameter tree, both forms.

Pre-LayerNorm blocks: ``x + attention(norm(x))``, then ``+ mlp(norm(.))`` (a GELU MLP
twice as wide), and a final LayerNorm; the parameters are those flax's LayerNorm and
Dense modules create (``TransformerCore.init``), so checkpoints keep their names.

* ``project`` / ``finish``: one step of a block on [B, D] inputs around the acting
  form's cached attention (``TransformerCore.step``).
* ``sequence_stack``: every block and the final norm over a whole [B, T, D] sequence
  attending over [memory; itself], with a hand-written backward pass: the forward's
  matmuls transposed, over flat [B*T, D] arrays, plus the attention's
  (``metarl.agents.attention``, which reads only the memory blocks that can hold a
  visible slot; differentiating its ``lax.switch`` instead would make every branch
  carry every other branch's residuals). The backward pass XLA derives here was
  mostly layout work on CPU (padded slices of the fused QKV projection, transposes
  between token- and heads-major layouts, LayerNorm reductions split into windows)
  and, under the trainer's ``vmap`` over seeds, reductions over the token axis that
  XLA:CPU runs an order of magnitude slower than a matmul (see ``_column_sum``).

Both forms run the same functions on the same parameters, so they agree to float32
rounding (tests/agents/test_transformer.py, which also checks this backward pass
against the gradient through the acting steps).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from metarl.agents import attention

EPSILON = 1e-6
"""flax LayerNorm's default."""
_GELU_SLOPE = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def _row_dot(x, y):
    """sum(x * y) over the last axis, kept: an einsum, because under the trainer's ``vmap``
    over seeds XLA:CPU runs that multiply-and-reduce as one fusion ten times slower."""
    return jnp.einsum("...d,...d->...", x, y)[..., None]


def _column_sum(x):
    """x [N, D] -> [D]: a matmul, because under that ``vmap`` XLA:CPU reduces over N
    twenty times slower than it multiplies."""
    return jnp.ones(x.shape[0], x.dtype) @ x


def _rows_transposed_times(x, grad):
    """x [N, K], grad [N, M] -> x^T grad [K, M], with no transpose under ``vmap``."""
    return jnp.einsum("nk,nm->km", x, grad)


def layer_norm(params, x):
    """flax LayerNorm (its single-pass variance) over the last axis -> (y, (normalised, 1/std))."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    variance = jnp.maximum(_row_dot(x, x) / x.shape[-1] - mean * mean, 0.0)
    inverse_std = jax.lax.rsqrt(variance + EPSILON)
    normalised = (x - mean) * inverse_std
    return normalised * params["scale"] + params["bias"], (normalised, inverse_std)


def layer_norm_backward(params, saved, grad):
    """Gradients of ``layer_norm`` over [N, D] rows -> (wrt x, wrt its parameters)."""
    normalised, inverse_std = saved
    grad_normalised = grad * params["scale"]
    grad_x = inverse_std * (
        grad_normalised
        - jnp.mean(grad_normalised, axis=-1, keepdims=True)
        - normalised * (_row_dot(grad_normalised, normalised) / grad.shape[-1])
    )
    scale = jnp.einsum("nd,nd->d", grad, normalised)
    return grad_x, {"scale": scale, "bias": _column_sum(grad)}


def dense(params, x):
    return x @ params["kernel"] + params["bias"]


def dense_backward(params, x, grad):
    """Gradients of ``dense`` over [N, *] rows -> (wrt x, wrt its parameters)."""
    weights = {"kernel": _rows_transposed_times(x, grad), "bias": _column_sum(grad)}
    return grad @ params["kernel"].T, weights


def gelu(x):
    """flax's ``nn.gelu`` (the tanh approximation) -> (y, the tanh it used)."""
    tanh = jnp.tanh(_GELU_SLOPE * (x + _GELU_CUBIC * x * x * x))
    return 0.5 * x * (1.0 + tanh), tanh


def gelu_backward(x, tanh, grad):
    slope = _GELU_SLOPE * (1.0 + 3.0 * _GELU_CUBIC * x * x)
    return grad * (0.5 * (1.0 + tanh) + 0.5 * x * (1.0 - tanh * tanh) * slope)


def project(params, x):
    """x [..., D] -> (query, key, value [..., D], the normalised input and its norm's saved)."""
    normalised, saved = layer_norm(params["attention_norm"], x)
    query, key, value = jnp.split(dense(params["qkv"], normalised), 3, axis=-1)
    return (query, key, value), (normalised, saved)


def finish(params, x, attended):
    """x [..., D], attended [..., D] (heads concatenated) -> (block output, saved for backward)."""
    mixed = x + dense(params["attention_out"], attended)
    normalised, saved = layer_norm(params["mlp_norm"], mixed)
    before = dense(params["mlp_in"], normalised)
    activated, tanh = gelu(before)
    output = mixed + dense(params["mlp_out"], activated)
    return output, (attended, saved, normalised, before, tanh, activated)


def finish_backward(params, saved, grad):
    """Gradients of ``finish`` over [N, D] rows -> (wrt x, wrt attended, wrt its parameters)."""
    attended, norm_saved, normalised, before, tanh, activated = saved
    grads = {}
    grad_activated, grads["mlp_out"] = dense_backward(params["mlp_out"], activated, grad)
    grad_before = gelu_backward(before, tanh, grad_activated)
    grad_normalised, grads["mlp_in"] = dense_backward(params["mlp_in"], normalised, grad_before)
    grad_mixed, grads["mlp_norm"] = layer_norm_backward(
        params["mlp_norm"], norm_saved, grad_normalised
    )
    grad_mixed = grad_mixed + grad
    grad_attended, grads["attention_out"] = dense_backward(
        params["attention_out"], attended, grad_mixed
    )
    return grad_mixed, grad_attended, grads


def _heads_major(x, num_heads):
    """[B, T, D] -> [B, heads, T, head]."""
    batch, length, size = x.shape
    return x.reshape(batch, length, num_heads, size // num_heads).transpose(0, 2, 1, 3)


def _tokens_major(x):
    """[B, heads, T, head] -> [B * T, D]."""
    batch, heads, length, head = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch * length, heads * head)


def _layer_forward(num_heads, params, x, mask, memory, count):
    """One block over [B, T, D]: -> (output [B, T, D], keys, values heads-major, saved)."""
    batch, length, size = x.shape
    flat = x.reshape(batch * length, size)
    (query, key, value), (normalised, norm_saved) = project(params, flat)
    query, key, value = (_heads_major(a.reshape(x.shape), num_heads) for a in (query, key, value))
    attended, log_total = attention.sequence_attention(query, key, value, mask, *memory, count)
    output, finish_saved = finish(params, flat, _tokens_major(attended))
    saved = (normalised, norm_saved, query, key, value, attended, log_total, finish_saved)
    return output.reshape(x.shape), key, value, saved


def _time_rows(x):
    """[B, heads, T, head] -> [T * B, D] (the replay's token order: the rollout's, time-major)."""
    batch, heads, length, head = x.shape
    return x.transpose(2, 0, 1, 3).reshape(length * batch, heads * head)


def _layer_backward(
    num_heads, params, saved, mask, memory, count, grad, grad_key, grad_value, time_major
):
    """Gradients of ``_layer_forward`` -> (wrt x [B * T, D] or [T * B, D], wrt its parameters)."""
    normalised, norm_saved, query, key, value, attended, log_total, finish_saved = saved
    grad_x, grad_attended, grads = finish_backward(params, finish_saved, grad)
    batch, heads, length, head = query.shape
    if time_major:
        grad_attended = grad_attended.reshape(length, batch, heads, head).transpose(1, 2, 0, 3)
        rows = _time_rows
    else:
        grad_attended = _heads_major(grad_attended.reshape(batch, length, heads * head), num_heads)
        rows = _tokens_major
    grad_query, grad_keys, grad_values = attention.sequence_attention_backward(
        query,
        key,
        value,
        mask,
        *memory,
        count,
        attended,
        log_total,
        grad_attended,
    )
    grad_qkv = jnp.concatenate(
        [rows(grad_query), rows(grad_keys + grad_key), rows(grad_values + grad_value)], axis=-1
    )
    grad_normalised, grads["qkv"] = dense_backward(params["qkv"], normalised, grad_qkv)
    grad_input, grads["attention_norm"] = layer_norm_backward(
        params["attention_norm"], norm_saved, grad_normalised
    )
    return grad_x + grad_input, grads


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def sequence_stack(num_heads, params, x, mask, memory, count):
    """Every block and the final norm over a sequence, attending over [memory; itself].

    params: {'blocks': [block params per layer], 'output_norm': ...}; x [B, T, D]
    (embedded inputs); mask [B, T, T] (which of its own steps each step sees);
    memory: per layer (key blocks, value blocks, mask blocks) as
    ``attention.sequence_attention`` takes them, a constant (no gradient flows into
    it); count: memory blocks to read -> (hidden [B, T, D], per layer the sequence's
    keys and values [B, heads, T, head], for the cache after it).
    """
    return _stack_forward(num_heads, params, x, mask, memory, count)[0]


def _stack_forward(num_heads, params, x, mask, memory, count):
    keys, values, saved = [], [], []
    for layer_params, layer_memory in zip(params["blocks"], memory, strict=True):
        x, key, value, layer_saved = _layer_forward(
            num_heads, layer_params, x, mask, layer_memory, count
        )
        keys.append(key)
        values.append(value)
        saved.append(layer_saved)
    batch, length, size = x.shape
    hidden, norm_saved = layer_norm(params["output_norm"], x.reshape(batch * length, size))
    hidden = hidden.reshape(x.shape)
    return (hidden, tuple(keys), tuple(values)), (params, mask, memory, count, saved, norm_saved)


def stack_backward(num_heads, residuals, grads, time_major: bool = False):
    """``sequence_stack``'s VJP from its forward's residuals (also the A2C replay's,
    ``metarl.agents.transformer_replay``).

    ``time_major``: the residuals' token rows and the hidden and input gradients are in
    [T, B] order (the replay's record, stacked by the rollout's scan) rather than [B, T]:
    the row-wise layers do not care, and only the attention's operands change layout, so
    the record is never transposed as a whole.
    """
    params, mask, memory, count, saved, norm_saved = residuals
    grad_hidden, grad_keys, grad_values = grads
    *lead, size = grad_hidden.shape
    grad_x, grad_norm = layer_norm_backward(
        params["output_norm"], norm_saved, grad_hidden.reshape(-1, size)
    )
    block_grads = [None] * len(params["blocks"])
    for layer in reversed(range(len(params["blocks"]))):
        grad_x, block_grads[layer] = _layer_backward(
            num_heads,
            params["blocks"][layer],
            saved[layer],
            mask,
            memory[layer],
            count,
            grad_x,
            grad_keys[layer],
            grad_values[layer],
            time_major,
        )
    param_grads = {"blocks": block_grads, "output_norm": grad_norm}
    memory_grads = jax.tree.map(lambda _: None, memory)
    return param_grads, grad_x.reshape(*lead, size), None, memory_grads, None


sequence_stack.defvjp(_stack_forward, stack_backward)
