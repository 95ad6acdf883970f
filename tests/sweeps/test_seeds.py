"""Seed-level statistics: rliable's IQM and a stratified bootstrap over pool seeds."""

import numpy as np
import scipy.stats

from metarl.sweeps.seeds import iqm_interval, seed_verdict


def test_iqm_is_the_25_percent_trimmed_mean_of_all_runs():
    scores = np.random.default_rng(0).normal(size=(6, 2))
    estimate = iqm_interval(scores)
    assert np.isclose(estimate.value, scipy.stats.trim_mean(scores.ravel(), 0.25))
    assert estimate.low <= estimate.value <= estimate.high
    assert estimate.low < estimate.high


def test_the_bootstrap_resamples_within_each_pool():
    # Runs are constant within each pool seed (column): a stratified bootstrap only
    # ever redraws the same values per column, so the interval collapses onto the
    # IQM; a bootstrap that mixed the pools would spread.
    scores = np.array([[1.0, 5.0]] * 4)
    estimate = iqm_interval(scores)
    assert estimate.low == estimate.value == estimate.high == 3.0


def test_one_run_has_no_interval_and_nan_runs_are_dropped():
    assert not iqm_interval(np.array([[2.0]])).has_bounds
    with_nan = iqm_interval(np.array([[1.0], [np.nan], [3.0], [2.0]]))
    assert np.isclose(with_nan.value, scipy.stats.trim_mean([1.0, 3.0, 2.0], 0.25))


def test_verdict_needs_the_whole_interval_on_one_side():
    assert seed_verdict(iqm_interval(np.array([[1.0, 1.2], [1.1, 0.9]])), "up", "down") == "up"
    assert seed_verdict(iqm_interval(np.array([[-1.0], [1.0]])), "up", "down") == "undecided"
