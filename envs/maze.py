"""Mazes with a hidden goal (Dark-Room / MetaMaze style): find it, respawn, find it again.

Layouts. A maze of m x m cells lives on a (2m+1) x (2m+1) grid: cells at odd
(row, col), walls everywhere else, and the wall square between two neighbouring
cells is opened when the maze joins them, so a move is always one grid square. The
generator is randomized Kruskal: visit the 2m(m-1) cell-to-cell walls in a uniformly
random order and open each one that joins two still-separate regions. That gives a
perfect maze (a spanning tree: one path between any two cells; the "Kruskal maze"
distribution, not the uniform spanning tree that Wilson's algorithm would give).
``extra_openings`` then knocks out that many of the (m-1)^2 walls still standing
between cells, chosen at random, which adds loops so that detours vary more. Every
layout has exactly F = 2m^2 - 1 + extra_openings free squares, which fixes the shape
of every table below. m = 5 gives an 11 x 11 grid, the size of gymnax's MetaMaze.

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
goal) pairs). Layouts are drawn here in numpy (``sample_layouts``, vectorized over
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

Precomputed tables (host side, at make time; ``reset`` and ``step`` only gather).
For every layout of the split in use, indexed by free square (row-major order):
``distance`` [F, F] all-pairs shortest paths (int8, or int16 when F > 127),
``neighbours`` [F, 4] the square each action leads to, ``view`` [F] the 3 x 3 patch
packed in 9 bits, ``cells`` [F, 2] grid coordinates, and the ``walls`` grid.
All-pairs rather than per-(layout, goal) maps because drift may move the goal
anywhere in the layout. For m = 5 that is about 2.9 kB per layout, 12 MB for the
4096-layout bank; a config needing more than 512 MiB is refused.

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
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces
from metarl.envs import distributions
from metarl.envs.drift import (
    DriftEvent,
    DriftParams,
    apply_drift_uniform,
    make_drift,
    uniforms_needed,
)

from metarl.errors import ConfigError, check_choice, check_range

ACTIONS = ("up", "right", "down", "left")
MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])  # MetaMaze's order
VIEW_OFFSETS = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)])
VIEW_SIZE = len(VIEW_OFFSETS)
MAZE_DRIFT_KINDS = ("change_point", "reversal")  # a goal square cannot random-walk
MIN_CELLS_PER_SIDE = 4  # 3 x 3 cells have only 192 perfect mazes: too few for the pools
MAX_CELLS_PER_SIDE = 12
MAX_TABLE_BYTES = 512 * 2**20
# Seed streams under task_seed: training layouts (pool or bank), held-out layouts, and goals.
_LAYOUT_STREAMS = {"train": 0, "held_out": 1}
_GOAL_STREAMS = {"train": 2, "held_out": 3}
_MAX_DRAW_ROUNDS = 8


@struct.dataclass
class MazeLayouts:
    """Per-layout tables, precomputed on the host (leading axis = layout)."""

    walls: jax.Array
    """[L, 2m+1, 2m+1] bool: True where a wall is."""
    cells: jax.Array
    """[L, F, 2] int8: grid (row, col) of free square i (row-major order)."""
    neighbours: jax.Array
    """[L, F, 4] int8/int16: free square each action leads to (the same square into a wall)."""
    view: jax.Array
    """[L, F] int16: 3 x 3 wall patch around square i, bit j = VIEW_OFFSETS[j]."""
    distance: jax.Array
    """[L, F, F] int8/int16: BFS steps between free squares."""


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
    drift: DriftParams = DriftParams()
    goal_reward: float = 10.0
    """Reward for reaching the goal."""
    max_steps_in_episode: int = struct.field(pytree_node=False, default=200)
    cells_per_side: int = struct.field(pytree_node=False, default=5)
    num_free_cells: int = struct.field(pytree_node=False, default=49)
    """F = 2 m^2 - 1 + extra_openings, the same in every layout."""


def num_free_cells(cells_per_side: int, extra_openings: int) -> int:
    return 2 * cells_per_side**2 - 1 + extra_openings


def _cell_walls(cells_per_side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each wall between two neighbouring cells: the two cell ids and its grid square."""
    m = cells_per_side
    first, second, rows, cols = [], [], [], []
    for r in range(m):
        for c in range(m):
            if c + 1 < m:
                first.append(r * m + c), second.append(r * m + c + 1)
                rows.append(2 * r + 1), cols.append(2 * c + 2)
            if r + 1 < m:
                first.append(r * m + c), second.append((r + 1) * m + c)
                rows.append(2 * r + 2), cols.append(2 * c + 1)
    return tuple(np.array(x, np.int32) for x in (first, second, rows, cols))


def sample_layouts(
    rng: np.random.Generator, count: int, cells_per_side: int, extra_openings: int
) -> np.ndarray:
    """[count, 2m+1, 2m+1] bool walls of random mazes (randomized Kruskal, then extra openings).

    Row i depends only on the generator's state and i's place, not on ``count``, so a
    smaller pool drawn from the same seed is a prefix of a larger one.
    """
    m = cells_per_side
    first, second, rows, cols = _cell_walls(m)
    num_walls = len(first)
    uniforms = rng.random((count, 2 * num_walls))
    order = np.argsort(uniforms[:, :num_walls], axis=1)
    region = np.tile(np.arange(m * m), (count, 1))
    opened = np.zeros((count, num_walls), bool)
    maze = np.arange(count)
    for i in range(num_walls):  # every maze at once, one wall each
        wall = order[:, i]
        keep, absorb = region[maze, first[wall]], region[maze, second[wall]]
        # Relabel absorb's region as keep's; a no-op when both are already one region.
        region = np.where(region == absorb[:, None], keep[:, None], region)
        opened[maze, wall] = keep != absorb
    if extra_openings:
        # Closed walls score in [0, 1), open ones -1: the top scores are closed walls.
        score = np.where(opened, -1.0, uniforms[:, num_walls:])
        knocked = np.argsort(-score, axis=1)[:, :extra_openings]
        opened[maze[:, None], knocked] = True
    walls = np.ones((count, 2 * m + 1, 2 * m + 1), bool)
    walls[:, 1::2, 1::2] = False
    walls[:, rows, cols] = ~opened
    return walls


def _distinct_layouts(
    task_seed: int,
    stream: int,
    count: int,
    cells_per_side: int,
    extra_openings: int,
    exclude: set[bytes],
    owner: str,
    field: str,
) -> np.ndarray:
    """``count`` distinct layouts from ``(task_seed, stream)``, none of them in ``exclude``."""
    kept: list[np.ndarray] = []
    seen = set(exclude)
    for round_index in range(_MAX_DRAW_ROUNDS):
        rng = np.random.default_rng([task_seed, stream, round_index])
        batch = 2 * max(count - len(kept), 8)
        for walls in sample_layouts(rng, batch, cells_per_side, extra_openings):
            fingerprint = np.packbits(walls).tobytes()
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            kept.append(walls)
            if len(kept) == count:
                return np.stack(kept)
    raise ConfigError(
        f"{owner}: field '{field}' = {count}: found only {len(kept)} distinct mazes with "
        f"cells_per_side={cells_per_side}, extra_openings={extra_openings} (besides {len(exclude)} "
        "excluded training layouts); ask for fewer or use bigger mazes"
    )


def layout_fingerprints(walls: np.ndarray) -> set[bytes]:
    return {np.packbits(w).tobytes() for w in np.asarray(walls, bool)}


def _index_dtype(count: int):
    return np.int8 if count <= np.iinfo(np.int8).max else np.int16


@jax.jit
def _all_pairs_distance(neighbours: jax.Array) -> jax.Array:
    """[L, F, 4] neighbour table -> [L, F, F] shortest-path steps (F where unreachable).

    Floyd-Warshall over unit-length moves equals BFS distance; as dense int16 array
    arithmetic it beats a gather-based BFS on the CPU by 50x.
    """
    num_layouts, num_cells, _ = neighbours.shape
    unreached = jnp.int16(num_cells)  # any real distance is at most F - 1
    cells = jnp.arange(num_cells)[:, None]
    adjacent = jax.vmap(
        lambda nbr: jnp.zeros((num_cells, num_cells), bool).at[cells, nbr].set(True)
    )(neighbours)
    dist = jnp.where(adjacent, jnp.int16(1), unreached)
    dist = jnp.where(jnp.eye(num_cells, dtype=bool), jnp.int16(0), dist)

    def through(k, dist):
        via_k = jax.lax.dynamic_slice_in_dim(dist, k, 1, 2) + jax.lax.dynamic_slice_in_dim(
            dist, k, 1, 1
        )
        return jnp.minimum(dist, via_k)

    return jax.lax.fori_loop(0, num_cells, through, dist)


def tabulate_layouts(walls: np.ndarray) -> MazeLayouts:
    """Every table ``Maze`` gathers from, for a stack of [L, G, G] wall grids."""
    walls = np.asarray(walls, bool)
    num_layouts, side, _ = walls.shape
    free = ~walls.reshape(num_layouts, -1)
    counts = free.sum(1)
    if not np.all(counts == counts[0]):
        raise ValueError("layouts differ in their number of free squares")
    num_cells = int(counts[0])
    flat = np.nonzero(free)[1].reshape(num_layouts, num_cells)  # row-major per layout
    index_of = np.full((num_layouts, side * side), -1, np.int64)
    np.put_along_axis(index_of, flat, np.arange(num_cells)[None], axis=1)
    own = np.broadcast_to(np.arange(num_cells), flat.shape)
    # The outer wall keeps every free square's 3 x 3 patch inside the grid.
    neighbours = np.stack(
        [
            np.where(
                np.take_along_axis(free, target, 1), np.take_along_axis(index_of, target, 1), own
            )
            for target in (flat + dr * side + dc for dr, dc in MOVES)
        ],
        axis=-1,
    )
    view = np.zeros(flat.shape, np.int64)
    for bit, (dr, dc) in enumerate(VIEW_OFFSETS):
        view |= (~np.take_along_axis(free, flat + dr * side + dc, 1)).astype(np.int64) << bit
    # Chunks of about 1 MB stay in cache through the F passes; padding every chunk to
    # the same shape compiles _all_pairs_distance once per F, not once per pool size.
    chunk = max(1, 2**20 // (2 * num_cells * num_cells))
    padded = np.concatenate(
        [neighbours, np.broadcast_to(own[:1, :, None], (-num_layouts % chunk, num_cells, 4))]
    )
    distance = np.concatenate(
        [
            np.asarray(_all_pairs_distance(jnp.asarray(padded[i : i + chunk], jnp.int32)))
            for i in range(0, num_layouts, chunk)
        ]
    )[:num_layouts]
    index_dtype = _index_dtype(num_cells)
    return MazeLayouts(
        walls=jnp.asarray(walls),
        cells=jnp.asarray(np.stack([flat // side, flat % side], -1).astype(np.int8)),
        neighbours=jnp.asarray(neighbours.astype(index_dtype)),
        view=jnp.asarray(view.astype(np.int16)),
        distance=jnp.asarray(distance.astype(index_dtype)),
    )


def _index(u: jax.Array, n: int) -> jax.Array:
    """Uniform index in [0, n) from u ~ U[0, 1)."""
    return jnp.minimum((u * n).astype(jnp.int32), n - 1)


def _index_except(u: jax.Array, n: int, excluded: jax.Array) -> jax.Array:
    """Uniform index in [0, n) other than ``excluded``."""
    i = _index(u, n - 1)
    return i + (i >= excluded)


def _index_except_two(u: jax.Array, n: int, a: jax.Array, b: jax.Array) -> jax.Array:
    """Uniform index in [0, n) other than the distinct ``a`` and ``b``."""
    i = _index(u, n - 2)
    i = i + (i >= jnp.minimum(a, b))
    return i + (i >= jnp.maximum(a, b))


class Maze(environment.Environment[MazeState, MazeParams]):
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
            size = distributions.pool_size(pool)
            task_id = _index(uniforms[1], size) if size > 1 else jnp.int32(0)
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

    def step_env(self, key: jax.Array, state: MazeState, action: jax.Array, params: MazeParams):
        uniforms = jax.random.uniform(key, (self._transition_uniforms(params),))
        stepped, reward, info = self._transition(uniforms, state, action, params)
        return self.get_obs(stepped, params), stepped, reward, jnp.zeros((), bool), info

    @partial(jax.jit, static_argnames=("self",))
    def step(self, key: jax.Array, state: MazeState, action, params: MazeParams | None = None):
        """gymnax's auto-resetting step with one random draw shared by transition and reset.

        gymnax splits the key and computes a whole reset every step; here both come
        from one uniform draw (only one of them is kept: episodes end by time), and
        the observation is gathered once, from the state that is kept.
        """
        if params is None:
            params = self.default_params
        step_size = self._transition_uniforms(params)
        uniforms = jax.random.uniform(key, (step_size + self._reset_uniforms(params),))
        stepped, reward, info = self._transition(uniforms, state, action, params)
        fresh = self._fresh_episode(uniforms[step_size:], params)
        terminated = jnp.zeros((), bool)
        truncated = self.is_truncated(stepped, params)
        next_state = jax.tree.map(lambda r, s: jnp.where(truncated, r, s), fresh, stepped)
        info = {
            **info,
            "terminated": terminated,
            "truncated": truncated,
            "final_observation": self.get_obs(stepped, params),
        }
        return self.get_obs(next_state, params), next_state, reward, terminated, truncated, info

    def get_obs(self, state: MazeState, params: MazeParams, key=None) -> jax.Array:
        code = params.layouts.view[state.layout, state.position].astype(jnp.int32)
        return ((code >> jnp.arange(VIEW_SIZE)) & 1).astype(jnp.float32)

    def is_terminated(self, state: MazeState, params: MazeParams) -> jax.Array:
        return jnp.zeros((), bool)

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
class MazeConfig:
    """User-facing knobs of a maze (the keyword overrides ``make`` accepts)."""

    cells_per_side: int = 5
    """Maze cells per side m; the grid is (2m+1) x (2m+1) with its outer wall (5: 11 x 11)."""
    extra_openings: int = 0
    """Walls knocked out after carving the perfect maze, adding loops (0 to (m-1)^2)."""
    horizon: int = 200
    """Steps per episode (MetaMaze: 200)."""
    goal_reward: float = 10.0
    """Reward for reaching the goal (MetaMaze: 10)."""
    num_tasks: int | None = None
    """Training pool size N (N distinct layouts, one goal each); None: bank layouts, fresh goals."""
    task_seed: int = 0
    """Seed of the layouts and goals of the training pool, the prior bank and the held-out pool."""
    held_out_size: int = 1024
    """Number of held-out tasks, whose layouts are disjoint from the training layouts."""
    prior_bank_size: int = 4096
    """num_tasks=None: number of distinct layouts generated at make time to draw episodes from."""
    split: str = "train"
    """Which tasks episodes use: 'train' (pool or bank) or 'held_out'."""
    drift: str = "none"
    """'none', or '+'-joined kinds from change_point (goal redrawn), reversal (goal <-> alt goal)."""
    hazard: float = 0.0
    """change_point: probability per step of moving the goal."""
    reversal_steps: tuple[int, ...] = ()
    """reversal: steps (0-based) after which the goal swaps with the alternative goal."""
    reversal_period: int = 0
    """reversal: also swap every this many steps (0 = only at reversal_steps)."""
    reversal_hazard: float = 0.0
    """reversal: probability per step of a swap at a random time."""


def _draw_goals(
    task_seed: int, split: str, count: int, num_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """A goal and a different alternative goal per pooled layout."""
    rng = np.random.default_rng([task_seed, _GOAL_STREAMS[split]])
    goal = rng.integers(0, num_cells, count)
    alt_goal = rng.integers(0, num_cells - 1, count)
    return goal.astype(np.int32), (alt_goal + (alt_goal >= goal)).astype(np.int32)


def _build_params(config: MazeConfig, owner: str) -> MazeParams:
    """Validate ``config``, generate the layouts and tabulate the ones the split uses."""
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
    num_tasks = distributions.parse_num_tasks(config.num_tasks)
    check_range(owner, "task_seed", config.task_seed, 0, integer=True)
    check_range(owner, "held_out_size", config.held_out_size, 1, integer=True)
    check_range(owner, "prior_bank_size", config.prior_bank_size, 1, integer=True)
    check_choice(owner, "split", config.split, distributions.SPLITS)
    if not isinstance(config.drift, str):
        raise ConfigError(
            f"{owner}: field 'drift' = {config.drift!r} must be a string such as 'change_point'"
        )
    kinds = () if config.drift in ("", "none") else tuple(config.drift.split("+"))
    for kind in kinds:
        check_choice(owner, "drift", kind, ("none",) + MAZE_DRIFT_KINDS)
    drift = make_drift(
        kinds,
        hazard=config.hazard,
        reversal_steps=tuple(config.reversal_steps),
        reversal_period=config.reversal_period,
        reversal_hazard=config.reversal_hazard,
        owner=owner,
    )
    num_cells = num_free_cells(m, config.extra_openings)
    index_bytes = np.dtype(_index_dtype(num_cells)).itemsize
    per_layout = (
        (num_cells * num_cells + 4 * num_cells) * index_bytes + 4 * num_cells + (2 * m + 1) ** 2
    )
    train_field, train_count = (
        ("prior_bank_size", config.prior_bank_size)
        if num_tasks is None
        else ("num_tasks", num_tasks)
    )
    field, count = (
        ("held_out_size", config.held_out_size)
        if config.split == "held_out"
        else (train_field, train_count)
    )
    if count * per_layout > MAX_TABLE_BYTES:
        raise ConfigError(
            f"{owner}: field '{field}' = {count} needs {count * per_layout / 2**20:.0f} MiB of maze tables "
            f"({per_layout} bytes per layout at cells_per_side={m}); allowed: at most "
            f"{MAX_TABLE_BYTES // per_layout} layouts"
        )

    def draw(split: str, how_many: int, what: str, exclude: set[bytes]) -> np.ndarray:
        return _distinct_layouts(
            config.task_seed,
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
    if config.split == "held_out":
        walls = draw("held_out", config.held_out_size, "held_out_size", layout_fingerprints(walls))
    task_pool = None
    if config.split == "held_out" or num_tasks is not None:
        goal, alt_goal = _draw_goals(config.task_seed, config.split, count, num_cells)
        task_pool = MazeTask(
            layout=jnp.arange(count, dtype=jnp.int32),
            goal=jnp.asarray(goal),
            alt_goal=jnp.asarray(alt_goal),
        )
    return MazeParams(
        layouts=tabulate_layouts(walls),
        task_pool=task_pool,
        drift=drift,
        goal_reward=float(config.goal_reward),
        max_steps_in_episode=config.horizon,
        cells_per_side=m,
        num_free_cells=num_cells,
    )


def build_maze(config: MazeConfig, owner: str) -> tuple[Maze, MazeParams]:
    env = Maze(config)
    env._default_params = _build_params(config, owner)
    return env, env._default_params
