"""Maximum-likelihood fits of the bandit choice models to an agent's choices; a BIC table.

Given a recorded history (actions, rewards [T, B]), each model of
``metarl.probes.choice_models`` is fitted by maximum likelihood with one parameter
set shared by all episodes:

* ``random`` (0 parameters): the floor every model must beat;
* ``wsls`` (lapse epsilon);
* ``q_learning`` (learning rate alpha, inverse temperature beta);
* ``bayes_learner`` (beta);
* ``task_locator`` (beta; needs the training tasks' means).

Fits start from a vectorised grid (every grid point scored in one compiled call),
then refine with scipy: the log-likelihood of a softmax model is concave in beta
for fixed values, so the grid's best point brackets the maximum. ``fit_choice_models``
returns the BIC table (``n_params``, ``log_likelihood``, ``bic``,
``per_trial_likelihood`` = exp(mean log-likelihood per choice)) best model first.
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from metarl.probes import choice_models, figures
from metarl.probes.bandit_agents import (
    BANDIT_CHOICE_AGENTS,
    bandit_episodes,
    bandit_setting,
    prior_mean,
)
from metarl.probes.protocol import Probe, ProbeContext, ProbeResult, Verdict, text_number

# Inverse temperatures searched: values live in [0, 1], so beta = 1e3 is already
# deterministic for any value gap above 1%; beta = 1e-2 is uniform play.
INVERSE_TEMPERATURE_BOUNDS = (1e-2, 1e3)
INVERSE_TEMPERATURE_GRID = np.geomspace(*INVERSE_TEMPERATURE_BOUNDS, 41)
# Learning rates searched, evenly spaced in logit so both ends are resolved.
LEARNING_RATE_BOUNDS = (1e-3, 1.0 - 1e-3)
LEARNING_RATE_GRID = 1.0 / (1.0 + np.exp(-np.linspace(-6.5, 6.5, 53)))
LAPSE_BOUNDS = (1e-6, 1.0)


@dataclasses.dataclass(frozen=True)
class ModelFit:
    """One model's maximum-likelihood fit to a set of choices."""

    model: str
    params: dict
    """Fitted parameter values by name (empty for ``random``)."""
    log_likelihood: float
    """Total log-likelihood of all choices at the fitted parameters."""
    num_choices: int
    standard_errors: dict = dataclasses.field(default_factory=dict)
    """Asymptotic standard error of each parameter (inverse observed information; NaN
    where the fit sits on a bound or the curvature is not negative definite).
    Choices within an episode are treated as independent given the parameters, which
    is what the likelihood assumes."""

    @property
    def num_params(self) -> int:
        return len(self.params)

    @property
    def bic(self) -> float:
        return float(-2.0 * self.log_likelihood + self.num_params * np.log(self.num_choices))

    @property
    def per_trial_likelihood(self) -> float:
        """Geometric-mean probability the model gave each choice."""
        return float(np.exp(self.log_likelihood / self.num_choices))

    def as_row(self) -> dict:
        return {
            "model": self.model,
            "params": dict(self.params),
            "n_params": self.num_params,
            "log_likelihood": self.log_likelihood,
            "bic": self.bic,
            "per_trial_likelihood": self.per_trial_likelihood,
            "num_choices": self.num_choices,
            "standard_errors": dict(self.standard_errors),
        }


def standard_errors(
    total_log_lik, point: dict, on_bound: bool = False, relative_step: float = 0.02
) -> dict:
    """{name: standard error} from the observed information at ``point``.

    ``total_log_lik(values: np.ndarray) -> float`` is the summed log-likelihood. The
    Hessian is a central finite difference (steps of ``relative_step`` times each
    parameter) of the already compiled likelihood: ``jax.hessian`` through the
    time scan would cost a compile of several seconds per model for one number.
    """
    names = list(point)
    nan = {name: float("nan") for name in names}
    if on_bound:
        return nan
    theta = np.array([point[name] for name in names], np.float64)
    steps = relative_step * np.maximum(np.abs(theta), 1e-3)
    size = len(theta)
    hessian = np.zeros((size, size))
    for i in range(size):
        for j in range(i, size):
            total = 0.0
            for sign_i, sign_j in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                shifted = theta.copy()
                shifted[i] += sign_i * steps[i]
                shifted[j] += sign_j * steps[j]
                total += sign_i * sign_j * total_log_lik(shifted)
            hessian[i, j] = hessian[j, i] = total / (4.0 * steps[i] * steps[j])
    information = -hessian
    if np.any(np.linalg.eigvalsh(information) <= 0):
        return nan
    variances = np.diag(np.linalg.inv(information))
    return {name: float(np.sqrt(v)) for name, v in zip(names, variances, strict=True)}


def _weights(episode_weights, batch: int) -> np.ndarray:
    if episode_weights is None:
        return np.ones(batch)
    return np.asarray(episode_weights, np.float64)


# ----------------------------------------------------------------- softmax temperature


@jax.jit
def softmax_episode_log_lik(
    values: jax.Array, actions: jax.Array, inverse_temperature
) -> jax.Array:
    """[B] summed log-probability of each episode's choices; values [T, B, k], actions [T, B]."""
    return choice_models.softmax_log_probs(values, actions, inverse_temperature).sum(0)


@jax.jit
def softmax_episode_log_lik_grid(
    values: jax.Array, actions: jax.Array, inverse_temperatures
) -> jax.Array:
    """[G, B] per-episode log-likelihood at every inverse temperature of the grid [G]."""
    return jax.lax.map(
        lambda beta: softmax_episode_log_lik(values, actions, beta), inverse_temperatures
    )


def fit_inverse_temperature(
    values: jax.Array,
    actions: jax.Array,
    episode_weights=None,
    bounds: tuple[float, float] = INVERSE_TEMPERATURE_BOUNDS,
) -> tuple[float, float]:
    """(beta, total log-likelihood) maximising sum_b w_b log p(choices of episode b | beta).

    ``values`` [T, B, k] are a model's action values (fixed), ``episode_weights`` [B]
    (default 1) select or resample episodes (0 drops an episode).
    """
    weights = _weights(episode_weights, values.shape[1])
    grid = np.geomspace(bounds[0], bounds[1], len(INVERSE_TEMPERATURE_GRID))
    grid_scores = np.asarray(
        softmax_episode_log_lik_grid(values, actions, jnp.asarray(grid, jnp.float32))
    )
    totals = grid_scores.astype(np.float64) @ weights
    best = int(np.argmax(totals))
    low, high = np.log(grid[max(best - 1, 0)]), np.log(grid[min(best + 1, len(grid) - 1)])

    def negative(log_beta):
        episode = np.asarray(
            softmax_episode_log_lik(values, actions, jnp.float32(np.exp(log_beta)))
        )
        return -float(episode.astype(np.float64) @ weights)

    result = scipy.optimize.minimize_scalar(
        negative, bounds=(low, high), method="bounded", options={"xatol": 1e-4}
    )
    if -result.fun >= totals[best]:
        return float(np.exp(result.x)), float(-result.fun)
    return float(grid[best]), float(totals[best])


# ----------------------------------------------------------------- Q-learning


@partial(jax.jit, static_argnames=("num_arms",))
def q_learning_episode_log_lik(
    actions,
    rewards,
    num_arms: int,
    learning_rate,
    inverse_temperature,
    initial_value=0.5,
    episode_start=None,
) -> jax.Array:
    """[B] per-episode log-likelihood under softmax Q-learning (alpha, beta)."""
    values = choice_models.q_learning_values(
        actions, rewards, num_arms, learning_rate, initial_value, episode_start
    )
    return choice_models.softmax_log_probs(values, actions, inverse_temperature).sum(0)


@partial(jax.jit, static_argnames=("num_arms",))
def q_learning_log_lik_grid(
    actions,
    rewards,
    num_arms: int,
    learning_rates,
    inverse_temperatures,
    initial_value=0.5,
    episode_start=None,
) -> jax.Array:
    """[Ga, Gb, B] per-episode log-likelihood at every (alpha [Ga], beta [Gb]) grid point.

    The values are computed once per alpha (vmapped); betas are scored one at a
    time (``lax.map``) so memory stays at [Ga, T, B, k].
    """
    values = jax.vmap(
        lambda alpha: choice_models.q_learning_values(
            actions, rewards, num_arms, alpha, initial_value, episode_start
        )
    )(learning_rates)  # [Ga, T, B, k]

    def score(beta):
        return jax.vmap(lambda v: choice_models.softmax_log_probs(v, actions, beta).sum(0))(values)

    return jnp.moveaxis(jax.lax.map(score, inverse_temperatures), 0, 1)


def fit_q_learning(
    actions,
    rewards,
    num_arms: int,
    initial_value: float = 0.5,
    episode_weights=None,
    episode_start=None,
) -> ModelFit:
    """ML (alpha, beta) of softmax Q-learning: grid, then Nelder-Mead on (logit alpha, log beta)."""
    actions = jnp.asarray(actions, jnp.int32)
    rewards = jnp.asarray(rewards, jnp.float32)
    weights = _weights(episode_weights, actions.shape[1])
    grid = (
        np.asarray(
            q_learning_log_lik_grid(
                actions,
                rewards,
                num_arms,
                jnp.asarray(LEARNING_RATE_GRID, jnp.float32),
                jnp.asarray(INVERSE_TEMPERATURE_GRID, jnp.float32),
                initial_value,
                episode_start,
            )
        ).astype(np.float64)
        @ weights
    )
    alpha_index, beta_index = np.unravel_index(int(np.argmax(grid)), grid.shape)

    def negative(theta):
        alpha = 1.0 / (1.0 + np.exp(-theta[0]))
        beta = np.exp(np.clip(theta[1], *np.log(INVERSE_TEMPERATURE_BOUNDS)))
        episode = q_learning_episode_log_lik(
            actions,
            rewards,
            num_arms,
            jnp.float32(alpha),
            jnp.float32(beta),
            initial_value,
            episode_start,
        )
        return -float(np.asarray(episode, np.float64) @ weights)

    alpha0 = LEARNING_RATE_GRID[alpha_index]
    start = np.array([np.log(alpha0 / (1 - alpha0)), np.log(INVERSE_TEMPERATURE_GRID[beta_index])])
    result = scipy.optimize.minimize(
        negative,
        start,
        method="Nelder-Mead",
        options={
            "xatol": 1e-3,
            "fatol": 1e-3,
            "initial_simplex": start + np.array([[0, 0], [0.3, 0], [0, 0.3]]),
        },
    )
    theta = result.x if result.fun <= -grid[alpha_index, beta_index] else start
    alpha = float(np.clip(1.0 / (1.0 + np.exp(-theta[0])), *LEARNING_RATE_BOUNDS))
    beta = float(np.exp(np.clip(theta[1], *np.log(INVERSE_TEMPERATURE_BOUNDS))))
    params = {"learning_rate": alpha, "inverse_temperature": beta}
    errors = standard_errors(
        lambda theta: float(
            np.asarray(
                q_learning_episode_log_lik(
                    actions,
                    rewards,
                    num_arms,
                    jnp.float32(theta[0]),
                    jnp.float32(theta[1]),
                    initial_value,
                    episode_start,
                ),
                np.float64,
            )
            @ weights
        ),
        params,
        on_bound=alpha in LEARNING_RATE_BOUNDS or beta in INVERSE_TEMPERATURE_BOUNDS,
    )
    return ModelFit(
        model="q_learning",
        params=params,
        log_likelihood=-negative(np.array([np.log(alpha / (1 - alpha)), np.log(beta)])),
        num_choices=_num_choices(actions, weights),
        standard_errors=errors,
    )


# ----------------------------------------------------------------- other models


def _num_choices(actions, weights: np.ndarray) -> int:
    return int(round(actions.shape[0] * weights.sum()))


@partial(jax.jit, static_argnames=("num_arms",))
def _wsls_episode_log_lik(actions, rewards, num_arms: int, lapse, episode_start=None):
    return choice_models.wsls_log_probs(
        actions, rewards, num_arms, lapse, episode_start=episode_start
    ).sum(0)


def fit_wsls(actions, rewards, num_arms: int, episode_weights=None, episode_start=None) -> ModelFit:
    """ML lapse epsilon of win-stay lose-shift (bounded scalar search on [1e-6, 1])."""
    actions = jnp.asarray(actions, jnp.int32)
    rewards = jnp.asarray(rewards, jnp.float32)
    weights = _weights(episode_weights, actions.shape[1])

    def negative(lapse):
        episode = _wsls_episode_log_lik(
            actions, rewards, num_arms, jnp.float32(lapse), episode_start
        )
        return -float(np.asarray(episode, np.float64) @ weights)

    result = scipy.optimize.minimize_scalar(
        negative, bounds=LAPSE_BOUNDS, method="bounded", options={"xatol": 1e-5}
    )
    lapse = float(result.x)
    errors = standard_errors(
        lambda theta: -negative(theta[0]),
        {"lapse": lapse},
        # A lapse at the bound (a perfect rule follower) has no curvature-based error.
        on_bound=lapse < 1e-3 or lapse > 1.0 - 1e-3,
    )
    return ModelFit(
        "wsls", {"lapse": lapse}, float(-result.fun), _num_choices(actions, weights), errors
    )


def _temperature_errors(values, actions, weights: np.ndarray, beta: float) -> dict:
    return standard_errors(
        lambda theta: float(
            np.asarray(softmax_episode_log_lik(values, actions, jnp.float32(theta[0])), np.float64)
            @ weights
        ),
        {"inverse_temperature": beta},
        on_bound=not INVERSE_TEMPERATURE_BOUNDS[0] * 1.01
        < beta
        < INVERSE_TEMPERATURE_BOUNDS[1] * 0.99,
    )


_bayes_values = jax.jit(choice_models.bayes_learner_values, static_argnames=("num_arms",))
_locator_values = jax.jit(choice_models.task_locator_values, static_argnames=("reward_type",))


def fit_bayes_learner(
    actions,
    rewards,
    num_arms: int,
    prior_a=1.0,
    prior_b=1.0,
    episode_weights=None,
    episode_start=None,
) -> ModelFit:
    """ML inverse temperature of softmax(beta * Beta-posterior mean)."""
    actions = jnp.asarray(actions, jnp.int32)
    values = _bayes_values(
        actions, jnp.asarray(rewards, jnp.float32), num_arms, prior_a, prior_b, episode_start
    )
    beta, log_lik = fit_inverse_temperature(values, actions, episode_weights)
    weights = _weights(episode_weights, actions.shape[1])
    return ModelFit(
        "bayes_learner",
        {"inverse_temperature": beta},
        log_lik,
        _num_choices(actions, weights),
        _temperature_errors(values, actions, weights, beta),
    )


def fit_task_locator(
    actions,
    rewards,
    task_means,
    reward_type="bernoulli",
    reward_noise=1.0,
    episode_weights=None,
    episode_start=None,
) -> ModelFit:
    """ML inverse temperature of softmax(beta * posterior-expected means over the training tasks [N, k])."""
    actions = jnp.asarray(actions, jnp.int32)
    values = _locator_values(
        actions,
        jnp.asarray(rewards, jnp.float32),
        jnp.asarray(task_means, jnp.float32),
        reward_type,
        reward_noise,
        episode_start,
    )
    beta, log_lik = fit_inverse_temperature(values, actions, episode_weights)
    weights = _weights(episode_weights, actions.shape[1])
    return ModelFit(
        "task_locator",
        {"inverse_temperature": beta},
        log_lik,
        _num_choices(actions, weights),
        _temperature_errors(values, actions, weights, beta),
    )


def fit_random(actions, num_arms: int, episode_weights=None) -> ModelFit:
    """Uniform choice: no parameters, log(1/k) per choice."""
    weights = _weights(episode_weights, np.shape(actions)[1])
    num_choices = _num_choices(actions, weights)
    return ModelFit("random", {}, -num_choices * float(np.log(num_arms)), num_choices)


def fit_choice_models(
    actions,
    rewards,
    num_arms: int,
    training_task_means=None,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    q_initial_value: float = 0.5,
    reward_type: str = "bernoulli",
    reward_noise: float = 1.0,
    episode_start=None,
) -> list[dict]:
    """Fit every model to the choices (actions, rewards [T, B]); the BIC table, best (lowest BIC) first.

    The task locator is included only when ``training_task_means`` [N, k] is given.
    Each row: model, params, n_params, log_likelihood, bic, per_trial_likelihood, num_choices.
    """
    fits = [
        fit_random(actions, num_arms),
        fit_wsls(actions, rewards, num_arms, episode_start=episode_start),
        fit_q_learning(actions, rewards, num_arms, q_initial_value, episode_start=episode_start),
        fit_bayes_learner(
            actions, rewards, num_arms, prior_a, prior_b, episode_start=episode_start
        ),
    ]
    if training_task_means is not None:
        fits.append(
            fit_task_locator(
                actions,
                rewards,
                training_task_means,
                reward_type,
                reward_noise,
                episode_start=episode_start,
            )
        )
    return [fit.as_row() for fit in sorted(fits, key=lambda fit: fit.bic)]


# ------------------------------------------------------------------ the probe

MODELS = ("random", "wsls", "q_learning", "bayes_learner", "task_locator")
"""Every choice model, in the order the figure lists them (the verdict is the best one)."""


def run(ctx: ProbeContext) -> ProbeResult:
    """BIC table of the choice models, fitted to the checkpoint and to each reference."""
    s = bandit_setting(ctx)
    batches, described, rollouts_s = bandit_episodes(ctx, BANDIT_CHOICE_AGENTS)
    start = time.perf_counter()
    agents = {}
    for name, batch in batches.items():
        table = fit_choice_models(
            batch.actions,
            np.asarray(batch.rewards) / s["reward_scale"],
            s["num_arms"],
            training_task_means=s["pool_means"],
            prior_a=s["prior_a"],
            prior_b=s["prior_b"],
            q_initial_value=prior_mean(s),
            reward_type=s["reward_type"],
            reward_noise=s["reward_noise"],
        )
        for row in table:
            row["delta_bic"] = row["bic"] - table[0]["bic"]
        agents[name] = {
            "best_model": table[0]["model"],
            "delta_bic_runner_up": table[1]["bic"] - table[0]["bic"],
            "table": table,
        }
    best = agents["checkpoint"]
    reason = (
        f"lowest BIC: {best['best_model']} ({best['delta_bic_runner_up']:.1f} below the next model, "
        f"{best['table'][0]['num_choices']} choices)"
    )
    expected = {"q_learning": "q_learning", "win_stay_lose_shift": "wsls"}
    if "thompson_sampling" in agents:
        expected["thompson_sampling"] = "bayes_learner"
    if "task_locator" in agents:
        expected["task_locator"] = "task_locator"
    return ProbeResult(
        results={
            "agents": agents,
            "models": [row["model"] for row in best["table"]],
            "expected_best": expected,
            "note": "BIC = -2 log-likelihood + parameters x log(choices); per_trial_likelihood = "
            "exp(mean log-likelihood per choice). A BIC difference above 10 is decisive.",
        },
        verdict=Verdict(best["best_model"], reason),
        references=described,
        timing={
            "rollouts_s": rollouts_s,
            "analysis_s": time.perf_counter() - start,
        },
    )


def format_lines(summary: dict) -> list[str]:
    return [
        f"  {name:24s} best {row['best_model']:14s} "
        f"(next model +{text_number(row['delta_bic_runner_up'], '.1f')} BIC)"
        for name, row in summary["results"]["agents"].items()
    ]


def _draw_likelihoods(ax, agents: dict, order: list[str], models: list[str]) -> None:
    height = 0.8 / len(order)
    for j, name in enumerate(order):
        rows = {row["model"]: row for row in agents[name]["table"]}
        y = np.arange(len(models))[::-1] + 0.4 - (j + 0.5) * height
        values = [rows[m]["per_trial_likelihood"] if m in rows else np.nan for m in models]
        ax.barh(
            y,
            values,
            height=height,
            color=figures.color(name, order),
            label=figures.label(name),
            edgecolor="black" if name == figures.CHECKPOINT else "none",
            lw=0.8,
        )
        best = models.index(agents[name]["best_model"])
        ax.plot(values[best] + 0.01, y[best], marker="*", color="black", ms=7, ls="none")
    ax.set_yticks(np.arange(len(models))[::-1])
    ax.set_yticklabels([m.replace("_", " ") for m in models])
    ax.set_xlabel(
        "per-choice likelihood of the fitted model\n(geometric mean probability of each choice)"
    )
    ax.set_title("choice models fitted to each agent (* lowest BIC)", fontsize=10)
    ax.set_xlim(0, 1.05)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")


def draw(fig, summary: dict, arrays: dict) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    models = [m for m in MODELS if m in summary["results"]["models"]]
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    _draw_likelihoods(left, agents, order, models)
    values, lows, highs = [], [], []
    for name in order:
        row = next(r for r in agents[name]["table"] if r["model"] == "q_learning")
        rate = row["params"]["learning_rate"]
        se = figures.number(row["standard_errors"].get("learning_rate"))
        values.append(rate)
        lows.append(rate - 1.96 * se if np.isfinite(se) else None)
        highs.append(rate + 1.96 * se if np.isfinite(se) else None)
    figures.horizontal_intervals(
        right,
        order,
        values,
        lows,
        highs,
        order,
        "Q-learning learning rate fitted to the choices\n(95% CI from the observed information)",
    )
    right.set_xlim(-0.02, 1.02)
    right.set_title("fitted Rescorla-Wagner rate", fontsize=10)


PROBE = Probe(
    name="model_fit",
    families=("bandit",),
    allowed_verdicts=MODELS,
    description="BIC table of choice models (random, WSLS, Q-learning, Bayes learner, task locator)",
    run=run,
    format=format_lines,
    draw=draw,
    figure_size=(13, 5.2),
)
