"""Maze family: layouts, BFS labels, trials, drift, pools, wrappers and config errors.

Mazes are 4 x 4 cells (9 x 9 grid, F = 31 free squares) with small banks so the
whole file builds and compiles only a few small environments.
"""

from __future__ import annotations

import collections
import math

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from gymnax.wrappers import LogWrapper
from metarl.envs import ConfigError, RL2Wrapper
from metarl.envs.maze import (
    MOVES,
    VIEW_OFFSETS,
    MazeConfig,
    MazeState,
    build_maze,
    layout_fingerprints,
)

M = 4
F = 2 * M * M - 1
SMALL = dict(cells_per_side=M, held_out_size=32, prior_bank_size=64)
INFO_KEYS = {
    "trial_boundary", "trial", "task_id", "layout_id", "shortest_path", "trial_shortest_path",
    "detour_ratio", "goal", "position", "change_point", "reversal", "drift_event", "optimal_action",
    "terminated", "truncated", "final_observation",
}  # fmt: skip
HAZARD = 0.05
REVERSAL_PERIOD = 7


@pytest.fixture(scope="module")
def drifting():
    """Bank layouts, fresh goals, goal change-points and periodic reversals, 20-step episodes."""
    return build_maze(
        MazeConfig(
            **SMALL,
            horizon=20,
            drift="change_point+reversal",
            hazard=HAZARD,
            reversal_period=REVERSAL_PERIOD,
        ),
        "test-maze",
    )


@pytest.fixture(scope="module")
def pooled():
    """Four fixed tasks, no drift, long episodes."""
    return build_maze(MazeConfig(**SMALL, num_tasks=4, horizon=200), "test-maze")


_ROLLOUTS = {}
BATCH, STEPS = 1024, 45  # the drifting env's shared rollout: two episodes and a bit


def rollout(env, params, key, batch=BATCH, steps=STEPS):
    """Random actions for ``steps`` steps of ``batch`` envs: stacked [T, B] outputs."""
    cache_key = (env, batch, steps)
    if cache_key not in _ROLLOUTS:

        @jax.jit
        def run(key, params):
            reset_key, run_key = jax.random.split(key)
            obs, state = jax.vmap(env.reset, in_axes=(0, None))(
                jax.random.split(reset_key, batch), params
            )

            def one_step(state, step_key):
                action_key, env_key = jax.random.split(step_key)
                action = jax.random.randint(action_key, (batch,), 0, 4)
                obs, next_state, reward, _, truncated, info = jax.vmap(
                    env.step, in_axes=(0, 0, 0, None)
                )(jax.random.split(env_key, batch), state, action, params)
                return next_state, (state, action, obs, reward, truncated, info)

            _, trajectory = jax.lax.scan(one_step, state, jax.random.split(run_key, steps))
            return obs, trajectory

        _ROLLOUTS[cache_key] = run
    return _ROLLOUTS[cache_key](key, params)


@pytest.fixture(scope="module")
def drifting_rollout(drifting):
    env, params = drifting
    return rollout(env, params, jax.random.PRNGKey(13))


def python_bfs(walls: np.ndarray, source: tuple[int, int]) -> dict[tuple[int, int], int]:
    """Steps from ``source`` to every reachable free square of a wall grid."""
    dist = {source: 0}
    queue = collections.deque([source])
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
            nxt = (r + dr, c + dc)
            if not walls[nxt] and nxt not in dist:
                dist[nxt] = dist[(r, c)] + 1
                queue.append(nxt)
    return dist


def test_shapes_dtypes_and_info_keys(drifting):
    env, params = drifting
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    assert obs.shape == (9,) and obs.dtype == jnp.float32
    assert env.observation_space(params).contains(obs)
    assert obs[4] == 0.0  # the agent's own square is never a wall
    obs, state, reward, terminated, truncated, info = env.step(
        jax.random.PRNGKey(1), state, 2, params
    )
    assert set(info) == INFO_KEYS
    assert reward.dtype == jnp.float32 and reward.shape == ()
    assert terminated.dtype == jnp.bool_ and not terminated
    for key in (
        "trial",
        "task_id",
        "layout_id",
        "shortest_path",
        "trial_shortest_path",
        "optimal_action",
    ):
        assert info[key].dtype == jnp.int32 and info[key].shape == (), key
    for key in ("trial_boundary", "change_point", "reversal", "drift_event"):
        assert info[key].dtype == jnp.bool_, key
    assert info["goal"].shape == (2,) and info["position"].shape == (2,)
    assert info["detour_ratio"].dtype == jnp.float32
    assert info["task_id"] == -1  # bank layouts with fresh goals are prior draws


def test_observation_is_the_wall_patch_around_the_agent(drifting, drifting_rollout):
    _, params = drifting
    state, _, obs, _, _, _ = drifting_rollout[1]
    walls = np.asarray(params.layouts.walls)
    cells = np.asarray(params.layouts.cells)
    # obs[t] is the observation after step t, i.e. of state[t + 1].
    layout = np.asarray(state.layout)[1:]
    position = np.asarray(state.position)[1:]
    obs = np.asarray(obs)[:-1]
    rows, cols = cells[layout, position, 0], cells[layout, position, 1]
    expected = np.stack([walls[layout, rows + dr, cols + dc] for dr, dc in VIEW_OFFSETS], -1)
    np.testing.assert_array_equal(obs, expected.astype(np.float32))


def test_determinism(drifting, drifting_rollout):
    env, params = drifting
    first = drifting_rollout
    second = rollout(env, params, jax.random.PRNGKey(13))
    jax.tree.map(np.testing.assert_array_equal, first, second)
    other = rollout(env, params, jax.random.PRNGKey(14))
    assert not np.array_equal(np.asarray(first[1][0].position), np.asarray(other[1][0].position))
    # Building again from the same config gives bit-identical layouts, tables and pools.
    config = MazeConfig(**SMALL, num_tasks=4)
    jax.tree.map(
        np.testing.assert_array_equal, build_maze(config, "a")[1], build_maze(config, "b")[1]
    )


def test_jit_vmap_1024_envs_with_auto_reset(drifting, drifting_rollout):
    _, params = drifting
    horizon, steps = params.max_steps_in_episode, STEPS
    state, _, _, _, truncated, info = drifting_rollout[1]
    assert truncated.shape == (STEPS, 1024)
    truncated = np.asarray(truncated)
    # Episodes end by time only, at the same step in every env.
    expected = (np.arange(steps) % horizon) == horizon - 1
    assert np.all(truncated == expected[:, None])
    assert not np.any(np.asarray(info["terminated"]))
    time = np.asarray(state.time)
    np.testing.assert_array_equal(
        time, np.broadcast_to((np.arange(steps) % horizon)[:, None], time.shape)
    )
    # After a reset the trial count restarts and a new task is drawn.
    trial = np.asarray(state.trial)
    assert np.all(trial[horizon] == 0) and trial[horizon - 1].max() > 0
    layout = np.asarray(state.layout)
    assert np.mean(layout[horizon] != layout[horizon - 1]) > 0.9  # 64 bank layouts: P(same) = 1/64


def test_every_generated_maze_is_solvable():
    for extra in (0, 3):
        for split in ("train", "held_out"):
            _, params = build_maze(
                MazeConfig(**SMALL, extra_openings=extra, split=split), "test-maze"
            )
            distance = np.asarray(params.layouts.distance)
            num_cells = 2 * M * M - 1 + extra
            walls = np.asarray(params.layouts.walls)
            # Every layout has F free squares and every square reaches every other (F means unreachable).
            assert np.all((~walls).sum((1, 2)) == num_cells)
            assert distance.shape[1:] == (num_cells, num_cells)
            assert distance.max() < num_cells
            np.testing.assert_array_equal(distance, np.swapaxes(distance, 1, 2))
            # The outer wall is closed, so the 3 x 3 views never leave the grid.
            assert (
                walls[:, 0].all()
                and walls[:, -1].all()
                and walls[:, :, 0].all()
                and walls[:, :, -1].all()
            )


def test_distance_table_equals_python_bfs():
    _, params = build_maze(MazeConfig(**SMALL, extra_openings=3), "test-maze")
    walls = np.asarray(params.layouts.walls)
    cells = np.asarray(params.layouts.cells).astype(int)
    distance = np.asarray(params.layouts.distance)
    for layout in range(0, 64, 9):
        for source in range(0, cells.shape[1], 4):
            bfs = python_bfs(walls[layout], tuple(cells[layout, source]))
            assert len(bfs) == cells.shape[1]
            expected = [bfs[tuple(cell)] for cell in cells[layout]]
            np.testing.assert_array_equal(distance[layout, source], expected)


def test_info_labels_follow_the_moving_goal(drifting, drifting_rollout):
    """shortest_path, trial labels and optimal_action against a Python BFS, drift included."""
    _, params = drifting
    state, _, _, _, _, info = jax.tree.map(lambda x: x[:, :6], drifting_rollout[1])
    walls = np.asarray(params.layouts.walls)
    cells = np.asarray(params.layouts.cells).astype(int)
    info = jax.tree.map(np.asarray, info)
    layout, trial_start = np.asarray(state.layout), np.asarray(state.trial_start)
    assert info["drift_event"].sum() > 5  # the goal does move in this sample
    for t in range(STEPS):
        for b in range(6):
            goal = tuple(info["goal"][t, b])
            bfs = python_bfs(walls[layout[t, b]], goal)
            position = tuple(info["position"][t, b])
            start = tuple(cells[layout[t, b], trial_start[t, b]])
            assert info["shortest_path"][t, b] == bfs[position] > 0
            assert info["trial_shortest_path"][t, b] == bfs[start]
            manhattan = abs(start[0] - goal[0]) + abs(start[1] - goal[1])
            assert info["detour_ratio"][t, b] == pytest.approx(bfs[start] / manhattan)
            best = MOVES[info["optimal_action"][t, b]]
            assert bfs.get((position[0] + best[0], position[1] + best[1])) == bfs[position] - 1


def test_reaching_the_goal_pays_and_respawns(pooled):
    env, params = pooled
    obs, state = env.reset(jax.random.PRNGKey(2), params)
    key = jax.random.PRNGKey(3)
    reached = 0
    for _ in range(3):  # three trials, each walked along optimal_action
        key, probe_key = jax.random.split(key)
        *_, info = env.step(probe_key, state, 0, params)
        remaining = int(info["shortest_path"])
        assert remaining == int(info["trial_shortest_path"]) > 0
        for step in range(remaining):
            key, step_key = jax.random.split(key)
            *_, probe = env.step(step_key, state, 0, params)
            action = int(probe["optimal_action"])
            goal = state.goal
            obs, next_state, reward, _, _, info = env.step(step_key, state, action, params)
            assert int(info["shortest_path"]) == remaining - step
            last = step == remaining - 1
            assert bool(info["trial_boundary"]) == last
            assert float(reward) == (10.0 if last else 0.0)
            if last:
                assert int(next_state.trial) == int(state.trial) + 1
                assert int(next_state.position) != int(goal)
                assert int(next_state.trial_start) == int(next_state.position)
                assert int(next_state.goal) == int(goal)  # the goal stays for the next trial
            state = next_state
        reached += 1
    assert int(state.trial) == reached == 3


def test_goal_change_point_frequency_matches_hazard(drifting_rollout):
    state, _, _, _, truncated, info = drifting_rollout[1]
    change_point = np.asarray(info["change_point"])
    n = change_point.size
    # Binomial standard error of the observed frequency; 5 sigma.
    bound = 5 * math.sqrt(HAZARD * (1 - HAZARD) / n)
    assert abs(change_point.mean() - HAZARD) < bound, (change_point.mean(), bound)
    # The goal moves exactly at drift events (change-points and reversals), episode resets aside.
    goal = np.asarray(state.goal)
    moved = goal[1:] != goal[:-1]
    kept = ~np.asarray(truncated)[:-1]
    np.testing.assert_array_equal(moved[kept], np.asarray(info["drift_event"])[:-1][kept])
    # Reversals come exactly every REVERSAL_PERIOD steps of an episode.
    time = np.asarray(state.time)
    np.testing.assert_array_equal(np.asarray(info["reversal"]), (time + 1) % REVERSAL_PERIOD == 0)


def test_reversal_swaps_goal_and_respawns_an_agent_it_lands_on(drifting):
    env, params = drifting
    neighbours = np.asarray(params.layouts.neighbours)[0]
    goal = 0
    # An agent one move (action a) away from square q, with q the alternative goal.
    position = next(p for p in range(1, F) if any(q not in (p, goal) for q in neighbours[p]))
    action = next(a for a in range(4) if neighbours[position, a] not in (position, goal))
    alt_goal = int(neighbours[position, action])
    zero = jnp.int32(0)
    state = MazeState(
        time=jnp.int32(REVERSAL_PERIOD - 1), layout=zero, goal=jnp.int32(goal), alt_goal=jnp.int32(alt_goal),
        position=jnp.int32(position), trial_start=jnp.int32(position), trial=zero,
    )  # fmt: skip
    _, next_state, reward, _, _, info = env.step(jax.random.PRNGKey(0), state, action, params)
    assert bool(info["reversal"]) and bool(info["drift_event"]) and not bool(info["change_point"])
    assert (int(next_state.goal), int(next_state.alt_goal)) == (alt_goal, goal)
    # The goal moved onto the agent: it is respawned elsewhere, with no reward and no trial boundary.
    assert float(reward) == 0.0 and not bool(info["trial_boundary"])
    assert int(next_state.position) != alt_goal and int(next_state.trial) == 0
    assert int(next_state.trial_start) == int(next_state.position)
    # Without the reversal the same move is an ordinary step onto a free square.
    _, plain, _, _, _, info = env.step(
        jax.random.PRNGKey(0), state.replace(time=zero), action, params
    )
    assert (
        not bool(info["drift_event"])
        and int(plain.position) == alt_goal
        and int(plain.goal) == goal
    )


@pytest.mark.parametrize("num_tasks", [1, 4, 16])
def test_training_pool_is_n_distinct_tasks_disjoint_from_held_out(num_tasks):
    _, train = build_maze(MazeConfig(**SMALL, num_tasks=num_tasks), "test-maze")
    _, held_out = build_maze(
        MazeConfig(**SMALL, num_tasks=num_tasks, split="held_out"), "test-maze"
    )
    train_layouts = layout_fingerprints(train.layouts.walls)
    assert train.layouts.walls.shape[0] == len(train_layouts) == num_tasks
    # Task i is (layout i, goal i, alt goal i): distinct layouts make distinct tasks.
    np.testing.assert_array_equal(train.task_pool.layout, np.arange(num_tasks))
    assert train.task_pool.goal.shape == train.task_pool.alt_goal.shape == (num_tasks,)
    held_out_layouts = layout_fingerprints(held_out.layouts.walls)
    assert len(held_out_layouts) == 32
    assert not train_layouts & held_out_layouts
    assert np.all(np.asarray(train.task_pool.goal) != np.asarray(train.task_pool.alt_goal))


def test_infinite_bank_is_disjoint_from_held_out_and_contains_the_pools():
    _, bank = build_maze(MazeConfig(**SMALL), "test-maze")
    _, held_out = build_maze(MazeConfig(**SMALL, split="held_out"), "test-maze")
    _, pool = build_maze(MazeConfig(**SMALL, num_tasks=16), "test-maze")
    bank_layouts = layout_fingerprints(bank.layouts.walls)
    assert len(bank_layouts) == 64 and bank.task_pool is None
    assert not bank_layouts & layout_fingerprints(held_out.layouts.walls)
    np.testing.assert_array_equal(pool.layouts.walls, bank.layouts.walls[:16])  # nested pools


def test_episodes_draw_only_pool_tasks(pooled):
    env, params = pooled
    _, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), 512), params
    )
    layout = np.asarray(state.layout)
    assert set(layout.tolist()) == {0, 1, 2, 3}
    np.testing.assert_array_equal(np.asarray(state.goal), np.asarray(params.task_pool.goal)[layout])
    assert np.all(np.asarray(state.position) != np.asarray(state.goal))
    # Each task is drawn 1/4 of the time: binomial standard error at n = 512, 5 sigma.
    counts = np.bincount(layout, minlength=4) / 512
    assert np.all(np.abs(counts - 0.25) < 5 * math.sqrt(0.25 * 0.75 / 512))


def test_log_wrapper_over_rl2_wrapper(drifting):
    """The training stack LogWrapper(RL2Wrapper(maze)) under jit + vmap, over two episodes."""
    env, params = drifting
    wrapped = LogWrapper(RL2Wrapper(env))
    batch, steps = 64, 40

    @jax.jit
    def run(key):
        reset_key, run_key = jax.random.split(key)
        obs, state = jax.vmap(wrapped.reset, in_axes=(0, None))(
            jax.random.split(reset_key, batch), params
        )

        def one_step(state, step_key):
            action_key, env_key = jax.random.split(step_key)
            action = jax.random.randint(action_key, (batch,), 0, 4)
            obs, state, reward, _, truncated, info = jax.vmap(
                wrapped.step, in_axes=(0, 0, 0, None)
            )(jax.random.split(env_key, batch), state, action, params)
            return state, (obs, action, reward, truncated, info)

        return obs, jax.lax.scan(one_step, state, jax.random.split(run_key, steps))[1]

    first_obs, (obs, action, reward, truncated, info) = run(jax.random.PRNGKey(4))
    obs, action, reward, truncated = map(np.asarray, (obs, action, reward, truncated))
    boundary = np.asarray(info["trial_boundary"])
    assert obs.shape == (steps, batch, 9 + 4 + 2)
    assert np.all(np.asarray(first_obs)[:, -1] == 1.0)  # an episode starts a trial
    # RL^2 inputs: previous action one-hot, previous reward, new-trial flag (zeroed at episode ends).
    np.testing.assert_array_equal(obs[..., -1], boundary | truncated)
    np.testing.assert_array_equal(obs[..., -2], np.where(truncated, 0.0, reward))
    np.testing.assert_array_equal(obs[..., 9:13].argmax(-1)[~truncated], action[~truncated])
    assert boundary.sum() > 0
    # LogWrapper: the return of each 20-step episode, reported at its last step.
    assert np.all(truncated == ((np.arange(1, steps + 1) % 20 == 0)[:, None]))
    returned = np.asarray(info["returned_episode_returns"])
    for end in (19, 39):
        np.testing.assert_allclose(returned[end], reward[end - 19 : end + 1].sum(0))
    assert reward.max() == 10.0


def test_registered_names_build_and_step():
    for name in ("maze-v0", "maze-loops-v0", "maze-moving-goal-v0", "maze-reversal-v0"):
        assert name in menvs.registered_names()
    env, params = menvs.make("maze-loops-v0", **SMALL, num_tasks=2)
    assert params.num_free_cells == F + 4
    assert params.drift.kinds == ()
    _, moving = menvs.make("maze-moving-goal-v0", **SMALL, num_tasks=2)
    assert moving.drift.kinds == ("change_point",) and moving.drift.hazard == 0.01


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(cells_per_side=3), "cells_per_side"),
        (dict(cells_per_side=4.5), "cells_per_side"),
        (dict(extra_openings=10), "extra_openings"),
        (dict(horizon=0), "horizon"),
        (dict(num_tasks=0), "num_tasks"),
        (dict(held_out_size=0), "held_out_size"),
        (dict(prior_bank_size=0), "prior_bank_size"),
        (dict(split="test"), "split"),
        (dict(volatility=0.1), "volatility"),  # not a maze knob: the registry names it
        (dict(drift="random_walk"), "drift"),
        (dict(drift="change_point"), "hazard"),
        (dict(drift="change_point", hazard=1.5), "hazard"),
        (dict(drift="reversal"), "reversal_steps"),
        (dict(task_seed=-1), "task_seed"),
        (dict(prior_bank_size=10**6), "prior_bank_size"),
    ],
)
def test_config_errors_name_the_field(overrides, field):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        menvs.make("maze-v0", **{**SMALL, **overrides})
