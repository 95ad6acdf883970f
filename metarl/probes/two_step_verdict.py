"""The two-step verdict from fitted models: the hybrid's w and the fitted model-free agent.

``metarl.probes.two_step_fit`` fits the Daw hybrid model and its restrictions to
the agent's choices; this module simulates the fitted *model-free* model on the
same task (a parametric bootstrap: ``simulate_fit``) and judges the agent by both
(``fitted_verdict``). The simulated data sets' reward x transition indices are the
reference the agent's own index must exceed: a model-free agent's index grows with
its inverse temperature and depends on its learning rate (Akam et al. 2015), and
the fitted model-free model has the agent's own, so a near-deterministic
model-free agent is compared with a near-deterministic model-free reference.
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
    trials_from_batch,
)

# ------------------------------------------------------------------ the fitted model-free agent

SIMULATIONS = 20
"""Simulated data sets of the fitted model-free model: the reference distribution of the index."""
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


# ------------------------------------------------------------------ the verdict

DOMINANT_W = 0.5
"""A verdict needs w's whole interval on one side of this: 'model-based' above (mostly
model-based), 'model-free' below (mostly model-free). 'w = 0 rejected' alone is not
enough: the index test looks at the same stay pattern, so the two fail together for a
model-free agent far more often than two independent tests would (a greedy model-free
agent on the Daw task passed both at 95%: w 0.005 [0.0001, 0.020], index 2 SD above its
simulations'); and 'w = 0 not rejected' alone says nothing when the interval is [0, 1]."""


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
    checks: dict[str, bool]
    """The rule's tests (``fitted_verdict``)."""

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "reason": self.reason,
            "w": self.w,
            "index": self.index,
            "simulated_index": self.simulated_index,
            "checks": dict(self.checks),
        }


def fitted_verdict(
    fit: TwoStepFit, index: Interval, simulated_indices: np.ndarray, z: float = Z_95
) -> FitVerdict:
    """Judge the agent by its fitted models and by the fitted model-free model's simulations.

    Tests: *value-driven* (the hybrid beats the null model, beta_first = 0, by its
    likelihood ratio); *w above 0* (the hybrid beats the model-free restriction: w's
    profile interval excludes 0); *w mostly model-based* / *model-free* (w's interval
    above / below ``DOMINANT_W``); *index above model-free* (the agent's reward x
    transition coefficient above the prediction interval of the fitted model-free
    model's simulated ones).

    * 'model-based': value-driven, w mostly model-based and index above model-free:
      a model-free agent must show both of the last two to be misjudged;
    * 'model-free': value-driven, w mostly model-free and not above 0, index not
      above model-free;
    * 'undecided': anything else: a near-random learner whose w the data leave
      anywhere in [0, 1], tests that disagree, or no value-driven first-stage choice
      detected. The last is not called 'neither' (first-stage choices that follow no
      learned value): a weak learner (model-based, lr 0.05, beta 1 on the Daw task)
      beats the null model by a likelihood ratio of 4.5 to 20 depending on the seed,
      and random choices by 0 to 4, so no threshold tells the two apart.
    """
    simulated = prediction_interval(simulated_indices, z)
    checks = {
        "value_driven": fit.prefers_hybrid_over("null"),
        "w_above_zero": fit.prefers_hybrid_over("model_free"),
        "w_mostly_model_based": bool(fit.w.low > DOMINANT_W),
        "w_mostly_model_free": bool(fit.w.high < DOMINANT_W),
        "index_above_model_free": bool(index.value > simulated.high),
    }
    numbers = (
        f"w {fit.w.value:.3f} [{fit.w.low:.3f}, {fit.w.high:.3f}], index {index.value:+.2f} vs "
        f"fitted model-free {simulated.value:+.2f} (up to {simulated.high:+.2f})"
    )
    if all(checks[c] for c in ("value_driven", "w_mostly_model_based", "index_above_model_free")):
        label, why = (
            "model-based",
            f"w's interval lies above {DOMINANT_W:g} and the index beats the fitted model-free agent",
        )
    elif (
        checks["value_driven"]
        and checks["w_mostly_model_free"]
        and not checks["w_above_zero"]
        and not checks["index_above_model_free"]
    ):
        label, why = (
            "model-free",
            f"w's interval includes 0 and lies below {DOMINANT_W:g}; the fitted model-free "
            "agent shows the index",
        )
    elif not checks["value_driven"]:
        label, why = "undecided", "no value-driven first-stage choice detected (null model)"
    else:
        label, why = "undecided", "the fitted models and the index do not agree on a mechanism"
    return FitVerdict(
        label=label,
        reason=f"{why}: {numbers}",
        w=fit.w,
        index=index,
        simulated_index=simulated,
        checks=checks,
    )
