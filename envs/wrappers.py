"""The RL^2 inputs, added once for every environment.

An RL^2 agent sees, besides the observation, the previous action (one-hot), the
previous reward and a flag that a new trial has begun. ``RL2Wrapper`` appends
them to the flattened observation. It works on any gymnax environment: trial
boundaries come from ``info["trial_boundary"]`` when the env provides it (ours
do), and otherwise from episode ends. At an episode start all three are zero
except the trial flag, which is one.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import spaces
from gymnax.wrappers.purerl import GymnaxWrapper


@struct.dataclass
class RL2State:
    env_state: Any
    prev_action: jax.Array
    prev_reward: jax.Array
    new_trial: jax.Array


class RL2Wrapper(GymnaxWrapper):
    """Observation = [flat obs, one_hot(prev_action), prev_reward, new_trial]."""

    def __init__(self, env):
        super().__init__(env)
        action_space = env.action_space(env.default_params)
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(
                f"RL2Wrapper needs a Discrete action space, got {type(action_space).__name__}"
            )
        self.num_actions_rl2 = int(action_space.n)

    def observation_size(self, params) -> int:
        base = self._env.observation_space(params).shape
        size = 1
        for dim in base:
            size *= int(dim)
        return size + self.num_actions_rl2 + 2

    def _augment(self, obs, prev_action, prev_reward, new_trial) -> jax.Array:
        return jnp.concatenate(
            [
                jnp.ravel(obs).astype(jnp.float32),
                jax.nn.one_hot(prev_action, self.num_actions_rl2, dtype=jnp.float32)
                * (prev_action >= 0),
                jnp.asarray(prev_reward, jnp.float32)[None],
                jnp.asarray(new_trial, jnp.float32)[None],
            ]
        )

    @partial(jax.jit, static_argnames=("self",))
    def reset(self, key: jax.Array, params=None):
        obs, env_state = self._env.reset(key, params)
        state = RL2State(
            env_state=env_state,
            prev_action=jnp.int32(-1),
            prev_reward=jnp.float32(0.0),
            new_trial=jnp.ones((), bool),
        )
        return self._augment(obs, state.prev_action, state.prev_reward, state.new_trial), state

    @partial(jax.jit, static_argnames=("self",))
    def step(self, key: jax.Array, state: RL2State, action, params=None):
        obs, env_state, reward, terminated, truncated, info = self._env.step(
            key, state.env_state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        trial_boundary = info.get("trial_boundary", done)
        new_state = RL2State(
            env_state=env_state,
            prev_action=jnp.where(done, -1, jnp.asarray(action, jnp.int32)),
            prev_reward=jnp.where(done, 0.0, jnp.asarray(reward, jnp.float32)),
            new_trial=jnp.logical_or(done, trial_boundary),
        )
        aug = self._augment(obs, new_state.prev_action, new_state.prev_reward, new_state.new_trial)
        return aug, new_state, reward, terminated, truncated, info

    def observation_space(self, params) -> spaces.Box:
        size = self.observation_size(params)
        return spaces.Box(-jnp.inf, jnp.inf, (size,), jnp.float32)
