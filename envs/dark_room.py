"""Dark Room (Laskin et al. 2022; Lee et al. 2023): find a hidden goal in an open room, remember it.

The room is ``room_size`` x ``room_size`` open cells (default 9 x 9: 81 cells) with no
inner walls. Every trial starts with the agent on the centre cell. Actions are up,
right, down, left and stay; a move off the edge stays put. The agent observes only
its own cell (one-hot row, then one-hot column: ``2 * room_size`` numbers); the goal
is never in the observation. A step pays ``goal_reward`` (1) when its action leaves
the agent on the goal, so an agent that reaches the goal and stays there is paid on
every remaining step of the trial.

Trials. What Laskin et al. call a Dark Room *episode* (H = 20 steps from the centre)
is a *trial* here: an episode of this env is ``num_trials`` trials of ``trial_length``
steps on one task (one goal), and at every trial start the agent is put back on the
centre. An RL^2 agent's memory is reset only at episode starts, so it persists across
the trials of a task: the RL^2 trial structure, in which finding the goal in one
trial can pay in every later one. ``info["trial_boundary"]`` is True on the step
whose returned observation is the first of a new trial (and on an episode's last
step). The maze family cannot express this room (its layouts are perfect mazes on an
odd grid, and reaching the goal respawns the agent), hence a family of its own.

Tasks are goal cells, so the task space is finite (``room_size**2`` goals) and pools
are dealt out rather than drawn (as the two-step task deals its two orientations): a
``task_seed`` permutation of the cells puts its first ``num_tasks`` cells in the
training pool and the next ``held_out_size`` (default: all the rest) in the held-out
pool, so held-out goals are never training goals, and a smaller pool is a prefix of
a larger one. ``num_tasks=None`` draws a uniform goal over every cell each episode;
its held-out split is then every cell too (no goal is unseen), and a training pool
holding every cell leaves no held-out goal (``split='held_out'`` is refused).

``info`` describes the step: ``position`` (the cell the action was taken on, as
(row, column)), ``goal`` (row, column), ``shortest_path`` (Manhattan steps from
``position`` to the goal: the room is open), ``trial_shortest_path`` (from the
centre), ``optimal_action`` (the first of up/right/down/left that shortens the path,
stay on the goal), ``optimal_expected_reward`` (what an agent told the goal earns on
this step: it walks straight there and stays), ``trial``, ``trial_step``,
``task_id`` (pool index; -1 for a uniform draw) and ``trial_boundary``.

Random numbers: the only random choice is the goal at an episode start, one uniform
from ``key_uniforms`` (a hash of the step key) feeding ``MetaEnv``'s auto-reset.
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
from metarl.envs.distributions import TaskSourceConfig
from metarl.envs.key_hash import key_uniforms

from metarl.errors import ConfigError, check_range

ACTIONS = ("up", "right", "down", "left", "stay")
MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1], [0, 0]])
"""(row, column) change of each action: the maze family's order, then stay."""
STAY = 4
MIN_ROOM_SIZE = 3
MAX_ROOM_SIZE = 31


@struct.dataclass
class DarkRoomTask:
    goal: jax.Array
    """int32 cell index (row * room_size + column) of the goal."""


@struct.dataclass
class DarkRoomState(environment.EnvState):
    time: jax.Array
    """Steps taken this episode."""
    goal: jax.Array
    """int32 goal cell."""
    position: jax.Array
    """int32 cell of the agent."""
    task_id: jax.Array
    """Pool index of the task, -1 for a uniform draw."""


@struct.dataclass
class DarkRoomParams(environment.EnvParams):
    task_pool: DarkRoomTask | None = None
    """Goals episodes draw from (leading axis = task); None: a uniform cell every episode."""
    num_active_tasks: jax.Array | None = None
    """Padded pools (``pool_capacity``): episodes draw among the first this many tasks, a traced
    int32; None: all of ``task_pool`` (replace both together on padded params)."""
    goal_reward: float = 1.0
    """Reward of every step whose action leaves the agent on the goal."""
    max_steps_in_episode: int = struct.field(pytree_node=False, default=200)
    room_size: int = struct.field(pytree_node=False, default=9)
    trial_length: int = struct.field(pytree_node=False, default=20)

    @property
    def num_cells(self) -> int:
        return self.room_size * self.room_size

    @property
    def centre(self) -> int:
        """Cell index of the centre, where every trial starts."""
        half = self.room_size // 2
        return half * self.room_size + half

    @property
    def num_trials(self) -> int:
        return self.max_steps_in_episode // self.trial_length


def cell_coordinates(cell: jax.Array, room_size: int) -> jax.Array:
    """[..., 2] int32 (row, column) of cell indices."""
    cell = jnp.asarray(cell, jnp.int32)
    return jnp.stack([cell // room_size, cell % room_size], axis=-1)


def moved_cell(cell: jax.Array, action: jax.Array, room_size: int) -> jax.Array:
    """The cell ``action`` leads to from ``cell`` (the same cell off the edge, or for stay)."""
    move = jnp.asarray(MOVES, jnp.int32)[action]
    row = jnp.clip(cell // room_size + move[..., 0], 0, room_size - 1)
    col = jnp.clip(cell % room_size + move[..., 1], 0, room_size - 1)
    return (row * room_size + col).astype(jnp.int32)


class DarkRoom(MetaEnv[DarkRoomState, DarkRoomParams]):
    """Hidden-goal open room: trials of ``trial_length`` steps from the centre, one goal per task."""

    def __init__(self, params: DarkRoomParams | None = None):
        super().__init__()
        self._default_params = params if params is not None else DarkRoomParams()

    @property
    def name(self) -> str:
        return "DarkRoom-metarl"

    @property
    def num_actions(self) -> int:
        return len(ACTIONS)

    @property
    def default_params(self) -> DarkRoomParams:
        return self._default_params

    def _fresh_episode(self, u: jax.Array, params: DarkRoomParams) -> DarkRoomState:
        if params.task_pool is None:
            goal = distributions.index_from_uniform(u, params.num_cells)
            task_id = jnp.int32(-1)
        else:
            count = distributions.active_count(params.task_pool, params.num_active_tasks)
            task_id = distributions.index_from_uniform(u, count)
            goal = params.task_pool.goal[task_id]
        return DarkRoomState(
            time=jnp.int32(0),
            goal=jnp.asarray(goal, jnp.int32),
            position=jnp.int32(params.centre),
            task_id=jnp.asarray(task_id, jnp.int32),
        )

    def _transition(self, state: DarkRoomState, action: jax.Array, params: DarkRoomParams):
        size, length = params.room_size, params.trial_length
        moved = moved_cell(state.position, jnp.asarray(action, jnp.int32), size)
        on_goal = moved == state.goal
        time = state.time + 1
        trial_boundary = time % length == 0
        stepped = DarkRoomState(
            time=time,
            goal=state.goal,
            position=jnp.where(trial_boundary, jnp.int32(params.centre), moved),
            task_id=state.task_id,
        )
        reward = jnp.where(on_goal, params.goal_reward, 0.0).astype(jnp.float32)
        return stepped, reward, self._info(state, params, trial_boundary)

    def _info(self, state: DarkRoomState, params: DarkRoomParams, trial_boundary) -> dict:
        size = params.room_size
        cells = cell_coordinates(jnp.stack([state.position, state.goal, params.centre]), size)
        position, goal, centre = cells[0], cells[1], cells[2]
        to_goal = jnp.abs(goal - position).sum()
        from_centre = jnp.abs(goal - centre).sum()
        beyond = moved_cell(state.position, jnp.arange(4), size)
        beyond_to_goal = jnp.abs(cell_coordinates(beyond, size) - goal).sum(-1)
        trial_step = state.time % params.trial_length
        # Told the goal, an agent walks straight there from the centre and stays: paid from
        # its from_centre-th step on (from the first step when the goal is the centre).
        told = (trial_step + 1 >= from_centre).astype(jnp.float32) * params.goal_reward
        return {
            "trial_boundary": trial_boundary,
            "trial": state.time // params.trial_length,
            "trial_step": trial_step,
            "task_id": state.task_id,
            "goal": goal,
            "position": position,
            "shortest_path": to_goal,
            "trial_shortest_path": from_centre,
            "optimal_action": jnp.where(
                to_goal == 0, STAY, jnp.argmin(beyond_to_goal).astype(jnp.int32)
            ),
            "optimal_expected_reward": told,
        }

    def reset_env(self, key: jax.Array, params: DarkRoomParams):
        state = self._fresh_episode(key_uniforms(key, 1)[0], params)
        return self.get_obs(state, params), state

    def step_and_draw(
        self, key: jax.Array, state: DarkRoomState, action: jax.Array, params: DarkRoomParams
    ):
        """One move and the auto-reset episode's goal from a single hashed uniform."""
        stepped, reward, info = self._transition(state, action, params)
        return stepped, reward, info, self._fresh_episode(key_uniforms(key, 1)[0], params)

    def get_obs(self, state: DarkRoomState, params: DarkRoomParams, key=None) -> jax.Array:
        size = params.room_size
        squares = jnp.arange(size)
        row, col = state.position // size, state.position % size
        return jnp.concatenate([squares == row, squares == col]).astype(jnp.float32)

    def action_space(self, params: DarkRoomParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(len(ACTIONS))

    def observation_space(self, params: DarkRoomParams) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (2 * params.room_size,), jnp.float32)

    def state_space(self, params: DarkRoomParams) -> spaces.Dict:
        cells = spaces.Discrete(params.num_cells)
        return spaces.Dict(
            {
                "time": spaces.Discrete(params.max_steps_in_episode + 1),
                "goal": cells,
                "position": cells,
                "task_id": spaces.Discrete(params.num_cells + 1),
            }
        )


@dataclasses.dataclass(frozen=True)
class DarkRoomKnobs:
    """Dark Room's own config fields; ``DarkRoomConfig`` adds the shared ones after them."""

    room_size: int = 9
    """Cells per side of the open room (odd, so the start cell is its centre; 9: Laskin et al.)."""
    trial_length: int = 20
    """Steps per trial, each from the centre (Laskin et al.'s episode length H = 20)."""
    num_trials: int = 10
    """Trials per episode, all on one goal (the agent's memory persists across them)."""
    goal_reward: float = 1.0
    """Reward of every step whose action leaves the agent on the goal."""


# The last base's fields come first, so listings of allowed fields start with the family's own.
@dataclasses.dataclass(frozen=True)
class DarkRoomConfig(TaskSourceConfig, DarkRoomKnobs):
    """User-facing knobs of Dark Room (the keyword overrides ``make`` accepts).

    Tasks are goal cells dealt from a ``task_seed`` permutation: ``num_tasks`` training
    goals, then ``held_out_size`` held-out goals disjoint from them.
    """

    held_out_size: int | None = None
    """Held-out goals (disjoint from the training pool); None: every cell not in it."""

    held_out_size_optional: ClassVar[bool] = True


def goal_order(task_seed: int, num_cells: int) -> np.ndarray:
    """The ``task_seed`` permutation of the cells that pools are dealt from."""
    return np.random.default_rng([task_seed, num_cells]).permutation(num_cells).astype(np.int32)


def _check(config: DarkRoomConfig, owner: str) -> None:
    check_range(owner, "room_size", config.room_size, MIN_ROOM_SIZE, MAX_ROOM_SIZE, integer=True)
    if config.room_size % 2 == 0:
        raise ConfigError(
            f"{owner}: field 'room_size' = {config.room_size} is not allowed; allowed: an odd "
            f"integer in [{MIN_ROOM_SIZE}, {MAX_ROOM_SIZE}] (trials start on the centre cell)"
        )
    check_range(owner, "trial_length", config.trial_length, 1, integer=True)
    check_range(owner, "num_trials", config.num_trials, 1, integer=True)
    check_range(owner, "goal_reward", config.goal_reward)


def _goal_pools(config: DarkRoomConfig, owner: str) -> tuple[np.ndarray | None, np.ndarray]:
    """(training goals or None for uniform draws, held-out goals), checked against the room."""
    source = config.task_source(owner)
    num_cells = config.room_size**2
    num_tasks = source.num_tasks
    held_out_size = distributions.check_finite_split(
        owner,
        num_tasks,
        config.held_out_size,
        config.split,
        num_cells,
        f"goals of a {config.room_size} x {config.room_size} room",
    )
    order = goal_order(source.task_seed, num_cells)
    train = None if num_tasks is None else order[:num_tasks]
    start = num_tasks or 0
    return train, order[start : start + held_out_size]


def build_dark_room(config: DarkRoomConfig, owner: str) -> tuple[DarkRoom, DarkRoomParams]:
    """Validate ``config`` (ConfigError naming the field) and build the env and its params."""
    _check(config, owner)
    train, held_out = _goal_pools(config, owner)
    source = config.task_source(owner)
    goals = held_out if config.split == "held_out" else train
    pool = None if goals is None else DarkRoomTask(goal=jnp.asarray(goals, jnp.int32))
    pool, num_active = source.finish(pool)
    params = DarkRoomParams(
        task_pool=pool,
        num_active_tasks=num_active,
        goal_reward=float(config.goal_reward),
        max_steps_in_episode=config.trial_length * config.num_trials,
        room_size=config.room_size,
        trial_length=config.trial_length,
    )
    return DarkRoom(params), params
