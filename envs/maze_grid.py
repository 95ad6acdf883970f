"""The hidden-goal maze seen whole: ``maze-v0``'s task with a map of the maze in every observation.

``Maze`` shows only the 3 x 3 wall patch around the agent, which a convolutional
planner such as the DRC core (``metarl.agents.drc``) has nothing spatial to plan
over. ``MazeGrid`` is the same env (same tasks, dynamics, rewards, info and random
numbers: only ``get_obs`` differs) whose observation also holds the whole layout:

* first the 9 view bits of ``Maze`` (1 = wall, row-major, the agent's square in the
  middle), unchanged, so the maze reference agents, which read those bits from the
  front of the observation, play this env exactly as they play ``maze-v0``;
* then a square grid, row-major with its channels last: channel 0 is 1 on walls,
  channel 1 is 1 on the agent's square. The grid is the (2m-1) x (2m-1) interior:
  the outer wall is the same in every layout, so it carries no information and
  would only cost compute (a convolution's padding already marks the edge).

The goal stays hidden, as in ``Maze``: the agent must find it, remember where it
was, and walk back after each respawn, now with the map in view.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from gymnax.environments import spaces
from metarl.envs.maze import VIEW_SIZE, Maze, MazeConfig, MazeParams, MazeState, build_maze

GRID_CHANNELS = 2
"""Channels of the grid part: walls, agent."""


def grid_side(params: MazeParams) -> int:
    """Side of the observed grid: the (2m-1) x (2m-1) interior of the maze."""
    return 2 * params.cells_per_side - 1


class MazeGrid(Maze):
    """``Maze`` whose observation is [3 x 3 view bits, interior grid (walls, agent) flattened]."""

    def __init__(self, config: MazeConfig | None = None, params: MazeParams | None = None):
        super().__init__(config)
        # The params build_maze_grid already made (None: built on first use, as in Maze).
        self._default_params = params

    @property
    def name(self) -> str:
        return "MazeGrid-metarl"

    def get_obs(self, state: MazeState, params: MazeParams, key=None) -> jax.Array:
        view = super().get_obs(state, params)
        side = grid_side(params)
        walls = params.layouts.walls[state.layout, 1:-1, 1:-1]
        row, col = params.layouts.cells[state.layout, state.position].astype(jnp.int32) - 1
        squares = jnp.arange(side)
        agent = (squares[:, None] == row) & (squares[None, :] == col)
        grid = jnp.stack([walls, agent], axis=-1).astype(jnp.float32)
        return jnp.concatenate([view, grid.reshape(-1)])

    def observation_space(self, params: MazeParams) -> spaces.Box:
        size = VIEW_SIZE + grid_side(params) ** 2 * GRID_CHANNELS
        return spaces.Box(0.0, 1.0, (size,), jnp.float32)


def build_maze_grid(config: MazeConfig, owner: str) -> tuple[MazeGrid, MazeParams]:
    _, params = build_maze(config, owner)
    return MazeGrid(config, params), params
