"""Does the agent learn faster when the world changes faster? (Wang et al. 2018, Behrens et al. 2007)

A Rescorla-Wagner learning rate alpha (softmax Q-learning, ``choice_models``) is
fitted to the agent's choices separately in a *stable* and a *volatile* version of
a drifting bandit, played with the same evaluation key (same tasks and reward
draws; only the drift differs). A learner that tracks volatility shows a higher
fitted rate when the world is volatile (Wang et al. 2018 report this of a
meta-trained recurrent agent); a fixed heuristic (fixed-alpha Q-learning) shows
none. Intervals come from a paired bootstrap over episodes (the same resampled
episode indices in both conditions, since episode b of each condition shares its
seed).

Read the verdict with care: a higher fitted rate under volatility is necessary for
volatility-adaptive learning, not sufficient. The Rescorla-Wagner model is only a
summary of a nonlinear learner, and its fitted rate moves with the statistics of
the history. Measured (tests/test_probes_volatility.py): a Bayesian whose assumed
reversal hazard is *fixed* (it never adapts) also fits a higher rate in the
volatile condition (about +0.15 at hazard 0.01 or 0.05, against +0.56 for the one
told the true hazard). Compare an agent's difference with such fixed references
rather than with zero.

The fit is a profile likelihood on a (alpha, beta) grid scored in one compiled call
(``model_fit.q_learning_log_lik_grid``), refined by parabolas in log beta and then
in logit alpha. A bootstrap replicate only reweights the per-episode grid, so
hundreds of replicates cost one matrix product.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import metarl.envs as menvs
from metarl.evaluation.rollout import evaluate_policy
from metarl.probes import model_fit

LEARNING_RATE_GRID = model_fit.LEARNING_RATE_GRID
# Finer than model_fit's grid: here the grid is the estimator, not just a start.
INVERSE_TEMPERATURE_GRID = np.geomspace(*model_fit.INVERSE_TEMPERATURE_BOUNDS, 81)


@dataclasses.dataclass(frozen=True)
class LearningRateFit:
    """A Rescorla-Wagner fit to one condition's choices, with a bootstrap interval."""

    learning_rate: float
    inverse_temperature: float
    interval: tuple[float, float]
    """95% percentile bootstrap interval of the learning rate."""
    bootstrap: np.ndarray
    """[num_bootstrap] learning rate refitted on each resample of the episodes."""


@dataclasses.dataclass(frozen=True)
class VolatilityComparison:
    stable: LearningRateFit
    volatile: LearningRateFit
    difference: float
    """Fitted learning rate, volatile - stable."""
    difference_interval: tuple[float, float]
    """95% percentile interval of the paired bootstrap difference."""

    @property
    def verdict(self) -> str:
        """'faster_when_volatile', 'slower_when_volatile' or 'no_difference' (interval contains 0)."""
        low, high = self.difference_interval
        if low > 0:
            return "faster_when_volatile"
        if high < 0:
            return "slower_when_volatile"
        return "no_difference"

    def summary(self) -> dict:
        return {
            "stable_learning_rate": self.stable.learning_rate,
            "stable_interval": list(self.stable.interval),
            "stable_inverse_temperature": self.stable.inverse_temperature,
            "volatile_learning_rate": self.volatile.learning_rate,
            "volatile_interval": list(self.volatile.interval),
            "volatile_inverse_temperature": self.volatile.inverse_temperature,
            "difference": self.difference,
            "difference_interval": list(self.difference_interval),
            "verdict": self.verdict,
        }


def _parabola_vertex(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of y [..., G] (x [G] ascending): (argmax refined by a parabola, its value).

    At the grid edges, or where the three points are not concave, the grid point is kept.
    """
    best = np.argmax(y, axis=-1)
    inner = np.clip(best, 1, len(x) - 2)
    x0, x1, x2 = x[inner - 1], x[inner], x[inner + 1]
    y0 = np.take_along_axis(y, (inner - 1)[..., None], -1)[..., 0]
    y1 = np.take_along_axis(y, inner[..., None], -1)[..., 0]
    y2 = np.take_along_axis(y, (inner + 1)[..., None], -1)[..., 0]
    # Parabola through (x0, y0), (x1, y1), (x2, y2): y = a x^2 + b x + c.
    denominator = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denominator
    b = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / denominator
    c = y1 - a * x1**2 - b * x1
    usable = (best == inner) & (a < 0)
    safe_a = np.where(usable, a, -1.0)
    vertex = np.clip(-b / (2 * safe_a), x0, x2)
    value = a * vertex**2 + b * vertex + c
    grid_x = x[best]
    grid_y = np.take_along_axis(y, best[..., None], -1)[..., 0]
    return np.where(usable, vertex, grid_x), np.where(usable, np.maximum(value, grid_y), grid_y)


def profile_fit(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta) maximising a grid of total log-likelihoods [..., Ga, Gb] (leading axes batched)."""
    log_beta = np.log(INVERSE_TEMPERATURE_GRID)
    beta_at_alpha, profile = _parabola_vertex(log_beta, totals)  # [..., Ga]
    logit_alpha = np.log(LEARNING_RATE_GRID) - np.log1p(-LEARNING_RATE_GRID)
    best_logit, _ = _parabola_vertex(logit_alpha, profile)
    best_index = np.argmax(profile, axis=-1)
    beta = np.exp(np.take_along_axis(beta_at_alpha, best_index[..., None], -1)[..., 0])
    return 1.0 / (1.0 + np.exp(-best_logit)), beta


def learning_rate_log_lik_grid(
    actions, rewards, num_arms: int, initial_value: float = 0.5
) -> np.ndarray:
    """[Ga, Gb, B] per-episode log-likelihood of softmax Q-learning on this module's grids."""
    grid = model_fit.q_learning_log_lik_grid(
        jnp.asarray(actions, jnp.int32),
        jnp.asarray(rewards, jnp.float32),
        num_arms,
        jnp.asarray(LEARNING_RATE_GRID, jnp.float32),
        jnp.asarray(INVERSE_TEMPERATURE_GRID, jnp.float32),
        initial_value,
    )
    return np.asarray(grid, np.float64)


def bootstrap_weights(num_episodes: int, num_bootstrap: int, seed: int) -> np.ndarray:
    """[num_bootstrap, B] how many times each episode is drawn in each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, num_episodes, size=(num_bootstrap, num_episodes))
    return np.stack([np.bincount(row, minlength=num_episodes) for row in draws]).astype(np.float64)


def _fit_from_grid(grid: np.ndarray, weights: np.ndarray) -> LearningRateFit:
    """grid [Ga, Gb, B]; weights [num_bootstrap, B]."""
    alpha, beta = profile_fit(grid.sum(-1))
    boot_alpha, _ = profile_fit(np.einsum("ijb,nb->nij", grid, weights))
    interval = tuple(float(x) for x in np.percentile(boot_alpha, [2.5, 97.5]))
    return LearningRateFit(float(alpha), float(beta), interval, boot_alpha)


def fit_learning_rate(
    actions,
    rewards,
    num_arms: int,
    num_bootstrap: int = 200,
    seed: int = 0,
    initial_value: float = 0.5,
) -> LearningRateFit:
    """Rescorla-Wagner learning rate fitted to one condition's choices [T, B], with a bootstrap interval."""
    grid = learning_rate_log_lik_grid(actions, rewards, num_arms, initial_value)
    return _fit_from_grid(grid, bootstrap_weights(grid.shape[-1], num_bootstrap, seed))


def compare_learning_rates(
    stable_actions,
    stable_rewards,
    volatile_actions,
    volatile_rewards,
    num_arms: int,
    num_bootstrap: int = 200,
    seed: int = 0,
    initial_value: float = 0.5,
) -> VolatilityComparison:
    """Fit alpha in each condition ([T, B] each, episode b paired across conditions); paired bootstrap."""
    stable_grid = learning_rate_log_lik_grid(
        stable_actions, stable_rewards, num_arms, initial_value
    )
    volatile_grid = learning_rate_log_lik_grid(
        volatile_actions, volatile_rewards, num_arms, initial_value
    )
    if stable_grid.shape != volatile_grid.shape:
        raise ValueError(
            "stable and volatile histories must have the same [T, B] shape (paired episodes)"
        )
    weights = bootstrap_weights(stable_grid.shape[-1], num_bootstrap, seed)
    stable = _fit_from_grid(stable_grid, weights)
    volatile = _fit_from_grid(volatile_grid, weights)
    differences = volatile.bootstrap - stable.bootstrap
    return VolatilityComparison(
        stable=stable,
        volatile=volatile,
        difference=volatile.learning_rate - stable.learning_rate,
        difference_interval=tuple(float(x) for x in np.percentile(differences, [2.5, 97.5])),
    )


def volatility_conditions(
    volatile_hazard: float = 0.1,
    stable_hazard: float = 0.0,
    name: str = "bandit-dependent-v0",
    **overrides,
):
    """(env, stable_params, volatile_params): a two-armed bandit whose arms reverse at random.

    The volatile condition reverses the arms with probability ``volatile_hazard``
    per step, the stable one with ``stable_hazard`` (0: never). Both share every
    other setting and draw the same random numbers per step (the hazard is a traced
    leaf, not a different program), so one evaluation key gives paired episodes.
    """
    env, volatile_params = menvs.make(
        name, drift="reversal", reversal_hazard=volatile_hazard, **overrides
    )
    stable_params = volatile_params.replace(
        drift=volatile_params.drift.replace(reversal_hazard=float(stable_hazard))
    )
    return env, stable_params, volatile_params


def evaluate_volatility(
    policy,
    env,
    stable_params,
    volatile_params,
    key: jax.Array,
    num_episodes: int,
    num_steps: int,
    num_bootstrap: int = 200,
    seed: int = 0,
    initial_value: float = 0.5,
    volatile_policy=None,
) -> VolatilityComparison:
    """Play ``policy`` in both conditions with the same key, then ``compare_learning_rates``.

    ``volatile_policy`` (default: ``policy``) plays the volatile condition instead:
    for reference agents told the condition (a known-hazard Bayesian, a Q-learner
    with a condition-specific rate). A trained agent is one policy in both.
    """

    def player(agent):
        # The params are an argument, not a constant: one compile serves both conditions.
        return jax.jit(
            lambda params: evaluate_policy(agent, env, params, key, num_episodes, num_steps)
        )

    play_stable = player(policy)
    play_volatile = play_stable if volatile_policy is None else player(volatile_policy)
    stable = play_stable(stable_params)
    volatile = play_volatile(volatile_params)
    return compare_learning_rates(
        stable.actions,
        stable.rewards,
        volatile.actions,
        volatile.rewards,
        policy.num_actions,
        num_bootstrap,
        seed,
        initial_value,
    )
