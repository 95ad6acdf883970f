"""The whole in-flight training state, one named dataclass.

Everything a resumed run needs to continue bit-for-bit lives here: parameters,
optimizer state, the PRNG key, the update counter, and the state of the parallel
environments mid-episode (env state, last observation, recurrent carry, which
envs start an episode on the next step, running episode returns). A trainer adds
a leading ``[num_seeds]`` axis to every leaf; env-batched fields then have the
env axis second (``[num_seeds, num_envs, ...]``), which is the axis that is
sharded over devices.
"""

from __future__ import annotations

from typing import Any

import jax
from flax import struct


@struct.dataclass
class TrainState:
    params: Any
    """Agent parameters (ActorCritic.init_params)."""
    opt_state: Any
    """optax optimizer state (its step count drives the learning-rate schedule)."""
    rng: jax.Array
    """uint32[2] PRNG key; split once per update."""
    update_step: jax.Array
    """int32: updates done so far (drives the entropy schedule and env_steps)."""
    env_state: Any
    """RL2Wrapper state of each env, [num_envs, ...]."""
    obs: jax.Array
    """[num_envs, obs_size] observation the next step acts on."""
    carry: Any
    """Recurrent carry of each env, [num_envs, ...], before the episode-start reset."""
    episode_start: jax.Array
    """[num_envs] bool: obs is the first of an episode (the carry is reset before acting)."""
    episode_return: jax.Array
    """[num_envs] float32: reward summed so far in each env's current episode."""
    last_episode_return: jax.Array
    """float32: mean return of the episodes completed in the latest update that completed any."""


# Fields whose leaves carry the env axis (sharded over devices); the rest are replicated.
ENV_BATCHED_FIELDS = ("env_state", "obs", "carry", "episode_start", "episode_return")
