"""The pieces of an update that A2C and PPO share.

Optimizer and schedules, GAE advantage targets, the guarded parameter step (a
non-finite loss or gradient skips the step and is reported), and the bookkeeping
that ends every update (metrics, counters). An update is
``update(state, env_params) -> (state, metrics)``: the env params (task pool,
drift, reward scale) are an argument, not a closure constant, so one compiled
chunk can be vmapped over task pools and pool seeds (``metarl.sweeps``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from metarl.config import AlgoConfig
from metarl.training import losses
from metarl.training.rollout import RolloutResult, episode_metrics
from metarl.training.state import TrainState

UpdateFn = Callable[[TrainState, Any], tuple[TrainState, dict[str, jax.Array]]]
"""(state, env_params) -> (state, per-update metrics), for one seed."""


def make_optimizer(
    algo: AlgoConfig, num_updates: int, grad_steps_per_update: int
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


def _linear_to_final(
    start: float, final: float | None, update_step: jax.Array, num_updates: int
) -> jax.Array:
    """``start``, moving linearly to ``final`` over the run's updates when that is set."""
    if final is None:
        return jnp.float32(start)
    progress = jnp.minimum(update_step.astype(jnp.float32) / max(num_updates, 1), 1.0)
    return jnp.float32(start) + progress * (final - start)


def entropy_coefficient(algo: AlgoConfig, update_step: jax.Array, num_updates: int) -> jax.Array:
    """entropy_coef, decaying linearly to entropy_coef_final over the run when that is set."""
    return _linear_to_final(algo.entropy_coef, algo.entropy_coef_final, update_step, num_updates)


def discount(algo: AlgoConfig, update_step: jax.Array, num_updates: int) -> jax.Array:
    """gamma, moving linearly to gamma_final over the run when that is set."""
    return _linear_to_final(algo.gamma, algo.gamma_final, update_step, num_updates)


def advantages_and_targets(
    rollout: RolloutResult, gamma: float | jax.Array, gae_lambda: float
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
