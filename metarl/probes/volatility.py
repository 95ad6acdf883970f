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

How large a fixed agent's difference gets depends on its nuisance parameters: on the
probe's change-point bandit (5 arms, 100 pulls, 256 episodes) fixed-hazard Bayesians
show up to about +0.12 (assumed hazards 0.01-0.1 with a soft choice, inverse
temperature 1-3, or any temperature with 30% random actions) and as little as +0.02
(hazard 0.1, inverse temperature 30), against +0.21 to +0.30 for the one told each
condition's hazard. References at one temperature and two hazards let a fixed agent
with a softer or noisier choice earn the adaptive verdict, so the probe plays
fixed-hazard Bayesians over the hazard range (``FIXED_HAZARDS``) at a soft choice
(``BAYES_INVERSE_TEMPERATURE``) and the verdict needs the agent above every one of
them (tests/probes/test_adversarial_volatility.py: 90 fixed-hazard Bayesians and
fixed-rate Q-learners over hazards 0-0.2, rates 0.05-1, inverse temperatures 1-100 and
greedy, and 0 or 30% random actions never get it; the told-hazard agent gets it at
every temperature and noise, 12 of 12).

The fit is a profile likelihood on a (alpha, beta) grid scored in one compiled call
(``model_fit.q_learning_log_lik_grid``), refined by parabolas in log beta and then
in logit alpha. A bootstrap replicate only reweights the per-episode grid, so
hundreds of replicates cost one matrix product.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

import metarl.envs as menvs
from metarl.errors import ConfigError
from metarl.interval import Interval
from metarl.probes import figures, model_fit
from metarl.probes.bandit_agents import (
    REFERENCE_INVERSE_TEMPERATURE,
    REFERENCE_LEARNING_RATE,
    bandit_setting,
    prior_mean,
)
from metarl.probes.protocol import (
    Probe,
    ProbeContext,
    ProbeResult,
    Verdict,
    text_interval,
    text_number,
)

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
        """JSON-friendly: each fitted rate and the difference as an ``Interval``."""
        return {
            "stable_learning_rate": Interval(self.stable.learning_rate, *self.stable.interval),
            "stable_inverse_temperature": self.stable.inverse_temperature,
            "volatile_learning_rate": Interval(
                self.volatile.learning_rate, *self.volatile.interval
            ),
            "volatile_inverse_temperature": self.volatile.inverse_temperature,
            "difference": Interval(self.difference, *self.difference_interval),
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

    from metarl.evaluation.play import Player

    # The env params are an argument of the compiled program: one compile serves both conditions.
    player = Player(env, num_episodes, num_steps)
    stable = player.play_policy(policy, stable_params, key)
    volatile = player.play_policy(
        policy if volatile_policy is None else volatile_policy, volatile_params, key
    )
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


# ------------------------------------------------------------------ the probe

VOLATILE_HAZARD = 0.05
"""Per-step change-point hazard of the volatile bandit (the stable one has 0): a new task
every 20 pulls on average, slow enough for a k-armed learner to find the best arm."""
FIXED_HAZARDS = (0.0, 0.01, 0.05, 0.1, 0.2)
"""Assumed hazards of the fixed-hazard Bayesian references: the range a trained agent's
implicit hazard could take, around the volatile world's (which must be among them)."""
BAYES_INVERSE_TEMPERATURE = 3.0
"""Softmax inverse temperature of the fixed-hazard Bayesians. A fixed Bayesian's difference
grows as its choice gets noisier (measured, 5 arms, 100 pulls, 256 episodes: hazard 0.05
gives +0.09 to +0.12 at 3, +0.06 at 10, +0.04 at 30, +0.10 at 10 with 30% random
actions), so the references choose as softly as the noisiest fixed agents: at 3, their
differences bound those of the fixed agents swept from 1 to greedy."""
BOOTSTRAP = 200
VERDICTS = ("beyond_fixed_references", "not_beyond_fixed_references", "slower_when_volatile")


def bayes_reference_name(hazard: float) -> str:
    return f"bayes_hazard_{hazard:g}"


FIXED_REFERENCES = ("q_learning_fixed_rate", *(bayes_reference_name(h) for h in FIXED_HAZARDS))
TOLD_HAZARD_PARTS = (bayes_reference_name(0.0), bayes_reference_name(VOLATILE_HAZARD))
"""The told-hazard reference is the hazard-0 Bayesian when stable, the true-hazard one when volatile."""
REFERENCES = {
    "q_learning_fixed_rate": f"Rescorla-Wagner with a fixed rate {REFERENCE_LEARNING_RATE:g} (no adaptation)",
    **{
        bayes_reference_name(h): f"change-point Bayesian assuming hazard {h:g} in both conditions "
        f"(fixed), softmax inverse temperature {BAYES_INVERSE_TEMPERATURE:g}"
        for h in FIXED_HAZARDS
    },
    "bayes_told_hazard": "change-point Bayesian told each condition's true hazard (adaptive)",
}


def probe_conditions(ctx: ProbeContext):
    """(env, stable_params, volatile_params, drift kinds): the probe suite's bandit with change-points."""
    overrides = dict(ctx.suite.overrides)
    kinds = [k for k in str(overrides.get("drift", "none")).split("+") if k not in ("", "none")]
    if "change_point" not in kinds:
        kinds.append("change_point")
    overrides.update(drift="+".join(kinds), hazard=VOLATILE_HAZARD)
    env, volatile = menvs.make(ctx.config.env.name, **overrides)
    stable = volatile.replace(drift=volatile.drift.replace(hazard=0.0))
    if (
        menvs.RL2Wrapper(env).observation_size(volatile)
        != ctx.train_env.observation_size(ctx.train_params)
        or volatile.max_steps_in_episode != ctx.train_params.max_steps_in_episode
    ):
        raise ConfigError("the volatility conditions change the agent's interface (a probe bug)")
    return env, stable, volatile, kinds


def reference_agents(setting: dict, steps: int) -> dict[str, tuple]:
    """{name: (policy or policy maker, maker args or None)}: the fixed references, each played
    unchanged in both conditions (``setting``: ``bandit_agents.bandit_setting``)."""
    from metarl.evaluation.baselines import q_learning

    unscaled = functools.partial(_unscaled, setting["reward_scale"])
    q_policy = unscaled(
        q_learning(
            setting["num_arms"],
            REFERENCE_LEARNING_RATE,
            inverse_temperature=REFERENCE_INVERSE_TEMPERATURE,
            initial_value=prior_mean(setting),
        )
    )
    # The hazard is the maker's argument: one compile for every assumed hazard.
    bayes = functools.partial(_change_point_reference, setting, steps, unscaled)
    return {
        "q_learning_fixed_rate": (q_policy, None),
        **{bayes_reference_name(h): (bayes, jnp.float32(h)) for h in FIXED_HAZARDS},
    }


def _unscaled(scale: float, policy):
    from metarl.evaluation.policy import rescaled_rewards

    return policy if scale == 1.0 else rescaled_rewards(policy, scale)


def _change_point_reference(setting: dict, steps: int, unscaled, hazard):
    from metarl.evaluation.baselines import change_point_bayesian

    return unscaled(
        change_point_bayesian(
            setting["num_arms"],
            steps,
            hazard,
            BAYES_INVERSE_TEMPERATURE,
            setting["prior_a"],
            setting["prior_b"],
        )
    )


def agent_comparison(stable, volatile, setting: dict, seed: int) -> VolatilityComparison:
    """One agent's fitted rates in both conditions (batches with ``actions``, ``rewards``), on the
    probe's bootstrap (``seed``): every agent compared with the same seed resamples the same
    episodes, so differences between agents are paired."""
    scale = setting["reward_scale"]
    return compare_learning_rates(
        stable.actions,
        np.asarray(stable.rewards) / scale,
        volatile.actions,
        np.asarray(volatile.rewards) / scale,
        setting["num_arms"],
        num_bootstrap=BOOTSTRAP,
        seed=seed,
        initial_value=prior_mean(setting),
    )


def told_hazard_comparison(comparisons: dict) -> VolatilityComparison:
    """Told the hazard: hazard 0 when stable, the true one when volatile. Both fits exist already,
    on the same resampled episodes (same bootstrap seed and count), so no refit is needed."""
    told_stable = comparisons[TOLD_HAZARD_PARTS[0]].stable
    told_volatile = comparisons[TOLD_HAZARD_PARTS[1]].volatile
    return VolatilityComparison(
        stable=told_stable,
        volatile=told_volatile,
        difference=told_volatile.learning_rate - told_stable.learning_rate,
        difference_interval=tuple(
            float(x)
            for x in np.percentile(told_volatile.bootstrap - told_stable.bootstrap, [2.5, 97.5])
        ),
    )


def excess_over_references(
    agent: VolatilityComparison, references: dict[str, VolatilityComparison]
) -> dict[str, Interval]:
    """Per reference: the agent's difference minus the reference's, with a paired bootstrap
    interval (the same resampled episode indices for every agent: same seed and count)."""
    agent_boot = agent.volatile.bootstrap - agent.stable.bootstrap
    excess = {}
    for name, reference in references.items():
        boot = reference.volatile.bootstrap - reference.stable.bootstrap
        low, high = np.percentile(agent_boot - boot, [2.5, 97.5])
        excess[name] = Interval(agent.difference - reference.difference, low, high)
    return excess


def volatility_verdict(agent: VolatilityComparison, excess: dict[str, Interval]) -> Verdict:
    """'beyond_fixed_references' only when the agent's difference is above every fixed reference's
    (an intersection of one-sided tests: each at 2.5%, so no correction is needed for the 'all')."""
    above = [name for name in FIXED_REFERENCES if excess[name].above(0.0)]
    if agent.verdict == "slower_when_volatile":
        label = "slower_when_volatile"
    elif len(above) == len(FIXED_REFERENCES):
        label = "beyond_fixed_references"
    else:
        label = "not_beyond_fixed_references"
    low, high = agent.difference_interval
    reason = (
        f"fitted rate volatile - stable {agent.difference:+.3f} [{low:+.3f}, {high:+.3f}] "
        f"({agent.verdict}); above every fixed reference's difference: "
        f"{'yes' if label == 'beyond_fixed_references' else 'no'}"
        f" (above {len(above)} of {len(FIXED_REFERENCES)}: {', '.join(above) or 'none'})"
    )
    return Verdict(label, reason)


def _play_conditions(ctx: ProbeContext, env, stable, volatile) -> dict[str, tuple]:
    """{agent: (stable batch, volatile batch)}: every agent on the same key in both conditions."""
    from metarl.evaluation.play import checkpoint_maker

    agents = {
        "checkpoint": (checkpoint_maker(ctx.agent), ctx.params),
        **reference_agents(bandit_setting(ctx), ctx.num_steps),
    }
    return {
        name: tuple(ctx.play(maker, params, args, env=env) for params in (stable, volatile))
        for name, (maker, args) in agents.items()
    }


def run(ctx: ProbeContext) -> ProbeResult:
    """Fitted learning rate, stable vs volatile, beside fixed-rate and fixed-hazard references."""
    s = bandit_setting(ctx)
    scale = s["reward_scale"]
    env, stable, volatile, kinds = probe_conditions(ctx)
    start = time.perf_counter()
    played = _play_conditions(ctx, env, stable, volatile)
    rollout_s = time.perf_counter() - start
    start = time.perf_counter()
    comparisons = {name: agent_comparison(*pair, s, ctx.seed) for name, pair in played.items()}
    comparisons["bayes_told_hazard"] = told_hazard_comparison(comparisons)
    played["bayes_told_hazard"] = (played[TOLD_HAZARD_PARTS[0]][0], played[TOLD_HAZARD_PARTS[1]][1])
    checkpoint = comparisons["checkpoint"]
    excess = excess_over_references(
        checkpoint, {n: c for n, c in comparisons.items() if n != "checkpoint"}
    )
    agents, arrays = {}, {}
    for name, comparison in comparisons.items():
        row = comparison.summary()
        row["mean_reward_stable"] = float(np.asarray(played[name][0].rewards).mean() / scale)
        row["mean_reward_volatile"] = float(np.asarray(played[name][1].rewards).mean() / scale)
        arrays[f"{name}/difference_bootstrap"] = (
            comparison.volatile.bootstrap - comparison.stable.bootstrap
        )
        if name in excess:
            row["checkpoint_difference_minus_this"] = excess[name]
        agents[name] = row
    return ProbeResult(
        results={
            "conditions": {
                "env": ctx.config.env.name,
                "task_source": ctx.suite.description,
                "drift": "+".join(kinds),
                "stable_hazard": 0.0,
                "volatile_hazard": VOLATILE_HAZARD,
                "horizon": ctx.num_steps,
                "num_arms": s["num_arms"],
            },
            "agents": agents,
            "fixed_references": list(FIXED_REFERENCES),
            "adaptive_references": ["bayes_told_hazard"],
            "bootstrap": {"resamples": BOOTSTRAP, "seed": ctx.seed, "paired": True},
            "note": "A higher fitted rate when volatile is necessary, not sufficient, for volatility "
            "adaptation: Bayesians with a fixed hazard also show one, larger the noisier their "
            "choice. The verdict needs the checkpoint's difference above every fixed reference's "
            f"(hazards {', '.join(f'{h:g}' for h in FIXED_HAZARDS)}; paired bootstrap).",
        },
        verdict=volatility_verdict(checkpoint, excess),
        references=dict(REFERENCES),
        arrays=arrays,
        timing={"rollouts_s": rollout_s, "analysis_s": time.perf_counter() - start},
    )


def format_lines(summary: dict) -> list[str]:
    return [
        f"  {name:24s} rate stable {text_number(row['stable_learning_rate']['value'])}  volatile "
        f"{text_number(row['volatile_learning_rate']['value'])}  difference "
        f"{text_interval(row['difference'])}"
        for name, row in summary["results"]["agents"].items()
    ]


def draw(fig, summary: dict, arrays: dict) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    left, right = fig.subplots(1, 2)
    offsets = np.linspace(-0.15, 0.15, len(order))
    for offset, name in zip(offsets, order, strict=True):
        row = agents[name]
        points = [figures.interval_error(row[f"{c}_learning_rate"]) for c in ("stable", "volatile")]
        left.errorbar(
            np.array([0.0, 1.0]) + offset,
            [value for value, _ in points],
            yerr=np.hstack([error for _, error in points]),
            fmt="-o",
            color=figures.color(name, order),
            capsize=3,
            lw=2.2 if name == figures.CHECKPOINT else 1.2,
            ms=6 if name == figures.CHECKPOINT else 4,
            label=figures.label(name),
        )
    conditions = summary["results"]["conditions"]
    left.set_xticks([0, 1])
    left.set_xticklabels(
        [
            f"stable\n(hazard {conditions['stable_hazard']:g})",
            f"volatile\n(hazard {conditions['volatile_hazard']:g} per pull)",
        ]
    )
    left.set_xlim(-0.5, 1.5)
    left.set_ylabel("fitted Rescorla-Wagner learning rate\n(95% bootstrap CI)")
    left.set_title("learning rate fitted to the choices", fontsize=10)
    left.grid(axis="y", alpha=0.3)
    left.legend(fontsize=7)
    figures.interval_rows(
        right,
        order,
        [agents[n]["difference"] for n in order],
        order,
        "learning rate, volatile - stable (95% paired bootstrap CI)",
    )
    right.set_title("fixed references show what no adaptation gives", fontsize=10)


PROBE = Probe(
    name="volatility",
    families=("bandit",),
    allowed_verdicts=VERDICTS,
    description="fitted learning rate in a stable vs a volatile world, vs fixed references",
    run=run,
    format=format_lines,
    draw=draw,
    figure_size=(12, 4.8),
)
