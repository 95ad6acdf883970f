"""Build what a config describes: the RL^2-wrapped env, its params and the agent.

One small factory shared by training (``Trainer``), frozen evaluation
(``metarl.runner.frozen``) and sweeps, so loading a checkpoint never needs an
optimizer or a compiled trainer just to learn the agent's shapes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from metarl import envs
from metarl.agents.actor_critic import ActorCritic
from metarl.config import ExperimentConfig


@dataclasses.dataclass(frozen=True)
class Built:
    """The pieces of one experiment that do not depend on the algorithm."""

    env: envs.RL2Wrapper
    """The RL^2 wrapper around the family env (previous action and reward in the observation)."""
    base_env: Any
    """The family env itself (gymnax ``Environment``)."""
    env_params: Any
    """The family env's params (task pool, drift, ...) as ``metarl.envs.make`` built them."""
    agent: ActorCritic
    obs_size: int
    num_actions: int


def build(config: ExperimentConfig, env_params: Any = None) -> Built:
    """Env, params and agent for ``config`` (``env_params`` replaces the built params)."""
    base_env, default_params = envs.make(config.env.name, **config.env.overrides)
    env_params = default_params if env_params is None else env_params
    env = envs.RL2Wrapper(base_env)
    obs_size = env.observation_size(env_params)
    num_actions = env.num_actions_rl2
    agent = ActorCritic(config.agent, obs_size, num_actions)
    return Built(env, base_env, env_params, agent, obs_size, num_actions)
