"""The two-step verdict from fitted models: the hybrid's w and the fitted models simulated.

``metarl.probes.two_step_fit`` fits the Daw hybrid model and its restrictions to
the agent's choices; this module simulates the fitted *model-free* model (and, when
the verdict needs it, the fitted *model-based* one) on the same task and episode
count (a parametric bootstrap: ``simulate_fit``), fits the hybrid to each simulated
data set (``simulated_w``), and judges the agent by all of it (``fitted_verdict``).
The simulated data sets' reward x transition indices and w estimates are the
references the agent's own are judged against: a model-free agent's index grows
with its inverse temperature and depends on its learning rate (Akam et al. 2015),
how far w's estimate strays from the truth depends on how much the choices say,
and the fitted models have the agent's own temperature and learning rate, so a
near-deterministic model-free agent is compared with near-deterministic model-free
simulations.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from metarl.evaluation.rollout import EpisodeBatch
from metarl.evaluation.statistics import Z_95
from metarl.interval import Interval
from metarl.probes.two_step_fit import (
    BETA_FIRST,
    BETA_SECOND,
    PARAMETERS,
    PERSEVERATION,
    RATE,
    TRACE,
    TwoStepFit,
    TwoStepTrials,
    W,
    hybrid_w_estimates,
    trials_from_batch,
)

# ------------------------------------------------------------------ the fitted model-free agent

SIMULATIONS = 20
"""Simulated data sets per fitted model: the reference distributions of the index and of w."""
SIMULATION_STREAM = 1  # fold_in tag: the simulations' episodes are independent of the agent's
_PLAYERS: dict = {}


def _fitted_policy(args):
    from metarl.evaluation.baselines.two_step import hybrid

    params, common_prob = args
    return hybrid(
        params[W],
        learning_rate=params[RATE],
        beta=params[BETA_FIRST],
        trace_decay=params[TRACE],
        common_prob=common_prob,
        perseveration=params[PERSEVERATION],
        second_stage_beta=params[BETA_SECOND],
    )


def simulate_fit(
    env,
    env_params,
    key: jax.Array,
    params: dict[str, float],
    num_episodes: int,
    num_steps: int,
    num_simulations: int = SIMULATIONS,
) -> list[TwoStepTrials]:
    """``num_simulations`` data sets of ``num_episodes`` episodes of the fitted model ``params``.

    The same task (env, parameters, episode length) as the agent, on episodes
    independent of its own (``key`` folded with ``SIMULATION_STREAM``), so that under
    the hypothesis that the agent *is* this model its index and the simulations' are
    exchangeable draws. One compiled program serves every fit (the parameters are
    its arguments) and every data set (one batch of ``num_simulations`` x
    ``num_episodes`` episodes, split afterwards).
    """
    from metarl.evaluation.play import Player

    total = num_simulations * num_episodes
    cache_key = (id(env), total, num_steps)
    if cache_key not in _PLAYERS or _PLAYERS[cache_key][0] is not env:
        _PLAYERS[cache_key] = (env, Player(env, total, num_steps))
    player = _PLAYERS[cache_key][1]
    vector = jnp.asarray([params[name] for name in PARAMETERS], jnp.float32)
    rollouts = player.play(
        _fitted_policy,
        env_params,
        jax.random.fold_in(key, SIMULATION_STREAM),
        policy_args=(vector, jnp.float32(env_params.common_prob)),
    )
    trials = trials_from_batch(
        EpisodeBatch(
            actions=rollouts.actions, rewards=rollouts.rewards, info=rollouts.info, extras={}
        )
    )
    return [
        TwoStepTrials(
            **{
                field.name: getattr(trials, field.name)[
                    :, i * num_episodes : (i + 1) * num_episodes
                ]
                for field in dataclasses.fields(TwoStepTrials)
            }
        )
        for i in range(num_simulations)
    ]


def simulated_w(
    env,
    env_params,
    key: jax.Array,
    params: dict[str, float],
    num_episodes: int,
    num_steps: int,
    datasets: list[TwoStepTrials] | None = None,
) -> np.ndarray:
    """[S] the hybrid's w fitted to each data set simulated from the fitted model ``params``.

    ``datasets`` are ``simulate_fit``'s for these ``params`` when already played (the
    model-free ones, played for the index); None plays them.
    """
    if datasets is None:
        datasets = simulate_fit(env, env_params, key, params, num_episodes, num_steps)
    return hybrid_w_estimates(datasets, params, float(env_params.common_prob))


def prediction_interval(samples: np.ndarray, z: float = Z_95) -> Interval:
    """Mean of ``samples`` and the interval a new draw of their distribution falls in.

    Student-t with the samples' own spread: mean +- t(n - 1) sd sqrt(1 + 1/n), at the
    two-sided level of ``z``, so that the bound accounts for the few simulations too.
    """
    from scipy import stats

    samples = np.asarray(samples, np.float64)
    samples = samples[np.isfinite(samples)]
    n = len(samples)
    if n < 2:
        return Interval(float(samples.mean()) if n else float("nan"))
    quantile = float(stats.t.ppf(stats.norm.cdf(z), n - 1))
    half = quantile * samples.std(ddof=1) * np.sqrt(1.0 + 1.0 / n)
    return Interval.from_half_width(float(samples.mean()), float(half))


# ------------------------------------------------------------------ w under each mechanism


def w_bounds(estimates: np.ndarray) -> Interval:
    """Median of the simulated data sets' w estimates; their range is the prediction interval.

    A new draw exchangeable with S simulations lies above their maximum (below their
    minimum) with probability 1 / (S + 1) whatever the distribution's shape: 4.8% for
    20. A mean +- t sd bound, as for the index, would misstate it: the estimates pile
    up at the end of [0, 1] that generated them (most model-free data sets give w = 0
    exactly) and trail off towards the other. ``level`` is (S - 1) / (S + 1).
    """
    estimates = np.asarray(estimates, np.float64)
    n = len(estimates)
    return Interval(
        float(np.median(estimates)),
        float(estimates.min()),
        float(estimates.max()),
        level=(n - 1) / (n + 1),
    )


def w_references_needed(fit: TwoStepFit, index_above_model_free: bool) -> tuple[str, ...]:
    """The fitted models ('model_free', 'model_based') whose simulated w can change the verdict.

    Fitting the hybrid to 20 simulated data sets costs about three fits of the agent's
    own, so only the comparison the verdict can use is made: 'model-based' needs the
    index above the model-free simulations' and 'model-free' needs it not above, so at
    most one of the two; none when no value-driven choice is found, nor where w's
    interval already reaches the end the comparison needs it away from (a lower bound
    of 0 lies above no model-free estimate, an upper bound of 1 below no model-based
    one), nor for 'model-free' when the likelihood ratio rejects w = 0.
    """
    if not fit.prefers_hybrid_over("null"):
        return ()
    if index_above_model_free:
        return ("model_free",) if fit.w.low > 0.0 else ()
    if fit.prefers_hybrid_over("model_free") or fit.w.high >= 1.0:
        return ()
    return ("model_based",)


# ------------------------------------------------------------------ the verdict


@dataclasses.dataclass(frozen=True)
class FitVerdict:
    label: str
    """'model-based', 'model-free' or 'undecided'."""
    reason: str
    w: Interval
    """The hybrid fit's model-based weight, profile-likelihood interval."""
    index: Interval
    """The agent's reward x transition coefficient (the stay regression's)."""
    simulated_index: Interval
    """The fitted model-free model's index: mean over simulations, prediction interval."""
    simulated_w: dict[str, Interval]
    """'model_free' / 'model_based' -> the hybrid's w fitted to that fitted model's simulated
    data sets (``w_bounds``); only those the verdict needed (``w_references_needed``)."""
    checks: dict[str, bool]
    """The rule's tests (``fitted_verdict``)."""

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "reason": self.reason,
            "w": self.w,
            "index": self.index,
            "simulated_index": self.simulated_index,
            "simulated_w": dict(self.simulated_w),
            "checks": dict(self.checks),
        }


def _numbers(fit: TwoStepFit, index: Interval, simulated: Interval, ranges: dict) -> str:
    text = (
        f"w {fit.w.value:.3f} [{fit.w.low:.3f}, {fit.w.high:.3f}], index {index.value:+.2f} vs "
        f"fitted model-free {simulated.value:+.2f} (up to {simulated.high:+.2f})"
    )
    for name, bounds in ranges.items():
        text += f"; w of the fitted {name.replace('_', '-')} simulations {bounds.low:.3f}-{bounds.high:.3f}"
    return text


def fitted_verdict(
    fit: TwoStepFit,
    index: Interval,
    simulated_indices: np.ndarray,
    simulated_w: dict[str, np.ndarray],
    z: float = Z_95,
) -> FitVerdict:
    """Judge the agent by its fitted models and by simulations of them (parametric bootstraps).

    Tests: *value-driven* (the hybrid beats the null model, beta_first = 0, by its
    likelihood ratio); *w above 0* (the hybrid beats the model-free restriction);
    *w above model-free* (w's profile interval above every w the hybrid finds in the
    fitted model-free model's simulated data sets, ``simulated_w['model_free']``: the
    agent's own temperature and learning rate, the same task and episode count);
    *w below model-based* (w's interval below every w of the fitted model-based
    model's simulations); *index above model-free* (the agent's reward x transition
    coefficient above the prediction interval of the fitted model-free model's).

    * 'model-based': value-driven, w above model-free and index above model-free. A
      model-free agent is misjudged only if its own w interval and its own index both
      beat what its fitted model-free twin shows; each comparison is calibrated on
      that twin (a near-greedy model-free agent's w and index are compared with
      near-greedy simulations), so each alone errs at most at its level (w: 1/21,
      the lower bound of an interval against the simulations' point estimates;
      index: 2.5%);
    * 'model-free': value-driven, w = 0 not rejected, w below model-based and the
      index not above model-free. The mirror of the first: the model-based
      hypothesis gets the same calibrated chance, its fitted model-based twin
      simulated, so a soft or slow learner whose w the data cannot place (the
      model-based twin's w reaches down to the agent's interval) is not called
      model-free because its w is merely low;
    * 'undecided': anything else: tests that disagree, a w the data leave anywhere in
      [0, 1], or no value-driven first-stage choice detected. The last is not called
      'neither' (first-stage choices that follow no learned value): a weak learner
      (model-based, lr 0.05, beta 1 on the Daw task) beats the null model by a
      likelihood ratio of 4.5 to 20 depending on the seed, and random choices by 0
      to 4, so no threshold tells the two apart.

    Before this rule w's interval was compared with a fixed 0.5: a mechanism's w
    depends on how much the data say, so a fixed line is too strict for soft learners
    and says nothing of what a model-free agent at the agent's own temperature shows.
    """
    simulated = prediction_interval(simulated_indices, z)
    ranges = {name: w_bounds(values) for name, values in simulated_w.items()}
    checks = {
        "value_driven": fit.prefers_hybrid_over("null"),
        "w_above_zero": fit.prefers_hybrid_over("model_free"),
        "w_above_model_free": "model_free" in ranges and fit.w.low > ranges["model_free"].high,
        "w_below_model_based": "model_based" in ranges and fit.w.high < ranges["model_based"].low,
        "index_above_model_free": bool(index.value > simulated.high),
    }
    if all(checks[c] for c in ("value_driven", "w_above_model_free", "index_above_model_free")):
        label, why = (
            "model-based",
            "w's interval lies above the fitted model-free simulations' w and the index above "
            "their index",
        )
    elif (
        checks["value_driven"]
        and checks["w_below_model_based"]
        and not checks["w_above_zero"]
        and not checks["index_above_model_free"]
    ):
        label, why = (
            "model-free",
            "w's interval includes 0 and lies below the fitted model-based simulations' w; the "
            "fitted model-free agent shows the index",
        )
    elif not checks["value_driven"]:
        label, why = "undecided", "no value-driven first-stage choice detected (null model)"
    else:
        label, why = "undecided", "the fitted models and the index do not agree on a mechanism"
    return FitVerdict(
        label=label,
        reason=f"{why}: {_numbers(fit, index, simulated, ranges)}",
        w=fit.w,
        index=index,
        simulated_index=simulated,
        simulated_w=ranges,
        checks=checks,
    )
