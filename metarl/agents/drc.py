"""The Deep Repeated ConvLSTM core, DRC(D, N) (Guez et al. 2019, "An investigation of
model-free planning"; the form of Taufeeque et al. 2024, "Planning in a recurrent
neural network that plays Sokoban").

Per env step:

* the core input (the RL^2 observation, flat) is split into a square grid
  [S, S, C_in] and its non-spatial rest (inputs before the grid, e.g. the maze's
  view bits, and the RL^2 previous action, reward and trial flag after it); the
  rest is broadcast to constant planes beside the grid, so the previous reward, the
  only sign of where a hidden goal was, reaches the recurrent memory at every square;
* an encoder of two 3 x 3 conv layers (``channels`` each, ReLU) maps that to e [S, S, C];
* N ticks, each a pass through D stacked ConvLSTM layers (3 x 3 kernels, C channels).
  Layer d at tick n reads the encoded observation e (the skip connection to every
  layer) and a boundary plane (1 on the grid's edge: Guez's boundary padding, as
  Taufeeque's "fence"), the output of the layer below at this tick (for the first
  layer: the top layer's output at the previous tick, the top-down skip), and its own
  previous hidden state h, both directly (the recurrent convolution) and
  pool-and-inject: h max- and mean-pooled over space, linearly projected to C and
  broadcast back over the grid;
* the output: the top layer's h after the last tick plus e (the encoder's skip to the
  head), flattened, through one ReLU layer of ``hidden_size``: what the policy and
  value heads (and the probes) read.

The carry is D pairs (c, h), each [B, S, S, C], zeros at an episode start. One
``step`` is N ticks, so a thinking step (``ActorCritic.core_step`` again on the same
input) is N more ticks, and N ticks in one step equal N one-tick steps.

The convolution of each layer's inputs is split in two, which is the same linear map
as one convolution over their concatenation: the encoded observation and the
boundary are convolved once per env step (they are the same at every tick), the
layer below, the injected pool and h once per tick.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from metarl.agents.cores import Core
from metarl.config import AgentConfig
from metarl.errors import ConfigError

KERNEL = (3, 3)
ENCODER_LAYERS = 2


@dataclasses.dataclass(frozen=True)
class DRCShape:
    """Sizes of a DRC core and where its grid lies in the core input."""

    depth: int = 3
    """D: stacked ConvLSTM layers."""
    ticks: int = 3
    """N: passes through the D layers per step."""
    channels: int = 32
    """Channels of the encoder and of every ConvLSTM layer."""
    side: int = 7
    """S: the grid is S x S."""
    grid_channels: int = 2
    """C_in: channels of the grid in the input (row-major, channels last)."""
    grid_start: int = 0
    """Inputs before the grid (non-spatial, like everything after it)."""
    input_size: int = 7 * 7 * 2
    """Width of the whole core input."""

    @property
    def grid_size(self) -> int:
        return self.side * self.side * self.grid_channels

    @property
    def non_spatial(self) -> int:
        """Inputs outside the grid: each becomes one constant plane beside it."""
        return self.input_size - self.grid_size

    @classmethod
    def from_config(cls, config: AgentConfig, obs_size: int, num_actions: int) -> DRCShape:
        """The shape ``ActorCritic`` builds: ``config``'s drc fields, and the grid found in the
        RL^2 input (the wrapper appends the one-hot previous action, the previous reward and
        the trial flag after the observation)."""
        return cls.for_inputs(
            obs_size,
            num_actions + 2,
            depth=config.drc_depth,
            ticks=config.drc_ticks,
            channels=config.drc_channels,
            grid_channels=config.drc_input_channels,
        )

    @classmethod
    def for_inputs(
        cls,
        input_size: int,
        trailing: int,
        *,
        depth: int,
        ticks: int,
        channels: int,
        grid_channels: int,
    ) -> DRCShape:
        """The shape for core inputs of ``input_size`` whose last ``trailing`` entries follow the
        grid (the RL^2 inputs: one-hot previous action, reward, trial flag).

        The observation must end with a square grid of ``grid_channels`` channels; the
        largest such grid that fits is taken, and what precedes it must be shorter than
        one row of it and the grid at least 3 x 3, else ConfigError (a flat observation,
        or ``agent.drc_input_channels`` not matching the env's grid).
        """
        observation = input_size - trailing
        side = math.isqrt(max(observation, 0) // grid_channels)
        start = observation - side * side * grid_channels
        if side < 3 or start >= side * grid_channels:
            raise ConfigError(
                f"agent: core 'drc' needs an observation ending in a square grid of "
                f"agent.drc_input_channels = {grid_channels} channels, but it has {observation} "
                f"inputs (besides {trailing} RL^2 inputs): use a grid env such as maze-grid-v0, "
                "set agent.drc_input_channels to its grid's channels, and agent.embed_size = 0"
            )
        return cls(depth, ticks, channels, side, grid_channels, start, input_size)


def boundary_plane(side: int) -> jax.Array:
    """[S, S, 1]: 1 on the edge squares of the grid, 0 inside."""
    inside = jnp.zeros((side - 2, side - 2))
    return jnp.pad(inside, 1, constant_values=1.0)[..., None]


def conv3x3(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """3 x 3 "SAME" convolution (cross-correlation, zero padding), x [B, S, S, C_in], kernel
    [3, 3, C_in, C_out] -> [B, S, S, C_out]: flax's ``nn.Conv``, written as one matmul over
    the 9 shifted copies of x. Why: inside a loop (the ticks, the rollout's scan) XLA:CPU
    differentiates its convolution op pathologically slowly: the gradient of one DRC(3, 3)
    step at 64 envs and 32 channels took 9.3 s against 0.15 s forward, 0.9 s this way (a
    9-step scan of one 3 x 3 conv: 9.9 s against 0.7 s). Slices, a concatenation and a
    matmul differentiate at matmul speed in or out of a loop.
    """
    side_y, side_x = x.shape[1], x.shape[2]
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    shifted = [padded[:, dy : dy + side_y, dx : dx + side_x] for dy in range(3) for dx in range(3)]
    return jnp.concatenate(shifted, axis=-1) @ kernel.reshape(-1, kernel.shape[-1])


class Conv3x3(nn.Module):
    """``nn.Conv(features, (3, 3), padding="SAME")`` (the same params) computed by ``conv3x3``."""

    features: int
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), KERNEL + (x.shape[-1], self.features)
        )
        y = conv3x3(x, kernel)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y


def kernel_taps_inside(side: int) -> jax.Array:
    """[S, S, 3, 3]: 1 where a 3 x 3 "SAME" kernel tap at square (y, x) reads inside the grid."""
    offsets = jnp.arange(side)[:, None] + jnp.arange(3)[None, :] - 1  # [S, 3]
    inside = (offsets >= 0) & (offsets < side)
    return (inside[:, None, :, None] & inside[None, :, None, :]).astype(jnp.float32)


# Kernels summed into the same gates share the variance of one lecun-normal convolution
# over their inputs concatenated, in proportion to their inputs: [below, h] 2C, the plane C.
VARIANCE_SHARE = {"recurrent": 2 / 3, "injected": 1 / 3}
TRUNCATED_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


def draw_params(key: jax.Array, shapes) -> dict:
    """Params of the given shapes as flax initialises them by default (kernels lecun-normal:
    truncated normal of variance 1 / fan-in, times ``VARIANCE_SHARE``; biases zero), drawn
    in one random call: XLA:CPU takes seconds to compile each separate draw, which made
    initialising the core's 17 tensors take half a minute.
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    names = [[getattr(part, "key", "") for part in path] for path, _ in leaves]
    kernels = [i for i, name in enumerate(names) if name[-1] != "bias"]
    sizes = [math.prod(leaves[i][1].shape) for i in kernels]
    ends = list(itertools.accumulate(sizes))
    noise = jnp.split(jax.random.truncated_normal(key, -2.0, 2.0, (ends[-1],)), ends[:-1])
    values = [jnp.zeros(leaf.shape, leaf.dtype) for _, leaf in leaves]
    for i, draw in zip(kernels, noise, strict=True):
        shape = leaves[i][1].shape
        share = VARIANCE_SHARE.get(names[i][-1], VARIANCE_SHARE.get(names[i][-2], 1.0))
        scale = math.sqrt(share / math.prod(shape[:-1])) / TRUNCATED_STD
        values[i] = (scale * draw).reshape(shape).astype(leaves[i][1].dtype)
    return jax.tree_util.tree_unflatten(treedef, values)


class _ConvLSTMLayer(nn.Module):
    """One ConvLSTM layer with pool-and-inject; gates i, f, g, o from 3 x 3 convolutions."""

    channels: int
    side: int

    def setup(self):
        gates = 4 * self.channels
        self.observed = Conv3x3(gates)
        # Over [layer below, pool-and-inject plane, own h]: one convolution, kept as two
        # kernels (see ``injection``). DRCCore.init draws the values (``draw_params``).
        self.recurrent = Conv3x3(gates, use_bias=False)
        self.injected = self.param(
            "injected", nn.initializers.zeros, KERNEL + (self.channels, gates)
        )
        self.pool = nn.Dense(self.channels, use_bias=False)

    def observe(self, skip: jax.Array) -> jax.Array:
        """The gates' part from [encoded observation, boundary] [B, S, S, C+1]: once per step."""
        return self.observed(skip)

    def injection(self) -> jax.Array:
        """[S, S, C, 4C]: the convolution of a plane constant over the grid, per square.

        The injected plane is the same at every square, so its 3 x 3 "SAME" convolution
        at (y, x) is the sum of the kernel taps that fall inside the grid applied to
        that one vector: 9x fewer multiplications than convolving the broadcast plane.
        """
        return jnp.einsum("yxhw,hwco->yxco", kernel_taps_inside(self.side), self.injected)

    def __call__(self, state, below: jax.Array, observed: jax.Array, injection: jax.Array):
        """One tick: state (c, h) [B, S, S, C], the layer below's h, ``observe``'s gates and
        ``injection()``."""
        c, h = state
        pooled = jnp.concatenate([jnp.max(h, axis=(1, 2)), jnp.mean(h, axis=(1, 2))], axis=-1)
        injected = jnp.einsum("bc,yxco->byxo", self.pool(pooled), injection)
        z = observed + injected + self.recurrent(jnp.concatenate([below, h], axis=-1))
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return c, h


class _DRCNetwork(nn.Module):
    shape: DRCShape
    hidden_size: int

    def setup(self):
        channels = self.shape.channels
        self.encoder = [Conv3x3(channels) for _ in range(ENCODER_LAYERS)]
        self.layers = [_ConvLSTMLayer(channels, self.shape.side) for _ in range(self.shape.depth)]
        self.readout = nn.Dense(self.hidden_size)

    def encode(self, inputs: jax.Array) -> jax.Array:
        """Core inputs [B, input_size] -> encoded observation [B, S, S, C]."""
        shape = self.shape
        batch, side = inputs.shape[0], shape.side
        start, end = shape.grid_start, shape.grid_start + shape.grid_size
        grid = inputs[:, start:end].reshape(batch, side, side, shape.grid_channels)
        rest = jnp.concatenate([inputs[:, :start], inputs[:, end:]], axis=-1)
        planes = jnp.broadcast_to(rest[:, None, None, :], (batch, side, side, rest.shape[-1]))
        x = jnp.concatenate([grid, planes], axis=-1)
        for conv in self.encoder:
            x = jax.nn.relu(conv(x))
        return x

    def prepare(self, inputs: jax.Array):
        """What every tick of a step reads: (encoded [B, S, S, C], per layer ``observe``'s gates,
        per layer ``injection()``)."""
        encoded = self.encode(inputs)
        boundary = jnp.broadcast_to(boundary_plane(self.shape.side), encoded.shape[:-1] + (1,))
        skip = jnp.concatenate([encoded, boundary], axis=-1)
        observed = tuple(layer.observe(skip) for layer in self.layers)
        return encoded, observed, tuple(layer.injection() for layer in self.layers)

    def tick(self, carry, observed, injections):
        """One pass through the D layers: carry -> carry."""
        carry = list(carry)
        below = carry[-1][1]  # the top-down skip: the top layer's h at the previous tick
        for d, layer in enumerate(self.layers):
            carry[d] = layer(carry[d], below, observed[d], injections[d])
            below = carry[d][1]
        return tuple(carry)

    def output(self, carry, encoded: jax.Array) -> jax.Array:
        """[B, H]: the top layer's h plus the encoded observation, through the ReLU layer."""
        out = carry[-1][1] + encoded
        return jax.nn.relu(self.readout(out.reshape(out.shape[0], -1)))

    def __call__(self, carry, inputs: jax.Array):
        """One env step of one tick (``DRCCore.step`` loops the ticks): creates the params."""
        encoded, observed, injections = self.prepare(inputs)
        carry = self.tick(carry, observed, injections)
        return carry, self.output(carry, encoded)


class DRCCore(Core):
    """DRC(D, N); carry: D pairs (c, h) [B, S, S, C], zeros at an episode start.

    ``hidden_size`` is the width of the ReLU layer after the convolutional memory,
    the core output the heads read; ``shape.channels`` is the memory's width.
    """

    def __init__(self, hidden_size: int, shape: DRCShape):
        self.hidden_size = hidden_size
        self.shape = shape
        self.module = _DRCNetwork(shape, hidden_size)

    def init(self, key, input_size):
        if input_size != self.shape.input_size:
            raise ConfigError(
                f"agent: core 'drc' was shaped for {self.shape.input_size} inputs, got "
                f"{input_size} (agent.embed_size must be 0: the DRC encodes the grid itself)"
            )
        inputs = jnp.zeros((1, input_size), jnp.float32)
        shapes = jax.eval_shape(self.module.init, key, self.initialize_carry(1), inputs)
        return jax.jit(lambda key: draw_params(key, shapes["params"]))(key)

    def initialize_carry(self, batch):
        side, channels = self.shape.side, self.shape.channels
        zeros = jnp.zeros((batch, side, side, channels), jnp.float32)
        return tuple((zeros, zeros) for _ in range(self.shape.depth))

    def step(self, params, carry, inputs):
        """N ticks on ``inputs``: the ticks are a loop, so the program holds one tick's layers."""
        module, variables = self.module, {"params": params}
        encoded, observed, injections = module.apply(variables, inputs, method=module.prepare)

        def tick(_, carry):
            return module.apply(variables, carry, observed, injections, method=module.tick)

        carry = jax.lax.fori_loop(0, self.shape.ticks, tick, carry)
        return carry, module.apply(variables, carry, encoded, method=module.output)
