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
    model_free,
    two_step_references,
    win_stay_lose_shift,
)
from metarl.evaluation.policy import FunctionalPolicy
from metarl.probes import two_step as probe
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
    lagged = probe.lagged_choice_regression(trials, lags=1)["reward_x_transition"][0]
    assert abs(stay_fit.value - lagged.value) < 0.5 * stay_fit.half_width
    lagged3 = probe.lagged_choice_regression(trials, lags=3)
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
