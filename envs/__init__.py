"""metarl.envs: meta-RL environment families on the gymnax API.

``make(name, **overrides) -> (env, params)``; ``registered_names()`` lists names;
``spec(name).family`` / ``family_of(name)`` name its family (None for a gymnax name).
Family configs share ``TaskSourceConfig`` (pools, held-out split, ``pool_capacity``)
and ``DriftConfig``; the families that step with one random draw share ``MetaEnv``.
"""

from metarl.envs import catalog as _catalog  # noqa: F401  (registers the families)
from metarl.envs.base import MetaEnv
from metarl.envs.distributions import (
    TaskSource,
    TaskSourceConfig,
    active_task_pool,
    build_task_pools,
    draw_task,
)
from metarl.envs.drift import DriftConfig, DriftParams, WalkDriftConfig, make_drift
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
    "DriftConfig",
    "DriftParams",
    "EnvSpec",
    "MetaEnv",
    "RL2Wrapper",
    "TaskSource",
    "TaskSourceConfig",
    "WalkDriftConfig",
    "active_task_pool",
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
