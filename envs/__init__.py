"""metarl.envs: meta-RL environment families on the gymnax API.

``make(name, **overrides) -> (env, params)``; ``registered_names()`` lists names.
"""

from metarl.envs import catalog as _catalog  # noqa: F401  (registers the families)
from metarl.envs.distributions import build_task_pools, draw_task
from metarl.envs.drift import DriftParams, make_drift
from metarl.envs.registry import allowed_overrides, env_config, make, register, registered_names
from metarl.envs.wrappers import RL2Wrapper

from metarl.errors import ConfigError

__all__ = [
    "ConfigError",
    "DriftParams",
    "RL2Wrapper",
    "allowed_overrides",
    "build_task_pools",
    "draw_task",
    "env_config",
    "make",
    "make_drift",
    "register",
    "registered_names",
]
