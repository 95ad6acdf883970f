"""Learning-after-freeze statistics: pure numpy functions over ``[step, episode]`` arrays.

The weights are frozen, so whatever improves within an episode is learned in
context. These functions turn per-step arrays from ``evaluate_policy`` into the
curves and numbers that say how much, how fast, and how it recovers after the
task changes:

* ``step_mean`` / ``trial_totals`` / ``trial_lengths``: the learning curve per
  within-episode step, or per trial where an episode holds several trials.
* ``optimal_action_indicator`` (from ``info["optimal_action"]``) and
  ``cumulative_regret`` (from ``info["regret"]``).
* ``in_context_improvement``: (late-window reward - early-window reward) /
  (oracle - random), per episode.
* ``area_between``: the area between an agent's curve and a baseline's (paired
  per episode); ``area_fraction`` normalises it by the oracle's area.
* ``event_aligned`` + ``recovery_steps`` / ``recovery_time``: after a drift event
  (``info["change_point"]``, ``["reversal"]``, ``["drift_event"]``), the steps
  needed to regain ``threshold`` (90%) of the pre-change performance.

Intervals (bootstrap over episodes, t over seeds) live in
``metarl.evaluation.statistics``; every function here that takes ``counts`` uses
its shared resampling so agents stay paired.
"""

from __future__ import annotations

import numpy as np

from metarl.evaluation.statistics import nan_mean, resampled_means

RECOVERY_THRESHOLD = 0.9
WINDOW_FRACTION = 0.1


def step_mean(values) -> np.ndarray:
    """[T, E] -> [T]: the mean over episodes at each within-episode step."""
    return np.asarray(values, np.float64).mean(axis=1)


def optimal_action_indicator(actions, optimal_action) -> np.ndarray:
    """[T, E] float64: 1 where the action taken was the optimal one (``info["optimal_action"]``)."""
    return (np.asarray(actions) == np.asarray(optimal_action)).astype(np.float64)


def cumulative_regret(regret) -> np.ndarray:
    """[T, E] -> [T, E]: regret summed from the episode start up to and including each step."""
    return np.cumsum(np.asarray(regret, np.float64), axis=0)


def _trial_index(trial, num_trials: int | None) -> tuple[np.ndarray, int]:
    trial = np.asarray(trial).astype(np.int64)
    if num_trials is None:
        num_trials = int(trial.max()) + 1
    return trial, num_trials


def trial_totals(values, trial, num_trials: int | None = None) -> np.ndarray:
    """Sum of ``values`` [T, E] within each trial (``info["trial"]`` [T, E]) -> [K, E].

    K is ``num_trials`` (default: the largest trial index seen + 1); a trial an
    episode never reached is NaN, so means over episodes skip it. Steps of trials
    at or beyond K are dropped.
    """
    values = np.asarray(values, np.float64)
    trial, num_trials = _trial_index(trial, num_trials)
    num_episodes = values.shape[1]
    keep = trial < num_trials
    flat = (trial * num_episodes + np.arange(num_episodes)[None, :])[keep]
    totals = np.bincount(flat, weights=values[keep], minlength=num_trials * num_episodes)
    steps = np.bincount(flat, minlength=num_trials * num_episodes)
    totals = totals.reshape(num_trials, num_episodes)
    return np.where(steps.reshape(num_trials, num_episodes) > 0, totals, np.nan)


def trial_lengths(trial, trial_boundary, num_trials: int | None = None) -> np.ndarray:
    """Steps each trial took [K, E], NaN for trials not finished inside the episode.

    A trial is finished when one of its steps has ``info["trial_boundary"]`` set
    (e.g. a maze goal reached): the last trial of an episode, cut by the episode
    end, has no boundary and is NaN rather than a misleadingly short length.
    """
    trial, num_trials = _trial_index(trial, num_trials)
    ones = np.ones(trial.shape)
    lengths = trial_totals(ones, trial, num_trials)
    finished = trial_totals(np.asarray(trial_boundary, np.float64), trial, num_trials)
    return np.where(finished > 0, lengths, np.nan)


def default_windows(
    length: int, fraction: float = WINDOW_FRACTION
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(early, late) windows as [start, stop) index pairs: the first and last ``fraction`` of a curve."""
    width = max(1, int(round(fraction * length)))
    width = min(width, max(1, length // 2))
    return (0, width), (length - width, length)


def window_mean(values, window: tuple[int, int]) -> np.ndarray:
    """[X, E] -> [E]: each episode's mean over points ``window[0] <= x < window[1]`` (NaN skipped)."""
    start, stop = window
    return nan_mean(np.asarray(values, np.float64)[start:stop], axis=0)


def in_context_improvement(
    values,
    oracle: float,
    random: float,
    early: tuple[int, int] | None = None,
    late: tuple[int, int] | None = None,
) -> np.ndarray:
    """Per episode [E]: (late-window mean - early-window mean) / (oracle - random).

    ``values`` is a learning curve [X, E] (reward per step, or per trial);
    ``oracle`` and ``random`` are the mean per point of the oracle and of the
    random policy on the same episodes (scalars, so one noisy episode cannot blow
    up its own denominator). 0 means no improvement within the episode; 1 means
    the agent improved by the whole oracle-random gap. Windows default to the
    first and last 10% of the curve.
    """
    values = np.asarray(values, np.float64)
    if early is None or late is None:
        default_early, default_late = default_windows(values.shape[0])
        early = default_early if early is None else early
        late = default_late if late is None else late
    gap = float(oracle) - float(random)
    if not np.isfinite(gap) or gap == 0.0:
        raise ValueError(f"oracle - random must be a non-zero number, got {oracle!r} - {random!r}")
    return (window_mean(values, late) - window_mean(values, early)) / gap


def area_between(values, baseline) -> np.ndarray:
    """Per episode [E]: sum over the curve of (values - baseline), both [X, E] on the same episodes.

    Its mean over episodes is the area between the two mean curves (units of the
    curve times points, e.g. reward x steps).
    """
    return np.nansum(np.asarray(values, np.float64) - np.asarray(baseline, np.float64), axis=0)


def area_fraction(values, random, oracle) -> float:
    """Area between ``values`` and ``random`` over the area between ``oracle`` and ``random`` ([X, E] each).

    1: as good as the oracle all episode long; 0: no better than random.
    """
    num = float(np.mean(area_between(values, random)))
    den = float(np.mean(area_between(oracle, random)))
    return num / den


def first_event_step(events) -> np.ndarray:
    """[T, E] bool -> [E] int: the step of each episode's first event, -1 if none."""
    events = np.asarray(events, bool)
    has_event = events.any(axis=0)
    return np.where(has_event, events.argmax(axis=0), -1)


def event_aligned(values, events, before: int, after: int) -> np.ndarray:
    """Cut ``values`` [T, E] around each episode's first event -> [before + after, E].

    An event flagged at step t (``info["change_point"]`` etc.) changes the task
    *after* that step's reward, so step t + 1 is the first under the new task and
    sits at row ``before`` (offset 0). Row ``before + k`` holds step t + 1 + k.
    Points outside the episode, and whole episodes without an event, are NaN.
    """
    values = np.asarray(values, np.float64)
    num_steps, num_episodes = values.shape
    first = first_event_step(events)
    offsets = np.arange(-before, after)
    steps = first[None, :] + 1 + offsets[:, None]
    valid = (first[None, :] >= 0) & (steps >= 0) & (steps < num_steps)
    gathered = values[np.clip(steps, 0, num_steps - 1), np.arange(num_episodes)[None, :]]
    return np.where(valid, gathered, np.nan)


def recovery_steps(
    curve,
    before: int,
    threshold: float = RECOVERY_THRESHOLD,
    baseline=0.0,
    min_margin: float = 0.0,
):
    """Post-change points until an event-aligned mean curve regains its pre-change margin.

    ``curve`` is [before + after] (rows of ``event_aligned`` averaged over
    episodes), or [before + after, R] for R curves at once (bootstrap
    resamples). ``baseline`` is a number, or a curve of the same shape (the
    random policy aligned on the same events, so a baseline whose level moves
    with the change, e.g. mirrored rewards, is followed point by point). With
    margin = curve - baseline and ``pre`` its mean over the ``before`` points,
    the result is the first offset k >= 0 with
    ``margin[before + k] >= threshold * pre``: 0 when the change never cost
    anything, NaN when it is not regained within the window, or when ``pre``
    is not above ``min_margin`` (nothing to regain: a chance-level agent has no
    recovery time, rather than a lucky 0). ``baseline`` = 0 measures a fraction
    of the raw pre-change level.
    """
    curve = np.asarray(curve, np.float64)
    single = curve.ndim == 1
    margin = curve - np.asarray(baseline, np.float64)
    margin = margin.reshape(margin.shape[0], -1)
    pre = nan_mean(margin[:before], axis=0) if before > 0 else np.full(margin.shape[1], np.nan)
    post = margin[before:]
    regained = np.isfinite(post) & (post >= threshold * pre[None, :])
    defined = regained.any(axis=0) & (pre > min_margin)
    steps = np.where(defined, regained.argmax(axis=0), np.nan).astype(np.float64)
    return float(steps[0]) if single else steps


def recovery_time(
    performance,
    events,
    before: int,
    after: int,
    counts: np.ndarray | None = None,
    threshold: float = RECOVERY_THRESHOLD,
    baseline=0.0,
    min_margin: float = 0.0,
    min_margin_se: float = 0.0,
    confidence: float = 0.95,
) -> dict:
    """Recovery after each episode's first drift event, with a bootstrap interval over episodes.

    ``performance`` [T, E] (e.g. the optimal-action indicator, or expected
    reward), ``events`` [T, E] bool; ``baseline`` a number or the random
    policy's performance [T, E] on the same episodes (then aligned and
    resampled with the agent's, so the interval stays paired). Returns
    ``status`` ('regained', 'not regained within the window', 'no margin over
    baseline', 'no event'), ``steps`` (``recovery_steps`` of the mean aligned
    curves; NaN unless regained), ``low`` / ``high`` (percentile interval over
    resamples of the episodes; ``high`` is inf when more than the upper tail of
    resamples never recover), ``recovered_fraction`` (of resamples),
    ``pre_change`` / ``pre_change_baseline`` (the levels before the change),
    ``min_margin`` (the larger of ``min_margin`` and ``min_margin_se`` standard
    errors of the per-episode pre-change margin: a smaller margin leaves the
    recovery undefined), ``episodes_with_event``, and the mean aligned
    ``curve`` and ``baseline_curve`` [before + after].
    """
    aligned = event_aligned(performance, events, before, after)
    with_event = int(np.isfinite(aligned).any(axis=0).sum())
    if np.ndim(baseline) == 0:
        aligned_baseline = np.where(np.isfinite(aligned), float(baseline), np.nan)
    else:
        aligned_baseline = event_aligned(baseline, events, before, after)
    curve = nan_mean(aligned, axis=1)
    baseline_curve = nan_mean(aligned_baseline, axis=1)
    # The margin must also stand out of its own noise across episodes.
    pre_margin = nan_mean(aligned[:before] - aligned_baseline[:before], axis=0)
    pre_margin = pre_margin[np.isfinite(pre_margin)]
    if pre_margin.size > 1:
        standard_error = float(pre_margin.std(ddof=1) / np.sqrt(pre_margin.size))
        min_margin = max(min_margin, min_margin_se * standard_error)
    steps = recovery_steps(curve, before, threshold, baseline_curve, min_margin)
    pre = float(np.nanmean(curve[:before])) if before > 0 and with_event else float("nan")
    pre_baseline = (
        float(np.nanmean(baseline_curve[:before])) if before > 0 and with_event else float("nan")
    )
    if not with_event:
        status = "no event"
    elif not pre - pre_baseline > min_margin:
        status = "no margin over baseline"
    elif np.isnan(steps):
        status = "not regained within the window"
    else:
        status = "regained"
    result = {
        "steps": steps,
        "low": float("nan"),
        "high": float("nan"),
        "recovered_fraction": float("nan"),
        "status": status,
        "pre_change": pre,
        "pre_change_baseline": pre_baseline,
        "episodes_with_event": with_event,
        "threshold": threshold,
        "min_margin": min_margin,
        "curve": curve,
        "baseline_curve": baseline_curve,
    }
    if counts is not None and with_event:
        resampled = resampled_means(aligned, counts)  # [before + after, R]
        resampled_baseline = resampled_means(aligned_baseline, counts)
        per_resample = recovery_steps(resampled, before, threshold, resampled_baseline, min_margin)
        censored = np.where(np.isfinite(per_resample), per_resample, np.inf)
        tail = 50.0 * (1.0 - confidence)
        # method lower/higher: no interpolation between a finite step and inf.
        result["low"] = float(np.percentile(censored, tail, method="lower"))
        result["high"] = float(np.percentile(censored, 100.0 - tail, method="higher"))
        result["recovered_fraction"] = float(np.isfinite(per_resample).mean())
    return result
