"""Memory cores of the RL^2 agents, each a step function over an explicit carry.

A core is the unit that training scans, evaluation scans and the thinking-steps
probe calls K extra times on the same input, so every core has the same surface:

* ``init(key, input_size) -> params``
* ``initialize_carry(batch) -> carry`` (the state at an episode start)
* ``step(params, carry, inputs) -> (carry, outputs)``: one step, pure, with no
  reset inside, so calling it again on the same input keeps "thinking";
* ``reset(carry, episode_start)``: the initial carry where ``episode_start`` is set;
* ``unroll(params, carry, inputs, episode_start)``: reset-then-step over a ``[T, B]``
  sequence (the PPO loss path; the GRU's has a hand-written backward pass, a
  ``ParallelCore``'s runs every step at once and A2C's loss uses it too).

Inputs are ``[B, input_size]``, outputs ``[B, hidden_size]``. The carry holds only
the memory of the current episode: the agent resets it when an episode starts and
keeps it across the trials of one episode.

Cores: ``gru`` (fused-gate GRU, the default), ``lstm`` (flax OptimizedLSTMCell),
``mlp`` (no memory: the control) and ``transformer`` (causal attention over a
bounded window of the episode so far; ``metarl.agents.transformer``). ``make_core``
(in ``metarl.agents.actor_critic``) builds one by name.
"""

from __future__ import annotations

import abc
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

Carry = Any


def _where_start(episode_start: jax.Array, initial: jax.Array, current: jax.Array) -> jax.Array:
    mask = episode_start.reshape(episode_start.shape + (1,) * (current.ndim - episode_start.ndim))
    return jnp.where(mask, initial, current)


class Core(abc.ABC):
    """Abstract base: a memory with an explicit carry. Subclasses define init/initialize_carry/step."""

    hidden_size: int

    @abc.abstractmethod
    def init(self, key: jax.Array, input_size: int) -> Any:
        """Parameters of the core for inputs of width ``input_size``."""

    @abc.abstractmethod
    def initialize_carry(self, batch: int) -> Carry:
        """The carry at an episode start, for ``batch`` envs."""

    @abc.abstractmethod
    def step(self, params: Any, carry: Carry, inputs: jax.Array) -> tuple[Carry, jax.Array]:
        """One step: (carry, inputs [B, D]) -> (carry, hidden [B, H])."""

    def reset(self, carry: Carry, episode_start: jax.Array) -> Carry:
        """The initial carry for rows where ``episode_start`` [B] is set, ``carry`` elsewhere."""
        initial = self.initialize_carry(episode_start.shape[0])
        return jax.tree.map(lambda i, c: _where_start(episode_start, i, c), initial, carry)

    def unroll(
        self, params: Any, carry: Carry, inputs: jax.Array, episode_start: jax.Array
    ) -> tuple[Carry, jax.Array]:
        """Scan over time. inputs [T, B, D], episode_start [T, B] -> (carry, outputs [T, B, H])."""

        def one_step(carry, xs):
            x_t, start_t = xs
            return self.step(params, self.reset(carry, start_t), x_t)

        return jax.lax.scan(one_step, carry, (inputs, episode_start))


class ReplayableCore(Core):
    """A core whose forward pass can be recorded and differentiated later without rerunning it.

    A2C takes its gradient at the very parameters that acted, so the rollout has already
    computed everything the loss needs from the core: ``step_recorded`` keeps, per step,
    what the core's backward pass reads, and ``replay`` turns the stacked records back
    into the outputs with a hand-written backward pass attached.
    """

    @abc.abstractmethod
    def step_recorded(
        self, params: Any, carry: Carry, inputs: jax.Array
    ) -> tuple[Carry, jax.Array, Any]:
        """``step``'s computation, plus this step's record (a pytree of [B, ...] arrays)."""

    @abc.abstractmethod
    def replay(
        self, params: Any, inputs: jax.Array, episode_start: jax.Array, record: Any, carry: Carry
    ) -> jax.Array:
        """Outputs [T, B, H] of recorded steps (inputs [T, B, D], episode_start [T, B], record
        stacked [T, B, ...], ``carry`` the one the recorded steps started from, before any
        reset), differentiable wrt params and inputs.

        Valid only at the params and inputs the record was made with.
        """


class ParallelCore(Core):
    """A core whose ``unroll`` runs all T steps at once instead of scanning ``step``.

    Its ``unroll`` must equal reset-then-step over the sequence (the acting form)
    and be cheaper to differentiate than the scanned steps, so the updates run it
    over the stored rollout: PPO (as for any core) and A2C, which otherwise
    differentiates through the rollout itself. The carry the sequence starts from
    is a constant of the loss (no gradient flows into the steps before it).
    """

    @abc.abstractmethod
    def unroll(
        self, params: Any, carry: Carry, inputs: jax.Array, episode_start: jax.Array
    ) -> tuple[Carry, jax.Array]:
        """inputs [T, B, D], episode_start [T, B] -> (carry after the T steps, outputs [T, B, H])."""


# --------------------------------------------------------------------------- GRU


def _stacked_orthogonal(num_blocks: int):
    """Orthogonal init per gate block of a fused [H, num_blocks * H] recurrent kernel."""
    orthogonal = nn.initializers.orthogonal()

    def init(key, shape, dtype=jnp.float32):
        rows, cols = shape
        keys = jax.random.split(key, num_blocks)
        return jnp.concatenate(
            [orthogonal(k, (rows, cols // num_blocks), dtype) for k in keys], axis=1
        )

    return init


def _gru_cell(hidden, h, x_r, x_z, x_n):
    """One GRU step from the per-gate input projections and hidden = h @ w_h + b_h [B, 3H].

    -> (h_new, reset_gate, update_gate, candidate, h_n)
    """
    h_r, h_z, h_n = jnp.split(hidden, 3, axis=-1)
    reset_gate = jax.nn.sigmoid(x_r + h_r)
    update_gate = jax.nn.sigmoid(x_z + h_z)
    candidate = jnp.tanh(x_n + reset_gate * h_n)
    h_new = (1.0 - update_gate) * candidate + update_gate * h
    return h_new, reset_gate, update_gate, candidate, h_n


@struct.dataclass
class GRURecord:
    """What the GRU's backward pass needs from its forward pass, every field [..., B, H]."""

    h_prev: jax.Array
    """Hidden state the step started from (after the episode-start reset)."""
    reset_gate: jax.Array
    update_gate: jax.Array
    candidate: jax.Array
    h_n: jax.Array
    """Recurrent projection of the candidate gate (h_prev @ w_h + b_h, third block)."""

    def outputs(self) -> jax.Array:
        """The step's new hidden state, as ``_gru_cell`` computes it."""
        return (1.0 - self.update_gate) * self.candidate + self.update_gate * self.h_prev


def _gru_scan(w_x, b_x, w_h, b_h, h0, inputs, episode_start):
    # The input projection of the whole sequence is one matmul; split the gates outside
    # the loop: slicing the last axis of a scanned-over slice every step costs XLA:CPU
    # more than the recurrence itself.
    x_r, x_z, x_n = jnp.split(inputs @ w_x + b_x, 3, axis=-1)

    def one_step(h, xs):
        x_r_t, x_z_t, x_n_t, start_t = xs
        h = jnp.where(start_t[:, None], 0.0, h)
        h_new, reset_gate, update_gate, candidate, h_n = _gru_cell(
            h @ w_h + b_h, h, x_r_t, x_z_t, x_n_t
        )
        return h_new, (h_new, GRURecord(h, reset_gate, update_gate, candidate, h_n))

    h_final, (outputs, record) = jax.lax.scan(one_step, h0, (x_r, x_z, x_n, episode_start))
    return h_final, outputs, record


# From this many rows per step on, the backward loop sums the weight gradients step by
# step; below it, one matmul over all T x B rows after the loop does. On XLA:CPU the
# in-loop [H, B] x [B, 3H] products run at matmul speed while the step's gate
# gradients are in cache, where after the loop XLA needs operand transposes and
# copies; with few rows per step the per-step products and their separate adds cost
# more than the one matmul after the loop (timings: CHANGELOG).
ACCUMULATE_IN_LOOP_FROM_BATCH = 64


def _gru_backward(w_x, w_h, inputs, episode_start, record: GRURecord, d_h_final, d_outputs):
    """The GRU's VJP from its record (hand-written; see ``gru_sequence``).

    -> (d_w_x, d_b_x, d_w_h, d_b_h, d_h0, d_inputs).
    """
    w_h_transposed = w_h.T
    w_x_transposed = w_x.T
    in_loop = d_outputs.shape[1] >= ACCUMULATE_IN_LOOP_FROM_BATCH

    def one_step(carry, xs):
        d_h_next, sums = carry
        d_out, x, h, r, z, n, hn, start = xs
        d_h = d_out + d_h_next
        d_n_pre = d_h * (1.0 - z) * (1.0 - n * n)
        d_r_pre = d_n_pre * hn * r * (1.0 - r)
        d_z_pre = d_h * (h - n) * z * (1.0 - z)
        d_gates = jnp.concatenate([d_r_pre, d_z_pre, d_n_pre], axis=-1)  # wrt x @ w_x + b_x
        d_hidden = jnp.concatenate([d_r_pre, d_z_pre, d_n_pre * r], axis=-1)  # wrt h @ w_h + b_h
        d_h_prev = d_h * z + d_hidden @ w_h_transposed
        # Where the episode started, h was the constant zero carry: no gradient beyond it.
        d_h_prev = jnp.where(start[:, None], 0.0, d_h_prev)
        if not in_loop:
            return (d_h_prev, sums), (d_gates, d_hidden)
        d_w_x, d_b_x, d_w_h, d_b_h = sums
        sums = (
            d_w_x + x.T @ d_gates,
            d_b_x + jnp.sum(d_gates, axis=0),
            d_w_h + h.T @ d_hidden,
            d_b_h + jnp.sum(d_hidden, axis=0),
        )
        # Unused (and removed by XLA) when the inputs are not differentiated.
        return (d_h_prev, sums), d_gates @ w_x_transposed

    zeros = lambda a: jnp.zeros(a.shape, a.dtype)  # noqa: E731
    sums = (zeros(w_x), zeros(w_x[0]), zeros(w_h), zeros(w_h[0])) if in_loop else ()
    (d_h0, sums), per_step = jax.lax.scan(
        one_step,
        (d_h_final, sums),
        (
            d_outputs,
            inputs,
            record.h_prev,
            record.reset_gate,
            record.update_gate,
            record.candidate,
            record.h_n,
            episode_start,
        ),
        reverse=True,
    )
    if in_loop:
        d_w_x, d_b_x, d_w_h, d_b_h = sums
        return d_w_x, d_b_x, d_w_h, d_b_h, d_h0, per_step
    d_gates, d_hidden = per_step
    d_w_x = jnp.einsum("tbd,tbg->dg", inputs, d_gates)
    d_w_h = jnp.einsum("tbh,tbg->hg", record.h_prev, d_hidden)
    d_b_x = jnp.sum(d_gates, axis=(0, 1))
    d_b_h = jnp.sum(d_hidden, axis=(0, 1))
    return d_w_x, d_b_x, d_w_h, d_b_h, d_h0, d_gates @ w_x_transposed


@jax.custom_vjp
def gru_sequence(w_x, b_x, w_h, b_h, h0, inputs, episode_start):
    """GRU over a sequence, with a hand-written backward pass.

    w_x [D, 3H], b_x [3H] (input projection), w_h [H, 3H], b_h [3H], h0 [B, H],
    inputs [T, B, D], episode_start [T, B] bool (hidden state zeroed before that step)
    -> (h_final [B, H], outputs [T, B, H]).

    Why by hand: differentiating the scan makes XLA:CPU store each step's activations
    several times over and differentiate the input projection with a slow transposed
    matmul over all T x B rows. Here the forward keeps one record per step and the
    backward loop carries dh (one matmul per step); the weight gradients are summed in
    the loop or after it by batch size (``ACCUMULATE_IN_LOOP_FROM_BATCH``).
    """
    h_final, outputs, _ = _gru_scan(w_x, b_x, w_h, b_h, h0, inputs, episode_start)
    return h_final, outputs


def _gru_sequence_fwd(w_x, b_x, w_h, b_h, h0, inputs, episode_start):
    h_final, outputs, record = _gru_scan(w_x, b_x, w_h, b_h, h0, inputs, episode_start)
    return (h_final, outputs), (w_x, w_h, inputs, episode_start, record)


def _gru_sequence_bwd(saved, cotangents):
    w_x, w_h, inputs, episode_start, record = saved
    d_h_final, d_outputs = cotangents
    d_w_x, d_b_x, d_w_h, d_b_h, d_h0, d_inputs = _gru_backward(
        w_x, w_h, inputs, episode_start, record, d_h_final, d_outputs
    )
    return d_w_x, d_b_x, d_w_h, d_b_h, d_h0, d_inputs, None


gru_sequence.defvjp(_gru_sequence_fwd, _gru_sequence_bwd)


@jax.custom_vjp
def gru_replay(w_x, b_x, w_h, b_h, inputs, record: GRURecord, episode_start):
    """The outputs [T, B, H] of a GRU pass that already ran and left ``record`` [T, B, H].

    w_x [D, 3H], b_x [3H] (input projection), w_h [H, 3H], b_h [3H], inputs [T, B, D],
    episode_start [T, B] bool. Forward: read the outputs off the record (no recurrence,
    no matmul). Backward: ``gru_sequence``'s, from the record. So this is the GRU
    unrolled over ``inputs`` from the carry the recorded pass started with, *provided*
    the record came from these same weights and inputs: the caller guarantees that
    (A2C records the rollout with the parameters it then differentiates at). No
    gradient flows into the record, the initial carry or the final carry.
    """
    return record.outputs()


def _gru_replay_fwd(w_x, b_x, w_h, b_h, inputs, record, episode_start):
    return record.outputs(), (w_x, w_h, inputs, record, episode_start)


def _gru_replay_bwd(saved, d_outputs):
    w_x, w_h, inputs, record, episode_start = saved
    d_h_final = jnp.zeros_like(record.h_prev[0])
    d_w_x, d_b_x, d_w_h, d_b_h, _, d_inputs = _gru_backward(
        w_x, w_h, inputs, episode_start, record, d_h_final, d_outputs
    )
    return d_w_x, d_b_x, d_w_h, d_b_h, d_inputs, None, None


gru_replay.defvjp(_gru_replay_fwd, _gru_replay_bwd)


class _FusedGRU(nn.Module):
    """GRU (the flax/cuDNN form) with its three gates in one input and one recurrent matmul.

    flax's GRUCell runs six small matmuls per step; fusing them is faster on CPU.
    """

    hidden_size: int

    def setup(self):
        self.input = nn.Dense(3 * self.hidden_size, name="input")
        self.recurrent = nn.Dense(
            3 * self.hidden_size, kernel_init=_stacked_orthogonal(3), name="recurrent"
        )

    def project(self, inputs: jax.Array) -> jax.Array:
        return self.input(inputs)

    def cell(self, h: jax.Array, inputs: jax.Array):
        """-> (h_new, reset_gate, update_gate, candidate, h_n), each [B, H]."""
        x_r, x_z, x_n = jnp.split(self.project(inputs), 3, axis=-1)
        return _gru_cell(self.recurrent(h), h, x_r, x_z, x_n)

    def __call__(self, h: jax.Array, inputs: jax.Array) -> jax.Array:
        return self.cell(h, inputs)[0]


class GRUCore(ReplayableCore):
    """Gated recurrent unit; carry [B, hidden_size], zeros at an episode start.

    ``step`` is one fused cell (the rollout). ``unroll`` (the PPO loss path) projects
    the whole input sequence in one matmul and runs the recurrence through
    ``gru_sequence``, whose hand-written backward pass sums the weight gradients inside
    its loop (faster than differentiating the scanned step; timings: CHANGELOG).
    ``step_recorded``/``replay`` (the A2C path) keep the rollout's gates and
    differentiate them with the same backward pass.
    """

    def __init__(self, hidden_size: int):
        self.hidden_size = hidden_size
        self.module = _FusedGRU(hidden_size)

    def init(self, key, input_size):
        return self.module.init(key, jnp.zeros((1, self.hidden_size)), jnp.zeros((1, input_size)))[
            "params"
        ]

    def initialize_carry(self, batch):
        return jnp.zeros((batch, self.hidden_size), jnp.float32)

    def step(self, params, carry, inputs):
        h = self.module.apply({"params": params}, carry, inputs)
        return h, h

    def step_recorded(self, params, carry, inputs):
        h_new, reset_gate, update_gate, candidate, h_n = self.module.apply(
            {"params": params}, carry, inputs, method=_FusedGRU.cell
        )
        return h_new, h_new, GRURecord(carry, reset_gate, update_gate, candidate, h_n)

    def unroll(self, params, carry, inputs, episode_start):
        projection, recurrent = params["input"], params["recurrent"]
        return gru_sequence(
            projection["kernel"],
            projection["bias"],
            recurrent["kernel"],
            recurrent["bias"],
            carry,
            inputs,
            episode_start,
        )

    def replay(self, params, inputs, episode_start, record, carry):
        # The record starts with the carry (its first h_prev).
        projection, recurrent = params["input"], params["recurrent"]
        return gru_replay(
            projection["kernel"],
            projection["bias"],
            recurrent["kernel"],
            recurrent["bias"],
            inputs,
            record,
            episode_start,
        )


# --------------------------------------------------------------------------- LSTM


class LSTMCore(Core):
    """flax OptimizedLSTMCell; carry (c [B, H], h [B, H]), zeros at an episode start."""

    def __init__(self, hidden_size: int):
        self.hidden_size = hidden_size
        self.module = nn.OptimizedLSTMCell(features=hidden_size)

    def init(self, key, input_size):
        return self.module.init(key, self.initialize_carry(1), jnp.zeros((1, input_size)))["params"]

    def initialize_carry(self, batch):
        zeros = jnp.zeros((batch, self.hidden_size), jnp.float32)
        return (zeros, zeros)

    def step(self, params, carry, inputs):
        return self.module.apply({"params": params}, carry, inputs)


# --------------------------------------------------------------------------- MLP


class _MLP(nn.Module):
    hidden_size: int

    @nn.compact
    def __call__(self, inputs):
        x = nn.tanh(nn.Dense(self.hidden_size)(inputs))
        return nn.tanh(nn.Dense(self.hidden_size)(x))


class MLPCore(Core):
    """No memory (the control): two tanh layers of the current input; the carry is empty."""

    def __init__(self, hidden_size: int):
        self.hidden_size = hidden_size
        self.module = _MLP(hidden_size)

    def init(self, key, input_size):
        return self.module.init(key, jnp.zeros((1, input_size)))["params"]

    def initialize_carry(self, batch):
        return ()

    def step(self, params, carry, inputs):
        return carry, self.module.apply({"params": params}, inputs)

    def unroll(self, params, carry, inputs, episode_start):
        return carry, self.module.apply({"params": params}, inputs)
