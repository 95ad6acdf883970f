"""Dark Room: reward only on the goal, goal hidden and kept across trials, held-out goals."""

from functools import partial

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from metarl.envs import distributions
from metarl.envs.dark_room import STAY, DarkRoomTask, goal_order

from metarl.errors import ConfigError

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


@partial(jax.jit, static_argnames=("env",))
def _scripted(env, params, key, actions):
    """Reset, then the given actions [T]: (first obs, obs [T], reward [T], info [T])."""
    obs, state = env.reset(key, params)

    def body(state, inputs):
        step_key, action = inputs
        obs, state, reward, _, _, info = env.step(step_key, state, action, params)
        return state, (obs, reward, info)

    keys = jax.random.split(jax.random.fold_in(key, 1), actions.shape[0])
    _, (observations, rewards, info) = jax.lax.scan(body, state, (keys, actions))
    return obs, observations, rewards, info


def _one_goal(goal, **overrides):
    """The env and params whose only task is ``goal`` (a cell index)."""
    env, params = menvs.make("dark-room-v0", **overrides)
    pool = DarkRoomTask(goal=jnp.asarray([goal], jnp.int32))
    return env, params.replace(task_pool=pool, num_active_tasks=None)


def test_reward_only_on_the_goal_and_every_step_there():
    # Goal two cells up from the centre of the 9 x 9 room: cell (2, 4).
    env, params = _one_goal(2 * 9 + 4, num_trials=2)
    actions = jnp.asarray([UP, RIGHT, LEFT, UP, STAY, STAY, DOWN, UP] + [STAY] * 12 + [UP] * 20)
    _, _, rewards, info = _scripted(env, params, jax.random.PRNGKey(0), actions)
    rewards = np.asarray(rewards)
    # First trial: paid on arriving (step 4), staying (5, 6), not after leaving (7), back (8 on).
    expected = np.zeros(40)
    expected[[3, 4, 5]] = 1.0
    expected[7:20] = 1.0
    # Second trial: straight up passes the goal at its second step and walks on to the edge.
    expected[21] = 1.0
    np.testing.assert_array_equal(rewards, expected)
    assert int(np.asarray(info["trial_shortest_path"])[0]) == 2
    # The oracle (told the goal) is paid from the trial's second step on.
    oracle = np.asarray(info["optimal_expected_reward"]).reshape(2, 20).sum(1)
    np.testing.assert_array_equal(oracle, [19.0, 19.0])


def test_goal_is_hidden_from_the_observation():
    actions = jax.random.randint(jax.random.PRNGKey(3), (60,), 0, 5)
    key = jax.random.PRNGKey(4)
    runs = [_scripted(*_one_goal(goal, num_trials=3), key, actions) for goal in (31, 40, 49)]
    for other in runs[1:]:
        np.testing.assert_array_equal(np.asarray(other[0]), np.asarray(runs[0][0]))
        np.testing.assert_array_equal(np.asarray(other[1]), np.asarray(runs[0][1]))
    # ... while what they are paid differs (the goal is real, just not seen).
    assert len({tuple(np.asarray(run[2]).tolist()) for run in runs}) == 3
    env, params = menvs.make("dark-room-v0")
    assert env.observation_space(params).shape == (18,)


def test_goal_is_kept_across_the_trials_of_an_episode_and_trials_start_at_the_centre():
    env, params = menvs.make("dark-room-v0", num_trials=3, trial_length=5)
    actions = jax.random.randint(jax.random.PRNGKey(1), (45,), 0, 5)  # three episodes
    first, observations, _, info = _scripted(env, params, jax.random.PRNGKey(2), actions)
    goals = np.asarray(info["goal"])
    for episode in range(3):
        assert len({tuple(g) for g in goals[15 * episode : 15 * (episode + 1)]}) == 1
    assert len({tuple(goals[15 * e]) for e in range(3)}) > 1  # a new goal each episode
    np.testing.assert_array_equal(np.asarray(info["trial"])[:15], np.repeat([0, 1, 2], 5))
    boundary = np.asarray(info["trial_boundary"])
    np.testing.assert_array_equal(np.flatnonzero(boundary), np.arange(4, 45, 5))
    centre = np.asarray(first)
    for step in np.flatnonzero(boundary):
        np.testing.assert_array_equal(np.asarray(observations)[step], centre)
    np.testing.assert_array_equal(np.asarray(info["position"])[boundary.nonzero()[0][:-1] + 1], 4)


def test_held_out_goals_are_not_training_goals():
    for seed in (0, 1, 2):
        _, train = menvs.make("dark-room-v0", num_tasks=64, task_seed=seed)
        _, held = menvs.make("dark-room-v0", num_tasks=64, task_seed=seed, split="held_out")
        train_goals = set(np.asarray(train.task_pool.goal).tolist())
        held_goals = set(np.asarray(held.task_pool.goal).tolist())
        assert len(train_goals) == 64 and len(held_goals) == 81 - 64
        assert not train_goals & held_goals and train_goals | held_goals == set(range(81))
    # Smaller pools are prefixes of larger ones; a held-out size takes the next goals.
    _, small = menvs.make("dark-room-v0", num_tasks=16, task_seed=5)
    _, big = menvs.make("dark-room-v0", num_tasks=64, task_seed=5)
    np.testing.assert_array_equal(np.asarray(big.task_pool.goal)[:16], small.task_pool.goal)
    _, held = menvs.make(
        "dark-room-v0", num_tasks=16, task_seed=5, split="held_out", held_out_size=8
    )
    np.testing.assert_array_equal(np.asarray(held.task_pool.goal), goal_order(5, 81)[16:24])
    # Episodes draw only their split's goals.
    env, held = menvs.make("dark-room-v0", num_tasks=64, split="held_out")
    keys = jax.random.split(jax.random.PRNGKey(0), 512)
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, held)
    assert set(np.asarray(states.goal).tolist()) == set(np.asarray(held.task_pool.goal).tolist())


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(room_size=8), "'room_size' = 8 is not allowed; allowed: an odd"),
        (dict(room_size=1), r"'room_size' = 1 is out of range"),
        (dict(trial_length=0), r"'trial_length' = 0 is out of range"),
        (dict(num_trials=2.5), r"'num_trials' = 2.5 must be an integer"),
        (dict(goal_reward=float("nan")), r"'goal_reward' = nan is not allowed"),
        (
            dict(num_tasks=82),
            r"'num_tasks' = 82 is out of range: there are 81 goals of a 9 x 9 room",
        ),
        (dict(num_tasks=80, held_out_size=2), r"'held_out_size' = 2 is out of range: only 1"),
        (dict(num_tasks=81, split="held_out"), r"'split' = 'held_out' is not allowed"),
        (dict(split="test"), r"'split' = 'test' is not allowed"),
    ],
)
def test_bad_config_is_refused_naming_the_field(overrides, message):
    with pytest.raises(ConfigError, match=message):
        menvs.make("dark-room-v0", **overrides)


def test_padded_pool_is_the_unpadded_pool_bit_for_bit_and_vmaps():
    env, plain = menvs.make("dark-room-v0", num_tasks=3, task_seed=1, num_trials=2, trial_length=4)
    _, padded = menvs.make(
        "dark-room-v0", num_tasks=3, task_seed=1, num_trials=2, trial_length=4, pool_capacity=8
    )
    assert distributions.pool_size(padded.task_pool) == 8 and int(padded.num_active_tasks) == 3
    actions = jax.random.randint(jax.random.PRNGKey(0), (30,), 0, 5)
    keys = jax.random.split(jax.random.PRNGKey(9), 16)

    def rollouts(params):
        return jax.vmap(lambda k: _scripted(env, params, k, actions))(keys)

    for a, b in zip(
        jax.tree.leaves(rollouts(padded)), jax.tree.leaves(rollouts(plain)), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Pools of different N at one capacity stack into one vmap axis.
    _, other = menvs.make(
        "dark-room-v0", num_tasks=5, task_seed=2, num_trials=2, trial_length=4, pool_capacity=8
    )
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), padded, other)
    obs, states = jax.jit(jax.vmap(env.reset))(keys[:2], stacked)
    assert obs.shape == (2, 18) and states.goal.shape == (2,)


def test_optimal_action_shortens_the_path():
    env, params = menvs.make("dark-room-v0", num_trials=1)
    actions = jax.random.randint(jax.random.PRNGKey(5), (20,), 0, 5)
    keys = jax.random.split(jax.random.PRNGKey(6), 64)
    _, _, _, info = jax.vmap(lambda k: _scripted(env, params, k, actions))(keys)
    position, goal = np.asarray(info["position"]), np.asarray(info["goal"])
    best = np.asarray(info["optimal_action"])
    moves = np.array([[-1, 0], [0, 1], [1, 0], [0, -1], [0, 0]])
    after = np.clip(position + moves[best], 0, 8)
    before_d = np.abs(goal - position).sum(-1)
    np.testing.assert_array_equal(np.abs(goal - after).sum(-1), np.maximum(before_d - 1, 0))
    np.testing.assert_array_equal(np.asarray(info["shortest_path"]), before_d)
