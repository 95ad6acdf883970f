"""Advantage actor-critic (Mnih et al. 2016; the meta-RL form of Wang et al. 2016).

One update = one rollout of ``rollout_length`` steps in every env, GAE advantages
over it (``gae_lambda = 1`` gives the n-step returns of A2C), and a single gradient
step on policy-gradient + value + entropy losses.

A2C takes one gradient step with the very parameters that acted, so the forward pass
the rollout ran is exactly what a second pass over the stored inputs would recompute;
the loss reuses it instead of running the core again where that is cheaper:

* cores with a record (``ReplayableCore``: the GRU, the transformer): the rollout keeps
  what each step's backward pass reads (the GRU's gates; the transformer's
  activations, ``metarl.agents.transformer_replay``), and the loss differentiates
  ``agent.replay`` of them from the rollout's initial carry, whose backward pass is the
  core's hand-written one and whose forward is read off the record (no
  recomputation), faster per update than differentiating through the rollout (GRU)
  or re-running the core in parallel (transformer, 0.20x -> 0.23x the GRU's speed in
  ``scripts/bench_train.py``; CHANGELOG).
* cores that only unroll in parallel (``ParallelCore`` without a record; none now):
  the rollout acts step by step without a gradient and the loss differentiates
  ``agent.unroll`` over the stored rollout from its initial carry, all steps at once.
* other cores: the loss is differentiated through the rollout itself (sampled actions
  and env steps carry no gradient; the carry is back-propagated through the whole
  rollout as in a separate unroll), faster than re-running the core (CHANGELOG).

All three give the gradient of the same objective as replaying the stored
observations through ``agent.unroll`` from the rollout's initial carry (up to float
rounding; tests/training/test_trainer.py checks the first and last).

The pieces PPO shares (optimizer, schedules, advantage targets, the guarded
parameter step) live in ``metarl.training.update``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from metarl.agents.actor_critic import ActorCritic
from metarl.config import ExperimentConfig
from metarl.training import losses
from metarl.training.rollout import RolloutResult, collect
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


def a2c_objective(
    logits: jax.Array,
    value: jax.Array,
    action: jax.Array,
    advantages: jax.Array,
    targets: jax.Array,
    value_coef: float,
    entropy_coef: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """policy-gradient + value_coef * value - entropy_coef * entropy over [T, B] arrays."""
    policy_loss = jnp.mean(
        jax.vmap(losses.policy_gradient_loss, in_axes=1)(logits, action, advantages)
    )
    value_loss = jnp.mean(jax.vmap(losses.value_loss, in_axes=1)(value, targets))
    entropy = -jnp.mean(jax.vmap(losses.entropy_loss, in_axes=1)(logits))
    total = policy_loss + value_coef * value_loss - entropy_coef * entropy
    return total, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}


def make_a2c_loss(agent: ActorCritic, env: Any, config: ExperimentConfig, with_regret: bool):
    """loss(params, state, env_params, rollout_key, entropy_coef, gamma) -> (total, (stats, next_state, rollout)).

    Runs the rollout with ``params`` and scores it: differentiate it to get the A2C
    gradient (see the module docstring).
    """
    algo, run = config.algo, config.run

    def loss_fn(
        params,
        state: TrainState,
        env_params: Any,
        rollout_key: jax.Array,
        entropy_coef: jax.Array,
        gamma: jax.Array,
    ):
        next_state, rollout = collect(
            agent, env, env_params, params, state, rollout_key, run.rollout_length, with_regret
        )
        trajectory = rollout.trajectory
        advantages, targets = advantages_and_targets(
            jax.lax.stop_gradient(rollout), gamma, algo.gae_lambda
        )
        if algo.normalize_advantages:
            advantages = standardize(advantages)
        total, stats = a2c_objective(
            trajectory.logits,
            trajectory.value,
            trajectory.action,
            advantages,
            targets,
            algo.value_coef,
            entropy_coef,
        )
        return total, (stats, next_state, jax.lax.stop_gradient(rollout))

    return loss_fn


def make_a2c_replay_loss(agent: ActorCritic, config: ExperimentConfig):
    """loss(params, rollout, entropy_coef, gamma) -> (total, stats) over a rollout collected under
    these same ``params``: replayed from the core's record (a ReplayableCore, collected
    with ``record_core=True``; see ``ActorCritic.replay``) or else re-run by the core's
    parallel ``unroll``, both from the rollout's initial carry."""
    algo = config.algo

    def loss_fn(params, rollout: RolloutResult, entropy_coef: jax.Array, gamma: jax.Array):
        trajectory = rollout.trajectory
        advantages, targets = advantages_and_targets(rollout, gamma, algo.gae_lambda)
        if algo.normalize_advantages:
            advantages = standardize(advantages)
        if agent.supports_replay:
            out = agent.replay(
                params,
                trajectory.obs,
                trajectory.episode_start,
                trajectory.core_record,
                rollout.initial_carry,
            )
        else:
            _, out = agent.unroll(
                params, rollout.initial_carry, trajectory.obs, trajectory.episode_start
            )
        return a2c_objective(
            out.logits,
            out.value,
            trajectory.action,
            advantages,
            targets,
            algo.value_coef,
            entropy_coef,
        )

    return loss_fn


def make_a2c_update(
    agent: ActorCritic,
    env: Any,
    config: ExperimentConfig,
    optimizer: optax.GradientTransformation,
    with_regret: bool,
) -> UpdateFn:
    """The A2C update for one seed: (TrainState, env_params) -> (TrainState, metrics).

    With a ReplayableCore the loss replays the rollout's record, with a ParallelCore
    (and no record) it re-runs the rollout all at once; otherwise it is differentiated
    through the rollout (compared in the CHANGELOG).
    """
    algo, run = config.algo, config.run
    num_updates = run.num_updates
    steps_per_update = run.num_envs * run.rollout_length

    if agent.supports_replay or agent.unrolls_in_parallel:
        replay_loss = make_a2c_replay_loss(agent, config)

        def replay_update(state: TrainState, env_params: Any):
            rng, rollout_key = jax.random.split(state.rng)
            entropy_coef = entropy_coefficient(algo, state.update_step, num_updates)
            gamma = discount(algo, state.update_step, num_updates)
            next_state, rollout = collect(
                agent,
                env,
                env_params,
                state.params,
                state,
                rollout_key,
                run.rollout_length,
                with_regret,
                record_core=agent.supports_replay,
            )
            (total, stats), grads = jax.value_and_grad(replay_loss, has_aux=True)(
                state.params, rollout, entropy_coef, gamma
            )
            params, opt_state, grad_norm, finite = apply_gradients(
                optimizer, state.params, state.opt_state, grads, total
            )
            stats.update(total_loss=total, grad_norm=grad_norm, loss_is_finite=finite)
            return finish_update(
                next_state, rollout, params, opt_state, rng, steps_per_update, stats
            )

        return replay_update

    loss_fn = make_a2c_loss(agent, env, config, with_regret)

    def update(state: TrainState, env_params: Any):
        rng, rollout_key = jax.random.split(state.rng)
        entropy_coef = entropy_coefficient(algo, state.update_step, num_updates)
        gamma = discount(algo, state.update_step, num_updates)
        (total, (stats, next_state, rollout)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, state, env_params, rollout_key, entropy_coef, gamma
        )
        params, opt_state, grad_norm, finite = apply_gradients(
            optimizer, state.params, state.opt_state, grads, total
        )
        stats.update(total_loss=total, grad_norm=grad_norm, loss_is_finite=finite)
        return finish_update(next_state, rollout, params, opt_state, rng, steps_per_update, stats)

    return update
