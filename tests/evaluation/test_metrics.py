"""Learning-after-freeze metrics and bootstrap intervals against hand-computed arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metarl.evaluation import metrics
from metarl.evaluation import statistics as st


# ------------------------------------------------------------------ statistics
def test_bootstrap_counts_are_reproducible_resamples():
    counts = st.bootstrap_counts(7, num_resamples=50, seed=3)
    assert counts.shape == (50, 7)
    assert np.all(counts.sum(axis=1) == 7)  # each resample draws every episode slot once
    assert np.array_equal(counts, st.bootstrap_counts(7, num_resamples=50, seed=3))
    assert not np.array_equal(counts, st.bootstrap_counts(7, num_resamples=50, seed=4))


def test_resampled_means_weight_episodes_by_their_counts_and_skip_nan():
    counts = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    values = np.array([[1.0, 4.0, 10.0]])  # one curve point, three episodes
    np.testing.assert_allclose(st.resampled_means(values, counts), [[(2 + 4) / 3, 10.0]])
    with_gap = np.array([[1.0, np.nan, 10.0]])
    # Resample 0 holds episode 0 twice and the NaN once: the mean is over the two finite draws.
    np.testing.assert_allclose(st.resampled_means(with_gap, counts), [[1.0, 10.0]])
    all_gap = np.array([[np.nan, np.nan, 1.0]])
    out = st.resampled_means(all_gap, counts)
    assert math.isnan(out[0, 0]) and out[0, 1] == 1.0


def test_bootstrap_interval_matches_the_standard_error():
    # n = 2000 draws of sd 1: the 95% interval is 2 * 1.96 * sd / sqrt(n) wide, up to the
    # bootstrap's own noise (2000 resamples: about 3% relative error on the width).
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 1.0, 2000)
    mean, low, high = st.bootstrap_mean(values, st.bootstrap_counts(2000, 2000, seed=1))
    assert mean == pytest.approx(values.mean())
    expected_width = 2 * st.Z_95 * values.std(ddof=1) / np.sqrt(2000)
    assert (high - low) == pytest.approx(expected_width, rel=0.1)
    assert low < mean < high


def test_bootstrap_curve_of_constant_columns_has_no_width():
    values = np.tile(np.array([[1.0], [2.0], [3.0]]), (1, 5))
    mean, low, high = st.bootstrap_curve(values, st.bootstrap_counts(5, 100))
    np.testing.assert_array_equal(mean, [1, 2, 3])
    np.testing.assert_array_equal(low, [1, 2, 3])
    np.testing.assert_array_equal(high, [1, 2, 3])


def test_bootstrap_ratio_is_the_ratio_of_means():
    num = np.array([1.0, 2.0, 3.0, 6.0])
    den = np.array([2.0, 2.0, 2.0, 2.0])
    point, low, high = st.bootstrap_ratio(num, den, st.bootstrap_counts(4, 200))
    assert point == pytest.approx(3.0 / 2.0)
    assert 0.5 <= low <= point <= high <= 3.0


def test_seed_interval_uses_student_t():
    mean, low, high = st.seed_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t(0.975, 2 dof) * sd / sqrt(n)
    assert mean == 2.0
    assert low == pytest.approx(2.0 - half) and high == pytest.approx(2.0 + half)
    assert st.seed_interval([4.0]) == (4.0, None, None)


# --------------------------------------------------------------------- curves
def test_step_mean_optimal_action_and_cumulative_regret():
    actions = np.array([[0, 1], [1, 1], [2, 0]])  # [T=3, E=2]
    optimal = np.array([[0, 0], [1, 0], [1, 0]])
    indicator = metrics.optimal_action_indicator(actions, optimal)
    np.testing.assert_array_equal(indicator, [[1, 0], [1, 0], [0, 1]])
    np.testing.assert_allclose(metrics.step_mean(indicator), [0.5, 0.5, 0.5])
    regret = np.array([[0.5, 0.0], [0.25, 1.0], [0.0, 0.5]])
    np.testing.assert_allclose(
        metrics.cumulative_regret(regret), [[0.5, 0.0], [0.75, 1.0], [0.75, 1.5]]
    )


def test_trial_totals_sum_within_trials_and_mark_unreached_trials():
    rewards = np.array([[1.0, 0.0], [2.0, 5.0], [3.0, 1.0], [4.0, 1.0]])
    trial = np.array([[0, 0], [0, 1], [1, 1], [1, 1]])
    totals = metrics.trial_totals(rewards, trial, num_trials=3)
    np.testing.assert_array_equal(totals[:2], [[3.0, 0.0], [7.0, 7.0]])
    assert np.isnan(totals[2]).all()  # nobody reached trial 2


def test_trial_lengths_count_only_finished_trials():
    # Episode 0: trial 0 ends at step 1 (boundary), trial 1 runs to the episode end (unfinished).
    # Episode 1: trial 0 ends at step 0, trial 1 ends at step 3.
    trial = np.array([[0, 0], [0, 1], [1, 1], [1, 1]])
    boundary = np.array([[False, True], [True, False], [False, False], [False, True]])
    lengths = metrics.trial_lengths(trial, boundary, num_trials=2)
    assert lengths[0, 0] == 2 and lengths[0, 1] == 1
    assert np.isnan(lengths[1, 0]) and lengths[1, 1] == 3


def test_in_context_improvement_by_hand():
    # Two episodes of 10 steps; default windows are the first and the last step.
    values = np.zeros((10, 2))
    values[0] = [0.2, 0.6]
    values[9] = [0.8, 0.6]
    improvement = metrics.in_context_improvement(values, oracle=0.9, random=0.5)
    np.testing.assert_allclose(improvement, [(0.8 - 0.2) / 0.4, 0.0])
    explicit = metrics.in_context_improvement(values, 0.9, 0.5, early=(0, 2), late=(8, 10))
    np.testing.assert_allclose(explicit, [((0.8 + 0) / 2 - (0.2 + 0) / 2) / 0.4, 0.0])
    with pytest.raises(ValueError, match="non-zero"):
        metrics.in_context_improvement(values, 0.5, 0.5)


def test_default_windows_are_ten_percent_and_never_overlap():
    assert metrics.default_windows(100) == ((0, 10), (90, 100))
    assert metrics.default_windows(4) == ((0, 1), (3, 4))
    assert metrics.default_windows(1) == ((0, 1), (0, 1))


def test_area_between_curves_and_its_fraction_of_the_oracle():
    agent = np.array([[0.5, 0.7], [0.9, 0.9]])
    random = np.array([[0.5, 0.5], [0.5, 0.5]])
    oracle = np.array([[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(metrics.area_between(agent, random), [0.4, 0.6])
    assert metrics.area_fraction(agent, random, oracle) == pytest.approx(0.5 / 1.0)


# ------------------------------------------------------------------- recovery
def test_event_aligned_puts_the_first_changed_step_at_offset_zero():
    values = np.arange(8, dtype=float)[:, None] * np.ones((1, 3))  # value = step
    events = np.zeros((8, 3), bool)
    events[2, 0] = True  # change after step 2: step 3 is the first changed one
    events[6, 1] = True  # late change: the window runs past the episode end
    events[[3, 5], 0] = True  # later events of episode 0 are ignored (first event only)
    aligned = metrics.event_aligned(values, events, before=2, after=3)
    np.testing.assert_array_equal(aligned[:, 0], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(aligned[:3, 1], [5, 6, 7])
    assert np.isnan(aligned[3:, 1]).all()
    assert np.isnan(aligned[:, 2]).all()  # no event at all


def test_recovery_steps_by_hand():
    curve = np.array([1.0, 1.0, 0.0, 0.5, 0.96, 1.0])  # before = 2: pre-change level 1
    assert metrics.recovery_steps(curve, before=2) == 2  # 0.96 >= 0.9 * 1 at offset 2
    # Margin over a baseline of 0.5: 0.46 >= 0.9 * 0.5 at offset 2.
    assert metrics.recovery_steps(curve, before=2, baseline=0.5) == 2
    # Baseline 0.7: margins 0.3 before; 0.26 < 0.27 at offset 2, 0.3 at offset 3.
    assert metrics.recovery_steps(curve, before=2, baseline=0.7) == 3
    assert metrics.recovery_steps(curve, before=2, threshold=1.0) == 3
    # A baseline curve that moves with the change (random's reward under mirrored rules):
    # margins 0.5, 0.5 | 0.0, 0.3, 0.41, 0.5: 0.9 * 0.5 = 0.45 first met at offset 3.
    moving = np.array([0.5, 0.5, 0.0, 0.2, 0.55, 0.5])
    assert metrics.recovery_steps(curve, before=2, baseline=moving) == 3
    assert math.isnan(metrics.recovery_steps(curve[:4], before=2))  # never regained
    assert metrics.recovery_steps(np.array([1.0, 1.0, 0.95]), before=2) == 0  # no drop
    # A chance-level agent has nothing to regain: undefined rather than a lucky 0.
    flat = np.array([0.21, 0.21, 0.2, 0.2])
    assert math.isnan(metrics.recovery_steps(flat, before=2, baseline=0.2, min_margin=0.08))
    batch = np.stack([curve, np.r_[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]], axis=1)
    np.testing.assert_array_equal(metrics.recovery_steps(batch, before=2), [2, 0])


def test_recovery_time_of_identical_episodes_has_an_exact_interval():
    # 20 episodes, change after step 4; P(optimal) is 1 before, 0, 0, 0.5, then 1.
    performance = np.ones((12, 20))
    performance[5:8] = [[0.0], [0.0], [0.5]]
    events = np.zeros((12, 20), bool)
    events[4] = True
    out = metrics.recovery_time(
        performance, events, before=3, after=6, counts=st.bootstrap_counts(20, 100)
    )
    assert out["steps"] == 3 and out["low"] == 3 and out["high"] == 3
    assert out["recovered_fraction"] == 1.0 and out["episodes_with_event"] == 20
    assert out["pre_change"] == 1.0 and out["status"] == "regained"
    np.testing.assert_array_equal(out["curve"], [1, 1, 1, 0, 0, 0.5, 1, 1, 1])
    cut = metrics.recovery_time(
        performance, events, before=3, after=3, counts=st.bootstrap_counts(20, 100)
    )
    assert math.isnan(cut["steps"]) and cut["high"] == math.inf and cut["recovered_fraction"] == 0.0
    assert cut["status"] == "not regained within the window"
    # Measured against a baseline policy on the same episodes: the agent itself has no margin.
    same = metrics.recovery_time(performance, events, 3, 6, baseline=performance)
    assert same["status"] == "no margin over baseline" and math.isnan(same["steps"])


def test_recovery_margin_must_exceed_its_standard_error():
    # Pre-change margins over a baseline of 0.5: +0.1 in half the episodes, -0.06 in the
    # other half: mean 0.02, standard error 0.08 / sqrt(40 / 39 * 40) ~ 0.0127.
    rng = np.random.default_rng(0)
    performance = np.full((6, 40), 0.5)
    performance[:3] += np.where(rng.permutation(40) < 20, 0.1, -0.06)
    performance[3:] = 0.5 + 0.02  # back at the pre-change mean right away
    events = np.zeros((6, 40), bool)
    events[2] = True
    loose = metrics.recovery_time(performance, events, 3, 3, baseline=0.5)
    assert loose["steps"] == 0
    strict = metrics.recovery_time(performance, events, 3, 3, baseline=0.5, min_margin_se=3.0)
    assert strict["status"] == "no margin over baseline"
    assert strict["min_margin"] == pytest.approx(3 * 0.08 / np.sqrt(40) * np.sqrt(40 / 39))


def test_resampling_a_constant_curve_is_exact():
    # 0.74 has no exact float32 form; centring before the float32 product keeps it exact.
    values = np.full((2, 300), 0.74)
    mean, low, high = st.bootstrap_curve(values, st.bootstrap_counts(300, 50))
    np.testing.assert_allclose([mean, low, high], 0.74, rtol=1e-15)  # float64 rounding only
    assert np.array_equal(low, high)  # no width at all (float32 products gave ~1e-7)


def test_clustered_ols_counts_a_cluster_once():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = 1.0 + 2.0 * x + rng.normal(size=40)
    design = np.stack([np.ones_like(x), x], axis=1)
    coef, half = st.clustered_ols(design, y, np.arange(40))
    np.testing.assert_allclose(coef, np.linalg.lstsq(design, y, rcond=None)[0])
    # Every row twice in its own cluster: same estimate, same width (the copies are one cluster) ...
    twice = np.repeat(np.arange(40), 2)
    coef2, half2 = st.clustered_ols(design[twice], y[twice], twice)
    np.testing.assert_allclose(coef2, coef)
    np.testing.assert_allclose(half2, half)
    # ... while treating the copies as independent would shrink it by about sqrt(2).
    _, naive = st.clustered_ols(design[twice], y[twice], np.arange(80))
    np.testing.assert_allclose(half / naive, np.sqrt(2 * 79 / 80 * 40 / 39), rtol=1e-9)


def test_clustered_mean_is_an_interval_counting_a_cluster_once():
    values = np.array([0.0, 1.0, 1.0, 3.0, 5.0])
    single = st.clustered_mean(values, np.arange(5))
    # One observation per cluster: the usual z * sd / sqrt(n) interval.
    assert single.value == pytest.approx(2.0)
    assert single.half_width == pytest.approx(st.Z_95 * values.std(ddof=1) / np.sqrt(5))
    assert single.low < single.value < single.high
    doubled = st.clustered_mean(np.repeat(values, 2), np.repeat(np.arange(5), 2))
    assert doubled.value == pytest.approx(single.value)
    assert doubled.half_width == pytest.approx(single.half_width)
    assert math.isnan(st.clustered_mean(np.array([]), np.array([])).value)
