"""Dark Room references: the sweep explorer finds every goal and walks back by a shortest path."""

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from metarl.envs.dark_room import DarkRoomTask

from metarl.evaluation.baselines.bandit import random_policy
from metarl.evaluation.baselines.dark_room import (
    explorer_expected_trial_returns,
    random_trial_returns,
    sweep_explorer,
    sweep_tour,
)
from metarl.evaluation.policy import PolicyInputs
from metarl.evaluation.rollout import evaluate_policy


@pytest.mark.parametrize("size", [3, 5, 9])
def test_tour_is_four_snakes_from_the_centre_then_the_centre(size):
    tour = sweep_tour(size)
    assert sorted(tour.tolist()) == list(range(size * size))
    centre = (size // 2) * size + size // 2
    assert tour[-1] == centre
    rows, cols = tour // size, tour % size
    quarter = (size * size - 1) // 4
    for q in range(4):
        part = slice(q * quarter, (q + 1) * quarter)
        r, c = rows[part], cols[part]
        # Entered from the centre's neighbour, one step between consecutive cells.
        assert abs(r[0] - size // 2) + abs(c[0] - size // 2) == 1
        np.testing.assert_array_equal(np.abs(np.diff(r)) + np.abs(np.diff(c)), 1)


def _expected_explorer(size=9, trial_length=20, num_trials=10):
    """By hand: the i-th tour cell is found on step i % 20 + 1 of trial i // 20 (the centre
    on step 1 of trial 4); then 21 - d per trial, d steps from the centre (20 at it)."""
    tour = sweep_tour(size)
    half = size // 2
    returns = np.zeros((size * size, num_trials))
    for i, goal in enumerate(tour):
        d = abs(goal // size - half) + abs(goal % size - half)
        trial, step = (i // trial_length, i % trial_length + 1) if d else (4, 1)
        returns[goal, trial] = trial_length + 1 - step
        returns[goal, trial + 1 :] = min(trial_length, trial_length + 1 - d)
    return returns


def test_explorer_finds_every_goal_and_then_walks_a_shortest_path():
    _, params = menvs.make("dark-room-v0")
    played = explorer_expected_trial_returns(params, np.arange(81))
    np.testing.assert_array_equal(played, _expected_explorer())
    # Found within the 81 cells: from the sixth trial on, every goal is paid its best.
    assert np.all(played[:, 5:] >= 13)
    np.testing.assert_allclose(
        played.mean(0)[:5], [20 / 81 * 10.5, 6.6666667, 10.7407407, 14.8148148, 16.5432099]
    )


def test_explorer_later_trials_reach_the_goal_in_shortest_path_steps():
    env, params = menvs.make("dark-room-v0", num_tasks=81, num_trials=6)
    batch = evaluate_policy(sweep_explorer(params), env, params, jax.random.PRNGKey(0), 256, 120)
    rewards = np.asarray(batch.rewards).reshape(6, 20, 256)
    distance = np.asarray(batch.info["trial_shortest_path"])[0]
    first_paid = np.argmax(rewards[5] > 0, axis=0) + 1  # 1-based step of the first pay
    np.testing.assert_array_equal(first_paid, np.maximum(distance, 1))
    assert np.all(rewards[5].sum(0) == np.minimum(20, 21 - distance))


def test_explorer_reads_no_privileged_state():
    _, params = menvs.make("dark-room-v0")
    policy = sweep_explorer(params)
    observation = jnp.zeros((2, 18 + 5 + 2)).at[:, 4].set(1.0).at[:, 13].set(1.0)
    inputs = PolicyInputs(
        observation=observation,
        prev_action=jnp.full((2,), -1),
        prev_reward=jnp.zeros((2,)),
        episode_start=jnp.ones((2,), bool),
    )
    _, action, extras = policy.act(policy.init_carry(2), inputs, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(action), [0, 0])  # up: into the first snake
    np.testing.assert_array_equal(np.asarray(extras["known_goal"]), [-1, -1])


def test_random_trial_returns_match_played_random_episodes():
    _, params = menvs.make("dark-room-v0", num_trials=1)
    exact = random_trial_returns(params, np.arange(81))
    # Expected visits over 20 steps sum to 20 over the cells; the centre is visited most.
    assert exact.sum() == pytest.approx(20.0)
    assert exact.argmax() == 40
    env = menvs.make("dark-room-v0", num_trials=1)[0]
    for goals, tolerance in ((np.arange(81), 0.04), (np.array([40]), 0.08)):
        pool = DarkRoomTask(goal=jnp.asarray(goals, jnp.int32))
        batch = evaluate_policy(
            random_policy(5), env, params.replace(task_pool=pool), jax.random.PRNGKey(1), 4096, 20
        )
        mean = float(np.asarray(batch.rewards).sum(0).mean())
        assert mean == pytest.approx(exact[goals].mean(), abs=tolerance)
