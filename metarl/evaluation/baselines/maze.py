"""Hidden-goal maze reference agents: a BFS planner, a depth-limited planner, a local heuristic.

The goal is hidden from all of them: none reads ``state.goal``, ``alt_goal`` or
``trial_start`` or anything in ``info``. Each finds the goal by exploring, learns
where it is from the reward (a positive ``prev_reward`` means the previous move
entered the goal square, which is then remembered), and, after the respawn, returns
to it in later trials. If the agent stands on its remembered goal square the goal
has moved (it would have been paid and respawned otherwise): it forgets the goal
and explores again.

What each reads (privileged = from ``PolicyInputs.privileged_state``, the env state
before acting, and from the env params' precomputed layout tables):

* ``bfs_planner`` (privileged: the map and its own square): ``state.layout`` and
  ``state.position``, and that layout's all-pairs BFS ``distance`` and
  ``neighbours`` tables (looking up the table is the same as running BFS on the
  map from the current square). Explores by walking a shortest path to the nearest
  square it has not stood on; once the goal is known, walks a shortest path to it,
  so in every later trial its steps to goal equal the shortest path.
* ``depth_limited_planner`` (privileged: the same, but searching only to depth d):
  it uses ``distance[position, c]`` only for squares c within d steps (exactly what
  a depth-d breadth-first search from its square finds), plus the grid coordinates
  (``cells``) of squares and of the remembered goal for a Manhattan estimate
  beyond its horizon. With the goal known and within d steps it takes a shortest
  path; otherwise it moves toward the square within d steps that minimises
  ``steps to it + Manhattan distance from it to the goal + visits to it`` (the
  visit count, as in LRTA*-style real-time search, stops it oscillating in front of
  a wall). Exploring, it heads for the nearest unvisited square within d steps, or
  else the least-visited square within d steps. Each thinking step (``think``)
  extends the depth of the next action's search by one, so more thinking helps it.
* ``local_heuristic`` (privileged: its own grid coordinates only,
  ``cells[layout, position]``, a GPS with no map; no search): sees the 3 x 3 wall
  patch in the observation. Exploring, it moves in a random open direction
  (avoiding an immediate reversal unless at a dead end); with a remembered goal it
  takes an open move that reduces the Manhattan distance to it, and a random open
  move when every such move is blocked. It has no ``think``.
* ``wall_follower`` (privileged: what ``local_heuristic`` reads; no map, no search): a
  detour-aware local heuristic. Blocked toward a remembered goal, it follows the wall
  with one hand until it is closer to the goal than where it met the wall (a Bug
  algorithm), for at most ``patience`` steps per wall; it explores by following the
  wall. Its strength grows with its patience; it has no ``think``.

Extras: ``known_goal`` [B] (the remembered goal square or cell code, -1 if none)
and, for the planners, ``search_depth`` [B].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from metarl.envs.maze import MOVES, VIEW_OFFSETS
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs

NUM_ACTIONS = len(MOVES)
# Index of each move's square in the 3 x 3 view patch of the observation (1 = wall).
_VIEW_INDEX = jnp.asarray(
    [
        next(j for j, (dr, dc) in enumerate(VIEW_OFFSETS) if (dr, dc) == tuple(move))
        for move in MOVES
    ]
)
_REVERSE = jnp.asarray([2, 3, 0, 1])  # up <-> down, right <-> left
_FAR = 1 << 20


def _reset_where(episode_start: jax.Array, fresh, state):
    return jax.tree.map(
        lambda f, s: jnp.where(episode_start.reshape((-1,) + (1,) * (s.ndim - 1)), f, s),
        fresh,
        state,
    )


@struct.dataclass
class PlannerState:
    visits: jax.Array
    """[B, F] int32: times the agent has stood on each square since the search began."""
    known_goal: jax.Array
    """[B] int32 remembered goal square, -1 if unknown."""
    prev_position: jax.Array
    """[B] int32 the square the previous action was taken on (-1 at an episode start)."""
    extra_depth: jax.Array
    """[B] int32 thinking steps taken before the coming action (each adds one level of search)."""


def _planner(
    layouts, num_cells: int, depth: int, thinks: bool, visit_weight: float
) -> FunctionalPolicy:
    def init_carry(batch: int) -> PlannerState:
        return PlannerState(
            visits=jnp.zeros((batch, num_cells), jnp.int32),
            known_goal=jnp.full((batch,), -1, jnp.int32),
            prev_position=jnp.full((batch,), -1, jnp.int32),
            extra_depth=jnp.zeros((batch,), jnp.int32),
        )

    def observe(state: PlannerState, inputs: PolicyInputs) -> PlannerState:
        """Reset at an episode start; learn the goal from the reward; drop a moved goal."""
        state = _reset_where(inputs.episode_start, init_carry(inputs.episode_start.shape[0]), state)
        env_state = inputs.privileged_state
        layout, position = env_state.layout, env_state.position
        prev_action = jnp.clip(inputs.prev_action, 0, NUM_ACTIONS - 1)
        entered = layouts.neighbours[
            layout, jnp.maximum(state.prev_position, 0), prev_action
        ].astype(jnp.int32)
        found = (inputs.prev_reward > 0) & (state.prev_position >= 0) & (inputs.prev_action >= 0)
        goal = jnp.where(found, entered, state.known_goal)
        moved = (goal >= 0) & (goal == position)
        goal = jnp.where(moved, -1, goal)
        # A new search (goal found or lost) starts a fresh visit count.
        visits = jnp.where((found | moved)[:, None], 0, state.visits)
        visits = visits.at[jnp.arange(position.shape[0]), position].add(1)
        return state.replace(visits=visits, known_goal=goal, prev_position=position)

    def think(state: PlannerState, inputs: PolicyInputs) -> PlannerState:
        state = _reset_where(inputs.episode_start, init_carry(inputs.episode_start.shape[0]), state)
        return state.replace(extra_depth=state.extra_depth + 1)

    def act(state: PlannerState, inputs: PolicyInputs, key: jax.Array):
        state = observe(state, inputs)
        env_state = inputs.privileged_state
        layout, position = env_state.layout, env_state.position
        batch = position.shape[0]
        rows = jnp.arange(batch)
        search_depth = depth + state.extra_depth  # [B]
        from_here = layouts.distance[layout, position].astype(jnp.int32)  # [B, F]
        in_reach = from_here <= search_depth[:, None]
        cells = layouts.cells[layout].astype(jnp.int32)  # [B, F, 2]
        goal = jnp.maximum(state.known_goal, 0)
        goal_cell = cells[rows, goal]  # [B, 2]
        manhattan_to_goal = jnp.abs(cells - goal_cell[:, None, :]).sum(-1)  # [B, F]
        tie_break = jax.random.uniform(key, (batch, num_cells)) * 1e-3

        # Goal known: the reachable square that minimises steps + estimate + visits (the
        # goal itself when in reach, since its estimate is 0 and it is never visited).
        toward_goal = from_here + manhattan_to_goal + visit_weight * state.visits
        goal_in_reach = from_here[rows, goal] <= search_depth
        # Exploring: the nearest unvisited square in reach, else the least visited one.
        unvisited = (state.visits == 0) & in_reach
        any_unvisited = unvisited.any(-1, keepdims=True)
        explore_score = jnp.where(
            any_unvisited, jnp.where(unvisited, from_here, _FAR), state.visits
        )
        knows = state.known_goal >= 0
        score = (
            jnp.where(knows[:, None], toward_goal, explore_score).astype(jnp.float32) + tie_break
        )
        score = jnp.where(in_reach, score, jnp.inf)
        # Never target the current square (it would stand still).
        score = score.at[rows, position].set(jnp.inf)
        target = jnp.argmin(score, -1)
        target = jnp.where(knows & goal_in_reach, goal, target)

        # First move of a shortest path to the target (within reach, so within the search).
        beyond = layouts.neighbours[layout, position].astype(jnp.int32)  # [B, 4]
        steps_after = layouts.distance[layout[:, None], beyond, target[:, None]].astype(jnp.int32)
        action = jnp.argmin(steps_after, -1).astype(jnp.int32)
        extras = {"known_goal": state.known_goal, "search_depth": search_depth}
        return state.replace(extra_depth=jnp.zeros_like(state.extra_depth)), action, extras

    return FunctionalPolicy(
        init_carry_fn=init_carry,
        act_fn=act,
        num_actions=NUM_ACTIONS,
        think_fn=think if thinks else None,
    )


def bfs_planner(env_params) -> FunctionalPolicy:
    """Knows the map and its square; explores to the nearest unvisited square, then shortest paths."""
    num_cells = int(env_params.num_free_cells)
    return _planner(env_params.layouts, num_cells, depth=num_cells, thinks=False, visit_weight=1.0)


def depth_limited_planner(
    env_params, depth: int = 1, visit_weight: float = 1.0
) -> FunctionalPolicy:
    """Searches only ``depth`` steps ahead (+1 per thinking step); see the module docstring."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    return _planner(
        env_params.layouts,
        int(env_params.num_free_cells),
        depth=depth,
        thinks=True,
        visit_weight=visit_weight,
    )


@struct.dataclass
class LocalState:
    known_goal: jax.Array
    """[B, 2] int32 grid cell of the remembered goal, -1 if unknown."""
    prev_cell: jax.Array
    """[B, 2] int32 the cell the previous action was taken in."""


def local_heuristic(env_params) -> FunctionalPolicy:
    """Greedy Manhattan moves toward a remembered goal, random open moves otherwise (no search)."""
    layouts = env_params.layouts
    moves = jnp.asarray(MOVES, jnp.int32)

    def init_carry(batch: int) -> LocalState:
        return LocalState(
            known_goal=jnp.full((batch, 2), -1, jnp.int32),
            prev_cell=jnp.full((batch, 2), -1, jnp.int32),
        )

    def act(state: LocalState, inputs: PolicyInputs, key: jax.Array):
        batch = inputs.prev_action.shape[0]
        state = _reset_where(inputs.episode_start, init_carry(batch), state)
        env_state = inputs.privileged_state
        cell = layouts.cells[env_state.layout, env_state.position].astype(jnp.int32)  # [B, 2]
        prev_action = jnp.clip(inputs.prev_action, 0, NUM_ACTIONS - 1)
        found = (inputs.prev_reward > 0) & (inputs.prev_action >= 0) & (state.prev_cell[:, 0] >= 0)
        goal = jnp.where(found[:, None], state.prev_cell + moves[prev_action], state.known_goal)
        knows = goal[:, 0] >= 0
        moved = knows & jnp.all(goal == cell, -1)
        goal = jnp.where(moved[:, None], -1, goal)
        knows = knows & ~moved

        walls = inputs.observation[:, _VIEW_INDEX] > 0.5  # [B, 4] the 9 view bits come first
        open_moves = ~walls
        closer = jnp.abs(cell[:, None, :] + moves[None] - goal[:, None, :]).sum(-1) < jnp.abs(
            cell - goal
        ).sum(-1, keepdims=True)
        greedy = open_moves & closer
        not_back = open_moves & (jnp.arange(NUM_ACTIONS) != _REVERSE[prev_action][:, None])
        wander = jnp.where(
            (not_back.any(-1) & (inputs.prev_action >= 0))[:, None], not_back, open_moves
        )
        allowed = jnp.where((knows & greedy.any(-1))[:, None], greedy, wander)
        logits = jnp.where(allowed, 0.0, -jnp.inf)
        action = jax.random.categorical(key, logits).astype(jnp.int32)
        state = LocalState(known_goal=goal, prev_cell=cell)
        # Goal as one code (row * 256 + col) so extras match the planners' [B] shape.
        extras = {"known_goal": jnp.where(knows, goal[:, 0] * 256 + goal[:, 1], -1)}
        return state, action, extras

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=NUM_ACTIONS)


def maze_references(env_params, depth: int = 1) -> dict[str, FunctionalPolicy]:
    """``bfs_planner``, ``depth_limited_planner`` (search depth ``depth``) and ``local_heuristic``
    for the mazes of ``env_params`` (a ``MazeParams``: the planners close over its layout tables)."""
    return {
        "bfs_planner": bfs_planner(env_params),
        "depth_limited_planner": depth_limited_planner(env_params, depth=depth),
        "local_heuristic": local_heuristic(env_params),
    }


# ------------------------------------------------------------------ a detour-aware heuristic

_HAND_ORDER = {
    # Preferred turns relative to the heading: right, straight, left, back (or the mirror).
    "right": jnp.asarray([1, 0, 3, 2]),
    "left": jnp.asarray([3, 0, 1, 2]),
}


@struct.dataclass
class WallFollowerState:
    known_goal: jax.Array
    """[B, 2] int32 grid cell of the remembered goal, -1 if unknown."""
    prev_cell: jax.Array
    """[B, 2] int32 the cell the previous action was taken in."""
    heading: jax.Array
    """[B] int32 the move that last changed the cell (the direction of travel)."""
    following: jax.Array
    """[B] bool: following a wall around an obstacle between it and the goal."""
    hit_distance: jax.Array
    """[B] int32 Manhattan distance to the goal where the wall following began."""
    follow_steps: jax.Array
    """[B] int32 steps spent following the current wall."""
    gave_up: jax.Array
    """[B] bool: out of patience with this wall, wandering until a closer move opens."""


def _remember_goal(state, cell, inputs: PolicyInputs):
    """(goal [B, 2], knows [B], found [B]): the goal cell learnt from the reward (found: just
    now, a new trial from a respawn), dropped when the goal moved."""
    moves = jnp.asarray(MOVES, jnp.int32)
    prev_action = jnp.clip(inputs.prev_action, 0, NUM_ACTIONS - 1)
    found = (inputs.prev_reward > 0) & (inputs.prev_action >= 0) & (state.prev_cell[:, 0] >= 0)
    goal = jnp.where(found[:, None], state.prev_cell + moves[prev_action], state.known_goal)
    moved = (goal[:, 0] >= 0) & jnp.all(goal == cell, -1)
    goal = jnp.where(moved[:, None], -1, goal)
    return goal, goal[:, 0] >= 0, found


def _wall_bookkeeping(state: WallFollowerState, found, knows, distance, can_greedy, patience):
    """(following, hit_distance, follow_steps, gave_up, started) after this step's observation."""
    # Leave the wall once closer than where it was met with a closer move open; a found goal
    # respawns the agent, so a new trial starts off any wall.
    leave = found | ((distance < state.hit_distance) & can_greedy)
    following = state.following & knows & ~leave
    tired = following & (state.follow_steps >= patience)
    gave_up = (state.gave_up | tired) & knows & ~can_greedy & ~found
    following = following & ~tired
    start = knows & ~can_greedy & ~following & ~gave_up
    following = following | start
    hit_distance = jnp.where(start, distance, state.hit_distance)
    follow_steps = jnp.where(following & ~start, state.follow_steps + 1, 0)
    return following, hit_distance, follow_steps, gave_up, start


def wall_follower(env_params, hand: str = "right", patience: int | None = None):
    """A detour-aware local heuristic: Manhattan moves, and a wall followed round an obstacle.

    Reads what ``local_heuristic`` reads (its grid cell, the 3 x 3 wall patch, the
    reward) plus its direction of travel; no map, no search. With a remembered goal
    it takes an open move that reduces the Manhattan distance; when every such move
    is blocked it follows the wall with its ``hand`` ('right' or 'left': turn that way
    if open, else straight, else the other way, else back) until it stands closer to
    the goal than where it met the wall with a closer move open (a Bug algorithm), or
    until ``patience`` steps along one wall have passed (None: no limit), after which
    it wanders at random, as ``local_heuristic`` does, until a closer move opens. It
    explores by following the wall. In a perfect maze (the default: no extra openings)
    an unlimited wall follower visits every square, so it finds every goal and regains
    it after each respawn, paying for the dead ends along the way: the cost of a detour
    discovered step by step, which is what the difficulty probe's detour effect measures.
    """
    if hand not in _HAND_ORDER:
        raise ValueError(f"hand must be 'right' or 'left', got {hand!r}")
    layouts, order = env_params.layouts, _HAND_ORDER[hand]
    moves = jnp.asarray(MOVES, jnp.int32)
    patience = _FAR if patience is None else int(patience)

    def init_carry(batch: int) -> WallFollowerState:
        no = jnp.zeros((batch,), bool)
        zero = jnp.zeros((batch,), jnp.int32)
        unknown = jnp.full((batch, 2), -1, jnp.int32)
        return WallFollowerState(unknown, unknown, zero, no, zero, zero, no)

    def act(state: WallFollowerState, inputs: PolicyInputs, key: jax.Array):
        batch = inputs.prev_action.shape[0]
        rows = jnp.arange(batch)
        state = _reset_where(inputs.episode_start, init_carry(batch), state)
        env_state = inputs.privileged_state
        cell = layouts.cells[env_state.layout, env_state.position].astype(jnp.int32)
        goal, knows, found = _remember_goal(state, cell, inputs)
        travelled = jnp.any(cell != state.prev_cell, -1) & (inputs.prev_action >= 0)
        heading = jnp.where(travelled, inputs.prev_action, state.heading)

        open_moves = inputs.observation[:, _VIEW_INDEX] < 0.5  # the 9 view bits come first
        distance = jnp.abs(cell - goal).sum(-1)
        step_distance = jnp.abs(cell[:, None, :] + moves[None] - goal[:, None, :]).sum(-1)
        closer = step_distance < distance[:, None]
        greedy = open_moves & closer & knows[:, None]
        can_greedy = greedy.any(-1)
        following, hit_distance, follow_steps, gave_up, start = _wall_bookkeeping(
            state, found, knows, distance, can_greedy, patience
        )
        # Meeting a wall, face the blocked way to the goal: the hand rule turns from there.
        heading = jnp.where(start, jnp.argmax(closer, -1).astype(jnp.int32), heading)
        preferred = (heading[:, None] + order[None]) % NUM_ACTIONS  # [B, 4] in hand order
        hand_move = preferred[rows, jnp.argmax(open_moves[rows[:, None], preferred], -1)]

        back = (jnp.arange(NUM_ACTIONS) == _REVERSE[heading][:, None]) & travelled[:, None]
        not_back = open_moves & ~back
        wander = jnp.where(not_back.any(-1, keepdims=True), not_back, open_moves)
        allowed = jnp.where(can_greedy[:, None], greedy, wander)
        chosen = jax.random.categorical(key, jnp.where(allowed, 0.0, -jnp.inf))
        action = jnp.where(following | ~knows, hand_move, chosen).astype(jnp.int32)
        new_state = WallFollowerState(
            goal, cell, heading, following, hit_distance, follow_steps, gave_up
        )
        extras = {"known_goal": jnp.where(knows, goal[:, 0] * 256 + goal[:, 1], -1)}
        return new_state, action, extras

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=NUM_ACTIONS)
