"""Measure of block-volatility reproductions: the Rescorla-Wagner rate fitted per block type.

The setting trains on a bandit with block-wise volatility (``metarl.envs.bandit``:
``block_hazards``, ``block_length``): stable blocks whose better arm stays put and
volatile blocks whose arms reverse at random, the type of each block drawn at its start
and never shown to the agent. Every frozen training seed (one vmapped program) and
every *fixed* reference of the volatility probe (``metarl.probes.volatility.
reference_agents``: a fixed-rate Rescorla-Wagner learner and change-point Bayesians
that assume one hazard in every block) play the same episodes of that distribution:
same key, so the same tasks, reward draws, block types and reversals.

For each agent a Rescorla-Wagner model (softmax Q-learning, ``choice_models``) runs
over its whole choice sequences, learning carried across block boundaries as the
agent's own memory carries it, and its log-likelihood is summed separately over the
pulls of the stable blocks (the lowest hazard) and of the volatile ones (the highest):
the rate (and inverse temperature) that best explain the choices made in each block
type, fitted on the probe's (rate x inverse temperature) grid and refined by
``volatility.profile_fit``. Intervals come from a bootstrap over episodes with the same
resamples for every agent and both block types (``volatility.bootstrap_weights``), so
differences between block types and between agents are paired.

Which block a pull is in: the env's ``info["block"]``, kept in the episode record
(``evaluation.rollout.RECORDED_INFO``); block types and reversals never depend on the
actions and every agent plays from the same key, so the checkpoint's labels are every
agent's.

Returned (JSON-ready): ``difference`` (the checkpoint's fitted rate, volatile -
stable, over training seeds), ``excess_over_fixed`` (the checkpoint's difference
minus a fixed reference's, for the reference it beats by the least: the lowest
lower bound), ``table`` and ``checkpoint_minus`` (per reference), the fitted rates per
block type, per-seed values. Over seeds the interval is Student t over the per-seed
values, widened by the bootstrap variance of their mean over the shared episodes
(``metarl.reproduce.seed_stats``'s rule); with one seed it is the bootstrap's.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from metarl.interval import Interval
from metarl.reproduce.context import SettingContext
from metarl.reproduce.spec import CHECKPOINT

EPISODES = 256
EVAL_SEED = 2007
"""Fixed evaluation key (Behrens et al.'s year), apart from training seeds (0, 1, ...)."""
BOOTSTRAP = 200
MIN_EPISODES = 16
SEEDS_UNIT = (
    "training seeds (Student t over {seeds} per-seed fits, widened by the bootstrap "
    "variance over the {episodes} episodes every seed shares)"
)
EPISODES_UNIT = "episodes only (bootstrap over {episodes} episodes of ONE training seed)"


def check_options(options: dict[str, Any]) -> None:
    """Refuse bad measure options before anything trains (ConfigError naming the field)."""
    from metarl.errors import ConfigError

    for name, low in (("episodes", MIN_EPISODES), ("eval_seed", 0), ("bootstrap", 20)):
        value = int(options.get(name, low))
        if value < low:
            raise ConfigError(
                f"measure: field 'measure.{name}' = {value} is out of range; allowed: at least {low}"
            )


@functools.partial(jax.jit, static_argnames=("num_types", "num_arms"))
def _block_grid(actions, rewards, labels, rates, betas, initial_value, num_types, num_arms):
    from metarl.probes import choice_models

    values = jax.vmap(
        lambda rate: choice_models.q_learning_values(
            actions, rewards, num_arms, rate, initial_value
        )
    )(rates)  # [Ga, T, E, k]
    masks = jax.nn.one_hot(labels, num_types, axis=0)  # [M, T, E]

    def score(beta):
        log_probs = jax.vmap(lambda v: choice_models.softmax_log_probs(v, actions, beta))(values)
        return jnp.einsum("gte,mte->gme", log_probs, masks)

    return jnp.moveaxis(jax.lax.map(score, betas), 0, 1)  # [Ga, Gb, M, E]


def block_log_lik_grid(
    actions, rewards, labels, num_types: int, num_arms: int, initial_value: float = 0.5
) -> np.ndarray:
    """[Ga, Gb, M, E]: per episode, the log-likelihood of its pulls in block type m under
    Rescorla-Wagner at each (rate, inverse temperature) of the volatility probe's grids.
    ``actions``, ``rewards``, ``labels``: [T, E] (one whole episode per column)."""
    from metarl.probes.volatility import INVERSE_TEMPERATURE_GRID, LEARNING_RATE_GRID

    grid = _block_grid(
        jnp.asarray(actions, jnp.int32),
        jnp.asarray(rewards, jnp.float32),
        jnp.asarray(labels, jnp.int32),
        jnp.asarray(LEARNING_RATE_GRID, jnp.float32),
        jnp.asarray(INVERSE_TEMPERATURE_GRID, jnp.float32),
        jnp.float32(initial_value),
        num_types,
        num_arms,
    )
    return np.asarray(grid, np.float64)


def fit_block_type(grid: np.ndarray, weights: np.ndarray):
    """``LearningRateFit`` of one block type's grid [Ga, Gb, E] (bootstrap ``weights`` [N, E])."""
    from metarl.probes.volatility import LearningRateFit, profile_fit

    rate, beta = profile_fit(grid.sum(-1))
    boot_rate, _ = profile_fit(np.einsum("ijb,nb->nij", grid, weights))
    interval = tuple(float(x) for x in np.percentile(boot_rate, [2.5, 97.5]))
    return LearningRateFit(float(rate), float(beta), interval, boot_rate)


def compare_blocks(grid: np.ndarray, weights: np.ndarray, stable: int, volatile: int):
    """``VolatilityComparison`` of the volatile block type against the stable one (paired)."""
    from metarl.probes.volatility import VolatilityComparison

    stable_fit = fit_block_type(grid[:, :, stable], weights)
    volatile_fit = fit_block_type(grid[:, :, volatile], weights)
    boot = volatile_fit.bootstrap - stable_fit.bootstrap
    return VolatilityComparison(
        stable=stable_fit,
        volatile=volatile_fit,
        difference=volatile_fit.learning_rate - stable_fit.learning_rate,
        difference_interval=tuple(float(x) for x in np.percentile(boot, [2.5, 97.5])),
    )


def seed_interval(values, boot) -> tuple[Interval, str]:
    """(interval of the mean, unit) of per-seed ``values`` [S] with bootstrap replicates
    ``boot`` [S, N] drawn on the same resamples for every seed (module docstring)."""
    from scipy import stats

    values = np.asarray(values, np.float64)
    boot = np.asarray(boot, np.float64)
    seeds, mean = values.size, float(values.mean())
    if seeds == 1:
        low, high = np.percentile(boot[0], [2.5, 97.5])
        return Interval(mean, float(low), float(high)), EPISODES_UNIT
    episode_var = float(boot.mean(axis=0).var(ddof=1))
    half = float(stats.t.ppf(0.975, seeds - 1)) * math.sqrt(
        float(values.var(ddof=1)) / seeds + episode_var
    )
    return Interval(mean, mean - half, mean + half), SEEDS_UNIT


def _play(frozen, episodes: int, key) -> tuple[dict, np.ndarray, Any]:
    """({agent: (actions, rewards) [S?, T, E]}, labels [T, E], env params): every agent on ``key``."""
    from metarl.evaluation.play import Player, checkpoint_maker
    from metarl.probes.bandit_agents import bandit_setting
    from metarl.probes.volatility import reference_agents

    env, params = frozen.base_env, frozen.env_params
    steps = int(params.max_steps_in_episode)
    player = Player(env, episodes, steps)
    played = player.play(
        checkpoint_maker(frozen.agent), params, key, policy_args=frozen.params, seeds=True
    )
    agents = {CHECKPOINT: (played.actions, played.rewards)}
    # [seed, step, episode] -> [step, episode]: the labels do not depend on the seed.
    labels = np.asarray(played.info["block"])[0]
    # bandit_setting reads a probe context's env params only: here the training env's.
    setting = bandit_setting(SimpleNamespace(env_params=params, train_params=params))
    for name, (maker, args) in reference_agents(setting, steps).items():
        if args is None:
            played = player.play_policy(maker, params, key)
        else:
            played = player.play(maker, params, key, policy_args=args)
        agents[name] = (played.actions, np.asarray(played.rewards) / setting["reward_scale"])
    return agents, labels, setting


def _block_types(params) -> tuple[np.ndarray, int, int]:
    """(hazards, stable index, volatile index) of the trained env (ValueError without blocks)."""
    if getattr(params, "block_hazards", None) is None:
        raise ValueError(
            "this measure needs a bandit trained with block-wise volatility "
            "(env overrides block_hazards, block_length)"
        )
    hazards = np.asarray(params.block_hazards, np.float64)
    stable, volatile = int(np.argmin(hazards)), int(np.argmax(hazards))
    if hazards[stable] == hazards[volatile]:
        raise ValueError(f"block_hazards {hazards.tolist()} has no stable and volatile types")
    return hazards, stable, volatile


def _fits(agents, labels, hazards, stable, volatile, setting, weights) -> dict[str, list]:
    """{agent: [VolatilityComparison per seed]} (one entry for a reference)."""
    from metarl.probes.bandit_agents import prior_mean

    fits = {}
    for name, (actions, rewards) in agents.items():
        actions, rewards = np.asarray(actions), np.asarray(rewards)
        per_seed = [actions] if actions.ndim == 2 else list(actions)
        rewards_per_seed = [rewards] if rewards.ndim == 2 else list(rewards)
        fits[name] = [
            compare_blocks(
                block_log_lik_grid(
                    a, r, labels, hazards.size, setting["num_arms"], prior_mean(setting)
                ),
                weights,
                stable,
                volatile,
            )
            for a, r in zip(per_seed, rewards_per_seed, strict=True)
        ]
    return fits


def _boot(comparison) -> np.ndarray:
    return comparison.volatile.bootstrap - comparison.stable.bootstrap


def measure(
    context: SettingContext,
    episodes: int = EPISODES,
    eval_seed: int = EVAL_SEED,
    bootstrap: int = BOOTSTRAP,
) -> dict[str, Any]:
    """Fit every seed and fixed reference per block type; the seed-level summary (module doc)."""
    from metarl.probes.volatility import FIXED_REFERENCES, bootstrap_weights

    frozen = context.frozen()
    hazards, stable, volatile = _block_types(frozen.env_params)
    agents, labels, setting = _play(frozen, episodes, jax.random.PRNGKey(eval_seed))
    weights = bootstrap_weights(episodes, bootstrap, eval_seed)
    fits = _fits(agents, labels, hazards, stable, volatile, setting, weights)
    mine = fits.pop(CHECKPOINT)
    seeds = len(mine)
    unit = (SEEDS_UNIT if seeds > 1 else EPISODES_UNIT).format(seeds=seeds, episodes=episodes)
    difference, _ = seed_interval([c.difference for c in mine], [_boot(c) for c in mine])
    minus = {
        name: seed_interval(
            [c.difference - ref.difference for c in mine],
            [_boot(c) - _boot(ref) for c in mine],
        )[0]
        for name, (ref,) in fits.items()
    }
    hardest = min(FIXED_REFERENCES, key=lambda name: minus[name].low)
    table = {CHECKPOINT: difference}
    table.update(
        {name: Interval(ref.difference, *ref.difference_interval) for name, (ref,) in fits.items()}
    )
    rates = {
        name: {
            kind: float(np.mean([getattr(c, kind).learning_rate for c in comparisons]))
            for kind in ("stable", "volatile")
        }
        for name, comparisons in {CHECKPOINT: mine, **fits}.items()
    }
    actions, rewards = agents[CHECKPOINT]
    return {
        "episodes": episodes,
        "eval_seed": eval_seed,
        "num_seeds": seeds,
        "block_hazards": hazards.tolist(),
        "block_length": int(frozen.env_params.block_length),
        "stable_block": stable,
        "volatile_block": volatile,
        "pulls_per_block_type": np.bincount(labels.ravel(), minlength=hazards.size).tolist(),
        "fixed_references": list(FIXED_REFERENCES),
        "difference": difference,
        "excess_over_fixed": minus[hardest],
        "hardest_reference": hardest,
        "interval_unit": unit,
        "table": table,
        "checkpoint_minus": minus,
        "fitted_rates": rates,
        "per_seed": {
            "difference": [c.difference for c in mine],
            "stable_rate": [c.stable.learning_rate for c in mine],
            "volatile_rate": [c.volatile.learning_rate for c in mine],
            "excess_over_hardest": [c.difference - fits[hardest][0].difference for c in mine],
        },
        "checkpoint_update": frozen.step,
        "mean_reward": {
            kind: float(np.asarray(rewards)[:, labels == index].mean())
            for kind, index in (("stable", stable), ("volatile", volatile))
        },
    }
