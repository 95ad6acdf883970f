"""Mazes with a hidden goal (Dark-Room / MetaMaze style): find it, respawn, find it again.

Layouts and their precomputed tables (randomized Kruskal mazes, all-pairs distances)
live in ``metarl.envs.maze_layouts``.

Task and trials. A task is (layout, goal, alt_goal). The goal is hidden: the agent
sees only the 3 x 3 patch of walls around it (1 = wall, row-major, its own square in
the middle; the RL^2 wrapper adds the previous action, reward and trial flag).
Actions are up, right, down, left; a move into a wall stays put. Reaching the goal
pays ``goal_reward`` and respawns the agent on a uniformly random free square other
than the goal: a new trial of the same task. An episode is ``horizon`` steps, never
ends early, and auto-resets with a fresh task and a random start square.

Task distributions. The finite-pool / infinite / held-out structure of
``metarl.envs.distributions``, with the *layout* as the pooled object so that
held-out layouts are disjoint from training layouts (not merely held-out (layout,
goal) pairs). Layouts are drawn in numpy (``maze_layouts.sample_layouts``, vectorized over
mazes) rather than through ``distributions.build_task_pools``, whose per-task JAX
indexing takes about two minutes for the 4096 + 1024 layouts of the defaults:

* ``num_tasks = N``: the first N distinct layouts of seed stream (task_seed, 0), each
  with one goal and one alternative goal drawn with task_seed, so exactly N distinct
  tasks; task i uses layout i. Smaller pools are prefixes of larger ones.
* ``num_tasks = None`` ("infinite"): NOT an unbounded prior. Layouts come uniformly
  from a bank of ``prior_bank_size`` distinct layouts (default 4096; the same stream,
  so every finite pool is inside it) generated at make time, and the goal and
  alternative goal are drawn afresh every episode; ``task_id`` is -1. Mazes cannot be
  generated and solved inside ``reset`` cheaply.
* ``split = 'held_out'``: ``held_out_size`` layouts from stream (task_seed, 1), each
  with a fixed goal, none of them among the training layouts (the pool, or the bank
  for the infinite setting) of the same task_seed, num_tasks and prior_bank_size.

Goal drift (shared ``metarl.envs.drift``): ``change_point`` redraws the goal with
``hazard`` per step, uniformly among the layout's squares other than the current goal
and the alternative goal (so every change point really moves it); ``reversal`` swaps
the goal and the alternative goal at the scheduled steps (and back at the next). If
the moved goal lands on the agent, the agent is respawned as after a trial, without
reward or trial boundary. After any goal move the trial's difficulty label is
re-measured from the agent's square at that moment (the search starts over there).

``info`` describes the step: the square the action was taken in (``position``), the
goal in force (``goal``), ``shortest_path`` (BFS steps from there to the goal),
``optimal_action`` (the first of up/right/down/left that shortens it), the trial's
``trial_shortest_path`` (from the trial's start square) and ``detour_ratio`` (that
over the Manhattan distance), and what the step did: ``trial_boundary`` (goal
reached), ``change_point``, ``reversal``, ``drift_event`` (the goal moved, in force
from the next step).

Random numbers: one ``jax.random.uniform`` call per step feeds the respawn, the drift
and the auto-reset (``Maze.step`` overrides gymnax's to share them: the reset draw is
kept only when the episode ends, which is by time, never by chance). An index in
[0, n) is floor(u * n), whose bias from the 2^-23 grid of float32 uniforms is below
n * 2^-23 (6e-6 for F = 49).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces
from metarl.envs import distributions
from metarl.envs.base import MetaEnv
from metarl.envs.distributions import TaskSource, TaskSourceConfig
from metarl.envs.drift import (
    DriftConfig,
    DriftEvent,
    DriftParams,
    apply_drift_uniform,
    uniforms_needed,
)
from metarl.envs.maze_layouts import (
    MOVES,  # noqa: F401  (re-exported: the maze baselines import it from here)
    VIEW_OFFSETS,
    MazeLayouts,
    distinct_layouts,
    index_dtype,
    layout_fingerprints,
    num_free_cells,
    tabulate_layouts,
)

from metarl.errors import ConfigError, check_range

ACTIONS = ("up", "right", "down", "left")
VIEW_SIZE = len(VIEW_OFFSETS)
MAZE_DRIFT_KINDS = ("change_point", "reversal")  # a goal square cannot random-walk
MIN_CELLS_PER_SIDE = 4  # 3 x 3 cells have only 192 perfect mazes: too few for the pools
MAX_CELLS_PER_SIDE = 12
MAX_TABLE_BYTES = 512 * 2**20
# Seed streams under task_seed: training layouts (pool or bank), held-out layouts, and goals.
_LAYOUT_STREAMS = {"train": 0, "held_out": 1}
_GOAL_STREAMS = {"train": 2, "held_out": 3}


@struct.dataclass
class MazeTask:
    layout: jax.Array
    """int32 index into params.layouts."""
    goal: jax.Array
    """int32 free-square index of the goal."""
    alt_goal: jax.Array
    """int32 free-square index the goal swaps with at a reversal (never the goal)."""


@struct.dataclass
class MazeGoals:
    """The part of a task that drift moves."""

    goal: jax.Array
    alt_goal: jax.Array


@struct.dataclass
class MazeState(environment.EnvState):
    time: jax.Array
    layout: jax.Array
    goal: jax.Array
    alt_goal: jax.Array
    position: jax.Array
    """Free-square index of the agent."""
    trial_start: jax.Array
    """Free-square index the current trial's search started from (its difficulty label)."""
    trial: jax.Array
    """Goals reached so far this episode."""


@struct.dataclass
class MazeParams(environment.EnvParams):
    layouts: MazeLayouts | None = None
    """Tables of every layout episodes can use (the pool's, or the prior bank's)."""
    task_pool: MazeTask | None = None
    """Tasks to draw from (task i uses layout i); None: a bank layout and fresh goals every episode."""
    num_active_tasks: jax.Array | None = None
    """Padded pools (``pool_capacity``): episodes draw among the first this many tasks, a traced
    int32; None: all of ``task_pool`` (replace both together on padded params)."""
    drift: DriftParams = DriftParams()
    goal_reward: float = 10.0
    """Reward for reaching the goal."""
    max_steps_in_episode: int = struct.field(pytree_node=False, default=200)
    cells_per_side: int = struct.field(pytree_node=False, default=5)
    num_free_cells: int = struct.field(pytree_node=False, default=49)
    """F = 2 m^2 - 1 + extra_openings, the same in every layout."""


_index = distributions.index_from_uniform  # uniform index in [0, n) from u ~ U[0, 1)


def _index_except(u: jax.Array, n: int, excluded: jax.Array) -> jax.Array:
    """Uniform index in [0, n) other than ``excluded``."""
    i = _index(u, n - 1)
    return i + (i >= excluded)


def _index_except_two(u: jax.Array, n: int, a: jax.Array, b: jax.Array) -> jax.Array:
    """Uniform index in [0, n) other than the distinct ``a`` and ``b``."""
    i = _index(u, n - 2)
    i = i + (i >= jnp.minimum(a, b))
    return i + (i >= jnp.maximum(a, b))


class Maze(MetaEnv[MazeState, MazeParams]):
    """Hidden-goal maze: reach the goal, respawn, reach it again, for a fixed number of steps."""

    def __init__(self, config: MazeConfig | None = None):
        super().__init__()
        self._config = config if config is not None else MazeConfig()
        self._default_params: MazeParams | None = None

    @property
    def name(self) -> str:
        return "Maze-metarl"

    @property
    def num_actions(self) -> int:
        return len(ACTIONS)

    @property
    def default_params(self) -> MazeParams:
        # Built on first use: making the layouts and their BFS tables takes a moment.
        if self._default_params is None:
            self._default_params = _build_params(self._config, "maze")
        return self._default_params

    # Random numbers per step: [respawn, drift..., change-point goal | reset...].
    @staticmethod
    def _transition_uniforms(params: MazeParams) -> int:
        count = 1 + uniforms_needed(params.drift, 0)
        return count + ("change_point" in params.drift.kinds)

    @staticmethod
    def _reset_uniforms(params: MazeParams) -> int:
        if params.task_pool is None:
            return 4  # layout, goal, alternative goal, start square
        return 1 + (distributions.pool_size(params.task_pool) > 1)

    def _fresh_episode(self, uniforms: jax.Array, params: MazeParams) -> MazeState:
        num_cells = params.num_free_cells
        if params.task_pool is None:
            layout = _index(uniforms[0], params.layouts.view.shape[0])
            goal = _index(uniforms[1], num_cells)
            alt_goal = _index_except(uniforms[2], num_cells, goal)
        else:
            pool = params.task_pool
            if distributions.pool_size(pool) == 1:  # then _reset_uniforms drew no task uniform
                task_id = jnp.int32(0)
            else:
                count = distributions.active_count(pool, params.num_active_tasks)
                task_id = _index(uniforms[1], count)
            layout, goal, alt_goal = (
                pool.layout[task_id],
                pool.goal[task_id],
                pool.alt_goal[task_id],
            )
        start = _index_except(uniforms[3 if params.task_pool is None else 0], num_cells, goal)
        zero = jnp.int32(0)
        return MazeState(
            time=zero,
            layout=layout,
            goal=goal,
            alt_goal=alt_goal,
            position=start,
            trial_start=start,
            trial=zero,
        )

    def _transition(
        self, uniforms: jax.Array, state: MazeState, action: jax.Array, params: MazeParams
    ):
        layouts, num_cells, drift = params.layouts, params.num_free_cells, params.drift
        moved = layouts.neighbours[state.layout, state.position, action].astype(jnp.int32)
        reached = moved == state.goal
        goals = MazeGoals(goal=state.goal, alt_goal=state.alt_goal)
        if drift.active:
            used = 1 + uniforms_needed(drift, 0)
            if "change_point" in drift.kinds:
                new_goal = _index_except_two(uniforms[used], num_cells, state.goal, state.alt_goal)
                fresh = MazeGoals(goal=new_goal, alt_goal=state.alt_goal)
            else:
                fresh = None
            goals, event = apply_drift_uniform(
                uniforms[1:used],
                goals,
                state.time,
                drift,
                fresh_task=fresh,
                reverse=lambda g: MazeGoals(goal=g.alt_goal, alt_goal=g.goal),
            )
            respawn = jnp.logical_or(reached, moved == goals.goal)
        else:
            no_event = jnp.zeros((), bool)
            event = DriftEvent(change_point=no_event, reversal=no_event)
            respawn = reached
        position = jnp.where(respawn, _index_except(uniforms[0], num_cells, goals.goal), moved)
        new_search = jnp.logical_or(respawn, event.any) if drift.active else respawn
        stepped = MazeState(
            time=state.time + 1,
            layout=state.layout,
            goal=goals.goal,
            alt_goal=goals.alt_goal,
            position=position,
            trial_start=jnp.where(new_search, position, state.trial_start),
            trial=state.trial + reached,
        )
        reward = jnp.where(reached, params.goal_reward, 0.0).astype(jnp.float32)
        return stepped, reward, self._info(state, params, reached, event)

    def _info(
        self, state: MazeState, params: MazeParams, reached: jax.Array, event: DriftEvent
    ) -> dict:
        layouts, layout = params.layouts, state.layout
        squares = jnp.stack([state.position, state.trial_start, state.goal])
        cells = layouts.cells[layout, squares].astype(jnp.int32)
        beyond = layouts.neighbours[layout, state.position].astype(jnp.int32)
        # One gather: from the agent's square, the trial's start and the four squares beyond.
        sources = jnp.concatenate([squares[:2], beyond])
        to_goal = layouts.distance[layout, sources, state.goal].astype(jnp.int32)
        manhattan = jnp.abs(cells[1] - cells[2]).sum()
        task_id = layout if params.task_pool is not None else jnp.int32(-1)
        return {
            "trial_boundary": reached,
            "trial": state.trial,
            "task_id": task_id,
            "layout_id": layout,
            "shortest_path": to_goal[0],
            "trial_shortest_path": to_goal[1],
            "detour_ratio": to_goal[1].astype(jnp.float32) / manhattan.astype(jnp.float32),
            "goal": cells[2],
            "position": cells[0],
            "optimal_action": jnp.argmin(to_goal[2:]).astype(jnp.int32),
            "change_point": event.change_point,
            "reversal": event.reversal,
            "drift_event": event.any,
        }

    def reset_env(self, key: jax.Array, params: MazeParams):
        state = self._fresh_episode(jax.random.uniform(key, (4,)), params)
        return self.get_obs(state, params), state

    def step_and_draw(
        self, key: jax.Array, state: MazeState, action: jax.Array, params: MazeParams
    ):
        """One move and the auto-reset episode from a single ``jax.random.uniform`` call."""
        step_size = self._transition_uniforms(params)
        uniforms = jax.random.uniform(key, (step_size + self._reset_uniforms(params),))
        stepped, reward, info = self._transition(uniforms, state, action, params)
        return stepped, reward, info, self._fresh_episode(uniforms[step_size:], params)

    def get_obs(self, state: MazeState, params: MazeParams, key=None) -> jax.Array:
        code = params.layouts.view[state.layout, state.position].astype(jnp.int32)
        return ((code >> jnp.arange(VIEW_SIZE)) & 1).astype(jnp.float32)

    def action_space(self, params: MazeParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(len(ACTIONS))

    def observation_space(self, params: MazeParams) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (VIEW_SIZE,), jnp.float32)

    def state_space(self, params: MazeParams) -> spaces.Dict:
        cells = spaces.Discrete(params.num_free_cells)
        return spaces.Dict(
            {
                "time": spaces.Discrete(params.max_steps_in_episode + 1),
                "layout": spaces.Discrete(params.layouts.view.shape[0]),
                "goal": cells,
                "alt_goal": cells,
                "position": cells,
                "trial_start": cells,
                "trial": spaces.Discrete(params.max_steps_in_episode + 1),
            }
        )


@dataclasses.dataclass(frozen=True)
class MazeKnobs:
    """The maze's own config fields; ``MazeConfig`` adds the shared ones after them."""

    cells_per_side: int = 5
    """Maze cells per side m; the grid is (2m+1) x (2m+1) with its outer wall (5: 11 x 11)."""
    extra_openings: int = 0
    """Walls knocked out after carving the perfect maze, adding loops (0 to (m-1)^2)."""
    horizon: int = 200
    """Steps per episode (MetaMaze: 200)."""
    goal_reward: float = 10.0
    """Reward for reaching the goal (MetaMaze: 10)."""
    prior_bank_size: int = 4096
    """num_tasks=None: number of distinct layouts generated at make time to draw episodes from."""


# The last base's fields come first, so listings of allowed fields start with the family's own.
@dataclasses.dataclass(frozen=True)
class MazeConfig(DriftConfig, TaskSourceConfig, MazeKnobs):
    """User-facing knobs of a maze (the keyword overrides ``make`` accepts).

    The task source pools layouts: ``num_tasks`` = N distinct layouts with one goal
    each (None: bank layouts, fresh goals every episode), and held-out layouts are
    disjoint from the training ones. Drift moves the goal: ``change_point`` redraws
    it, ``reversal`` swaps it with the alternative goal.
    """

    drift_kinds: ClassVar[tuple[str, ...]] = MAZE_DRIFT_KINDS


def _draw_goals(
    task_seed: int, split: str, count: int, num_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """A goal and a different alternative goal per pooled layout."""
    rng = np.random.default_rng([task_seed, _GOAL_STREAMS[split]])
    goal = rng.integers(0, num_cells, count)
    alt_goal = rng.integers(0, num_cells - 1, count)
    return goal.astype(np.int32), (alt_goal + (alt_goal >= goal)).astype(np.int32)


def _check_shape(config: MazeConfig, owner: str) -> int:
    """Validate the maze's own fields; returns F, the free squares of every layout."""
    check_range(
        owner,
        "cells_per_side",
        config.cells_per_side,
        MIN_CELLS_PER_SIDE,
        MAX_CELLS_PER_SIDE,
        integer=True,
    )
    m = config.cells_per_side
    check_range(owner, "extra_openings", config.extra_openings, 0, (m - 1) ** 2, integer=True)
    check_range(owner, "horizon", config.horizon, 1, integer=True)
    check_range(owner, "goal_reward", config.goal_reward)
    return num_free_cells(m, config.extra_openings)


def _check_table_bytes(owner: str, field: str, count: int, m: int, num_cells: int) -> None:
    index_bytes = np.dtype(index_dtype(num_cells)).itemsize
    per_layout = (
        (num_cells * num_cells + 4 * num_cells) * index_bytes + 4 * num_cells + (2 * m + 1) ** 2
    )
    if count * per_layout > MAX_TABLE_BYTES:
        raise ConfigError(
            f"{owner}: field '{field}' = {count} needs {count * per_layout / 2**20:.0f} MiB of maze tables "
            f"({per_layout} bytes per layout at cells_per_side={m}); allowed: at most "
            f"{MAX_TABLE_BYTES // per_layout} layouts"
        )


def _split_tasks(
    config: MazeConfig, source: TaskSource, num_cells: int, owner: str
) -> tuple[np.ndarray, MazeTask | None]:
    """The walls of the split's layouts, and its task pool (None: bank layouts, fresh goals)."""
    m = config.cells_per_side
    train_field, train_count = (
        ("prior_bank_size", config.prior_bank_size)
        if source.num_tasks is None
        else ("num_tasks", source.num_tasks)
    )
    field, count = (
        ("held_out_size", source.held_out_size)
        if source.split == "held_out"
        else (train_field, train_count)
    )
    _check_table_bytes(owner, field, count, m, num_cells)

    def draw(split: str, how_many: int, what: str, exclude: set[bytes]) -> np.ndarray:
        return distinct_layouts(
            source.task_seed,
            _LAYOUT_STREAMS[split],
            how_many,
            m,
            config.extra_openings,
            exclude,
            owner,
            what,
        )

    # Held-out layouts are drawn after, and excluding, the training ones whichever split is used.
    walls = draw("train", train_count, train_field, set())
    if source.split == "held_out":
        walls = draw("held_out", source.held_out_size, "held_out_size", layout_fingerprints(walls))
    if source.split == "train" and source.num_tasks is None:
        return walls, None
    goal, alt_goal = _draw_goals(source.task_seed, source.split, count, num_cells)
    task_pool = MazeTask(
        layout=jnp.arange(count, dtype=jnp.int32),
        goal=jnp.asarray(goal),
        alt_goal=jnp.asarray(alt_goal),
    )
    return walls, task_pool


def _build_params(config: MazeConfig, owner: str) -> MazeParams:
    """Validate ``config``, generate the layouts and tabulate the ones the split uses."""
    num_cells = _check_shape(config, owner)
    source = config.task_source(owner)
    check_range(owner, "prior_bank_size", config.prior_bank_size, 1, integer=True)
    drift = config.drift_params(owner)
    walls, task_pool = _split_tasks(config, source, num_cells, owner)
    layouts = tabulate_layouts(walls)
    task_pool, num_active = source.finish(task_pool)
    if source.pads:
        # Padded task i uses layout i mod N, and the tables are tiled to match, so
        # params of pools of any N up to the capacity have one shape.
        layouts = distributions.pad_pool(layouts, source.pool_capacity)
    return MazeParams(
        layouts=layouts,
        task_pool=task_pool,
        num_active_tasks=num_active,
        drift=drift,
        goal_reward=float(config.goal_reward),
        max_steps_in_episode=config.horizon,
        cells_per_side=config.cells_per_side,
        num_free_cells=num_cells,
    )


def build_maze(config: MazeConfig, owner: str) -> tuple[Maze, MazeParams]:
    env = Maze(config)
    env._default_params = _build_params(config, owner)
    return env, env._default_params
