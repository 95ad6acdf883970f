"""Recovery: after the ruleset changes mid-episode, how long until the agent is as good as before?

The condition is the probe suite's rule grid with every reward mirrored (r -> low +
high - r: good types become bad) after the last step of the middle trial, as the
eval ``drift`` suite does (``change_step`` = (num_trials // 2) * trial_length - 1,
i.e. at a trial boundary; the suite's ``horizon // 2 - 1`` for an even trial count).
The agent is never told. Every agent plays the same episodes (same key).

Margin. A mirrored ruleset is not as rich as the original: the prior forces one
positive type, its mirror may have none. So a margin over random is read as a
fraction of what a ceiling agent told the ruleset (``oracle_planner``) makes over
random on the same episodes, per trial:

    f_j = mean_b(agent_j - random_j) / mean_b(oracle_j - random_j)

(a ratio of means over episodes; raw margins where no ceiling is given). The
pre-change level is f of the last trial before the change.

Recovery. The fraction regained in post-change trial j is f_j / f_pre. The agent
has recovered at the first post-change trial from which that stays at or above
``RECOVERY_FRACTION`` (the first trial of a sustained recovery);
in steps, at the end of the first window of a third of a trial (``window_steps``),
wholly after the change, whose margin (as a fraction of the ceiling's on the same
steps, so the window's place in the trial cancels) regains it: a trial-long window
would hide a recovery within a few steps (the verdict rests on trials, the step count
says how soon within them). Intervals are percentile
bootstraps over episodes (the same resampled episodes for every agent and trial);
a resample that never recovers counts as "not within the episode".

Verdict: ``no_pre_change_margin`` when f_pre's interval is not above 0 (nothing to
regain); ``recovers`` when the trials-to-recovery interval is finite (at least
97.5% of resamples recover within the episode); ``does_not_recover`` when at most
2.5% of them do; else ``undecided``.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

import metarl.envs as menvs
from metarl.errors import ConfigError
from metarl.evaluation.statistics import bootstrap_counts, resampled_means
from metarl.interval import Interval
from metarl.probes import figures
from metarl.probes.protocol import (
    Probe,
    ProbeContext,
    ProbeResult,
    Verdict,
    skipped,
    text_number,
)
from metarl.probes.rule_grid_beliefs import rule_grid_episodes

VERDICTS = ("recovers", "does_not_recover", "undecided", "no_pre_change_margin")
RECOVERY_FRACTION = 0.5
"""Recovered once half the pre-change margin is back (a half-recovery time). Measured on the
reference learner (tests/probes/test_probes_recovery.py, 256 episodes): after a mirror it
regains 0.31 [0.22, 0.39] of its margin in the first trial and 0.73 [0.64, 0.81] in the
second, never all of it within the episode (it re-learns from confident wrong beliefs, and a
mirrored ruleset may lie outside its prior), so a full-recovery criterion would call the
reference learner one that does not recover."""
BOOTSTRAP = 1000
CEILING = "oracle_planner"
AGENTS = ("checkpoint", "ruleset_learner", "memoryless_collector")
REFERENCES = {
    "ruleset_learner": "Bayes over the prior's rulesets, re-learns on surprise (recovers)",
    "memoryless_collector": "collects the nearest object, remembers nothing (cannot recover)",
    "random": "uniform actions (the zero of every margin)",
    CEILING: "told the ruleset in force, plans (the ceiling of every margin)",
}


@dataclasses.dataclass(frozen=True)
class Recovery:
    trial_fraction: list[Interval]
    """Per trial: margin over random as a fraction of the ceiling's (``f_j``)."""
    pre_change: Interval
    """``f`` of the last trial before the change."""
    regained: list[Interval]
    """Per post-change trial: ``f_j / f_pre``."""
    trials_to_recover: Interval
    """Post-change trials until ``regained`` >= the recovery fraction (1: the first); inf: never."""
    steps_to_recover: Interval
    """Steps after the change until a window (``window_steps``) regains it; inf: never. An
    agent unaffected by the change scores the window's length."""
    recovered_share: float
    """Share of bootstrap resamples that recover within the episode."""
    verdict: str
    window_regained: np.ndarray
    """[post-change steps] regained fraction of the window ending at each step (NaN before
    the first full window)."""
    window: int
    """Steps per window of ``steps_to_recover``."""

    def summary(self) -> dict:
        row = dataclasses.asdict(self)
        for key in ("trial_fraction", "regained"):
            row[key] = list(getattr(self, key))
        for key in ("pre_change", "trials_to_recover", "steps_to_recover"):
            row[key] = getattr(self, key)
        del row["window_regained"]
        row["window"] = self.window
        return row


def window_steps(trial_length: int) -> int:
    """Steps per window of the step count: a third of a trial (at least one step)."""
    return max(1, round(trial_length / 3))


def _quantiles(values: np.ndarray) -> tuple[float, float]:
    """2.5% and 97.5% quantiles that are sample values (no interpolation, inf kept)."""
    low, high = np.quantile(values, [0.025, 0.975], method="inverted_cdf")
    return float(low), float(high)


def _first_reaching(regained: np.ndarray, offset: int, sustained: bool) -> np.ndarray:
    """[R] ``offset`` + index of the first column >= the recovery fraction; inf: none.

    ``sustained``: the first column from which every later one is (a trial's recovery must
    last); otherwise the first that is (a window's: the minimum over dozens of noisy
    windows would put most recoveries at the episode's end).
    """
    reached = regained >= RECOVERY_FRACTION
    if sustained:
        reached = np.logical_and.accumulate(reached[..., ::-1], axis=-1)[..., ::-1]
    first = np.argmax(reached, axis=-1).astype(np.float64) + offset
    return np.where(reached.any(axis=-1), first, np.inf)


def _ratio(margin, ceiling_margin, counts):
    """(point [X], resampled [X, R]) of mean(margin) / mean(ceiling margin) per row."""
    with np.errstate(invalid="ignore", divide="ignore"):
        point = margin.mean(-1) / ceiling_margin.mean(-1)
        resampled = resampled_means(margin, counts) / resampled_means(ceiling_margin, counts)
    return point, resampled


def recovery_analysis(
    rewards,
    random_rewards,
    ceiling_rewards,
    change_step: int,
    trial_length: int,
    num_bootstrap: int = BOOTSTRAP,
    seed: int = 0,
    window: int | None = None,
) -> Recovery:
    """Recovery of one agent from rewards [T, B] beside random's (and a ceiling's, or None).

    Episodes b are paired across agents (the same key). ``change_step`` is the last
    step under the old ruleset and must end a trial. ``window`` defaults to ``window_steps``.
    """
    rewards, random_rewards = (np.asarray(x, np.float64) for x in (rewards, random_rewards))
    num_steps, num_episodes = rewards.shape
    if (change_step + 1) % trial_length or not 0 < change_step + 1 < num_steps:
        raise ValueError(f"change after step {change_step} does not end an inner trial")
    margin = rewards - random_rewards
    ceiling = (
        np.ones_like(margin) / trial_length
        if ceiling_rewards is None
        else np.asarray(ceiling_rewards, np.float64) - random_rewards
    )
    counts = bootstrap_counts(num_episodes, num_bootstrap, seed)
    by_trial = margin.reshape(-1, trial_length, num_episodes).sum(1)
    ceiling_by_trial = ceiling.reshape(-1, trial_length, num_episodes).sum(1)
    fraction, resampled = _ratio(by_trial, ceiling_by_trial, counts)
    pre_trial = (change_step + 1) // trial_length - 1
    with np.errstate(invalid="ignore", divide="ignore"):  # a resample with no pre-change margin
        regained = fraction[pre_trial + 1 :] / fraction[pre_trial]
        regained_resampled = resampled[pre_trial + 1 :] / resampled[pre_trial]
    trials = _first_reaching(regained_resampled.T, 1, sustained=True)
    point_trials = _first_reaching(regained[None], 1, sustained=True)[0]

    # Windows wholly after the change, by their last step.
    window = window_steps(trial_length) if window is None else window
    post, post_ceiling = margin[change_step + 1 :], ceiling[change_step + 1 :]

    def windows(x):
        total = np.concatenate([np.zeros((1, num_episodes)), np.cumsum(x, axis=0)])
        return total[window:] - total[:-window]

    window_fraction, window_resampled = _ratio(windows(post), windows(post_ceiling), counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        window_regained = window_fraction / fraction[pre_trial]
        steps = _first_reaching((window_resampled / resampled[pre_trial]).T, window, False)
    point_steps = _first_reaching(window_regained[None], window, False)[0]

    def interval(point, draws):
        return Interval(point, *_quantiles(np.where(np.isnan(draws), np.inf, draws)))

    pre = Interval(fraction[pre_trial], *_quantiles(resampled[pre_trial]))
    trials_interval = interval(point_trials, trials)
    if not pre.above(0.0):
        label = "no_pre_change_margin"
    elif np.isfinite(trials_interval.high):
        label = "recovers"
    elif not np.isfinite(trials_interval.low):
        label = "does_not_recover"
    else:
        label = "undecided"
    return Recovery(
        trial_fraction=[
            Interval(f, *_quantiles(r)) for f, r in zip(fraction, resampled, strict=True)
        ],
        pre_change=pre,
        regained=[
            Interval(g, *_quantiles(r)) for g, r in zip(regained, regained_resampled, strict=True)
        ],
        trials_to_recover=trials_interval,
        steps_to_recover=interval(point_steps, steps),
        recovered_share=float(np.isfinite(trials).mean()),
        verdict=label,
        window_regained=np.concatenate([np.full(window - 1, np.nan), window_regained]),
        window=window,
    )


# ------------------------------------------------------------------ the probe


def mirrored_overrides(overrides: dict, num_steps: int, trial_length: int):
    """(env overrides, change step) adding the mid-episode mirror to ``overrides``; None with
    fewer than two trials. Drift the run trained with is kept (its change points too)."""
    if num_steps // trial_length < 2:
        return None
    change = (num_steps // trial_length // 2) * trial_length - 1
    kinds = [k for k in str(overrides.get("drift", "none")).split("+") if k not in ("", "none")]
    steps = tuple(sorted({*overrides.get("reversal_steps", ()), change}))
    drift = "+".join(dict.fromkeys([*kinds, "reversal"]))
    return {**overrides, "drift": drift, "reversal_steps": steps}, change


def mirrored_condition(ctx: ProbeContext):
    """(env, params, change_step) of the probe suite with the mirror; None: one trial only."""
    base = ctx.env_params
    found = mirrored_overrides(
        dict(ctx.suite.overrides), int(base.max_steps_in_episode), int(base.trial_length)
    )
    if found is None:
        return None
    overrides, change = found
    env, params = menvs.make(ctx.config.env.name, **overrides)
    if (
        menvs.RL2Wrapper(env).observation_size(params)
        != ctx.train_env.observation_size(ctx.train_params)
        or params.max_steps_in_episode != ctx.train_params.max_steps_in_episode
    ):
        raise ConfigError("the mirrored condition changes the agent's interface (a probe bug)")
    return env, params, change


def _trial_means(rewards: np.ndarray, trial_length: int, counts) -> list[Interval]:
    by_trial = np.asarray(rewards, np.float64).reshape(-1, trial_length, rewards.shape[1]).sum(1)
    resampled = resampled_means(by_trial, counts)
    return [Interval(v, *_quantiles(r)) for v, r in zip(by_trial.mean(-1), resampled, strict=True)]


def run(ctx: ProbeContext) -> ProbeResult:
    """Trials and steps until the margin over random is regained after a mid-episode mirror."""
    condition = mirrored_condition(ctx)
    if condition is None:
        return skipped("one trial per episode: no trial before and after the change to compare")
    env, params, change = condition
    names = (*AGENTS, "random", CEILING)
    batches, rollouts_s = rule_grid_episodes(ctx, names, env, params, tag="mirrored")
    start = time.perf_counter()
    length = int(params.trial_length)
    rewards = {name: np.asarray(batch.rewards) for name, batch in batches.items()}
    ceiling = rewards.get(CEILING)
    counts = bootstrap_counts(ctx.num_episodes, BOOTSTRAP, ctx.seed)
    agents, arrays = {}, {}
    for name in (n for n in AGENTS if n in rewards):
        found = recovery_analysis(
            rewards[name], rewards["random"], ceiling, change, length, BOOTSTRAP, ctx.seed
        )
        agents[name] = found.summary()
        arrays[f"{name}/window_regained"] = found.window_regained
    reward_per_trial = {name: _trial_means(r, length, counts) for name, r in rewards.items()}
    checkpoint = agents["checkpoint"]
    reason = (
        f"pre-change margin {checkpoint['pre_change'].format('.2f')} of the "
        f"{'ceiling' if ceiling is not None else 'raw reward'}; post-change trials until "
        f"{RECOVERY_FRACTION:.0%} of it is back: {checkpoint['trials_to_recover'].format('.0f')} "
        f"(recovers in {checkpoint['recovered_share']:.1%} of resamples)"
    )
    return ProbeResult(
        results={
            "condition": {
                "change_step": change,
                "first_changed_trial": (change + 1) // length,
                "trial_length": length,
                "num_trials": int(params.max_steps_in_episode) // length,
                "drift": str(params.drift.kinds),
                "change": "every reward mirrored (r -> low + high - r) at the trial boundary",
            },
            "normalised_by": CEILING if ceiling is not None else None,
            "recovery_fraction": RECOVERY_FRACTION,
            "agents": agents,
            "reward_per_trial": reward_per_trial,
            "expected": {"ruleset_learner": "recovers", "memoryless_collector": "does_not_recover"},
            "note": "fractions of the ceiling's margin over random per trial; trials_to_recover: "
            "the first post-change trial from which the regained share stays >= the recovery "
            "fraction; steps_to_recover: the end of the first window regaining it; null bounds: "
            "not within the episode",
        },
        verdict=Verdict(checkpoint["verdict"], reason),
        references={n: REFERENCES[n] for n in (*AGENTS[1:], "random", CEILING) if n in rewards},
        arrays=arrays,
        timing={"rollouts_s": rollouts_s, "analysis_s": time.perf_counter() - start},
    )


def format_lines(summary: dict) -> list[str]:
    lines = []
    for name, row in summary["results"]["agents"].items():
        lines.append(
            f"  {name:24s} pre-change margin {text_number(row['pre_change']['value'], '.2f')}  "
            f"trials to recover "
            f"{_whole(row['trials_to_recover'])}  first window regaining it after "
            f"{_whole(row['steps_to_recover'])} steps"
            f" -> {row['verdict']}"
        )
    return lines


def _whole(entry: dict) -> str:
    def one(x):
        return "never" if x is None or not np.isfinite(x) else f"{x:.0f}"

    return f"{one(entry['value'])} [{one(entry['low'])}, {one(entry['high'])}]"


def draw(fig, summary: dict, arrays: dict) -> None:
    results = summary["results"]
    condition = results["condition"]
    left, right = fig.subplots(1, 2)
    order = list(results["reward_per_trial"])
    for name, trials in results["reward_per_trial"].items():
        values = np.array([figures.number(t["value"]) for t in trials])
        errors = np.hstack([figures.interval_error(t)[1] for t in trials])
        left.errorbar(
            np.arange(1, len(values) + 1),
            values,
            yerr=errors,
            fmt="-o",
            capsize=3,
            color=figures.color(name, order),
            lw=2.2 if name == figures.CHECKPOINT else 1.2,
            label=figures.label(name),
        )
    left.axvline(condition["first_changed_trial"] + 0.5, color="0.3", ls="--", lw=1)
    left.set_xticks(np.arange(1, condition["num_trials"] + 1))
    left.set_xlabel("trial (dashed: rewards mirrored)")
    left.set_ylabel("reward per trial (mean, 95% bootstrap CI)")
    left.set_title("reward per trial, before and after the change", fontsize=10)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    first = condition["change_step"] + 1
    for name, row in results["agents"].items():
        curve = arrays.get(f"{name}/window_regained")
        if curve is not None:
            right.plot(
                first + np.arange(len(curve)) + 1,
                curve,
                color=figures.color(name, order),
                lw=2.2 if name == figures.CHECKPOINT else 1.2,
                label=f"{figures.label(name)} -> {row['verdict']}",
            )
    right.axhline(results["recovery_fraction"], color="0.3", ls=":", lw=1)
    right.axhline(0.0, color="0.6", lw=0.8)
    window = next(iter(results["agents"].values()))["window"]
    right.set_xlabel(f"step (end of a {window}-step window after the change)")
    right.set_ylabel("share of the pre-change margin regained")
    right.set_title("recovery (dotted: the recovery fraction)", fontsize=10)
    right.legend(fontsize=7)
    right.grid(alpha=0.3)


PROBE = Probe(
    name="recovery",
    families=("rule_grid",),
    allowed_verdicts=VERDICTS,
    description="trials and steps until the margin over random is regained after the rewards "
    "are mirrored mid-episode",
    run=run,
    format=format_lines,
    draw=draw,
    figure_size=(12, 4.8),
)
