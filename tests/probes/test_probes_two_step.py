"""Two-step probe, validated on reference agents of known mechanism (Wang task, seed 0).

Bounds: the stay-probability interaction of 256 episodes x 99 trial pairs has a 95%
half-width of about 0.03 (SE 0.015); the regression coefficients about 0.04-0.1.
Literature bands are asserted on the point estimate, whose distance to the band's
edge is at least 3.5 SE at these sample sizes (measured values in the comments).
"""

from __future__ import annotations

import jax
import metarl.envs as menvs
import numpy as np
import pytest

from metarl.evaluation import EpisodeBatch, evaluate_policy
from metarl.evaluation.baselines.two_step import (
    hybrid,
    model_free,
    two_step_references,
    win_stay_lose_shift,
)
from metarl.evaluation.policy import FunctionalPolicy
from metarl.interval import Interval
from metarl.probes import two_step as probe
from metarl.probes import two_step_fit, two_step_verdict
from metarl.probes.thinking import thinking_curve

EPISODES = 256
STEPS = 200  # 100 trials, the registered episode length
KEY = jax.random.PRNGKey(0)


@pytest.fixture(scope="module")
def wang():
    return menvs.make("two-step-v0")


@pytest.fixture(scope="module")
def hybrids(wang):
    # (model-based weight, learning rate, beta) of every Daw-hybrid agent here, references
    # included: one vmapped program (one compile) for all of them.
    env, params = wang
    grid = {
        probe.reference_name(rate, beta): (0.0, rate, beta)
        for rate in probe.DEFAULT_REFERENCE_LEARNING_RATES
        for beta in probe.DEFAULT_REFERENCE_BETAS
    }
    agents = {
        "model_based": (1.0, 0.5, 5.0),
        "model_free_lr0.5": (0.0, 0.5, 5.0),
        # Not on the reference grid: the verdict must not need an exact twin.
        "model_free_lr0.4_beta7": (0.0, 0.4, 7.0),
        # beta = 0: uniform choices, a negative control.
        "random": (0.0, 0.5, 0.0),
    }
    analyses = probe.simulate_hybrid_agents(env, params, KEY, EPISODES, STEPS, {**grid, **agents})
    return {name: analyses[name] for name in grid}, {name: analyses[name] for name in agents}


@pytest.fixture(scope="module")
def references(hybrids):
    return hybrids[0]


@pytest.fixture(scope="module")
def analyses(wang, hybrids):
    env, params = wang
    result = dict(hybrids[1])
    wsls = win_stay_lose_shift(noise=0.05)
    result["win_stay_lose_shift"] = probe.analyze_batch(
        probe.run_batch(wsls, env, params, KEY, EPISODES, STEPS)
    )
    return result


def test_interaction_in_stay_probability_matches_the_reference_values(analyses, references):
    mb = analyses["model_based"].stay_interaction
    mf = analyses["model_free_lr0.5"].stay_interaction
    # Issue: model-based near +0.9 (measured 0.844 +- 0.031), model-free TD +0.1..+0.35
    # depending on its learning rate (measured 0.296 +- 0.028 at lr 0.5).
    assert mb.half_width < 0.05 and mf.half_width < 0.05
    assert 0.75 < mb.value < 1.0, mb
    assert 0.1 < mf.value < 0.35, mf
    for name in ("model_free_lr0.5_beta5", "model_free_lr0.9_beta5"):
        value = references[name].stay_interaction.value
        assert 0.0 < value < 0.35, (name, value)  # measured 0.296 +- 0.027, 0.086 +- 0.023
    # The model-free interaction falls with the learning rate (Akam et al. 2015).
    assert (
        references["model_free_lr0.9_beta5"].stay_interaction.high
        < references["model_free_lr0.5_beta5"].stay_interaction.low
    )
    # And the model-based one is far above every model-free reference's.
    assert all(mb.low > 0.3 + r.stay_interaction.high for r in references.values())


def test_stay_pattern_of_each_mechanism(analyses):
    mb, mf, wsls = (
        analyses[n].stay for n in ("model_based", "model_free_lr0.5", "win_stay_lose_shift")
    )
    # Model-based: stays after rewarded-common and unrewarded-rare, switches more otherwise.
    assert mb["rewarded_common"].low > mb["rewarded_rare"].high
    assert mb["unrewarded_rare"].low > mb["unrewarded_common"].high
    # Model-free: stays after reward whatever the transition more than after no reward.
    assert min(mf["rewarded_common"].low, mf["rewarded_rare"].low) > max(
        mf["unrewarded_common"].high, mf["unrewarded_rare"].high
    )
    # WSLS with 5% noise stays with probability 0.975 after reward and 0.025 after none.
    for name, expected in (
        ("rewarded_common", 0.975),
        ("rewarded_rare", 0.975),
        ("unrewarded_common", 0.025),
    ):
        assert abs(wsls[name].value - expected) < 2.55 * wsls[name].half_width + 1e-3, (
            name,
            wsls[name],
        )


def test_regression_indices(analyses):
    mb, mf = analyses["model_based"], analyses["model_free_lr0.5"]
    # The model-based index is the interaction; the model-free index the reward effect.
    assert mb.model_based_index.low > mf.model_based_index.high  # measured 1.06 vs 0.50
    assert mf.model_free_index.low > 0.5  # measured 0.95 +- 0.05
    assert abs(mb.model_free_index.value) < mb.model_free_index.half_width * 2.55
    assert analyses["win_stay_lose_shift"].model_free_index.low > 2.0  # measured 3.6


def test_verdict_is_relative_to_simulated_model_free_agents(analyses, references):
    verdict = {name: probe.two_step_verdict(a, references).label for name, a in analyses.items()}
    assert verdict["model_based"] == "model-based"
    assert verdict["model_free_lr0.5"] == "model-free"
    assert verdict["model_free_lr0.4_beta7"] == "model-free"
    assert verdict["win_stay_lose_shift"] == "model-free"
    assert verdict["random"] != "model-based"
    # Against zero the model-free agent would pass as model-based: that is the trap.
    assert analyses["model_free_lr0.5"].model_based_index.low > 0
    with pytest.raises(ValueError):
        probe.two_step_verdict(analyses["model_based"], {})


def test_logistic_fit_of_a_saturated_design_recovers_the_cell_logits():
    # With the four conditions as a full factorial, the MLE reproduces each cell's stay
    # frequency: b_rt = [logit(RC) - logit(RR) - logit(UC) + logit(UR)] / 4.
    rng = np.random.default_rng(0)
    probs = {(1, 1): 0.9, (1, -1): 0.4, (-1, 1): 0.3, (-1, -1): 0.7}
    rows, outcomes, clusters = [], [], []
    for (r, t), p in probs.items():
        n = 4000
        stays = rng.random(n) < p
        rows += [[1.0, r, t, r * t]] * n
        outcomes.append(stays)
        clusters.append(rng.integers(0, 200, n))
    outcome = np.concatenate(outcomes)
    coef, half = probe.fit_logistic(np.array(rows), outcome, np.concatenate(clusters))
    cell = {}
    for i, key in enumerate(probs):
        frequency = outcomes[i].mean()
        cell[key] = np.log(frequency / (1 - frequency))
    expected_rt = (cell[(1, 1)] - cell[(1, -1)] - cell[(-1, 1)] + cell[(-1, -1)]) / 4
    assert abs(coef[3] - expected_rt) < 2e-3
    assert np.all(half > 0) and np.all(half < 0.1)


def test_stay_probabilities_on_a_hand_made_record():
    # One column, trials: a1 = 0,0,1,1,1; transitions and rewards chosen by hand.
    trials = probe.TwoStepTrials(
        first_action=np.array([[0], [0], [1], [1], [1]]),
        common=np.array([[True], [False], [True], [True], [False]]),
        rewarded=np.array([[True], [True], [False], [True], [False]]),
        episode_first=np.array([[True], [False], [False], [False], [False]]),
    )
    # Pairs: (RC -> stay), (RR -> switch), (UC -> stay), (RC -> stay).
    stay, interaction = probe.stay_probabilities(trials)
    assert stay["rewarded_common"].value == 1.0
    assert stay["rewarded_rare"].value == 0.0
    assert stay["unrewarded_common"].value == 1.0
    assert np.isnan(stay["unrewarded_rare"].value)
    assert np.isnan(interaction.value)


def test_trials_read_from_observations_match_the_env_state(wang, analyses):
    # The probe reads the transition type off the second-stage observation; check it
    # against the env's own record (the state before each second-stage action).
    env, params = wang
    inner = model_free(learning_rate=0.5, beta=5.0)

    def act(carry, inputs, key):
        carry, action, _ = inner.act(carry, inputs, key)
        state = inputs.privileged_state
        return carry, action, {"common": state.transition_common, "a1": state.first_stage_action}

    spy = FunctionalPolicy(init_carry_fn=inner.init_carry, act_fn=act, num_actions=2)
    batch = jax.jit(
        lambda k: evaluate_policy(
            spy, env, params, k, EPISODES, STEPS, record_extras=True, record_observations=True
        )
    )(KEY)
    trials = probe.trials_from_batch(batch)
    np.testing.assert_array_equal(trials.common, np.asarray(batch.extras["common"])[1::2])
    np.testing.assert_array_equal(trials.first_action, np.asarray(batch.extras["a1"])[1::2])
    # The vmapped hybrid grid is the same agent as the public constructor.
    alone = probe.analyze_trials(trials)
    vmapped = analyses["model_free_lr0.5"]
    assert abs(alone.stay_interaction.value - vmapped.stay_interaction.value) < 1e-9
    assert abs(alone.model_based_index.value - vmapped.model_based_index.value) < 1e-6
    # The lag-1 choice regression agrees with the stay regression (up to the side bias).
    stay_fit = probe.stay_regression(trials)["reward_x_transition"]
    lagged = two_step_fit.lagged_choice_regression(trials, lags=1)["reward_x_transition"][0]
    assert abs(stay_fit.value - lagged.value) < 0.5 * stay_fit.half_width
    lagged3 = two_step_fit.lagged_choice_regression(trials, lags=3)
    assert len(lagged3["reward"]) == 3
    # A model-free learner's reward effect decays with the lag.
    assert lagged3["reward"][0].value > lagged3["reward"][2].high


def test_trials_split_episodes_and_prefer_recorded_info():
    # Two episodes of 3 trials in one column; info carries the transition type.
    actions = np.array([0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0])[:, None]
    rewards = np.array([0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1], np.float32)[:, None]
    common = np.array([1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1], bool)[:, None]
    trial = np.repeat([0, 1, 2, 0, 1, 2], 2)[:, None]
    batch = EpisodeBatch(
        actions=actions,
        rewards=rewards,
        info={"transition_common": common, "trial": trial},
        extras={},
    )
    trials = probe.trials_from_batch(batch)
    np.testing.assert_array_equal(trials.first_action[:, 0], [0, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(trials.rewarded[:, 0], [True, False, True, True, False, True])
    np.testing.assert_array_equal(trials.common[:, 0], [True, False, True, True, False, True])
    np.testing.assert_array_equal(
        trials.episode_first[:, 0], [True, False, False, True, False, False]
    )
    # Pairs inside episodes only: (RC, stay), (UR, switch) twice. Pairing trial 2 (RC, a1 = 1)
    # with the next episode's first trial (a1 = 0) would add an RC switch.
    stay, _ = probe.stay_probabilities(trials)
    assert stay["rewarded_common"].value == 1.0
    assert stay["unrewarded_rare"].value == 0.0
    assert probe.analyze_trials(trials).num_transitions == 4
    with pytest.raises(ValueError):
        probe.trials_from_batch(EpisodeBatch(actions=actions, rewards=rewards, info={}, extras={}))


def test_references_and_wsls_gains_nothing_from_thinking(wang):
    env, params = wang
    refs = two_step_references(params)
    assert set(refs) == {"model_based", "model_free", "win_stay_lose_shift"}
    curve = thinking_curve(
        refs["win_stay_lose_shift"], env, params, KEY, ks=(0, 1, 4), num_episodes=64
    )
    # Paired on identical episodes: every K plays exactly the same, so the gain is 0 inside its interval.
    assert np.all(np.abs(curve.return_gain) <= curve.return_gain_half_width)
    np.testing.assert_array_equal(curve.return_mean, curve.return_mean[0])
    assert np.all(curve.return_half_width > 0)


# ------------------------------------------------------------------ the fitted hybrid model


def test_the_fitted_model_is_the_reference_agent(wang):
    # The likelihood replays the library's hybrid agent exactly: its logits equal the
    # agent's own (from the values it chose with, recorded as extras), every trial of
    # every episode, with every parameter away from its default.
    env, params = wang
    truth = {
        "w": 0.4,
        "learning_rate": 0.3,
        "trace_decay": 0.6,
        "beta_first": 4.0,
        "beta_second": 2.5,
        "perseveration": 0.7,
    }
    policy = hybrid(
        truth["w"],
        learning_rate=truth["learning_rate"],
        beta=truth["beta_first"],
        trace_decay=truth["trace_decay"],
        perseveration=truth["perseveration"],
        second_stage_beta=truth["beta_second"],
    )
    batch = jax.jit(
        lambda k: evaluate_policy(policy, env, params, k, 32, STEPS, record_extras=True)
    )(KEY)
    trials = two_step_fit.trials_from_batch(batch)
    data = two_step_fit.ChoiceData.from_trials(trials)
    vector = np.array([truth[name] for name in two_step_fit.PARAMETERS], np.float32)
    first, second = (np.asarray(x) for x in two_step_fit.choice_logits(vector, data, 0.8))
    q_first = np.asarray(batch.extras["q_first"])[0::2]
    previous = np.concatenate([np.zeros((1, 32)), 2.0 * trials.first_action[:-1] - 1.0])
    previous[trials.episode_first] = 0.0
    expected_first = truth["beta_first"] * (q_first[..., 1] - q_first[..., 0])
    expected_first += truth["perseveration"] * previous
    q_reached = np.take_along_axis(
        np.asarray(batch.extras["q_second"])[1::2], trials.second_state[..., None, None], axis=2
    )[:, :, 0]
    expected_second = truth["beta_second"] * (q_reached[..., 1] - q_reached[..., 0])
    np.testing.assert_allclose(first, expected_first, atol=1e-5)
    np.testing.assert_allclose(second, expected_second, atol=1e-5)


@pytest.fixture(scope="module")
def hybrid_fit(wang):
    # A half model-based agent with perseveration: neither restriction is true.
    env, params = wang
    policy = hybrid(0.5, learning_rate=0.5, beta=5.0, perseveration=0.3)
    trials = probe.trials_from_batch(probe.run_batch(policy, env, params, KEY, EPISODES, STEPS))
    return trials, two_step_fit.fit_two_step(trials, 0.8)


def test_the_fit_recovers_a_hybrid_agent(hybrid_fit):
    from scipy import stats

    trials, fit = hybrid_fit
    # The profile interval covers the true w (measured 0.516 [0.488, 0.539]) and excludes both
    # restrictions, which the likelihood ratios reject.
    assert fit.w.low < 0.5 < fit.w.high, fit.w
    assert 0.0 < fit.w.low and fit.w.high < 1.0
    assert fit.prefers_hybrid_over("model_free") and fit.prefers_hybrid_over("model_based")
    assert fit.models["hybrid"].bic < min(fit.models[n].bic for n in ("model_free", "model_based"))
    # The optimiser found the maximum: at least the true parameters' likelihood, and by
    # no more than Wilks allows for 6 fitted parameters (chi-square(6), 0.999 quantile;
    # measured 3.1). The 0.05 below 0 is the float32 sum's resolution at 10^4 nats.
    truth = np.array([0.5, 0.5, 1.0, 5.0, 5.0, 0.3])
    data = two_step_fit.ChoiceData.from_trials(trials)
    at_truth = float(two_step_fit.log_likelihood(truth, data, 0.8).sum())
    gain = 2.0 * (fit.models["hybrid"].log_likelihood - at_truth)
    assert -0.05 < gain < stats.chi2.ppf(0.999, 6), gain


def test_the_profile_interval_of_a_quadratic_profile_is_exact():
    # statistic = ((w - 0.3) / 0.1)^2: the critical value 3.84 is crossed at 0.3 +- 0.196,
    # and interpolation in sqrt(statistic) is exact for it on any grid.
    grid = np.array([0.0, 0.05, 0.15, 0.35, 0.6, 0.9, 1.0])
    statistic = ((grid - 0.3) / 0.1) ** 2
    interval = two_step_fit.profile_interval(0.3, grid, statistic, 1.959964**2)
    assert abs(interval.low - 0.1040036) < 1e-6 and abs(interval.high - 0.4959964) < 1e-6
    # Inside at the grid's ends: the interval stops there.
    flat = two_step_fit.profile_interval(0.5, grid, np.zeros_like(grid), 3.84)
    assert (flat.low, flat.high) == (0.0, 1.0)


def test_the_prediction_interval_covers_a_new_draw_at_its_level():
    # 20 simulations and the agent's own draw, exchangeable: the new draw lies under the
    # upper bound with probability 0.975. 4000 repetitions: SE sqrt(.975 .025 / 4000) =
    # 0.0025; mean + 1.96 sd, without the t quantile and sqrt(1 + 1/n), would cover
    # 0.9645 (4 SE short).
    rng = np.random.default_rng(0)
    repetitions, samples = 4000, 20
    draws = rng.normal(size=(repetitions, samples + 1))
    covered = [draw[-1] <= two_step_verdict.prediction_interval(draw[:-1]).high for draw in draws]
    assert abs(np.mean(covered) - 0.975) < 3 * np.sqrt(0.975 * 0.025 / repetitions)


def _fit_with(w: Interval, model_free: float, null: float) -> two_step_fit.TwoStepFit:
    critical = {"model_free": 3.84, "model_based": 5.99, "null": 7.81}
    return two_step_fit.TwoStepFit(
        models={},
        w=w,
        profile_w=np.zeros(0),
        profile_statistic=np.zeros(0),
        likelihood_ratio={"model_free": model_free, "model_based": 0.0, "null": null},
        critical=critical,
        num_choices=1000,
    )


def test_the_w_range_of_simulations_is_a_distribution_free_prediction_interval():
    # A 21st exchangeable draw lies outside the range of 20 with probability 2 / 21, whatever
    # the distribution: here one piled at 0 (most model-free data sets give w = 0 exactly).
    # 4000 repetitions: SE sqrt(.095 .905 / 4000) = 0.0046.
    rng = np.random.default_rng(1)
    repetitions = 4000
    draws = np.maximum(rng.normal(-0.5, 0.3, size=(repetitions, 21)), 0.0)
    draws += rng.uniform(
        0.0, 1e-9, size=draws.shape
    )  # break the ties at 0, as a fit's rounding does
    outside = [
        not (bounds.low <= draw[-1] <= bounds.high)
        for draw in draws
        for bounds in [two_step_verdict.w_bounds(draw[:-1])]
    ]
    assert abs(np.mean(outside) - 2 / 21) < 3 * np.sqrt((2 / 21) * (19 / 21) / repetitions)
    assert two_step_verdict.w_bounds(draws[0, :-1]).level == pytest.approx(19 / 21)


def test_the_fitted_verdict_needs_both_tests_for_model_based():
    simulated = np.linspace(0.4, 0.6, 20)  # index: mean 0.5, prediction bound +0.63
    model_free_w = {"model_free": np.linspace(0.0, 0.1, 20)}  # w of model-free simulations
    model_based_w = {"model_based": np.linspace(0.9, 1.0, 20)}
    strong_w = _fit_with(Interval(0.9, 0.6, 1.0), model_free=50.0, null=100.0)
    low_w = _fit_with(Interval(0.0, 0.0, 0.1), model_free=0.5, null=100.0)
    above, within = Interval(0.9, 0.85, 0.95), Interval(0.55, 0.5, 0.6)
    verdict = two_step_verdict.fitted_verdict
    assert verdict(strong_w, above, simulated, model_free_w).label == "model-based"
    # Either test alone is what a model-free agent can show: no verdict.
    assert verdict(strong_w, within, simulated, model_based_w).label == "undecided"
    assert verdict(low_w, above, simulated, model_free_w).label == "undecided"
    assert verdict(low_w, within, simulated, model_based_w).label == "model-free"
    # w's interval must clear the simulations' range, not a fixed line: above 0.5 but within
    # what model-free simulations at the agent's temperature show is no evidence.
    wide_free = {"model_free": np.linspace(0.0, 0.7, 20)}
    assert verdict(strong_w, above, simulated, wide_free).label == "undecided"
    # Without the simulations a comparison needs, no verdict rests on it.
    assert verdict(strong_w, above, simulated, {}).label == "undecided"
    assert verdict(low_w, within, simulated, {}).label == "undecided"
    # w = 0 not rejected but the data leave w up to 0.8: model-free only if model-based
    # simulations at the agent's temperature never come that low.
    vague = _fit_with(Interval(0.0, 0.0, 0.8), model_free=0.5, null=100.0)
    assert verdict(vague, within, simulated, model_based_w).label == "model-free"
    soft_based = {"model_based": np.linspace(0.5, 1.0, 20)}
    assert verdict(vague, within, simulated, soft_based).label == "undecided"
    # No learned value detected in first-stage choices: random, or a learner too weak to see.
    random = _fit_with(Interval(0.0, 0.0, 1.0), model_free=0.0, null=1.0)
    assert verdict(random, within, simulated, model_based_w).label == "undecided"
    assert verdict(random, above, simulated, model_free_w).label == "undecided"


def test_only_the_w_simulations_the_verdict_can_use_are_fitted():
    needed = two_step_verdict.w_references_needed
    strong_w = _fit_with(Interval(0.9, 0.6, 1.0), model_free=50.0, null=100.0)
    low_w = _fit_with(Interval(0.0, 0.0, 0.1), model_free=0.5, null=100.0)
    # The index decides which verdict is still possible, hence which simulations matter.
    assert needed(strong_w, True) == ("model_free",)
    assert needed(low_w, False) == ("model_based",)
    # A lower bound of 0 lies above no model-free w; w = 0 rejected, or an interval up to 1,
    # leaves no model-free verdict; no value-driven choice, no verdict at all.
    assert needed(low_w, True) == ()
    assert needed(strong_w, False) == ()
    assert needed(_fit_with(Interval(0.3, 0.0, 1.0), model_free=0.5, null=100.0), False) == ()
    assert needed(_fit_with(Interval(0.9, 0.6, 1.0), model_free=50.0, null=1.0), True) == ()


# The hybrid's w on the 20 data sets of that agent's fitted model-free model (key 3).
GREEDY_DAW_W = (0.0,) * 12 + (2.7e-6, 1.41e-5, 3.26e-5, 7.58e-5, 7.66e-5, 1.60e-3, 2.12e-3, 3.49e-3)


def test_w_excluding_zero_is_not_enough_for_model_based():
    # The greedy model-free SARSA(1) agent (lr 1, beta 100) on the Daw task, key 3: w = 0
    # rejected (likelihood ratio 4.19 > 3.84), and its index 0.196 above the fitted model-free
    # simulations' (mean 0.173, sd 0.010, bound 0.195): both 95% tests failed together,
    # since both read the same stay pattern. Its w interval does not clear what the fitted
    # model-free model's own simulations give (measured: up to 0.0035, ``GREEDY_DAW_W``).
    fit = _fit_with(Interval(0.005, 0.0001, 0.020), model_free=4.19, null=11744.6)
    rng = np.random.default_rng(0)
    simulated = 0.173 + 0.010 * rng.standard_normal(20)
    simulated = 0.173 + (simulated - simulated.mean()) / simulated.std(ddof=1) * 0.010
    index = Interval(0.196, 0.176, 0.216)
    model_free_w = {"model_free": np.array(GREEDY_DAW_W)}
    verdict = two_step_verdict.fitted_verdict(fit, index, simulated, model_free_w)
    assert verdict.checks["w_above_zero"] and verdict.checks["index_above_model_free"]
    assert not verdict.checks["w_above_model_free"]
    assert verdict.label == "undecided"


def test_the_fitted_verdict_of_wsls_and_random_choices(wang):
    # WSLS repeats rewarded choices whatever the transition: model-free in kind (the fit:
    # lr 1, w 0). Uniform choices follow no value: no verdict either way.
    env, params = wang
    labels = {}
    for name, policy in (
        ("win_stay_lose_shift", win_stay_lose_shift(noise=0.05)),
        ("random", hybrid(0.0, learning_rate=0.5, beta=0.0)),
    ):
        trials = probe.trials_from_batch(probe.run_batch(policy, env, params, KEY, EPISODES, STEPS))
        index = probe.stay_regression(trials)["reward_x_transition"]
        labels[name] = probe.judge_by_fit(trials, index, env, params, KEY, STEPS)["verdict"].label
    assert labels == {"win_stay_lose_shift": "model-free", "random": "undecided"}
