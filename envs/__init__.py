"""metarl.envs: meta-RL environment families on the gymnax API.

``make(name, **overrides) -> (env, params)``; ``registered_names()`` lists names;
``spec(name).family`` / ``family_of(name)`` name its family (None for a gymnax name).
"""

from metarl.envs import catalog as _catalog  # noqa: F401  (registers the families)
from metarl.envs.distributions import build_task_pools, draw_task
from metarl.envs.drift import DriftParams, make_drift
from metarl.envs.registry import (
    EnvSpec,
    allowed_overrides,
    env_config,
    families,
    family_of,
    make,
    register,
    registered_names,
    spec,
)
from metarl.envs.wrappers import RL2Wrapper

from metarl.errors import ConfigError

__all__ = [
    "ConfigError",
    "DriftParams",
    "EnvSpec",
    "RL2Wrapper",
    "allowed_overrides",
    "build_task_pools",
    "draw_task",
    "env_config",
    "families",
    "family_of",
    "make",
    "make_drift",
    "register",
    "registered_names",
    "spec",
]
