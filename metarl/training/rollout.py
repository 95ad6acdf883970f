"""On-policy rollouts of the recurrent agent in a batch of RL^2 environments.

``collect`` runs ``length`` steps of every env under ``lax.scan``: reset the carry
where an episode starts, act, step the env (gymnax auto-resets finished episodes),
and record what the losses need. Episode ends (terminated or truncated) stop
bootstrapping: in meta-RL the horizon is part of the task (the bandit even shows the
elapsed fraction), so a time limit is a real end, as in PureJaxRL.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from metarl.agents import policy
from metarl.agents.actor_critic import ActorCritic
from metarl.training import threefry
from metarl.training.state import TrainState


@struct.dataclass
class Trajectory:
    """One rollout, every field [T, B, ...]."""

    obs: jax.Array
    """[T, B, obs_size] observation acted on."""
    episode_start: jax.Array
    """[T, B] bool: obs is the first of an episode (carry was reset before acting)."""
    action: jax.Array
    """[T, B] int32."""
    logits: jax.Array
    """[T, B, A] policy logits under the acting parameters."""
    log_prob: jax.Array
    """[T, B] log pi(action) under the acting parameters."""
    value: jax.Array
    """[T, B] value estimate under the acting parameters."""
    reward: jax.Array
    """[T, B] float32."""
    done: jax.Array
    """[T, B] bool: the episode ended with this transition."""
    completed_return: jax.Array
    """[T, B] float32: the finished episode's return where done, else 0."""
    regret: jax.Array | None
    """[T, B] float32 info['regret'] when the env reports it, else None."""
    core_record: Any = None
    """The core's record of each step ([T, B, ...] leaves; ReplayableCore) when asked for, else None."""


@struct.dataclass
class RolloutResult:
    trajectory: Trajectory
    bootstrap_value: jax.Array
    """[B] value of the obs after the last step (under the carry the rollout ended with)."""
    initial_carry: Any
    """[B, ...] carry the rollout started from (before its first reset): recurrent losses replay from it."""


def env_reports_regret(env, env_params, num_actions: int) -> bool:
    """Whether ``env.step`` puts 'regret' in info (checked on shapes only)."""
    key = jax.random.PRNGKey(0)

    def probe(key):
        _, state = env.reset(key, env_params)
        return env.step(key, state, jnp.int32(0), env_params)[-1]

    return "regret" in jax.eval_shape(probe, key)


def collect(
    agent: ActorCritic,
    env,
    env_params,
    params: Any,
    state: TrainState,
    key: jax.Array,
    length: int,
    with_regret: bool,
    record_core: bool = False,
) -> tuple[TrainState, RolloutResult]:
    """Run ``length`` steps; returns the state with advanced env fields, and the rollout.

    ``record_core``: also keep the core's record of every step (``agent.step_recorded``)
    in ``trajectory.core_record``, for a loss that replays it (``agent.replay``).
    """
    num_envs = state.obs.shape[0]
    step_env = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def one_step(carry, step_keys):
        env_state, obs, core_carry, episode_start, episode_return = carry
        action_noise, env_keys = step_keys
        if record_core:
            core_carry, out, core_record = agent.step_recorded(
                params, core_carry, obs, episode_start
            )
        else:
            core_carry, out = agent.step(params, core_carry, obs, episode_start)
            core_record = None
        action = policy.sample_with_noise(out.logits, action_noise)
        next_obs, env_state, reward, terminated, truncated, info = step_env(
            env_keys, env_state, action, env_params
        )
        reward = reward.astype(jnp.float32)
        done = jnp.logical_or(terminated, truncated)
        episode_return = episode_return + reward
        transition = Trajectory(
            obs=obs,
            episode_start=episode_start,
            action=action,
            logits=out.logits,
            log_prob=policy.log_prob(out.logits, action),
            value=out.value,
            reward=reward,
            done=done,
            completed_return=jnp.where(done, episode_return, 0.0),
            regret=info["regret"].astype(jnp.float32) if with_regret else None,
            core_record=core_record,
        )
        episode_return = jnp.where(done, 0.0, episode_return)
        return (env_state, next_obs, core_carry, done, episode_return), transition

    initial = (state.env_state, state.obs, state.carry, state.episode_start, state.episode_return)
    # All of the rollout's randomness in two calls: on CPU each PRNG call inside the
    # step loop would be a rolled loop of its own. threefry.gumbel/split are
    # jax.random's, bit for bit, with the hash unrolled (one fused pass on CPU).
    action_key, env_key = jax.random.split(key)
    step_keys = (
        threefry.gumbel(action_key, (length, num_envs, agent.num_actions)),
        threefry.split(env_key, (length, num_envs)),
    )
    (env_state, obs, core_carry, episode_start, episode_return), trajectory = jax.lax.scan(
        one_step, initial, step_keys
    )
    _, last = agent.step(params, core_carry, obs, episode_start)
    state = state.replace(
        env_state=env_state,
        obs=obs,
        carry=core_carry,
        episode_start=episode_start,
        episode_return=episode_return,
    )
    return state, RolloutResult(
        trajectory=trajectory,
        bootstrap_value=last.value,
        initial_carry=initial[2],
    )


def episode_metrics(trajectory: Trajectory, last_episode_return: jax.Array) -> dict[str, jax.Array]:
    """Mean return of episodes completed in the rollout (the previous value if none did)."""
    completed = jnp.sum(trajectory.done)
    mean_return = jnp.sum(trajectory.completed_return) / jnp.maximum(completed, 1)
    metrics = {
        "mean_episode_return": jnp.where(completed > 0, mean_return, last_episode_return),
        "episodes_completed": completed.astype(jnp.int32),
    }
    if trajectory.regret is not None:
        metrics["mean_regret_per_step"] = jnp.mean(trajectory.regret)
    return metrics
