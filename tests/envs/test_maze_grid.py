"""maze-grid-v0: maze-v0's task and dynamics, with the layout in view after the same view bits."""

import jax
import jax.numpy as jnp
import numpy as np
from metarl.envs.maze_grid import GRID_CHANNELS, MazeGrid

from metarl import envs

OVERRIDES = dict(cells_per_side=4, horizon=6, prior_bank_size=16)
BATCH, STEPS = 8, 14  # two auto-resets


def rollout(name):
    env, params = envs.make(name, **OVERRIDES)
    keys = jax.random.split(jax.random.PRNGKey(0), BATCH)
    obs, state = jax.vmap(env.reset, (0, None))(keys, params)
    step = jax.jit(jax.vmap(env.step, (0, 0, 0, None)))
    observations, states, rewards = [obs], [state], []
    for t in range(STEPS):
        keys = jax.vmap(jax.random.fold_in, (0, None))(keys, t)
        actions = jax.random.randint(jax.random.PRNGKey(t), (BATCH,), 0, 4)
        obs, state, reward, *_ = step(keys, state, actions, params)
        observations.append(obs), states.append(state), rewards.append(reward)
    return env, params, observations, states, rewards


def test_same_task_and_dynamics_as_maze_v0_and_the_view_bits_first():
    env, params, grid_obs, grid_states, grid_rewards = rollout("maze-grid-v0")
    _, _, view_obs, states, rewards = rollout("maze-v0")
    assert isinstance(env, MazeGrid)
    side = 2 * OVERRIDES["cells_per_side"] - 1
    assert env.observation_space(params).shape == (9 + side * side * GRID_CHANNELS,)
    for ours, theirs in zip(grid_states, states, strict=True):
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(jnp.stack(grid_rewards), jnp.stack(rewards))
    for ours, theirs in zip(grid_obs, view_obs, strict=True):
        np.testing.assert_array_equal(ours[:, :9], theirs)


def test_grid_channels_are_the_interior_walls_and_the_agent():
    _, params, observations, states, _ = rollout("maze-grid-v0")
    side = 2 * OVERRIDES["cells_per_side"] - 1
    for obs, state in zip(observations, states, strict=True):
        grid = np.asarray(obs[:, 9:]).reshape(BATCH, side, side, GRID_CHANNELS)
        walls = np.asarray(params.layouts.walls)[np.asarray(state.layout)]
        np.testing.assert_array_equal(grid[..., 0], walls[:, 1:-1, 1:-1])
        cells = np.asarray(params.layouts.cells)[
            np.asarray(state.layout), np.asarray(state.position)
        ]
        assert np.all(grid[..., 1].sum(axis=(1, 2)) == 1)
        rows, cols = np.nonzero(grid[..., 1])[1:]
        np.testing.assert_array_equal(np.stack([rows, cols], -1) + 1, cells)
        assert not np.any(grid[..., 0] * grid[..., 1])  # the agent never stands in a wall
