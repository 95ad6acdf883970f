"""Teacher forcing: drive one policy through the history another policy produced.

A probe often needs a second agent's internals on the *same* history: a randomly
initialised network as the control of a hidden-state decoder, or a Bayes learner's
posterior on the choices a trained agent made. ``replay_policy`` feeds the recorded
RL^2 observations, previous actions and previous rewards to ``policy`` step by step
(its own actions are ignored), so whatever it carries is a function of the recorded
history only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metarl.evaluation.policy import Policy, PolicyInputs
from metarl.evaluation.rollout import EpisodeBatch


def recorded_inputs(
    episodes: EpisodeBatch, episode_start: jax.Array | None = None
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """The per-step inputs the recording policy saw: (observation [T, B, D], prev_action [T, B],
    prev_reward [T, B], episode_start [T, B]).

    ``episode_start`` defaults to the first step only (one episode per column, as
    ``evaluate_policy`` records when ``num_steps`` is the episode length); pass it
    when a column holds several episodes. Where an episode starts, the previous
    action is -1 and the previous reward 0, as the RL^2 wrapper gives them.
    """
    if episodes.observations is None:
        raise ValueError(
            "replay needs the recorded observations: evaluate with record_observations=True"
        )
    prev_action, prev_reward, starts = previous_outcomes(
        episodes.actions, episodes.rewards, episode_start
    )
    return jnp.asarray(episodes.observations), prev_action, prev_reward, starts


def previous_outcomes(
    actions: jax.Array, rewards: jax.Array, episode_start: jax.Array | None = None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """What an agent knows at each step of a recorded history: (prev_action [T, B] int32,
    prev_reward [T, B] float32, episode_start [T, B] bool) from actions, rewards [T, B].

    ``episode_start`` defaults to the first step only. Where an episode starts the
    previous action is -1 and the previous reward 0 (the RL^2 wrapper's convention).
    """
    actions = jnp.asarray(actions, jnp.int32)
    rewards = jnp.asarray(rewards, jnp.float32)
    num_steps, batch = actions.shape
    if episode_start is None:
        episode_start = jnp.zeros((num_steps, batch), bool).at[0].set(True)
    episode_start = jnp.asarray(episode_start, bool)
    prev_action = jnp.concatenate([jnp.full((1, batch), -1, jnp.int32), actions[:-1]], axis=0)
    prev_reward = jnp.concatenate([jnp.zeros((1, batch), jnp.float32), rewards[:-1]], axis=0)
    prev_action = jnp.where(episode_start, -1, prev_action)
    prev_reward = jnp.where(episode_start, 0.0, prev_reward)
    return prev_action, prev_reward, episode_start


def replay_policy(
    policy: Policy,
    episodes: EpisodeBatch,
    key: jax.Array,
    episode_start: jax.Array | None = None,
) -> dict:
    """Run ``policy`` on the recorded history of ``episodes``; return its extras, each [T, B, ...].

    The policy's own actions are discarded: at every step it sees the recorded
    observation, the recorded previous action and reward, and ``episode_start``
    (see ``recorded_inputs``). No privileged env state is passed (replay has none).
    ``key`` feeds the policy's sampling, which cannot affect what it is shown.
    Jit-able; wrap the call in ``jax.jit`` with ``policy`` closed over.
    """
    observations, prev_action, prev_reward, starts = recorded_inputs(episodes, episode_start)
    num_steps, batch = prev_action.shape

    def one_step(carry, xs):
        observation, action_tm1, reward_tm1, start, step_key = xs
        inputs = PolicyInputs(
            observation=observation,
            prev_action=action_tm1,
            prev_reward=reward_tm1,
            episode_start=start,
        )
        carry, _, extras = policy.act(carry, inputs, step_key)
        return carry, extras

    step_keys = jax.random.split(key, num_steps)
    _, extras = jax.lax.scan(
        one_step,
        policy.init_carry(batch),
        (observations, prev_action, prev_reward, starts, step_keys),
    )
    return extras
