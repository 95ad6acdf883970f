"""PPO with recurrent minibatches (Schulman et al. 2017; the PureJaxRL/CleanRL recurrent form).

One update = one rollout, GAE advantages under the acting parameters, then
``update_epochs`` passes; each pass shuffles the *env* axis and splits it into
``num_minibatches`` groups of whole env sequences. A minibatch is replayed through the
core from the carry its envs had when the rollout began (stored by the rollout), with
the same episode-start resets, so the recurrent state seen by the loss matches the one
that produced the actions. Loss: clipped surrogate (on per-minibatch standardised
advantages when ``normalize_advantages``), value regression to the GAE targets,
entropy bonus.

Values are not clipped: in meta-RL episode returns are large (tens) and PPO2's value
clip of +-clip_eps around the old value would slow value learning to a crawl.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from metarl.agents import policy
from metarl.agents.actor_critic import ActorCritic
from metarl.config import ExperimentConfig
from metarl.training import losses
from metarl.training.rollout import collect
from metarl.training.state import TrainState
from metarl.training.update import (
    UpdateFn,
    advantages_and_targets,
    apply_gradients,
    discount,
    entropy_coefficient,
    finish_update,
    standardize,
)


@struct.dataclass
class Minibatch:
    """Whole env sequences of one rollout: time-major fields [T, b], the carry [b, ...]."""

    obs: jax.Array
    """[T, b, obs_size] observations acted on."""
    episode_start: jax.Array
    """[T, b] bool: the carry is reset before acting on this obs."""
    action: jax.Array
    """[T, b] int32 actions taken."""
    log_prob: jax.Array
    """[T, b] log pi(action) under the acting parameters."""
    advantages: jax.Array
    """[T, b] GAE advantages under the acting parameters."""
    targets: jax.Array
    """[T, b] value targets (advantages + acting value)."""
    initial_carry: Any
    """[b, ...] the carry these envs had when the rollout began."""

    def select(self, env_index: jax.Array) -> Minibatch:
        """The sequences of envs ``env_index``: time-major fields on axis 1, the carry on 0."""
        time_major = {
            name: getattr(self, name)[:, env_index]
            for name in ("obs", "episode_start", "action", "log_prob", "advantages", "targets")
        }
        carry = jax.tree.map(lambda leaf: leaf[env_index], self.initial_carry)
        return Minibatch(**time_major, initial_carry=carry)


def make_ppo_update(
    agent: ActorCritic,
    env: Any,
    config: ExperimentConfig,
    optimizer: optax.GradientTransformation,
    with_regret: bool,
) -> UpdateFn:
    """The PPO update for one seed: (TrainState, env_params) -> (TrainState, metrics)."""
    algo, run = config.algo, config.run
    num_updates = run.num_updates
    steps_per_update = run.num_envs * run.rollout_length
    envs_per_minibatch = run.num_envs // algo.num_minibatches

    def loss_fn(params, batch: Minibatch, entropy_coef):
        _, out = agent.unroll(params, batch.initial_carry, batch.obs, batch.episode_start)
        log_prob = policy.log_prob(out.logits, batch.action)
        ratio = jnp.exp(log_prob - batch.log_prob)
        advantages = batch.advantages
        if algo.normalize_advantages:
            advantages = standardize(advantages)
        policy_loss = jnp.mean(
            jax.vmap(losses.clipped_surrogate_loss, in_axes=(1, 1, None))(
                ratio, advantages, algo.clip_eps
            )
        )
        value_loss = jnp.mean(jax.vmap(losses.value_loss, in_axes=1)(out.value, batch.targets))
        entropy = -jnp.mean(jax.vmap(losses.entropy_loss, in_axes=1)(out.logits))
        total = policy_loss + algo.value_coef * value_loss - entropy_coef * entropy
        return total, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}

    def update(state: TrainState, env_params: Any):
        rng, rollout_key, shuffle_key = jax.random.split(state.rng, 3)
        next_state, rollout = collect(
            agent,
            env,
            env_params,
            state.params,
            state,
            rollout_key,
            run.rollout_length,
            with_regret,
        )
        gamma = discount(algo, state.update_step, num_updates)
        advantages, targets = advantages_and_targets(rollout, gamma, algo.gae_lambda)
        entropy_coef = entropy_coefficient(algo, state.update_step, num_updates)
        trajectory = rollout.trajectory
        # Time-major fields are [T, B]; the carry is [B, ...]: minibatches index the env axis.
        whole = Minibatch(
            obs=trajectory.obs,
            episode_start=trajectory.episode_start,
            action=trajectory.action,
            log_prob=trajectory.log_prob,
            advantages=advantages,
            targets=targets,
            initial_carry=rollout.initial_carry,
        )

        def minibatch_step(carry, env_index):
            params, opt_state = carry
            batch = whole.select(env_index)
            (total, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                params, batch, entropy_coef
            )
            params, opt_state, grad_norm, finite = apply_gradients(
                optimizer, params, opt_state, grads, total
            )
            stats.update(total_loss=total, grad_norm=grad_norm, loss_is_finite=finite)
            return (params, opt_state), stats

        def epoch(carry, epoch_key):
            order = jax.random.permutation(epoch_key, run.num_envs)
            return jax.lax.scan(
                minibatch_step, carry, order.reshape(algo.num_minibatches, envs_per_minibatch)
            )

        (params, opt_state), stats = jax.lax.scan(
            epoch,
            (state.params, state.opt_state),
            jax.random.split(shuffle_key, algo.update_epochs),
        )
        finite = jnp.all(stats.pop("loss_is_finite"))
        stats = jax.tree.map(jnp.mean, stats)
        stats["loss_is_finite"] = finite
        return finish_update(next_state, rollout, params, opt_state, rng, steps_per_update, stats)

    return update
