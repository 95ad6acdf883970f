"""Maze difficulty probe: trial bookkeeping, ground-truth labels, and the two reference behaviours.

On held-out layouts, the BFS planner's steps to the goal in later trials equal the
shortest path whatever the detour, while the local (search-free) heuristic's success
falls with the detour ratio, also at a fixed path length. Bounds are the 95%
intervals (clustered by episode) of the samples in the test, seed 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from metarl.envs.wrappers import RL2Wrapper

from metarl.evaluation.baselines.maze import bfs_planner, local_heuristic, maze_references
from metarl.evaluation.rollout import EpisodeBatch
from metarl.probes import difficulty as probe

KEY = jax.random.PRNGKey(0)
EPISODES = 256


@pytest.fixture(scope="module")
def maze():
    return probe.held_out_maze(held_out_size=64, prior_bank_size=256)


@pytest.fixture(scope="module")
def scaling(maze):
    env, params = maze
    return probe.difficulty_scaling(None, env, params, KEY, EPISODES)


def test_trial_bookkeeping_on_a_hand_made_batch():
    # One column, horizon 6, two episodes; goals reached at steps 2 and 4, then 9.
    boundary = np.zeros((12, 1), bool)
    boundary[[2, 4, 9], 0] = True
    path = np.array([3, 3, 3, 2, 2, 5, 4, 4, 4, 4, 6, 6])[:, None]
    batch = EpisodeBatch(
        actions=np.zeros((12, 1), np.int32),
        rewards=boundary.astype(np.float32),
        info={"trial_boundary": boundary},
        extras={"trial_shortest_path": path, "detour_ratio": path / 2.0},
    )
    trials = probe.maze_trials(batch, horizon=6)
    # Trials start at steps 0, 3, 5 (episode 1) and 6, 10 (episode 2).
    np.testing.assert_array_equal(trials.shortest_path, [3, 2, 5, 4, 6])
    np.testing.assert_array_equal(trials.steps, [3, 2, 1, 4, 2])
    np.testing.assert_array_equal(trials.reached, [True, True, False, True, False])
    np.testing.assert_array_equal(trials.remaining, [6, 3, 1, 6, 2])
    np.testing.assert_array_equal(trials.trial_index, [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(trials.episode, [0, 0, 0, 1, 1])
    bins = probe.bin_trials(trials, "shortest_path", (1, 4, 10), budget=3, which="all")
    # Eligible (remaining >= 3): trials 0, 1, 3. Bin [1, 4): trials 0 (3 steps), 1 (2); bin [4, 10): trial 3 (4 > 3).
    assert bins.count == [2, 1]
    assert bins.success[0].value == 1.0 and bins.success[1].value == 0.0
    assert bins.steps_to_goal[0].value == 2.5 and bins.steps_to_goal[1].value == 3.0
    with pytest.raises(ValueError):
        probe.maze_trials(
            EpisodeBatch(actions=batch.actions, rewards=batch.rewards, info=batch.info, extras={}),
            6,
        )


def test_ground_truth_labels_match_the_env_info(maze):
    env, params = maze
    wrapped = RL2Wrapper(env)

    def rollout(key):
        reset_key, step_key = jax.random.split(key)
        _, state = jax.vmap(wrapped.reset, in_axes=(0, None))(
            jax.random.split(reset_key, 16), params
        )

        def one(state, key):
            action_key, env_key = jax.random.split(key)
            action = jax.random.randint(action_key, (16,), 0, 4)
            truth = probe.maze_ground_truth(state.env_state, params.layouts)
            _, state, _, _, _, info = jax.vmap(wrapped.step, in_axes=(0, 0, 0, None))(
                jax.random.split(env_key, 16), state, action, params
            )
            return state, (truth, {k: info[k] for k in probe.TRUTH_KEYS}, info["trial_boundary"])

        return jax.lax.scan(one, state, jax.random.split(step_key, 400))[1]

    truth, info, boundary = jax.jit(rollout)(KEY)
    assert int(boundary.sum()) > 10  # random walks do reach goals: new trials are covered
    for name in probe.TRUTH_KEYS:
        np.testing.assert_allclose(np.asarray(truth[name]), np.asarray(info[name]), rtol=1e-6)


def test_bfs_planner_steps_track_the_shortest_path_in_later_trials(scaling):
    trials = scaling["bfs_planner"].trials
    later = (trials.trial_index > 0) & trials.reached
    assert later.sum() > 1000  # measured 4053 later trials reached
    np.testing.assert_array_equal(trials.steps[later], trials.shortest_path[later])
    # First trials explore: never shorter than the shortest path, longer on average.
    first = (trials.trial_index == 0) & trials.reached
    assert np.all(trials.steps[first] >= trials.shortest_path[first])
    assert trials.steps[first].mean() > 1.5 * trials.shortest_path[first].mean()
    by_detour = scaling["bfs_planner"].by_detour_ratio
    assert all(e.value == 1.0 for e in by_detour.excess_ratio) and all(
        e.value == 1.0 for e in by_detour.success
    )
    steps = [e.value for e in scaling["bfs_planner"].by_shortest_path.steps_to_goal]
    assert np.all(np.diff(steps) > 0)


def test_local_heuristic_degrades_with_detour_ratio(scaling):
    by_detour = scaling["local_heuristic"].by_detour_ratio
    low, high = by_detour.success[0], by_detour.success[-1]
    # measured: 0.83 +- 0.06 at detour 1 (178 trials), 0.00 at detour >= 3 (40 trials);
    # at paths of 4-11 steps: 0.81 +- 0.07 straight (108) vs 0.24 +- 0.13 at detour >= 1.5 (54)
    assert by_detour.count[0] > 50 and by_detour.count[-1] > 20
    assert low.low > high.high + 0.3
    assert by_detour.excess_ratio[0].high < by_detour.excess_ratio[-1].low
    # At a fixed path length too (not only because detours are longer): paths of 4-11 steps.
    trials = scaling["local_heuristic"].trials
    band = (trials.trial_index > 0) & (trials.remaining >= probe.DEFAULT_BUDGET)
    band &= (trials.shortest_path >= 4) & (trials.shortest_path < 12)
    success = trials.reached & (trials.steps <= probe.DEFAULT_BUDGET)
    straight = band & (trials.detour_ratio < 1.0001)
    detour = band & (trials.detour_ratio >= 1.5)
    straight_rate = probe.clustered_mean(success[straight], trials.episode[straight])
    detour_rate = probe.clustered_mean(success[detour], trials.episode[detour])
    assert straight_rate.low > detour_rate.high, (straight_rate, detour_rate)
    # The planner shows no such slope: its later trials all succeed in every bin.
    assert all(e.value == 1.0 for e in scaling["bfs_planner"].by_detour_ratio.success)


def test_maze_references_names(maze):
    _, params = maze
    references = maze_references(params, depth=2)
    assert set(references) == {"bfs_planner", "depth_limited_planner", "local_heuristic"}
    assert references["depth_limited_planner"].thinks and not references["bfs_planner"].thinks
    assert not local_heuristic(params).thinks and bfs_planner(params).num_actions == 4
    assert jnp.asarray(params.layouts.distance).shape[0] == 64
