"""Ruleset learner or ruleset locator? Which belief explains which object type a grid agent collects.

The rule grid's counterpart of the bandit ``likelihood`` probe. A meta-trained agent
may have learned a general learner (Bayes over every ruleset the prior can draw) or
a locator (recognising which of its N training rulesets it is in). On rulesets
outside the training pool the two believe different things about the types not
yet tried, so they predict different next collections.

Choice model. Every collection is a choice among the object types on the grid at
that moment (``rule_grid_beliefs``; a choice with one type present is forced and
left out). The agent picks type k with probability

    softmax_k( beta * m_k - gamma * d_k ),

where m_k is the model's posterior-mean reward of type k given the agent's own
collections so far in the episode (``learner_means`` / ``locator_means``) and d_k the
Manhattan distance to the nearest object of type k when the choice was made (the
trial start or the step after the previous collection). The distance term, fitted
for each model, absorbs "collect what is near", which both beliefs share, so the
comparison rests on the beliefs.

Both models have the same two parameters (beta >= 0, gamma), fitted by maximum
likelihood (the log-likelihood is concave in them: L-BFGS-B finds the maximum);
the comparison is two-fold cross-validated over episodes (fit on one random half,
score the other, and back). Per episode, the mean held-out log-likelihood
difference per choice (learner - locator); the verdict is ``learner`` / ``locator``
only when the 95% interval of its mean over episodes (normal approximation; the
episodes are independent) excludes 0, else ``undecided``. Skipped for a run trained
on the infinite prior (no pool: learner and locator coincide) or with a continuous
reward prior (no finite set of reward vectors to enumerate).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import scipy.optimize
from scipy.special import logsumexp

from metarl.evaluation.statistics import mean_interval
from metarl.interval import Interval
from metarl.probes import figures
from metarl.probes.protocol import (
    Probe,
    ProbeContext,
    ProbeResult,
    Verdict,
    skipped,
    text_interval,
    text_number,
)
from metarl.probes.rule_grid_beliefs import (
    RuleGridHistory,
    history_knowledge,
    learner_means,
    locator_means,
    reward_prior,
    rule_grid_episodes,
    rule_grid_history,
    training_pool,
)

VERDICTS = ("learner", "locator", "undecided")
MODELS = ("learner", "locator", "distance_only")
"""The two beliefs, and the floor both must beat: the distance term alone (beta = 0)."""
MAX_INVERSE_TEMPERATURE = 1e3
"""Upper bound of beta per unit of the prior's reward span (the bandit probe's bound,
whose values span [0, 1]): a wrong choice at a value gap of a third costs 333 nats."""
MAX_DISTANCE_WEIGHT = 100.0
"""Bound on |gamma| in nats per step: beyond it a one-step difference is already certain."""
AGENTS = ("checkpoint", "ruleset_learner", "ruleset_locator")
EXPECTED = {"ruleset_learner": "learner", "ruleset_locator": "locator"}


@dataclasses.dataclass(frozen=True)
class ChoiceEvents:
    """One row per unforced collection: what was chosen among what, under each belief."""

    chosen: np.ndarray
    """[E] type collected."""
    present: np.ndarray
    """[E, K] bool: types on the grid (the choice set)."""
    distance: np.ndarray
    """[E, K] steps to the nearest object of each type at the decision (0 where absent)."""
    values: dict[str, np.ndarray]
    """model -> [E, K] posterior-mean reward per type."""
    episode: np.ndarray
    """[E] column of the episode."""
    num_known: np.ndarray
    """[E] types whose reward the agent had seen before the choice."""
    num_episodes: int


def choice_events(history: RuleGridHistory, values: dict[str, np.ndarray]) -> ChoiceEvents:
    """The unforced collections of ``history``; ``values`` model -> [T, B, K] beliefs per step."""
    took = (history.collected >= 0) & (history.present.sum(-1) >= 2)
    steps, episodes = np.nonzero(took)
    decided = history.decision_step[steps, episodes]
    distance = history.distance[decided, episodes]
    present = history.present[steps, episodes]
    knowledge = history_knowledge(history)
    return ChoiceEvents(
        chosen=history.collected[steps, episodes],
        present=present,
        distance=np.where(present, distance, 0.0),
        values={name: v[steps, episodes] for name, v in values.items()},
        episode=episodes,
        num_known=knowledge.known[steps, episodes].sum(-1),
        num_episodes=history.collected.shape[1],
    )


def choice_log_probs(values, distance, present, chosen, beta: float, gamma: float):
    """([E] log-probability of each choice, [E, 2] its gradient in (beta, gamma))."""
    utility = np.where(present, beta * values - gamma * distance, -np.inf)
    log_probs = utility - logsumexp(utility, axis=-1, keepdims=True)
    probs = np.exp(log_probs)
    rows = np.arange(len(chosen))
    safe_values = np.where(present, values, 0.0)
    expected_value = (probs * safe_values).sum(-1)
    expected_distance = (probs * distance).sum(-1)
    gradient = np.stack(
        [
            safe_values[rows, chosen] - expected_value,
            -(distance[rows, chosen] - expected_distance),
        ],
        axis=-1,
    )
    return log_probs[rows, chosen], gradient


def fit_choice_model(values, events: ChoiceEvents, weights, max_beta: float) -> tuple[float, float]:
    """(beta, gamma) maximising the ``weights``-weighted log-likelihood ([E] weights)."""

    def negative(theta):
        log_probs, gradient = choice_log_probs(
            values, events.distance, events.present, events.chosen, theta[0], theta[1]
        )
        return -float(weights @ log_probs), -(weights @ gradient)

    result = scipy.optimize.minimize(
        negative,
        np.array([min(1.0, max_beta), 0.0]),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, max_beta), (-MAX_DISTANCE_WEIGHT, MAX_DISTANCE_WEIGHT)],
    )
    return float(result.x[0]), float(result.x[1])


@dataclasses.dataclass(frozen=True)
class RuleLikelihoodComparison:
    fitted: dict[str, dict[str, float]]
    """model -> {'inverse_temperature', 'distance_weight'} fitted on all episodes."""
    log_lik_per_choice: dict[str, float]
    """model -> held-out mean log-probability per choice."""
    difference: Interval
    """Mean over episodes of the per-choice held-out log-likelihood difference, learner - locator."""
    belief_gain: dict[str, Interval]
    """learner / locator -> the same difference over the distance-only model (beta = 0)."""
    verdict: str
    difference_by_known: np.ndarray
    """[K] mean difference over choices made knowing 0, 1, ... K-1 types' rewards (NaN: none)."""
    num_choices: int
    num_episodes: int
    """Episodes with at least one unforced choice (the unit of the interval)."""

    def summary(self) -> dict:
        row = dataclasses.asdict(self)
        row["difference"] = self.difference
        row["belief_gain"] = dict(self.belief_gain)
        row["difference_by_known"] = [float(x) for x in self.difference_by_known]
        return row


def verdict_label(difference: Interval, belief_gain: dict[str, Interval]) -> str:
    """The better belief where the difference's interval excludes 0 and that belief also
    explains the choices better than distance alone (else a reward-blind agent, whose
    fits differ by rounding, could be called one or the other)."""
    if difference.above(0.0) and belief_gain["learner"].above(0.0):
        return "learner"
    if difference.below(0.0) and belief_gain["locator"].above(0.0):
        return "locator"
    return "undecided"


def _held_out(values, events: ChoiceEvents, halves, max_beta: float) -> np.ndarray:
    """[E] log-probability of each choice under the fit to the other half of the episodes."""
    out = np.zeros(len(events.chosen))
    for fit_half, score_half in (halves, halves[::-1]):
        weights = np.isin(events.episode, fit_half).astype(float)
        beta, gamma = fit_choice_model(values, events, weights, max_beta)
        scored = np.isin(events.episode, score_half)
        out[scored] = choice_log_probs(
            values, events.distance, events.present, events.chosen, beta, gamma
        )[0][scored]
    return out


def episode_interval(per_choice: np.ndarray, events: ChoiceEvents) -> Interval:
    """Mean over episodes (with a choice) of each episode's mean per choice; 95% normal interval."""
    counts = np.bincount(events.episode, minlength=events.num_episodes)
    sums = np.bincount(events.episode, weights=per_choice, minlength=events.num_episodes)
    has = counts > 0
    if has.sum() < 2:
        return Interval(float("nan"))
    return Interval.from_half_width(*mean_interval(sums[has] / counts[has]))


def compare_rule_models(events: ChoiceEvents, span: float, seed: int = 0):
    """Learner vs locator beliefs as explanations of ``events``, cross-validated over episodes."""
    if events.num_episodes < 4:
        raise ValueError(f"cross-validation needs at least 4 episodes, got {events.num_episodes}")
    order = np.random.default_rng(seed).permutation(events.num_episodes)
    halves = (order[: events.num_episodes // 2], order[events.num_episodes // 2 :])
    values = {**events.values, "distance_only": np.zeros(events.present.shape)}
    held_out, fitted = {}, {}
    for model in MODELS:
        max_beta = 0.0 if model == "distance_only" else MAX_INVERSE_TEMPERATURE / span
        held_out[model] = _held_out(values[model], events, halves, max_beta)
        beta, gamma = fit_choice_model(values[model], events, np.ones(len(events.chosen)), max_beta)
        fitted[model] = {"inverse_temperature": beta, "distance_weight": gamma}
    per_choice = held_out["learner"] - held_out["locator"]
    difference = episode_interval(per_choice, events)
    gain = {
        m: episode_interval(held_out[m] - held_out["distance_only"], events) for m in MODELS[:2]
    }
    by_known = np.array(
        [
            per_choice[events.num_known == j].mean() if np.any(events.num_known == j) else np.nan
            for j in range(events.present.shape[-1])
        ]
    )
    return RuleLikelihoodComparison(
        fitted=fitted,
        log_lik_per_choice={
            m: float(held_out[m].mean()) if len(held_out[m]) else float("nan") for m in MODELS
        },
        difference=difference,
        belief_gain=gain,
        verdict=verdict_label(difference, gain),
        difference_by_known=by_known,
        num_choices=int(len(events.chosen)),
        num_episodes=int(np.unique(events.episode).size),
    )


def belief_values(history: RuleGridHistory, prior, pool) -> dict[str, np.ndarray]:
    """model -> [T, B, K] posterior-mean reward per type from the agent's own collections."""
    knowledge = history_knowledge(history)
    return {"learner": learner_means(knowledge, *prior), "locator": locator_means(knowledge, pool)}


# ------------------------------------------------------------------ the probe


def run(ctx: ProbeContext) -> ProbeResult:
    """Learner vs locator beliefs as explanations of the collections, on held-out rulesets."""
    pool = training_pool(ctx.train_params)
    if pool is None:
        return skipped(
            "the run trained on the infinite prior (env.overrides.num_tasks unset): there is no "
            "finite training pool whose rulesets a locator could recognise, so learner vs locator "
            "is undefined"
        )
    try:
        prior = reward_prior(ctx.env_params)
    except ValueError as error:
        return skipped(f"the learner's prior cannot be enumerated: {error}")
    batches, rollouts_s = rule_grid_episodes(ctx, AGENTS)
    start = time.perf_counter()
    span = float(ctx.env_params.reward_high - ctx.env_params.reward_low) or 1.0
    agents, arrays = {}, {}
    for name, batch in batches.items():
        history = rule_grid_history(batch, ctx.env_params)
        events = choice_events(history, belief_values(history, prior, pool))
        comparison = compare_rule_models(events, span, seed=ctx.seed)
        row = comparison.summary()
        arrays[f"{name}/difference_by_known"] = np.asarray(row.pop("difference_by_known"))
        row["mean_return"] = float(np.asarray(batch.rewards).sum(0).mean())
        agents[name] = row
    checkpoint = agents["checkpoint"]
    reason = (
        "held-out log-likelihood per collection choice, learner - locator: "
        f"{checkpoint['difference'].format('+.4f')} over {checkpoint['num_episodes']} episodes"
    )
    return ProbeResult(
        results={
            "agents": agents,
            "training_pool_size": int(len(pool[0])),
            "prior_reward_vectors": int(len(prior[0])),
            "expected": {name: EXPECTED[name] for name in agents if name in EXPECTED},
            "choice_model": "softmax over the types on the grid of beta * posterior-mean reward "
            "- gamma * steps to the nearest object; beta, gamma fitted per model, 2-fold "
            "cross-validated over episodes",
        },
        verdict=Verdict(checkpoint["verdict"], reason),
        references={
            "ruleset_learner": "Bayes over every ruleset of the prior (a learner)",
            "ruleset_locator": "Bayes over the training rulesets only (a locator)",
        },
        arrays=arrays,
        timing={"rollouts_s": rollouts_s, "analysis_s": time.perf_counter() - start},
    )


def format_lines(summary: dict) -> list[str]:
    return [
        f"  {name:24s} learner - locator per choice {text_interval(row['difference'], '.4f')}"
        f" ({row['num_choices']} choices, beta learner "
        f"{text_number(row['fitted']['learner']['inverse_temperature'], '.3g')}, locator "
        f"{text_number(row['fitted']['locator']['inverse_temperature'], '.3g')}) -> {row['verdict']}"
        for name, row in summary["results"]["agents"].items()
    ]


def draw(fig, summary: dict, arrays: dict) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    figures.interval_rows(
        left,
        order,
        [agents[n]["difference"] for n in order],
        order,
        "log-likelihood per choice, learner - locator (nats)\n(held out, cross-validated; 95% CI)",
    )
    left.set_title("which belief explains the collections better", fontsize=10)
    for name in order:
        curve = arrays.get(f"{name}/difference_by_known")
        if curve is not None:
            right.plot(
                np.arange(len(curve)),
                curve,
                "-o",
                color=figures.color(name, order),
                lw=2.2 if name == figures.CHECKPOINT else 1.3,
                label=f"{figures.label(name)} -> {agents[name]['verdict']}",
            )
    right.axhline(0.0, color="0.4", lw=0.8, ls=":")
    right.xaxis.get_major_locator().set_params(integer=True)
    right.set_xlabel("object types whose reward the agent had seen before the choice")
    right.set_ylabel("learner - locator log-likelihood\n(nats per choice, held out)")
    right.set_title("where the two beliefs part (> 0: learner better)", fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3)


PROBE = Probe(
    name="rule_likelihood",
    families=("rule_grid",),
    allowed_verdicts=VERDICTS,
    description="ruleset learner vs ruleset locator: which belief explains the collections "
    "on held-out rulesets",
    run=run,
    format=format_lines,
    draw=draw,
    figure_size=(12, 4.6),
)
