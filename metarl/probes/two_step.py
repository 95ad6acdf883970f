"""Two-step task probe: is first-stage choice model-based, or can model-free TD explain it?

Per trial t (after an episode's first), *stay* means a1_t == a1_{t-1}. A model-free
learner repeats rewarded choices whatever the transition; a model-based one credits
the second-stage state reached, so after a *rare* transition it reverses the usual
win-stay/lose-shift. The probe measures

* **stay probabilities** P(stay | previous trial rewarded/unrewarded x common/rare),
  pooled over trials, with 95% intervals clustered by episode (ratio estimator);
* the **reward x transition interaction in stay probability**, defined here as the
  difference of differences ``(P_RC - P_RR) - (P_UC - P_UR)`` (R/U = previous trial
  rewarded/unrewarded, C/R = its transition common/rare): how much more the agent
  stays after common than after rare transitions when rewarded, minus the same
  when unrewarded. It is 2 for an agent that always follows the transition model
  (stay after RC and UR, switch after RR and UC) and 0 for one that ignores it.
  This is the definition under which the issue's reference values hold on the
  Wang task (common 0.8, reward 0.9/0.1, swap 0.025 per trial, 100 trials):
  measured with 512 episodes (seed 0), the model-based learner (lr 0.5, beta 5)
  gives +0.85 +- 0.02 and model-free SARSA(1) (beta 5) gives +0.41 (lr 0.1-0.3),
  +0.29 (lr 0.5), +0.20 (lr 0.7), +0.09 (lr 0.9); half of it (the mean of the two
  differences) would give +0.43 for the model-based learner;
* the Daw et al. (2011) **logistic regression** of stay on the previous trial's
  reward (+1/-1), transition (common +1 / rare -1) and their product, with
  cluster-robust (by episode) Wald intervals: the interaction coefficient is the
  **model-based index**, the reward main effect the **model-free index**
  (``two_step_fit.lagged_choice_regression`` extends it to several past trials);
* the Daw hybrid model fitted to the agent's own choices (``two_step_fit``): its
  model-based weight w with a profile-likelihood interval, and the model-free fit
  simulated on the same task (``two_step_verdict``).

A positive interaction alone does not show model-based control: Akam et al. (2015)
show model-free agents produce one too, its size depending on their learning rate,
because rare-transition rewards come disproportionately after choices that are
already the worse ones, and larger the more deterministic they are. So
``two_step_verdict`` judges an agent only *relative to simulated model-free
references on the same task*; but a fixed grid of references (here beta 5 and 10)
is beaten by a near-deterministic model-free agent (SARSA(1), lr 0.5, beta 50:
index +0.70 against the grid's +0.58). The probe's verdict is therefore
``two_step_verdict.fitted_verdict``: the hybrid model's w, fitted to the agent's
own choices, and the agent's index against the model-free model fitted to those
same choices (its own temperature and learning rate), simulated. ``analyze_two_step``
runs both, and the reference grid beside the agent (same evaluation key).

Trials come from an ``EpisodeBatch``: the task alternates stages from an episode's
start, so a1 is the action at even steps and the reward at odd steps says whether
the trial was rewarded. The transition type is read from ``info`` when the
evaluation recorded ``transition_common`` / ``first_stage_action``, and otherwise
from the recorded RL^2 observations (``record_observations=True``: the second-stage
observation names the state reached, and the transition was common iff that state
equals a1). Episode boundaries inside a column come from ``info["trial"]``.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from metarl.evaluation.rollout import EpisodeBatch
from metarl.evaluation.statistics import Z_95
from metarl.interval import Interval
from metarl.probes import figures
from metarl.probes.protocol import (
    Probe,
    ProbeContext,
    ProbeResult,
    Verdict,
    text_interval,
    text_plus_minus,
)
from metarl.probes.two_step_fit import (
    REGRESSORS,
    TwoStepTrials,
    cluster_correction,
    fit_logistic,
    fit_two_step,
    trials_from_batch,
)
from metarl.probes.two_step_verdict import (
    fitted_verdict,
    prediction_interval,
    simulate_fit,
    simulated_w,
    w_references_needed,
)

CONDITIONS = ("rewarded_common", "rewarded_rare", "unrewarded_common", "unrewarded_rare")


def _transitions(trials: TwoStepTrials):
    """(stay, prev_rewarded, prev_common, column index) over consecutive trial pairs, flattened."""
    valid = ~trials.episode_first[1:]
    stay = trials.first_action[1:] == trials.first_action[:-1]
    columns = np.broadcast_to(np.arange(stay.shape[1]), stay.shape)
    return (
        stay[valid],
        trials.rewarded[:-1][valid],
        trials.common[:-1][valid],
        columns[valid],
    )


def stay_probabilities(
    trials: TwoStepTrials, z: float = Z_95
) -> tuple[dict[str, Interval], Interval]:
    """P(stay) per condition and the interaction ``(RC - RR) - (UC - UR)``, episode-clustered.

    Each condition's probability is the pooled ratio sum(stays) / sum(trials); its
    variance is the cluster (episode) ratio-estimator variance, and the
    interaction's uses the per-episode influence of all four ratios together.
    """
    stay, rewarded, common, column = _transitions(trials)
    num_columns = trials.first_action.shape[1]
    masks = {
        "rewarded_common": rewarded & common,
        "rewarded_rare": rewarded & ~common,
        "unrewarded_common": ~rewarded & common,
        "unrewarded_rare": ~rewarded & ~common,
    }
    correction = cluster_correction(num_columns)
    probabilities, influences = {}, {}
    for name, mask in masks.items():
        n_per = np.bincount(column[mask], minlength=num_columns).astype(np.float64)
        stay_per = np.bincount(column[mask], weights=stay[mask], minlength=num_columns)
        total = n_per.sum()
        if total == 0:
            probabilities[name] = Interval.from_half_width(float("nan"), float("nan"))
            influences[name] = np.full(num_columns, np.nan)
            continue
        p = stay_per.sum() / total
        influence = (stay_per - p * n_per) / total
        probabilities[name] = Interval.from_half_width(
            float(p), float(z * np.sqrt(correction * np.sum(influence**2)))
        )
        influences[name] = influence
    weights = {
        "rewarded_common": 1.0,
        "rewarded_rare": -1.0,
        "unrewarded_common": -1.0,
        "unrewarded_rare": 1.0,
    }
    value = sum(w * probabilities[c].value for c, w in weights.items())
    influence = sum(w * influences[c] for c, w in weights.items())
    interaction = Interval.from_half_width(
        float(value), float(z * np.sqrt(correction * np.sum(influence**2)))
    )
    return probabilities, interaction


def stay_regression(trials: TwoStepTrials, z: float = Z_95) -> dict[str, Interval]:
    """Daw et al. (2011): logit P(stay) = b0 + b_r r + b_t t + b_rt r t over the previous trial.

    r = +1 rewarded / -1 not, t = +1 common / -1 rare. Returns ``REGRESSORS`` -> Interval.
    """
    stay, rewarded, common, column = _transitions(trials)
    reward_code = np.where(rewarded, 1.0, -1.0)
    transition_code = np.where(common, 1.0, -1.0)
    design = np.stack(
        [np.ones_like(reward_code), reward_code, transition_code, reward_code * transition_code], 1
    )
    coef, half = fit_logistic(design, stay, column, z)
    return {
        name: Interval.from_half_width(float(c), float(h))
        for name, c, h in zip(REGRESSORS, coef, half, strict=True)
    }


@dataclasses.dataclass(frozen=True)
class TwoStepAnalysis:
    """Everything the probe measures on one agent's episodes."""

    stay: dict[str, Interval]
    """P(stay) per condition (``CONDITIONS``)."""
    stay_interaction: Interval
    """(RC - RR) - (UC - UR) in stay probability."""
    regression: dict[str, Interval]
    """Daw stay regression coefficients (``REGRESSORS``)."""
    num_episodes: int
    num_transitions: int

    @property
    def model_based_index(self) -> Interval:
        """The reward x transition coefficient of the stay regression."""
        return self.regression["reward_x_transition"]

    @property
    def model_free_index(self) -> Interval:
        """The reward main-effect coefficient of the stay regression."""
        return self.regression["reward"]

    def as_dict(self) -> dict:
        return {
            "stay": {k: v for k, v in self.stay.items()},
            "stay_interaction": self.stay_interaction,
            "regression": dict(self.regression),
            "model_based_index": self.model_based_index,
            "model_free_index": self.model_free_index,
            "num_episodes": self.num_episodes,
            "num_transitions": self.num_transitions,
        }


def analyze_trials(trials: TwoStepTrials, z: float = Z_95) -> TwoStepAnalysis:
    stay, interaction = stay_probabilities(trials, z)
    return TwoStepAnalysis(
        stay=stay,
        stay_interaction=interaction,
        regression=stay_regression(trials, z),
        num_episodes=int(trials.first_action.shape[1]),
        num_transitions=int((~trials.episode_first[1:]).sum()),
    )


def analyze_batch(batch: EpisodeBatch, z: float = Z_95) -> TwoStepAnalysis:
    return analyze_trials(trials_from_batch(batch), z)


@dataclasses.dataclass(frozen=True)
class TwoStepVerdict:
    label: str
    """'model-based', 'model-free' or 'neither'."""
    reason: str
    interaction_minus_reference: dict[str, Interval]
    """Per model-free reference: agent's model-based index minus the reference's (95% interval)."""

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "reason": self.reason,
            "interaction_minus_reference": dict(self.interaction_minus_reference),
        }


def two_step_verdict(
    agent: TwoStepAnalysis, model_free_references: dict[str, TwoStepAnalysis]
) -> TwoStepVerdict:
    """Judge the agent relative to simulated model-free agents on the same task (never to zero).

    * 'model-based': its model-based index (reward x transition coefficient) exceeds
      that of *every* model-free reference, each difference's 95% interval above 0
      (the agents' episodes are independent draws, so half-widths add in quadrature);
    * 'model-free': it does not exceed at least one model-free reference, and its
      model-free index (reward effect) is positive with its interval above 0;
    * 'neither': otherwise (e.g. choices that ignore reward).
    """
    if not model_free_references:
        raise ValueError("a two-step verdict needs at least one simulated model-free reference")
    index = agent.model_based_index
    differences = {}
    for name, reference in model_free_references.items():
        ref = reference.model_based_index
        differences[name] = Interval.from_half_width(
            index.value - ref.value, float(np.hypot(index.half_width, ref.half_width))
        )
    above_all = all(d.low > 0 for d in differences.values())
    reward = agent.model_free_index
    if above_all:
        label = "model-based"
        reason = "reward x transition coefficient above every model-free reference's"
    elif reward.low > 0:
        label = "model-free"
        reason = (
            "reward effect positive; reward x transition within what a model-free reference shows"
        )
    else:
        label = "neither"
        reason = "no reward effect and no model-based interaction beyond the model-free references"
    return TwoStepVerdict(label=label, reason=reason, interaction_minus_reference=differences)


# Model-free SARSA(1) references: the spurious interaction depends on the learning rate
# and on the inverse temperature (Akam et al. 2015), so the grid spans both and an agent
# is called model-based only if it beats the most model-based-looking of them.
DEFAULT_REFERENCE_LEARNING_RATES = (0.1, 0.3, 0.5, 0.9)
DEFAULT_REFERENCE_BETAS = (5.0, 10.0)


def reference_name(learning_rate: float, beta: float) -> str:
    return f"model_free_lr{learning_rate:g}_beta{beta:g}"


def run_batch(policy, env, env_params, key, num_episodes: int, num_steps: int):
    """``policy`` on ``num_episodes`` episodes, with the observations the trial extraction may need."""
    from metarl.evaluation.play import Player

    player = Player(env, num_episodes, num_steps, record_observations=True)
    return player.play_policy(policy, env_params, key)


def simulate_hybrid_agents(
    env,
    env_params,
    key: jax.Array,
    num_episodes: int,
    num_steps: int,
    agents: dict[str, tuple[float, float, float]],
    z: float = Z_95,
) -> dict[str, TwoStepAnalysis]:
    """Analyses of Daw hybrid learners ``{name: (model_based_weight, learning_rate, beta)}``, same ``key``.

    Their hyperparameters are the policy's arrays, so all of them run as one vmapped
    program (one compile, the player's seed axis: every agent on the same episodes)
    rather than one evaluation each. The model-based part plans with the env's
    ``common_prob``; lambda is 1.
    """
    from metarl.evaluation.baselines.two_step import hybrid
    from metarl.evaluation.play import Player

    names = list(agents)
    weights, rates, betas = (
        jnp.asarray([agents[n][i] for n in names], jnp.float32) for i in range(3)
    )
    common_prob = float(env_params.common_prob)

    def make_policy(args):
        weight, rate, beta = args
        return hybrid(weight, learning_rate=rate, beta=beta, common_prob=common_prob)

    player = Player(env, num_episodes, num_steps, record_observations=True)
    rollouts = player.play(
        make_policy, env_params, key, policy_args=(weights, rates, betas), seeds=True
    )

    def agent(i: int):
        return rollouts.replace(
            rewards=rollouts.rewards[i],
            actions=rollouts.actions[i],
            info={k: v[i] for k, v in rollouts.info.items()},
            observations=rollouts.observations[i],
        )

    return {name: analyze_batch(agent(i), z) for i, name in enumerate(names)}


def simulate_model_free_references(
    env,
    env_params,
    key: jax.Array,
    num_episodes: int,
    num_steps: int,
    learning_rates: tuple[float, ...] = DEFAULT_REFERENCE_LEARNING_RATES,
    betas: tuple[float, ...] = DEFAULT_REFERENCE_BETAS,
    z: float = Z_95,
) -> dict[str, TwoStepAnalysis]:
    """Analyses of model-free SARSA(1) agents over the (learning rate x beta) grid, same ``key``
    (one compiled program; names from ``reference_name``)."""
    grid = {
        reference_name(rate, beta): (0.0, rate, beta) for rate in learning_rates for beta in betas
    }
    return simulate_hybrid_agents(env, env_params, key, num_episodes, num_steps, grid, z)


def judge_by_fit(
    trials: TwoStepTrials,
    index: Interval,
    env,
    env_params,
    key: jax.Array,
    num_steps: int,
    z: float = Z_95,
) -> dict:
    """Fit the hybrid model to ``trials``, simulate its fitted models, judge (``fitted_verdict``).

    The fitted model-free model is simulated for the index; the hybrid is refitted to
    the simulated data sets of the fitted model the verdict can still use
    (``w_references_needed``: at most one of model-free and model-based). Returns
    ``{'fit': TwoStepFit, 'simulated_indices': [reward x transition coefficient of each
    model-free data set], 'simulated_w': {model: [w of each data set]}, 'verdict':
    FitVerdict}``.
    """
    fit = fit_two_step(trials, float(env_params.common_prob), z)
    num_episodes = trials.first_action.shape[1]
    model_free = fit.models["model_free"].params
    datasets = simulate_fit(env, env_params, key, model_free, num_episodes, num_steps)
    indices = np.array([stay_regression(t, z)["reward_x_transition"].value for t in datasets])
    above = bool(index.value > prediction_interval(indices, z).high)
    weights = {}
    for name in w_references_needed(fit, above):
        played = datasets if name == "model_free" else None
        params = fit.models[name].params
        weights[name] = simulated_w(env, env_params, key, params, num_episodes, num_steps, played)
    return {
        "fit": fit,
        "simulated_indices": indices,
        "simulated_w": weights,
        "verdict": fitted_verdict(fit, index, indices, weights, z),
    }


def analyze_two_step(
    policy,
    env,
    env_params,
    key: jax.Array,
    num_episodes: int,
    num_steps: int | None = None,
    model_free_references: dict | None = None,
    z: float = Z_95,
) -> dict:
    """Run ``policy`` and the model-free references on the same episodes; analyse all; judge.

    ``num_steps`` defaults to the env's episode length. ``model_free_references`` is
    ``{name: Policy}``; None runs the default SARSA(1) grid
    (``simulate_model_free_references``). Returns ``{'agent': TwoStepAnalysis,
    'references': {name: TwoStepAnalysis}, 'verdict': FitVerdict (the fitted-model
    verdict), 'regression_verdict': TwoStepVerdict (against the references' regression
    indices alone), 'fit': TwoStepFit, 'simulated_indices': ...}``.
    """
    if num_steps is None:
        num_steps = int(env_params.max_steps_in_episode)
    trials = trials_from_batch(run_batch(policy, env, env_params, key, num_episodes, num_steps))
    agent = analyze_trials(trials, z)
    if model_free_references is None:
        references = simulate_model_free_references(
            env, env_params, key, num_episodes, num_steps, z=z
        )
    else:
        references = {
            name: analyze_batch(run_batch(ref, env, env_params, key, num_episodes, num_steps), z)
            for name, ref in model_free_references.items()
        }
    judged = judge_by_fit(trials, agent.model_based_index, env, env_params, key, num_steps, z)
    return {
        "agent": agent,
        "references": references,
        "regression_verdict": two_step_verdict(agent, references),
        **judged,
    }


# ------------------------------------------------------------------ the probe

# 'neither' (the regression rule's third label) is gone: see two_step_verdict.fitted_verdict.
VERDICTS = ("model-based", "model-free", "undecided")


def strongest_model_free(agents: dict, model_free: list[str]) -> str:
    """The model-free reference that looks most model-based: the bar to beat."""

    def index(name: str) -> float:
        value = agents[name]["model_based_index"]["value"]
        return -np.inf if value is None or np.isnan(value) else value

    return max(model_free, key=index)


def run(ctx: ProbeContext) -> ProbeResult:
    """Stay probabilities, Daw regression, the fitted hybrid model and the fitted-model verdict."""
    from metarl.evaluation.play import checkpoint_maker

    start = time.perf_counter()
    batch = ctx.play(checkpoint_maker(ctx.agent), ctx.env_params, ctx.params, observations=True)
    trials = trials_from_batch(batch)
    agent = analyze_trials(trials)
    model_free = {
        reference_name(rate, beta): (0.0, rate, beta)
        for rate in DEFAULT_REFERENCE_LEARNING_RATES
        for beta in DEFAULT_REFERENCE_BETAS
    }
    simulated = {"model_based": (1.0, 0.5, 5.0), **model_free}
    analyses = simulate_hybrid_agents(
        ctx.env, ctx.env_params, ctx.key, ctx.num_episodes, ctx.num_steps, simulated
    )
    rollout_s = time.perf_counter() - start
    judged = judge_by_fit(
        trials, agent.model_based_index, ctx.env, ctx.env_params, ctx.key, ctx.num_steps
    )
    fit_s = time.perf_counter() - start - rollout_s
    verdict = judged["verdict"]
    regression = two_step_verdict(agent, {name: analyses[name] for name in model_free})
    agents = {"checkpoint": agent.as_dict(), **{name: a.as_dict() for name, a in analyses.items()}}
    described = {
        "model_based": "Daw hybrid with w = 1 (plans through the transition model; lr 0.5, beta 5)",
        **{
            name: f"model-free SARSA(1), lr {p[1]:g}, beta {p[2]:g}"
            for name, p in model_free.items()
        },
        "fitted_model_free": "the model-free (w = 0) fit to the checkpoint's own choices, "
        f"simulated {len(judged['simulated_indices'])} times on independent episodes",
    }
    if "model_based" in judged["simulated_w"]:
        described["fitted_model_based"] = (
            "the model-based (w = 1) fit to the checkpoint's own choices, simulated "
            f"{len(judged['simulated_w']['model_based'])} times on the same episodes as the "
            "model-free fit's"
        )
    return ProbeResult(
        results={
            "agents": agents,
            "model_free_references": list(model_free),
            # The fitted-model verdict, with the regression rule's comparison beside it.
            "verdict_detail": verdict.as_dict()
            | {
                "interaction_minus_reference": dict(regression.interaction_minus_reference),
                "regression_label": regression.label,
            },
            "fit": judged["fit"].as_dict(),
            "fitted_model_free_indices": [float(x) for x in judged["simulated_indices"]],
            # w of the hybrid refitted to each simulated data set, per fitted model simulated.
            "fitted_w": {
                name: [float(x) for x in values] for name, values in judged["simulated_w"].items()
            },
            "conditions": list(CONDITIONS),
            "note": "Model-free agents also show a reward x transition interaction, larger the "
            "more deterministic they are (Akam et al. 2015): the checkpoint is called model-based "
            "only if the fitted hybrid's w interval lies above the w of the model-free model "
            "fitted to its own choices, simulated, and its index above that model's; model-free "
            "only if w = 0 fits and w's interval lies below the simulated model-based fit's w.",
        },
        verdict=Verdict(verdict.label, f"{verdict.reason}; regression rule: {regression.label}"),
        references=described,
        timing={"rollouts_s": rollout_s, "fit_s": fit_s},
    )


def format_lines(summary: dict) -> list[str]:
    results = summary["results"]
    agents = results["agents"]
    model_free = results["model_free_references"]
    strongest = strongest_model_free(agents, model_free)
    lines = [
        f"  {name:28s} model-based index {text_plus_minus(row['model_based_index'])}  "
        f"stay interaction {text_plus_minus(row['stay_interaction'])}"
        for name, row in agents.items()
        # the strongest model-free reference is the one to beat
        if name not in model_free or name == strongest
    ]
    if "fit" in results:  # summaries written before the fitted-model verdict have none
        fit, detail = results["fit"], results["verdict_detail"]
        ratio, critical = fit["likelihood_ratio"], fit["critical"]
        lines += [
            f"  fitted hybrid: w {text_interval(fit['w'])}; likelihood ratio vs model-free "
            f"{ratio['model_free']:.1f}, vs null {ratio['null']:.1f} "
            f"(critical {critical['model_free']:.2f}, {critical['null']:.2f})",
            f"  {'fitted model-free agent':28s} model-based index "
            f"{text_interval(detail['simulated_index'])} (prediction interval)",
        ]
        # Summaries written before the simulated w have none.
        for name, bounds in detail.get("simulated_w", {}).items():
            lines.append(
                f"  {'fitted ' + name.replace('_', '-') + ' agent':28s} w {bounds['low']:.3f} to "
                f"{bounds['high']:.3f} over its simulations (the agent's w interval must clear it)"
            )
    return lines


def _draw_stay(ax, agents: dict, shown: list[str], order: list[str], results: dict) -> None:
    conditions = results["conditions"]
    strongest = shown[-1]
    width = 0.8 / len(shown)
    for j, name in enumerate(shown):
        stay = agents[name]["stay"]
        x = np.arange(len(conditions)) - 0.4 + (j + 0.5) * width
        points = [figures.interval_error(stay[c]) for c in conditions]
        values = np.array([v for v, _ in points])
        label = figures.label(name) + (
            " (most model-based-looking model-free agent)" if name == strongest else ""
        )
        ax.bar(
            x,
            values,
            width=width,
            color=figures.color(name, order),
            label=label,
            edgecolor="black" if name == figures.CHECKPOINT else "none",
            lw=0.8,
        )
        errors = np.hstack([e for _, e in points])
        ax.errorbar(x, values, yerr=errors, fmt="none", color="black", capsize=2, lw=0.8)
    ax.set_xticks(np.arange(len(conditions)))
    ax.set_xticklabels([c.replace("_", "\n") for c in conditions])
    ax.set_xlabel("previous trial: outcome and transition")
    ax.set_ylabel("P(repeat first-stage choice)\n(95% CI, clustered by episode)")
    ax.set_ylim(0, 1.3)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    ax.set_title("stay probabilities", fontsize=10)


def _draw_profile(ax, results: dict) -> None:
    fit = results["fit"]
    w = np.asarray(fit["profile_w"])
    # sqrt(2 x log-likelihood ratio): close to linear in w near the estimate, readable far off.
    root = np.sqrt(np.asarray(fit["profile_statistic"], float))
    ax.plot(w, root, "o-", color=figures.color(figures.CHECKPOINT, [figures.CHECKPOINT]))
    ax.axhline(np.sqrt(fit["critical"]["model_free"]), color="grey", ls="--", lw=1)
    interval = fit["w"]
    if interval["low"] is not None and interval["high"] is not None:
        ax.axvspan(interval["low"], interval["high"], color="grey", alpha=0.2, lw=0)
    simulated = results["verdict_detail"].get("simulated_w", {})
    for (name, bounds), color in zip(simulated.items(), ("tab:orange", "tab:green"), strict=False):
        ax.axvspan(
            bounds["low"],
            max(bounds["high"], bounds["low"] + 0.005),  # visible where every simulation agrees
            color=color,
            alpha=0.35,
            lw=0,
            label=f"w of the fitted {name.replace('_', '-')} simulations",
        )
    if simulated:
        ax.legend(fontsize=8, loc="upper center")
    ax.set_xlabel("model-based weight w (0: model-free, 1: model-based)")
    ax.set_ylabel("sqrt(2 x profile log-likelihood ratio)\n(dashed: 95% critical value)")
    ax.set_ylim(
        0, 1.05 * max(np.nanmax(root, initial=0.0), 2.0 * np.sqrt(fit["critical"]["model_free"]))
    )
    ax.set_title(f"fitted hybrid model: w {text_interval(interval)}", fontsize=10)


def draw(fig, summary: dict, arrays: dict) -> None:
    results = summary["results"]
    agents = results["agents"]
    model_free = results["model_free_references"]
    shown = [figures.CHECKPOINT, "model_based", strongest_model_free(agents, model_free)]
    order = [figures.CHECKPOINT, "model_based", *model_free]
    left, middle, right = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.3, 1, 1]})
    _draw_stay(left, agents, shown, order, results)
    names, entries = order, [agents[n]["model_based_index"] for n in order]
    if "fit" in results:
        names = [*order, "fitted_model_free"]
        entries = [*entries, results["verdict_detail"]["simulated_index"]]
        _draw_profile(right, results)
    else:
        right.set_axis_off()
    figures.interval_rows(
        middle,
        names,
        entries,
        names,
        "model-based index: reward x transition\nlogistic coefficient (95% CI;\n"
        "fitted model-free: prediction interval)",
    )
    middle.set_title("vs simulated model-free agents", fontsize=10)


PROBE = Probe(
    name="two_step",
    families=("two_step",),
    allowed_verdicts=VERDICTS,
    description="stay probabilities, Daw regression and fitted hybrid model (w) vs the fitted model-free agent",
    run=run,
    format=format_lines,
    draw=draw,
    figure_size=(19, 5.4),
)
