"""Frozen-weight episodes with per-step arrays, identical across policies.

The environment's randomness (task draws, reward draws, drift) depends only on the
evaluation key, never on the policy, so two policies evaluated with the same key
face the same tasks and the same reward draws: differences between them are
paired. Arrays come back shaped ``[step, episode]``: summing over steps would
throw away the learning-after-freeze curve.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from metarl.envs.wrappers import RL2Wrapper
from metarl.evaluation.policy import Policy, PolicyInputs

# Info keys copied into the episode record when the env provides them.
RECORDED_INFO = (
    "regret",
    "optimal_action",
    "expected_reward",
    "optimal_expected_reward",
    "trial",
    "trial_boundary",
    "task_id",
    "change_point",
    "reversal",
    "drift_event",
    # volatility blocks: which block type (index into block_hazards) each pull is in
    "block",
    # two-step task: what the stay-probability analysis conditions on
    "stage",
    "first_stage_action",
    "transition_common",
    "second_stage_state",
    "rewarded",
    # mazes: difficulty labels and where the agent and goal are
    "layout_id",
    "shortest_path",
    "trial_shortest_path",
    "detour_ratio",
    "goal",
    "position",
)


@struct.dataclass
class EpisodeBatch:
    """One episode per column: every array is ``[step, episode, ...]``."""

    actions: jax.Array
    """[step, episode] int32 action taken."""
    rewards: jax.Array
    """[step, episode] float32 reward received."""
    info: dict
    """Ground truth per step (``RECORDED_INFO`` keys the env provides): never shown to agents."""
    extras: dict
    """What the policy exposed per step (hidden state, logits, beliefs) if ``record_extras``."""
    observations: jax.Array | None = None
    """[step, episode, D] the RL^2 observation each action was chosen on, if
    ``record_observations``: lets another policy be replayed on this exact history."""

    @property
    def returns(self) -> jax.Array:
        """[episode] total reward."""
        return self.rewards.sum(0)


def evaluate_policy(
    policy: Policy,
    env,
    env_params,
    key: jax.Array,
    num_episodes: int,
    num_steps: int,
    record_extras: bool = False,
    record_observations: bool = False,
) -> EpisodeBatch:
    """Run ``num_episodes`` episodes of ``num_steps`` steps (one episode per env).

    ``env`` is an unwrapped gymnax env; the RL^2 inputs are added here. Episodes
    should last exactly ``num_steps`` steps (the env's episode length).
    """
    wrapped = RL2Wrapper(env)
    env_key, policy_key = jax.random.split(key)
    reset_key, step_key = jax.random.split(env_key)
    obs, state = jax.vmap(wrapped.reset, in_axes=(0, None))(
        jax.random.split(reset_key, num_episodes), env_params
    )
    carry = policy.init_carry(num_episodes)

    def one_step(loop, keys):
        obs, state, carry, episode_start = loop
        env_step_key, act_key = keys
        inputs = PolicyInputs(
            observation=obs,
            prev_action=state.prev_action,
            prev_reward=state.prev_reward,
            episode_start=episode_start,
            privileged_state=state.env_state,
        )
        carry, action, extras = policy.act(carry, inputs, act_key)
        obs, state, reward, terminated, truncated, info = jax.vmap(
            wrapped.step, in_axes=(0, 0, 0, None)
        )(jax.random.split(env_step_key, num_episodes), state, action, env_params)
        recorded = {name: info[name] for name in RECORDED_INFO if name in info}
        out = (
            action,
            reward,
            recorded,
            extras if record_extras else {},
            inputs.observation if record_observations else None,
        )
        return (obs, state, carry, jnp.logical_or(terminated, truncated)), out

    step_keys = jax.random.split(step_key, num_steps)
    act_keys = jax.random.split(policy_key, num_steps)
    start = jnp.ones((num_episodes,), bool)
    _, (actions, rewards, info, extras, observations) = jax.lax.scan(
        one_step, (obs, state, carry, start), (step_keys, act_keys)
    )
    return EpisodeBatch(
        actions=actions, rewards=rewards, info=info, extras=extras, observations=observations
    )
