"""Intervals for a claim about training: over training seeds, episodes shared by every seed.

A reproduction evaluates ``S`` frozen training seeds on the *same* ``E`` episodes
(common random numbers: the paired comparison with a reference needs them). A
per-seed mean then carries two errors: the seed's own (seed-to-seed variation, what
a claim about training is about) and the episodes' (shared by every seed, so the
spread of the per-seed means does not show it). ``seed_level_interval`` adds both
variances, ``s_seed^2 / S + s_episode^2 / E``, and scales the root by Student's t
with ``S - 1`` degrees of freedom: conservative for the episode part, which has
thousands of degrees of freedom, and right for the seed part, which dominates once
episodes are many. ``s_episode`` is the spread over episodes of the seed-averaged
value (for a paired difference: of the per-episode difference).

With one training seed there is no seed-to-seed spread to estimate: the interval is
then over episodes alone (normal approximation), and its ``unit`` says so.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from metarl.interval import Interval

SEEDS_UNIT = (
    "training seeds (Student t over {seeds} per-seed means, widened by the sampling error "
    "of the {episodes} episodes every seed shares)"
)
EPISODES_UNIT = (
    "episodes only ({episodes} episodes of ONE training seed: seed-to-seed variation "
    "is not in this interval)"
)


def seed_level_interval(values, confidence: float = 0.95) -> tuple[Interval, str]:
    """``values`` ``[seeds, episodes]`` -> (interval of the mean, what the interval is over)."""
    values = np.asarray(values, np.float64)
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"need [seeds, episodes >= 2] values, got shape {values.shape}")
    seeds, episodes = values.shape
    per_seed = values.mean(axis=1)
    mean = float(per_seed.mean())
    episode_var = float(values.mean(axis=0).var(ddof=1)) / episodes
    if seeds == 1:
        z = float(stats.norm.ppf(0.5 + confidence / 2))
        half = z * math.sqrt(episode_var)
        return (
            Interval(mean, mean - half, mean + half, confidence),
            EPISODES_UNIT.format(episodes=episodes),
        )
    seed_var = float(per_seed.var(ddof=1)) / seeds
    t = float(stats.t.ppf(0.5 + confidence / 2, seeds - 1))
    half = t * math.sqrt(seed_var + episode_var)
    return (
        Interval(mean, mean - half, mean + half, confidence),
        SEEDS_UNIT.format(seeds=seeds, episodes=episodes),
    )


def episode_interval(values, confidence: float = 0.95) -> Interval:
    """Mean of ``values`` ``[episodes]`` with a normal-approximation interval (a reference agent)."""
    values = np.asarray(values, np.float64)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    mean = float(values.mean())
    half = z * float(values.std(ddof=1)) / math.sqrt(values.size)
    return Interval(mean, mean - half, mean + half, confidence)
