"""Advantage actor-critic (Mnih et al. 2016; the meta-RL form of Wang et al. 2016).

One update = one rollout of ``rollout_length`` steps in every env, GAE advantages
over it (``gae_lambda = 1`` gives the n-step returns of A2C), and a single gradient
step on policy-gradient + value + entropy losses.

A2C takes one gradient step with the very parameters that acted, so the forward pass
the rollout ran is exactly what a second pass over the stored inputs would recompute;
the loss reuses it instead of running the core again. Two ways:

* cores with a record (``ReplayableCore``: the GRU): the rollout keeps each step's
  gates, and the loss differentiates ``agent.replay`` of them, whose backward pass is
  the GRU's hand-written one (no recomputation, nothing stored twice, no per-step
  transposes). Measured on the 2-core CPU for the default experiment: see
  ``make_a2c_update``.
* other cores: the loss is differentiated through the rollout itself (sampled actions
  and env steps carry no gradient; the carry is back-propagated through the whole
  rollout as in a separate unroll), measured 15-30% faster than re-running the core.

Both give the gradient of the same objective as replaying the stored observations
through ``agent.unroll`` from the rollout's initial carry (up to float rounding;
tests/test_trainer.py checks it).

Also here: the pieces PPO shares (optimizer, schedules, advantage targets, the
guarded parameter update).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from metarl.agents.actor_critic import ActorCritic
from metarl.training import losses
from metarl.training.rollout import RolloutResult, collect, episode_metrics
from metarl.training.state import TrainState

UpdateFn = Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]


def make_optimizer(
    algo: Any, num_updates: int, grad_steps_per_update: int
) -> optax.GradientTransformation:
    """Gradient clip (if max_grad_norm > 0), then adam/rmsprop with a constant or linear LR."""
    if algo.lr_schedule == "linear":
        learning_rate = optax.linear_schedule(
            algo.learning_rate, 0.0, transition_steps=num_updates * grad_steps_per_update
        )
    else:
        learning_rate = algo.learning_rate
    if algo.optimizer == "adam":
        # eps 1e-5 rather than 1e-8: the PPO/A2C practice, steadier with small value targets.
        optimizer = optax.adam(learning_rate, eps=1e-5)
    else:
        optimizer = optax.rmsprop(learning_rate, decay=0.99, eps=1e-5)
    if algo.max_grad_norm > 0:
        return optax.chain(optax.clip_by_global_norm(algo.max_grad_norm), optimizer)
    return optimizer


def entropy_coefficient(algo: Any, update_step: jax.Array, num_updates: int) -> jax.Array:
    """entropy_coef, decaying linearly to entropy_coef_final over the run when that is set."""
    if algo.entropy_coef_final is None:
        return jnp.float32(algo.entropy_coef)
    progress = jnp.minimum(update_step.astype(jnp.float32) / max(num_updates, 1), 1.0)
    return jnp.float32(algo.entropy_coef) + progress * (algo.entropy_coef_final - algo.entropy_coef)


def advantages_and_targets(
    rollout: RolloutResult, gamma: float, gae_lambda: float
) -> tuple[jax.Array, jax.Array]:
    """GAE advantages and value targets, both [T, B]."""
    trajectory = rollout.trajectory
    discount = gamma * (1.0 - trajectory.done.astype(jnp.float32))
    values = jnp.concatenate([trajectory.value, rollout.bootstrap_value[None]], axis=0)
    advantages = jax.vmap(losses.gae_advantages, in_axes=(1, 1, 1, None), out_axes=1)(
        trajectory.reward, discount, values, gae_lambda
    )
    return advantages, advantages + trajectory.value


def standardize(advantages: jax.Array) -> jax.Array:
    """Zero mean, unit standard deviation over the whole batch."""
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def apply_gradients(
    optimizer: optax.GradientTransformation,
    params: Any,
    opt_state: Any,
    grads: Any,
    loss: jax.Array,
) -> tuple[Any, Any, jax.Array, jax.Array]:
    """One optimizer step, skipped when the loss or gradient is not finite.

    Skipping keeps the state usable (no NaN parameters) so the chunk finishes and the
    runner can stop at the reported update. Returns (params, opt_state, grad_norm, finite).
    """
    grad_norm = optax.tree_utils.tree_norm(grads)
    finite = jnp.logical_and(jnp.isfinite(loss), jnp.isfinite(grad_norm))
    updates, new_opt_state = optimizer.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
    return (
        jax.tree.map(keep, new_params, params),
        jax.tree.map(keep, new_opt_state, opt_state),
        grad_norm,
        finite,
    )


def update_metrics(
    state: TrainState, rollout: RolloutResult, steps_per_update: int, stats: dict[str, jax.Array]
) -> dict[str, jax.Array]:
    metrics = episode_metrics(rollout.trajectory, state.last_episode_return)
    metrics.update(stats)
    metrics["env_steps"] = (state.update_step + 1) * jnp.int32(steps_per_update)
    return metrics


def finish_update(
    state: TrainState,
    rollout: RolloutResult,
    params: Any,
    opt_state: Any,
    rng: jax.Array,
    steps_per_update: int,
    stats: dict[str, jax.Array],
) -> tuple[TrainState, dict[str, jax.Array]]:
    metrics = update_metrics(state, rollout, steps_per_update, stats)
    state = state.replace(
        params=params,
        opt_state=opt_state,
        rng=rng,
        update_step=state.update_step + 1,
        last_episode_return=metrics["mean_episode_return"],
    )
    return state, metrics


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


def make_a2c_loss(agent: ActorCritic, env: Any, env_params: Any, config: Any, with_regret: bool):
    """loss(params, state, rollout_key, entropy_coef) -> (total, (stats, next_state, rollout)).

    Runs the rollout with ``params`` and scores it: differentiate it to get the A2C
    gradient (see the module docstring).
    """
    algo, run = config.algo, config.run

    def loss_fn(params, state: TrainState, rollout_key: jax.Array, entropy_coef: jax.Array):
        next_state, rollout = collect(
            agent, env, env_params, params, state, rollout_key, run.rollout_length, with_regret
        )
        trajectory = rollout.trajectory
        advantages, targets = advantages_and_targets(
            jax.lax.stop_gradient(rollout), algo.gamma, algo.gae_lambda
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


def make_a2c_replay_loss(agent: ActorCritic, config: Any):
    """loss(params, rollout, entropy_coef) -> (total, stats) over a rollout recorded with
    ``record_core=True`` under these same ``params`` (see ``ActorCritic.replay``)."""
    algo = config.algo

    def loss_fn(params, rollout: RolloutResult, entropy_coef: jax.Array):
        trajectory = rollout.trajectory
        advantages, targets = advantages_and_targets(rollout, algo.gamma, algo.gae_lambda)
        if algo.normalize_advantages:
            advantages = standardize(advantages)
        out = agent.replay(params, trajectory.obs, trajectory.episode_start, trajectory.core_record)
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
    env_params: Any,
    config: Any,
    optimizer: optax.GradientTransformation,
    with_regret: bool,
) -> UpdateFn:
    """The A2C update for one seed: TrainState -> (TrainState, per-update metrics).

    With a ReplayableCore the loss replays the rollout's record; otherwise it is
    differentiated through the rollout. Replay vs through-rollout, default experiment
    (GRU 64, 256 envs x 20 steps), same process, interleaved, 2-core CPU shared with
    other jobs: 1.12x per update (median of 15 rounds; 1.09x pinned to one core).
    """
    algo, run = config.algo, config.run
    num_updates = run.num_updates
    steps_per_update = run.num_envs * run.rollout_length

    if agent.supports_replay:
        replay_loss = make_a2c_replay_loss(agent, config)

        def replay_update(state: TrainState):
            rng, rollout_key = jax.random.split(state.rng)
            entropy_coef = entropy_coefficient(algo, state.update_step, num_updates)
            next_state, rollout = collect(
                agent,
                env,
                env_params,
                state.params,
                state,
                rollout_key,
                run.rollout_length,
                with_regret,
                record_core=True,
            )
            (total, stats), grads = jax.value_and_grad(replay_loss, has_aux=True)(
                state.params, rollout, entropy_coef
            )
            params, opt_state, grad_norm, finite = apply_gradients(
                optimizer, state.params, state.opt_state, grads, total
            )
            stats.update(total_loss=total, grad_norm=grad_norm, loss_is_finite=finite)
            return finish_update(
                next_state, rollout, params, opt_state, rng, steps_per_update, stats
            )

        return replay_update

    loss_fn = make_a2c_loss(agent, env, env_params, config, with_regret)

    def update(state: TrainState):
        rng, rollout_key = jax.random.split(state.rng)
        entropy_coef = entropy_coefficient(algo, state.update_step, num_updates)
        (total, (stats, next_state, rollout)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, state, rollout_key, entropy_coef
        )
        params, opt_state, grad_norm, finite = apply_gradients(
            optimizer, state.params, state.opt_state, grads, total
        )
        stats.update(total_loss=total, grad_norm=grad_norm, loss_is_finite=finite)
        return finish_update(next_state, rollout, params, opt_state, rng, steps_per_update, stats)

    return update
