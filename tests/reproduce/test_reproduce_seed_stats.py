"""Seed-level intervals when every seed plays the same episodes (metarl.reproduce.seed_stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from metarl.reproduce.seed_stats import episode_interval, seed_level_interval


def test_one_seed_falls_back_to_episodes_and_says_so():
    values = np.random.default_rng(0).normal(5.0, 2.0, size=(1, 400))
    interval, unit = seed_level_interval(values)
    half = 1.959963984540054 * values.std(ddof=1) / math.sqrt(400)
    assert interval.value == pytest.approx(values.mean())
    assert interval.half_width == pytest.approx(half)
    assert unit.startswith("episodes only") and "ONE training seed" in unit


def test_each_variance_part_alone_gives_its_textbook_interval():
    rng = np.random.default_rng(1)
    episodes = rng.normal(0.0, 3.0, size=200)
    t4 = stats.t.ppf(0.975, 4)
    # Seeds identical: only the shared episodes' error is left (scaled by t with S - 1 dof).
    same = np.tile(episodes, (5, 1))
    interval, unit = seed_level_interval(same)
    assert interval.half_width == pytest.approx(t4 * episodes.std(ddof=1) / math.sqrt(200))
    assert "5 per-seed means" in unit and "200 episodes" in unit
    # Every episode equal within a seed: only the seed-to-seed spread is left.
    seed_means = rng.normal(0.0, 1.0, size=5)
    flat = np.repeat(seed_means[:, None], 200, axis=1)
    interval, _ = seed_level_interval(flat)
    assert interval.half_width == pytest.approx(t4 * seed_means.std(ddof=1) / math.sqrt(5))


def test_coverage_with_shared_episodes_is_at_least_nominal():
    """Seeds ~ N(0, 1), shared episodes ~ N(0, 3), per-seed-episode noise ~ N(0, 2): the true
    mean is 0. The interval must cover it in >= 95% of 600 fixed-seed replicates minus 3
    binomial standard errors (0.95 - 3 * 0.0089 = 0.923). The t interval over seed means
    alone misses the shared-episode error and covers less (checked too: the widening matters
    here, episodes few, as it does when a reproduction is evaluated on few episodes)."""
    rng = np.random.default_rng(2)
    replicates, seeds, episodes = 600, 4, 30
    covered = covered_seeds_only = 0
    for _ in range(replicates):
        values = (
            rng.normal(0.0, 1.0, size=(seeds, 1))
            + rng.normal(0.0, 3.0, size=(1, episodes))
            + rng.normal(0.0, 2.0, size=(seeds, episodes))
        )
        interval, _ = seed_level_interval(values)
        covered += interval.low <= 0.0 <= interval.high
        per_seed = values.mean(axis=1)
        half = stats.t.ppf(0.975, seeds - 1) * per_seed.std(ddof=1) / math.sqrt(seeds)
        covered_seeds_only += abs(per_seed.mean()) <= half
    bound = 0.95 - 3 * math.sqrt(0.95 * 0.05 / replicates)
    assert covered / replicates >= bound
    assert covered_seeds_only / replicates < bound


def test_episode_interval_and_shape_errors():
    values = np.arange(10.0)
    interval = episode_interval(values)
    assert interval.value == 4.5
    assert interval.half_width == pytest.approx(
        1.959963984540054 * values.std(ddof=1) / math.sqrt(10)
    )
    with pytest.raises(ValueError, match="seeds, episodes"):
        seed_level_interval(np.zeros(5))
