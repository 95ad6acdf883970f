"""Intervals for means, curves and paired differences over episodes and seeds.

Two kinds of interval:

* normal-approximation half-widths (``mean_interval``, ``paired_difference``),
  quick and fine for totals over thousands of episodes;
* percentile bootstrap over episodes (``bootstrap_counts`` + ``bootstrap_*``),
  used for curves, ratios and statistics with no closed-form standard error
  (recovery times). Resampling is done with *counts*: resample r draws episode
  ``e`` ``counts[r, e]`` times, so a resampled mean is one matrix product. One
  counts matrix, drawn from a fixed-seed ``numpy.random.Generator``, is shared by
  every agent evaluated on the same episodes, which keeps the bootstrap paired
  and the numbers reproducible.

Intervals over training seeds (a handful of numbers) use Student's t
(``seed_interval``): a bootstrap over 3-5 seeds would be far too narrow.

Observations grouped in clusters (the trials of one episode) get cluster-robust
intervals: ``clustered_mean`` for a pooled mean, ``clustered_ols`` for regression
coefficients (sandwich covariance summed by cluster).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from scipy import stats

from metarl.interval import Interval

Z_95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def mean_interval(values, z: float = Z_95) -> tuple[float, float]:
    """(mean, half-width of the normal-approximation interval) over the first axis."""
    values = np.asarray(values, np.float64)
    n = values.shape[0]
    return float(values.mean()), float(z * values.std(ddof=1) / np.sqrt(n))


def paired_difference(a, b, z: float = Z_95) -> tuple[float, float]:
    """(mean of a - b, half-width): a and b measured on the same episodes."""
    return mean_interval(np.asarray(a, np.float64) - np.asarray(b, np.float64), z)


def bootstrap_counts(
    num_episodes: int, num_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> np.ndarray:
    """[num_resamples, num_episodes] float64: how often each episode is drawn in each resample.

    Row r is a bincount of ``num_episodes`` indices drawn uniformly with replacement,
    so every row sums to ``num_episodes``.
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, num_episodes, size=(num_resamples, num_episodes))
    offsets = np.arange(num_resamples)[:, None] * num_episodes
    counts = np.bincount((draws + offsets).ravel(), minlength=num_resamples * num_episodes)
    return counts.reshape(num_resamples, num_episodes).astype(np.float64)


def _weighted_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``values @ counts.T`` for values [..., E] and counts [R, E] -> [..., R] float64.

    Done by XLA in float32: on a busy 2-core CPU, OpenBLAS's threads contend and
    numpy's matmul of a [100, 4096] curve by 1000 resamples took ~0.2 s against
    ~0.03 s here. Counts are small integers and most values (0/1 rewards, totals)
    are integers, so float32 sums of them are exact below 2**24; other values
    carry float32 rounding (~1e-7 relative), far below any interval's width.
    """
    import jax.numpy as jnp

    shape = values.shape
    flat = values.reshape(-1, shape[-1])
    sums = _matmul(jnp.asarray(flat, jnp.float32), _device_counts_transposed(counts))
    return np.asarray(sums, np.float64).reshape(*shape[:-1], counts.shape[0])


_DEVICE_COUNTS: list = []


def _device_counts_transposed(counts: np.ndarray):
    """float32 device copy of ``counts.T`` [E, R], kept for the last counts matrix seen.

    Transposed once here: XLA's CPU matrix-vector product with a transposed
    operand was ~40x slower (28 ms against 0.7 ms for one [4096] statistic).

    One evaluation bootstraps a hundred statistics with the same counts; copying
    the [1000, 4096] matrix each time cost more than the products themselves. The
    cache holds the numpy array itself, so its identity cannot be reused.
    """
    import jax.numpy as jnp

    if _DEVICE_COUNTS and _DEVICE_COUNTS[0] is counts:
        return _DEVICE_COUNTS[1]
    device = jnp.asarray(np.ascontiguousarray(counts.T), jnp.float32)
    _DEVICE_COUNTS[:] = [counts, device]
    return device


def _matmul(a, b):
    return _jitted_matmul()(a, b)


@functools.cache
def _jitted_matmul():
    import jax  # late: the rest of this module is plain numpy

    return jax.jit(lambda a, b: a @ b)


def resampled_means(values, counts: np.ndarray) -> np.ndarray:
    """[..., episode] -> [..., resample]: the mean of every bootstrap resample.

    NaN entries are left out of their resample's mean (a resample with no finite
    value gives NaN), so curves with missing points (trials not reached) work.
    """
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    # Resample the deviations from each row's mean: the float32 products then only
    # carry the spread (a constant row resamples to exactly its mean).
    center = nan_mean(values, axis=-1)[..., None]
    center = np.where(np.isfinite(center), center, 0.0)
    if finite.all():
        return center + _weighted_sums(values - center, counts) / counts.shape[1]
    totals = _weighted_sums(np.where(finite, values - center, 0.0), counts)
    weights = _weighted_sums(finite.astype(np.float64), counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weights > 0, center + totals / np.maximum(weights, 1e-300), np.nan)


def percentile_interval(resampled, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) percentiles over the last axis (the resamples), ignoring NaN."""
    tail = 50.0 * (1.0 - confidence)
    resampled = np.asarray(resampled, np.float64)
    if np.isfinite(resampled).all():  # nanpercentile is ~10x slower; most curves have no gaps
        low, high = np.percentile(resampled, [tail, 100.0 - tail], axis=-1)
        return low, high
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN points stay NaN, silently
        low, high = np.nanpercentile(resampled, [tail, 100.0 - tail], axis=-1)
    return low, high


def nan_mean(values, axis: int = -1):
    """Mean over ``axis`` ignoring NaN; NaN (no warning) where every entry is NaN."""
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    count = finite.sum(axis)
    total = np.where(finite, values, 0.0).sum(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def bootstrap_mean(
    values, counts: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high) of ``values`` [episode] with a percentile bootstrap interval."""
    values = np.asarray(values, np.float64)
    low, high = percentile_interval(resampled_means(values, counts), confidence)
    return float(nan_mean(values)), float(low), float(high)


def bootstrap_curve(
    values, counts: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean [X], low [X], high [X]) of ``values`` [X, episode]: a band per point of a curve."""
    values = np.asarray(values, np.float64)
    low, high = percentile_interval(resampled_means(values, counts), confidence)
    return nan_mean(values, axis=-1), low, high


def bootstrap_ratio(
    numerator, denominator, counts: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(mean(num) / mean(den), low, high): a ratio of means, both resampled with the same episodes."""
    num = resampled_means(numerator, counts)
    den = resampled_means(denominator, counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = num / den
    ratios = np.where(np.isfinite(ratios), ratios, np.nan)
    low, high = percentile_interval(ratios, confidence)
    point = float(nan_mean(numerator)) / float(nan_mean(denominator))
    return point, float(low), float(high)


def seed_interval(values, confidence: float = 0.95) -> tuple[float, float | None, float | None]:
    """(mean, low, high) over training seeds with Student's t; no interval from one seed."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), None, None
    mean = float(values.mean())
    if values.size < 2:
        return mean, None, None
    half = float(
        stats.t.ppf(0.5 + confidence / 2, values.size - 1)
        * values.std(ddof=1)
        / np.sqrt(values.size)
    )
    return mean, mean - half, mean + half


def clustered_mean(values, clusters, z: float = Z_95) -> Interval:
    """Pooled mean of ``values`` with a cluster-robust (ratio-estimator) interval.

    Observations sharing a cluster (the trials of one episode) are not independent;
    the influence of each cluster, not of each observation, sets the width. The
    ``k / (k - 1)`` factor is the usual small-sample correction for k clusters.
    NaN value and bounds when ``values`` is empty.
    """
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return Interval(math.nan)
    _, inverse = np.unique(clusters, return_inverse=True)
    count = np.bincount(inverse).astype(np.float64)
    total = np.bincount(inverse, weights=values)
    mean = values.mean()
    influence = (total - mean * count) / values.size
    k = len(count)
    half = z * np.sqrt(k / max(k - 1, 1) * np.sum(influence**2))
    return Interval.from_half_width(float(mean), float(half))


def clustered_ols(design, outcome, clusters, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Least squares with cluster-robust (sandwich) half-widths: ``(coef [P], half_width [P])``.

    ``design`` is [N, P], ``outcome`` [N], ``clusters`` [N] (e.g. the episode of each
    trial). The covariance is ``B (k/(k-1) S'S) B`` with ``B = (X'X)^+`` and ``S`` the
    per-cluster sums of ``x * residual``, so correlated rows of one cluster count once.
    """
    design = np.asarray(design, np.float64)
    outcome = np.asarray(outcome, np.float64)
    bread = np.linalg.pinv(design.T @ design)
    coef = bread @ design.T @ outcome
    residual = outcome - design @ coef
    _, inverse = np.unique(clusters, return_inverse=True)
    scores = np.zeros((inverse.max() + 1, design.shape[1]))
    np.add.at(scores, inverse, design * residual[:, None])
    k = len(scores)
    covariance = bread @ (k / max(k - 1, 1) * scores.T @ scores) @ bread
    return coef, z * np.sqrt(np.maximum(np.diag(covariance), 0.0))
