"""Dark Room reference agents: a sweep explorer that remembers the goal, and exact expectations.

``sweep_explorer(params)`` (not privileged: it reads only what a trained agent sees,
its own cell from the observation, its previous action and reward, and knows the
room's size) tests one new cell on every step while the goal is unknown. Its order
is a pinwheel ``sweep_tour``: the cells other than the centre split into four
congruent m x (m + 1) rectangles (m = (room_size - 1) / 2), each entered from the
centre's neighbour and swept as a snake, then the centre last. In a 9 x 9 room each
rectangle is 20 cells: one trial of 20 steps from the centre sweeps exactly one, so
the whole room is searched in 4 trials, one untested cell per step.

Why this minimises the steps to find the goal: a step tests at most one cell (the one
its action lands on), so after n exploring steps at most n cells are ruled out, and
P(goal found by step n) <= n / 81 for a goal uniform over the room; the sweep reaches
that bound at every n <= 80, and the centre, last, is found on the first step of the
fifth trial (stay). Its steps-to-find are therefore stochastically smallest. (Its
*return* also depends on when near and far goals are found, which this order does not
optimise; the four rectangles are rotations of one another, so their order does not
change the expectation.)

Once paid, it knows the goal: the cell its last move entered (computed from its
previous cell and action, because a trial's last step shows the next trial's
centre). From then on it walks a shortest path (rows first) to the goal and stays on
it, so every later trial earns ``trial_length + 1 - d`` for a goal d > 0 steps from
the centre (``trial_length`` at the centre).

``per_goal_trial_returns`` plays a policy once on every goal of a list through the
same rollout as evaluation (one env params per goal, vmapped): for a deterministic
policy such as the explorer it is the exact return per trial of each goal.
``random_trial_returns`` is the uniform random policy's exact expected return per
trial for each goal (a Markov chain over the cells; the random policy has no memory,
so every trial is the same).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from metarl.envs.dark_room import (
    ACTIONS,
    STAY,
    DarkRoomParams,
    DarkRoomTask,
    moved_cell,
)
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs

NUM_ACTIONS = len(ACTIONS)
UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


def sweep_tour(room_size: int) -> np.ndarray:
    """[room_size**2] int32 cell order of the explorer: four pinwheel snakes, then the centre."""
    n, m = room_size, room_size // 2
    quadrant = []  # rows m-1 .. 0 of columns m .. n-1, a snake from the centre's upper neighbour
    for j, row in enumerate(range(m - 1, -1, -1)):
        columns = range(m, n) if j % 2 == 0 else range(n - 1, m - 1, -1)
        quadrant += [(row, col) for col in columns]
    cells = []
    for _ in range(4):
        cells += quadrant
        quadrant = [(col, n - 1 - row) for row, col in quadrant]  # a quarter turn clockwise
    cells.append((m, m))
    return np.array([row * n + col for row, col in cells], np.int32)


@struct.dataclass
class ExplorerState:
    tested: jax.Array
    """[B, C] bool: cells a move has landed on without pay (ruled out)."""
    known_goal: jax.Array
    """[B] int32 the goal cell once paid, -1 before."""
    prev_cell: jax.Array
    """[B] int32 the cell the previous action was taken on (-1 at an episode start)."""


def sweep_explorer(params: DarkRoomParams) -> FunctionalPolicy:
    """The sweep explorer for ``params``' room (module docstring); extras: ``known_goal``."""
    size, num_cells = params.room_size, params.num_cells
    tour = jnp.asarray(sweep_tour(size))

    def init_carry(batch: int) -> ExplorerState:
        return ExplorerState(
            tested=jnp.zeros((batch, num_cells), bool),
            known_goal=jnp.full((batch,), -1, jnp.int32),
            prev_cell=jnp.full((batch,), -1, jnp.int32),
        )

    def act(state: ExplorerState, inputs: PolicyInputs, key):
        batch = inputs.episode_start.shape[0]
        fresh = init_carry(batch)
        state = jax.tree.map(
            lambda f, s: jnp.where(inputs.episode_start.reshape((-1,) + (1,) * (s.ndim - 1)), f, s),
            fresh,
            state,
        )
        obs = inputs.observation
        row = jnp.argmax(obs[:, :size], axis=1).astype(jnp.int32)
        col = jnp.argmax(obs[:, size : 2 * size], axis=1).astype(jnp.int32)
        cell = row * size + col
        has_prev = (inputs.prev_action >= 0) & (state.prev_cell >= 0)
        entered = moved_cell(
            jnp.maximum(state.prev_cell, 0), jnp.clip(inputs.prev_action, 0, STAY), size
        )
        paid = has_prev & (inputs.prev_reward > 0)
        known_goal = jnp.where(paid, entered, state.known_goal)
        tested = state.tested | (
            has_prev[:, None] & (jnp.arange(num_cells)[None, :] == entered[:, None])
        )
        next_untested = tour[jnp.argmax(~tested[:, tour], axis=1)]
        target = jnp.where(known_goal >= 0, known_goal, next_untested)
        d_row, d_col = target // size - row, target % size - col
        action = jnp.where(
            d_row < 0,
            UP,
            jnp.where(
                d_row > 0, DOWN, jnp.where(d_col > 0, RIGHT, jnp.where(d_col < 0, LEFT, STAY))
            ),
        ).astype(jnp.int32)
        new_state = ExplorerState(tested=tested, known_goal=known_goal, prev_cell=cell)
        return new_state, action, {"known_goal": known_goal}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=NUM_ACTIONS)


def dark_room_references(params: DarkRoomParams) -> dict[str, FunctionalPolicy]:
    """The family's references for evaluation (the random policy is added by the caller)."""
    return {"sweep_explorer": sweep_explorer(params)}


# ------------------------------------------------------------------ exact per-goal returns
def goal_params(params: DarkRoomParams, goals) -> DarkRoomParams:
    """``params`` stacked over ``goals``: point g draws only goal ``goals[g]`` (a pool of one)."""
    goals = jnp.asarray(goals, jnp.int32).reshape(-1)
    single = params.replace(
        task_pool=DarkRoomTask(goal=jnp.zeros((1,), jnp.int32)), num_active_tasks=None
    )
    stacked = jax.tree.map(
        lambda leaf: jnp.broadcast_to(jnp.asarray(leaf), (goals.shape[0],) + jnp.shape(leaf)),
        single,
    )
    return stacked.replace(task_pool=DarkRoomTask(goal=goals[:, None]))


def per_goal_trial_returns(policy, env, params: DarkRoomParams, goals, key=None) -> np.ndarray:
    """[G, num_trials] return per trial of one episode of ``policy`` on each goal of ``goals``."""
    from metarl.evaluation.rollout import evaluate_policy

    key = jax.random.PRNGKey(0) if key is None else key
    steps = params.max_steps_in_episode

    def one(point_params):
        return evaluate_policy(policy, env, point_params, key, 1, steps).rewards[:, 0]

    rewards = np.asarray(jax.jit(jax.vmap(one))(goal_params(params, goals)))  # [G, T]
    return rewards.reshape(rewards.shape[0], params.num_trials, params.trial_length).sum(-1)


def random_trial_returns(params: DarkRoomParams, goals) -> np.ndarray:
    """[G] exact expected return of one trial of the uniform random policy, per goal."""
    size, num_cells = params.room_size, params.num_cells
    cells = np.arange(num_cells)
    # transition[i, j]: probability that a uniformly random action moves cell i to cell j.
    transition = np.zeros((num_cells, num_cells))
    for action in range(NUM_ACTIONS):
        targets = np.asarray(moved_cell(jnp.asarray(cells), jnp.int32(action), size))
        np.add.at(transition, (cells, targets), 1.0 / NUM_ACTIONS)
    occupancy = np.zeros(num_cells)
    where = np.zeros(num_cells)
    where[params.centre] = 1.0
    for _ in range(params.trial_length):  # expected visits after each of the trial's steps
        where = where @ transition
        occupancy += where
    return occupancy[np.asarray(goals)] * float(params.goal_reward)


def explorer_expected_trial_returns(params: DarkRoomParams, goals) -> np.ndarray:
    """[G, num_trials] the sweep explorer's (deterministic) return per trial on each goal."""
    from metarl.envs.dark_room import DarkRoom

    return per_goal_trial_returns(sweep_explorer(params), DarkRoom(params), params, goals)
