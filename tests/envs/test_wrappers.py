"""The shared RL^2 wrapper: previous action, previous reward and new-trial flag."""

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
from gymnax.wrappers import LogWrapper


def _scan_actions(env, params, actions, key=0):
    obs, state = env.reset(jax.random.PRNGKey(key), params)

    def one(carry, inputs):
        state = carry
        step_key, action = inputs
        obs, state, reward, terminated, truncated, info = env.step(step_key, state, action, params)
        return state, (obs, reward, terminated | truncated)

    keys = jax.random.split(jax.random.PRNGKey(key + 1), len(actions))
    _, (obs_seq, rewards, dones) = jax.lax.scan(one, state, (keys, jnp.asarray(actions)))
    return np.asarray(obs), np.asarray(obs_seq), np.asarray(rewards), np.asarray(dones)


def test_rl2_inputs_follow_the_previous_step_and_reset_at_episode_end():
    horizon = 4
    base, params = menvs.make("bandit-bernoulli-v0", num_arms=3, horizon=horizon)
    env = menvs.RL2Wrapper(base)
    assert env.observation_size(params) == 1 + 3 + 2
    actions = [2, 0, 1, 1, 0, 2]
    first, obs, rewards, dones = _scan_actions(env, params, actions)
    # Episode start: no previous action, zero reward, new-trial flag on.
    np.testing.assert_array_equal(first[1:], [0, 0, 0, 0, 1])
    for t, action in enumerate(actions):
        if dones[t]:
            np.testing.assert_array_equal(obs[t, 1:], [0, 0, 0, 0, 1])
            continue
        np.testing.assert_array_equal(obs[t, 1:4], np.eye(3)[action])
        assert obs[t, 4] == rewards[t]
        assert obs[t, 5] == 1.0  # every bandit pull is a trial
    assert dones[horizon - 1] and dones.sum() == 1


def test_rl2_wrapper_on_a_gymnax_env_uses_episode_ends_as_trial_boundaries():
    base, params = menvs.make("BernoulliBandit-misc")
    env = menvs.RL2Wrapper(base)
    first, obs, rewards, dones = _scan_actions(env, params, [1, 0, 1])
    assert obs.shape == (3, 4 + 2 + 2)
    np.testing.assert_array_equal(obs[0, 4:6], [0, 1])
    assert obs[0, 6] == rewards[0]
    assert obs[0, 7] == 0.0  # no trial boundary inside a gymnax episode


def test_rl2_wrapper_composes_with_log_wrapper_both_ways():
    base, params = menvs.make("bandit-bernoulli-v0", num_arms=2, horizon=3)
    for env in (LogWrapper(menvs.RL2Wrapper(base)), menvs.RL2Wrapper(LogWrapper(base))):
        _, _, rewards, dones = _scan_actions(env, params, [0, 1, 0, 1])
        assert dones[2] and rewards.shape == (4,)
