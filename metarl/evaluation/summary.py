"""The statistics of one evaluation suite: every agent's numbers and curves, paired.

``summarize_suite(rollouts, change_step, counts)`` turns the played episodes of
every agent (``metarl.evaluation.play.Rollouts``: the checkpoint's with a leading
seed axis, each reference's without) into

* ``agents``: per agent, every summary number as an ``Interval`` (mean with a 95%
  percentile-bootstrap interval over episodes; intervals over training seeds use
  Student's t), plus recovery after drift where the suite has drift events;
* ``curves``: per agent and curve, ``{curve}/{mean,low,high,episodes}`` arrays;
* the ``SuiteContext`` they were measured against (layout, windows, baselines).

One bootstrap ``counts`` matrix is shared by every agent (same episodes, same
resamples), so differences between agents stay paired. Pure numpy: nothing here
plays episodes or writes files.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from metarl.evaluation import metrics
from metarl.evaluation import statistics as st
from metarl.interval import Interval

CHECKPOINT = "checkpoint"
ORACLE = "oracle"
RANDOM = "random"
EVENT_KEYS = ("drift_event", "change_point", "reversal")
RECOVERY_MIN_MARGIN = 0.1
"""Recovery needs a pre-change margin over random of at least this fraction of (ceiling - random)..."""
RECOVERY_MIN_MARGIN_SE = 3.0
"""... and of at least this many standard errors of the pre-change level."""
SEED_SUMMARY_KEYS = (
    "total_reward",
    "in_context_improvement",
    "area_vs_random",
    "total_regret",
    "optimal_action_rate",
)
"""The checkpoint's numbers also given over training seeds (``over_training_seeds``)."""


@dataclasses.dataclass
class AgentView:
    """One agent's [T, E] arrays (a checkpoint's pooled view averages its seeds per episode)."""

    rewards: np.ndarray
    optimal: np.ndarray | None
    regret: np.ndarray | None
    performance: np.ndarray
    """What recovery is measured on: P(optimal action) if known, else expected reward, else reward."""
    trial: np.ndarray | None
    trial_boundary: np.ndarray | None


def agent_view(rewards, actions, info) -> AgentView:
    """AgentView of arrays [..., T, E]; a leading seed axis is averaged away."""
    rewards = np.asarray(rewards, np.float64)
    optimal = None
    if "optimal_action" in info:
        optimal = metrics.optimal_action_indicator(actions, info["optimal_action"])
    regret = np.asarray(info["regret"], np.float64) if "regret" in info else None
    if optimal is not None:
        performance = optimal
    elif "expected_reward" in info:
        performance = np.asarray(info["expected_reward"], np.float64)
    else:
        performance = rewards

    def pool(x):
        return None if x is None else (x.mean(axis=0) if x.ndim == 3 else x)

    def first(x):
        return None if x is None else (np.asarray(x)[0] if np.ndim(x) == 3 else np.asarray(x))

    return AgentView(
        rewards=pool(rewards),
        optimal=pool(optimal),
        regret=pool(regret),
        performance=pool(performance),
        trial=first(info.get("trial")),
        trial_boundary=first(info.get("trial_boundary")),
    )


def seed_views(rollouts) -> list[AgentView]:
    """One AgentView per training seed of rollouts with a leading seed axis."""
    return [
        agent_view(
            rollouts.rewards[s], rollouts.actions[s], {k: v[s] for k, v in rollouts.info.items()}
        )
        for s in range(rollouts.rewards.shape[0])
    ]


@dataclasses.dataclass
class TrialLayout:
    """How the learning curve's x-axis is laid out for this suite."""

    unit: str
    """'step' (bandits, mazes) or 'trial' (fixed multi-step trials: two-step, rule grid)."""
    num_trials: int
    variable: bool
    """Trials of variable length (mazes): trial lengths become a curve of their own."""

    @property
    def steps_per_trial(self) -> int:
        return 1 if self.unit == "step" else self.num_steps // self.num_trials

    num_steps: int = 0


def trial_layout(reference_info: dict[str, np.ndarray], num_steps: int) -> TrialLayout:
    trial = reference_info.get("trial")
    if trial is None:
        return TrialLayout("step", num_steps, False, num_steps)
    trial = np.asarray(trial)
    num_trials = int(trial.max()) + 1
    same_everywhere = bool((trial == trial[:, :1]).all())
    equal_blocks = np.array_equal(
        trial[:, 0], np.arange(num_steps) // max(1, num_steps // num_trials)
    )
    if num_trials >= num_steps:
        return TrialLayout("step", num_steps, False, num_steps)
    if same_everywhere and equal_blocks and num_steps % num_trials == 0:
        return TrialLayout("trial", num_trials, False, num_steps)
    return TrialLayout("step", num_trials, True, num_steps)


def learning_curve(values, view: AgentView, layout: TrialLayout, mean: bool = False) -> np.ndarray:
    """[X, E]: per step, or per trial (summed, or averaged if ``mean``) for fixed multi-step trials."""
    if layout.unit == "trial":
        totals = metrics.trial_totals(values, view.trial, layout.num_trials)
        return totals / layout.steps_per_trial if mean else totals
    return np.asarray(values, np.float64)


def performance_points(view: AgentView, layout: TrialLayout) -> np.ndarray:
    """What recovery is measured on, per curve point (trial means where trials are the unit)."""
    return learning_curve(view.performance, view, layout, mean=True)


def bootstrap(values, counts: np.ndarray) -> Interval:
    """Mean of ``values`` [episode] with its percentile-bootstrap interval."""
    return Interval(*st.bootstrap_mean(values, counts))


def events_of(info: dict[str, np.ndarray]) -> np.ndarray | None:
    """[T, E] the first of ``EVENT_KEYS`` the env recorded, if any event happened."""
    for name in EVENT_KEYS:
        if name in info:
            events = np.asarray(info[name], bool)
            return events if events.any() else None
    return None


def change_point_index(change_step: int | None, layout: TrialLayout) -> int | None:
    """The curve point (step, or trial) whose end brings the suite's scheduled change."""
    if change_step is None:
        return None
    return change_step // layout.steps_per_trial


def recovery_windows(
    change_step: int | None, layout: TrialLayout, num_points: int
) -> tuple[int, int]:
    """(points before, points after) the change that recovery looks at."""
    before = max(1, round(0.1 * num_points))
    change = change_point_index(change_step, layout)
    if change is not None:
        return min(before, change + 1), num_points - change - 1
    return before, max(2, round(0.25 * num_points))


@dataclasses.dataclass
class SuiteContext:
    """What every agent's statistics are measured against (shared, so they stay paired)."""

    counts: np.ndarray
    layout: TrialLayout
    early: tuple[int, int]
    late: tuple[int, int]
    random_curve: np.ndarray
    oracle_curve: np.ndarray | None
    checkpoint_totals: np.ndarray
    random_performance: np.ndarray
    """[X, E] the random policy's recovery measure, per curve point: the baseline it is measured against."""
    recovery_min_margin: float
    """An agent less than this above random before a change has no recovery time (10% of oracle - random)."""
    events: np.ndarray | None
    recovery_before: int
    recovery_after: int
    oracle_steps: np.ndarray | None = None
    """[T, E] the oracle's expected reward per step, where the env knows it."""


def suite_context(
    views: dict[str, AgentView],
    random_info: dict,
    change_step: int | None,
    counts: np.ndarray,
    ceiling: str | None = None,
) -> SuiteContext:
    """The shared baselines of one suite: random's and the oracle's curves, windows, events.

    The oracle curve is the env's ``optimal_expected_reward`` where it knows it; else,
    where the family names a ``ceiling`` reference (an agent told the task, e.g. the
    rule grid's oracle planner) that was played, that agent's realised reward on the
    same episodes, so in-context improvement has a denominator there too.
    """
    random_view = views[RANDOM]
    num_steps = random_view.rewards.shape[0]
    layout = trial_layout(random_info, num_steps)
    random_curve = learning_curve(random_view.rewards, random_view, layout)
    oracle_steps = random_info.get("optimal_expected_reward")
    oracle_curve = None
    if oracle_steps is not None:
        oracle_steps = np.asarray(oracle_steps, np.float64)
        oracle_curve = learning_curve(oracle_steps, random_view, layout)
    elif ceiling is not None and ceiling in views:
        oracle_curve = learning_curve(views[ceiling].rewards, views[ceiling], layout)
    early, late = metrics.default_windows(random_curve.shape[0])
    events = events_of(random_info)
    if events is not None and layout.unit == "trial":  # events per trial: any event inside it
        events = (
            metrics.trial_totals(events.astype(np.float64), random_view.trial, layout.num_trials)
            > 0
        )
    random_level = float(np.nanmean(performance_points(random_view, layout)))
    if random_view.optimal is not None:
        ceiling = 1.0  # P(optimal action)
    elif "expected_reward" in random_info and oracle_steps is not None:
        ceiling = float(np.mean(oracle_steps))
    else:  # no known optimum: the best mean level any agent reached
        ceiling = max(
            float(np.nanmax(np.nanmean(performance_points(v, layout), axis=1)))
            for v in views.values()
        )
    before, after = recovery_windows(change_step, layout, random_curve.shape[0])
    return SuiteContext(
        counts=counts,
        layout=layout,
        early=early,
        late=late,
        random_curve=random_curve,
        oracle_curve=oracle_curve,
        checkpoint_totals=views[CHECKPOINT].rewards.sum(axis=0),
        random_performance=performance_points(random_view, layout),
        recovery_min_margin=RECOVERY_MIN_MARGIN * (ceiling - random_level),
        events=events,
        recovery_before=before,
        recovery_after=after,
        oracle_steps=oracle_steps,
    )


def _learning_summary(curve: np.ndarray, context: SuiteContext) -> dict[str, Interval]:
    """Early/late windows, in-context improvement and area against random/oracle."""
    counts = context.counts
    early = metrics.window_mean(curve, context.early)
    late = metrics.window_mean(curve, context.late)
    out = {
        "early_window_mean": bootstrap(early, counts),
        "late_window_mean": bootstrap(late, counts),
        "late_minus_early": bootstrap(late - early, counts),
    }
    random_level = float(np.nanmean(context.random_curve))
    if context.oracle_curve is not None:
        oracle_level = float(np.nanmean(context.oracle_curve))
        if oracle_level != random_level:
            improvement = metrics.in_context_improvement(
                curve, oracle_level, random_level, context.early, context.late
            )
            out["in_context_improvement"] = bootstrap(improvement, counts)
    area = metrics.area_between(curve, context.random_curve)
    out["area_vs_random"] = bootstrap(area, counts)
    if context.oracle_curve is not None:
        oracle_area = metrics.area_between(context.oracle_curve, context.random_curve)
        if float(np.mean(oracle_area)) != 0.0:
            out["area_fraction_of_oracle"] = Interval(
                *st.bootstrap_ratio(area, oracle_area, counts)
            )
    return out


def agent_summary(view: AgentView, context: SuiteContext, compare_to_checkpoint: bool) -> dict:
    """Every summary number of one agent (means with 95% bootstrap intervals over episodes)."""
    counts = context.counts
    totals = view.rewards.sum(axis=0)
    out: dict[str, Any] = {
        "total_reward": bootstrap(totals, counts),
        "mean_reward_per_step": bootstrap(view.rewards.mean(axis=0), counts),
    }
    if compare_to_checkpoint:
        out["checkpoint_minus_this"] = bootstrap(context.checkpoint_totals - totals, counts)
    out.update(_learning_summary(learning_curve(view.rewards, view, context.layout), context))
    if view.regret is not None:
        out["total_regret"] = bootstrap(view.regret.sum(axis=0), counts)
    if view.optimal is not None:
        out["optimal_action_rate"] = bootstrap(view.optimal.mean(axis=0), counts)
        _, late_steps = metrics.default_windows(view.optimal.shape[0])
        out["late_optimal_action_rate"] = bootstrap(
            metrics.window_mean(view.optimal, late_steps), counts
        )
    if context.layout.variable and view.trial is not None and view.trial_boundary is not None:
        lengths = metrics.trial_lengths(view.trial, view.trial_boundary, context.layout.num_trials)
        completed = np.isfinite(lengths).sum(axis=0).astype(np.float64)
        out["trials_completed"] = bootstrap(completed, counts)
    if context.events is not None:
        recovery = metrics.recovery_time(
            performance_points(view, context.layout),
            context.events,
            context.recovery_before,
            context.recovery_after,
            counts=counts,
            baseline=context.random_performance,
            min_margin=context.recovery_min_margin,
            min_margin_se=RECOVERY_MIN_MARGIN_SE,
        )
        recovery.pop("curve")
        recovery.pop("baseline_curve")
        out["recovery"] = recovery
    return out


def agent_curves(view: AgentView, context: SuiteContext) -> dict[str, np.ndarray]:
    """Mean and 95% bootstrap band of each curve of one agent, flat ``curve/{mean,low,high}`` keys."""
    counts = context.counts
    # Per step where a step is a trial (bandits) or trials vary (mazes); per trial otherwise,
    # where per-step curves would zigzag between the stages of each trial.
    curves = {"reward": view.rewards}
    if context.layout.unit == "trial":
        curves["trial_reward"] = learning_curve(view.rewards, view, context.layout)
    if view.optimal is not None:
        curves["optimal_action"] = learning_curve(view.optimal, view, context.layout, mean=True)
    if view.regret is not None:
        curves["cumulative_regret"] = metrics.cumulative_regret(view.regret)
    if context.layout.variable and view.trial is not None and view.trial_boundary is not None:
        curves["trial_length"] = metrics.trial_lengths(
            view.trial, view.trial_boundary, context.layout.num_trials
        )
    if context.events is not None:
        curves["recovery"] = metrics.event_aligned(
            performance_points(view, context.layout),
            context.events,
            context.recovery_before,
            context.recovery_after,
        )
    out = {}
    for name, values in curves.items():
        mean, low, high = st.bootstrap_curve(values, counts)
        out[f"{name}/mean"], out[f"{name}/low"], out[f"{name}/high"] = mean, low, high
        out[f"{name}/episodes"] = np.isfinite(values).sum(axis=1)
    return out


def over_seeds(per_seed: list[dict]) -> dict[str, dict]:
    """Student-t intervals over training seeds of each seed's mean (no interval from one seed)."""
    out = {}
    for key in SEED_SUMMARY_KEYS:
        if key in per_seed[0]:
            interval = Interval(*st.seed_interval([s[key].value for s in per_seed]))
            out[key] = {**interval.to_json(), "seeds": len(per_seed)}
    return out


def oracle_summary(context: SuiteContext) -> tuple[dict[str, Interval], dict[str, np.ndarray]]:
    """The oracle's expected total (and the checkpoint's paired gap to it) and its curves."""
    oracle_steps = context.oracle_steps
    oracle_totals = oracle_steps.sum(axis=0)
    numbers = {
        "total_expected_reward": bootstrap(oracle_totals, context.counts),
        "checkpoint_minus_this": bootstrap(
            context.checkpoint_totals - oracle_totals, context.counts
        ),
    }
    series = {"reward": oracle_steps}
    if context.layout.unit == "trial":
        series["trial_reward"] = context.oracle_curve
    curves = {}
    for name, values in series.items():
        mean, low, high = st.bootstrap_curve(values, context.counts)
        curves[f"{ORACLE}/{name}/mean"] = mean
        curves[f"{ORACLE}/{name}/low"] = low
        curves[f"{ORACLE}/{name}/high"] = high
    return numbers, curves


def summarize_suite(
    rollouts: dict, change_step: int | None, counts: np.ndarray, ceiling: str | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray], SuiteContext]:
    """(agents, curves, context) of one suite; see the module docstring.

    ``rollouts`` maps agent names to ``Rollouts``: ``CHECKPOINT`` [seed, T, E],
    ``RANDOM`` and the references [T, E], all played on the same episodes.
    ``ceiling`` names the reference that stands for the oracle where the env has
    no expected-reward oracle (``suite_context``).
    """
    views = {name: agent_view(r.rewards, r.actions, r.info) for name, r in rollouts.items()}
    per_seed_views = seed_views(rollouts[CHECKPOINT])
    context = suite_context(views, rollouts[RANDOM].info, change_step, counts, ceiling)

    def curves_of(prefix: str, view: AgentView) -> dict[str, np.ndarray]:
        return {f"{prefix}/{k}": v for k, v in agent_curves(view, context).items()}

    agents: dict[str, Any] = {CHECKPOINT: agent_summary(views[CHECKPOINT], context, False)}
    curves = curves_of(CHECKPOINT, views[CHECKPOINT])
    per_seed = [agent_summary(v, context, True) for v in per_seed_views]
    for index, (summary, view) in enumerate(zip(per_seed, per_seed_views, strict=True)):
        agents[f"{CHECKPOINT}_seed{index}"] = summary
        if len(per_seed_views) > 1:
            curves.update(curves_of(f"{CHECKPOINT}_seed{index}", view))
    agents[CHECKPOINT]["over_training_seeds"] = over_seeds(per_seed)
    for name in rollouts:
        if name != CHECKPOINT:
            agents[name] = agent_summary(views[name], context, True)
            curves.update(curves_of(name, views[name]))
    if context.oracle_steps is not None:
        agents[ORACLE], oracle_curves = oracle_summary(context)
        curves.update(oracle_curves)
    return agents, curves, context


def recovery_measure(optimal_known: bool, random_info: dict) -> str:
    """What recovery is measured on: 'optimal_action', 'expected_reward' or 'reward'."""
    if optimal_known:
        return "optimal_action"
    return "expected_reward" if "expected_reward" in random_info else "reward"
