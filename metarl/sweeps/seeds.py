"""Seed-level statistics for claims about training: IQM with stratified bootstrap intervals.

Seeds (training runs) are the unit of analysis for a claim about what training
produces; episodes are the unit only for claims about one checkpoint. A sweep
point trains ``S`` seeds on each of ``K`` task pools (pool seeds), so its scores
are a ``[S, K]`` matrix. Following Agarwal et al. (2021, "Deep RL at the edge of
the statistical precipice"), the point estimate is the interquartile mean over
all S x K runs and the interval is the percentile interval of a *stratified*
bootstrap: seeds are resampled with replacement within each pool, so pools are
never mixed up and each keeps its weight. Both come from ``rliable`` itself
(``metrics.aggregate_iqm``, ``library.get_interval_estimates``).
"""

from __future__ import annotations

import warnings

import numpy as np

from metarl.interval import Interval

BOOTSTRAP_REPS = 1000
"""Stratified bootstrap resamples. rliable's default is 50000, but it evaluates the
statistic in Python once per resample (about 0.6 ms each here), so 1000 keeps one
interval under a second; with the 6-36 runs of a sweep point the Monte Carlo error
of a 95% bound at 1000 resamples is a small fraction of the interval's width."""
BOOTSTRAP_SEED = 0


def iqm_interval(
    scores: np.ndarray, confidence: float = 0.95, reps: int = BOOTSTRAP_REPS
) -> Interval:
    """IQM of ``scores`` ``[runs, strata]`` with a stratified-bootstrap interval.

    One run in total gives the value without bounds (an interval needs at least
    two runs); NaN scores (a run a measure does not apply to) are dropped per
    stratum, and a stratum left empty is dropped.
    """
    from rliable import library, metrics

    scores = np.asarray(scores, np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    columns = [col[np.isfinite(col)] for col in scores.T]
    columns = [col for col in columns if col.size]
    if not columns:
        return Interval(float("nan"))
    # rliable wants a rectangular [runs, tasks] matrix: keep the common run count.
    runs = min(col.size for col in columns)
    matrix = np.stack([col[:runs] for col in columns], axis=1)
    value = float(metrics.aggregate_iqm(matrix))
    if matrix.size < 2 or runs < 2:
        return Interval(value, level=confidence)
    with warnings.catch_warnings():
        # rliable hands arch a RandomState, which arch 7 deprecates (a FutureWarning
        # per call); the draws are still the fixed-seed ones.
        warnings.filterwarnings("ignore", category=FutureWarning, module="arch")
        _, bounds = library.get_interval_estimates(
            {"runs": matrix},
            lambda x: np.array([metrics.aggregate_iqm(x)]),
            reps=reps,
            confidence_interval_size=confidence,
            random_state=np.random.RandomState(BOOTSTRAP_SEED),
        )
    low, high = bounds["runs"][:, 0]
    return Interval(value, float(low), float(high), level=confidence)


def seed_verdict(interval: Interval, above: str, below: str, neither: str = "undecided") -> str:
    """``above`` when the interval lies above 0, ``below`` when under it, else ``neither``."""
    if interval.above(0.0):
        return above
    if interval.below(0.0):
        return below
    return neither
