"""The DRC core: its shapes and parameter count, the grid it finds in the RL^2 input, resets
at episode starts, N ticks = N one-tick steps, thinking steps, and a few training updates
on the maze with the whole layout in view (maze-grid-v0)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metarl import envs
from metarl.agents import ActorCritic, DRCCore, DRCShape, make_core
from metarl.agents.drc import Conv3x3, kernel_taps_inside
from metarl.config import (
    AgentConfig,
    AlgoConfig,
    EnvConfig,
    ExperimentConfig,
    RunConfig,
    validate,
)
from metarl.errors import ConfigError

B, H, C = 3, 8, 4  # batch, output MLP width, ConvLSTM channels
SIDE, GRID_CHANNELS, BEFORE, AFTER = 5, 2, 3, 6  # a 5 x 5 x 2 grid, 3 inputs before, 6 after
INPUT = BEFORE + SIDE * SIDE * GRID_CHANNELS + AFTER


def shape(depth=3, ticks=3):
    return DRCShape(depth, ticks, C, SIDE, GRID_CHANNELS, BEFORE, INPUT)


def build(depth=3, ticks=3):
    core = make_core("drc", H, drc=shape(depth, ticks))
    return core, core.init(jax.random.PRNGKey(0), INPUT)


def inputs(length, key=1):
    return jax.random.uniform(jax.random.PRNGKey(key), (length, B, INPUT))


def test_drc_3_3_shapes_and_parameter_count():
    core, params = build()
    assert isinstance(core, DRCCore)
    carry = core.initialize_carry(B)
    assert [leaf.shape for leaf in jax.tree.leaves(carry)] == [(B, SIDE, SIDE, C)] * 6
    new_carry, out = jax.jit(core.step)(params, carry, inputs(1)[0])
    assert out.shape == (B, H)
    assert jax.tree.structure(new_carry) == jax.tree.structure(carry)
    # Counted by hand from the architecture (kernels 3 x 3; gates 4C):
    non_spatial = BEFORE + AFTER  # planes beside the grid in the encoder's input
    encoder = (9 * (GRID_CHANNELS + non_spatial) * C + C) + (9 * C * C + C)
    per_layer = (
        (9 * (C + 1) * 4 * C + 4 * C)  # encoded observation + boundary plane -> gates, bias
        + 9 * 2 * C * 4 * C  # [layer below, own h] -> gates
        + 9 * C * 4 * C  # the pool-and-inject plane -> gates
        + 2 * C * C  # max and mean pool -> C (linear, no bias)
    )
    readout = SIDE * SIDE * C * H + H
    count = sum(leaf.size for leaf in jax.tree.leaves(params))
    assert count == encoder + 3 * per_layer + readout == 8844


def test_the_grid_is_found_in_the_maze_grid_input():
    env, params = envs.make("maze-grid-v0", cells_per_side=4, prior_bank_size=8)
    obs_size = envs.RL2Wrapper(env).observation_size(params)
    found = DRCShape.from_config(AgentConfig(core="drc", embed_size=0), obs_size, num_actions=4)
    # 9 view bits, then the 7 x 7 interior x (walls, agent), then 4 + 2 RL^2 inputs.
    assert (found.side, found.grid_start, found.grid_channels, found.input_size) == (7, 9, 2, 113)
    assert (found.depth, found.ticks, found.channels) == (3, 3, 32)


def test_a_flat_observation_or_an_embedding_is_refused_by_field_name():
    env, params = envs.make("maze-v0", cells_per_side=4, prior_bank_size=8)
    obs_size = envs.RL2Wrapper(env).observation_size(params)  # 9 view bits + 6
    with pytest.raises(ConfigError, match="agent.drc_input_channels"):
        ActorCritic(AgentConfig(core="drc", embed_size=0), obs_size, 4)
    config = ExperimentConfig(env=EnvConfig("maze-grid-v0"), agent=AgentConfig(core="drc"))
    with pytest.raises(ConfigError, match="agent.embed_size"):
        validate(config)
    zero_ticks = AgentConfig(core="drc", embed_size=0, drc_ticks=0)
    with pytest.raises(ConfigError, match="agent.drc_ticks"):
        validate(ExperimentConfig(env=EnvConfig("maze-grid-v0"), agent=zero_ticks))


def test_n_ticks_equal_n_one_tick_steps():
    two, params = build(ticks=2)
    one = make_core("drc", H, drc=shape(ticks=1))
    x = inputs(1)[0]
    carry = jax.tree.map(lambda z: z + 0.1, two.initialize_carry(B))  # not the trivial zeros
    carry_two, out_two = jax.jit(two.step)(params, carry, x)
    step_one = jax.jit(one.step)
    carry_one, out_one = step_one(params, *step_one(params, carry, x)[:1], x)
    np.testing.assert_allclose(out_two, out_one, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(carry_two), jax.tree.leaves(carry_one), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_conv3x3_is_flax_conv():
    x = jax.random.normal(jax.random.PRNGKey(0), (B, SIDE, SIDE + 1, 3))  # not square either
    conv = nn.Conv(C, (3, 3), padding="SAME")
    params = conv.init(jax.random.PRNGKey(1), x)
    ours = Conv3x3(C)
    assert jax.tree.map(jnp.shape, ours.init(jax.random.PRNGKey(1), x)) == jax.tree.map(
        jnp.shape, params
    )
    np.testing.assert_allclose(ours.apply(params, x), conv.apply(params, x), rtol=1e-5, atol=1e-5)


def test_pool_and_inject_equals_convolving_the_broadcast_plane():
    # The layer applies the injection kernel to the pooled vector square by square
    # (kernel_taps_inside); that must be the 3 x 3 "SAME" convolution of the plane.
    kernel = jax.random.normal(jax.random.PRNGKey(0), (3, 3, C, 4 * C))
    pooled = jax.random.normal(jax.random.PRNGKey(1), (B, C))
    per_square = jnp.einsum("yxhw,hwco->yxco", kernel_taps_inside(SIDE), kernel)
    fast = jnp.einsum("bc,yxco->byxo", pooled, per_square)
    plane = jnp.broadcast_to(pooled[:, None, None, :], (B, SIDE, SIDE, C))
    conv = nn.Conv(4 * C, (3, 3), padding="SAME", use_bias=False)
    slow = conv.apply({"params": {"kernel": kernel}}, plane)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)


def test_episode_start_resets_the_carry_and_thinking_moves_it():
    agent = ActorCritic(
        AgentConfig(core="drc", hidden_size=H, embed_size=0, drc_channels=C), INPUT, AFTER - 2
    )
    assert agent.core.shape == shape()
    params = agent.init_params(jax.random.PRNGKey(0))
    x = inputs(1)[0]
    step, core_step = jax.jit(agent.step), jax.jit(agent.core_step)
    fresh, out_fresh = step(params, agent.initialize_carry(B), x, jnp.ones(B, bool))
    carry, _ = step(params, fresh, inputs(1, key=2)[0], jnp.zeros(B, bool))
    starts = jnp.array([True, False, True])
    _, out = step(params, carry, x, starts)
    np.testing.assert_allclose(out.logits[starts], out_fresh.logits[starts], rtol=1e-6)
    assert not np.allclose(out.hidden[1], out_fresh.hidden[1])  # row 1 kept its memory
    # A thinking step is one more step (N more ticks) on the same input: it sees memory,
    # and it is pure.
    _, out_thought = core_step(params, fresh, x)
    assert not np.allclose(out_thought.hidden, out_fresh.hidden)
    _, again = core_step(params, fresh, x)
    np.testing.assert_array_equal(again.hidden, out_thought.hidden)


def test_unroll_equals_steps_with_resets():
    core, params = build(depth=2, ticks=2)
    xs = inputs(4)
    starts = jnp.zeros((4, B), bool).at[0].set(True).at[2, 1].set(True)
    carry0 = core.initialize_carry(B)
    _, unrolled = jax.jit(core.unroll)(params, carry0, xs, starts)
    carry, stepped, step = carry0, [], jax.jit(core.step)
    for t in range(4):
        carry, out = step(params, core.reset(carry, starts[t]), xs[t])
        stepped.append(out)
    np.testing.assert_allclose(unrolled, jnp.stack(stepped), rtol=1e-5, atol=1e-6)


# A2C differentiates through the rollout, PPO through Core.unroll; the same scanned step.
@pytest.mark.parametrize("algo", ["a2c", pytest.param("ppo", marks=pytest.mark.slow)])
def test_drc_trains_on_the_maze_grid_without_nan(algo):
    from metarl.training import make_trainer

    config = ExperimentConfig(
        env=EnvConfig("maze-grid-v0", {"cells_per_side": 4, "horizon": 8, "prior_bank_size": 8}),
        agent=AgentConfig(core="drc", hidden_size=H, embed_size=0, drc_channels=C),
        algo=AlgoConfig(name=algo, num_minibatches=2, update_epochs=1),
        run=RunConfig(num_envs=4, rollout_length=4, total_env_steps=64, updates_per_chunk=3),
    )
    trainer = make_trainer(config)
    state = trainer.init(jax.random.PRNGKey(0))
    params0 = jax.tree.map(np.asarray, state.params)
    state, metrics = trainer.train_chunk(state)
    assert np.all(np.asarray(metrics["loss_is_finite"]))
    for name in ("total_loss", "grad_norm", "entropy"):
        assert np.all(np.isfinite(np.asarray(metrics[name]))), name
    moved = [
        not np.allclose(a, np.asarray(b))
        for a, b in zip(jax.tree.leaves(params0), jax.tree.leaves(state.params), strict=True)
    ]
    assert all(moved)  # every DRC weight (and the heads) received a gradient step
