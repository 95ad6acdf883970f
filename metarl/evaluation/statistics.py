"""Intervals for means and paired differences over episodes."""

from __future__ import annotations

import numpy as np

Z_95 = 1.959963984540054


def mean_interval(values, z: float = Z_95) -> tuple[float, float]:
    """(mean, half-width of the normal-approximation interval) over the first axis."""
    values = np.asarray(values, np.float64)
    n = values.shape[0]
    return float(values.mean()), float(z * values.std(ddof=1) / np.sqrt(n))


def paired_difference(a, b, z: float = Z_95) -> tuple[float, float]:
    """(mean of a - b, half-width): a and b measured on the same episodes."""
    return mean_interval(np.asarray(a, np.float64) - np.asarray(b, np.float64), z)
