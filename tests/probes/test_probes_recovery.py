"""Recovery after a mid-episode ruleset change, on agents of known mechanism.

Simulated agents first (rewards of +-1 drawn per step at a known rate per trial, paired
with a random agent and a ceiling on the same episodes), so the recovery trial is known
exactly; then the rule grid's reference agents under the mirrored condition the probe
plays. Bounds are the bootstrap intervals of the sample in the test (fixed seeds).
"""

from __future__ import annotations

import functools

import jax
import metarl.envs as menvs
import numpy as np
import pytest

from metarl.evaluation.play import Player
from metarl.probes.recovery import RECOVERY_FRACTION, mirrored_overrides, recovery_analysis

TRIAL = 15
TRIALS = 4
CHANGE = 2 * TRIAL - 1  # the rewards are mirrored after the second trial
EPISODES = 256


def _rewards(rates, seed: int, noise: float = 0.05) -> np.ndarray:
    """[T, B] rewards: +1 (rate > 0) or -1 (rate < 0) with probability |rate| per step, given
    per trial (or per step), plus +-1 with probability ``noise`` (collections by chance)."""
    rng = np.random.default_rng(seed)
    rates = np.asarray(rates, float)
    per_step = np.repeat(rates, TRIAL) if rates.size == TRIALS else rates
    shape = (TRIALS * TRIAL, EPISODES)
    paid = np.where(rng.random(shape) < np.abs(per_step)[:, None], np.sign(per_step)[:, None], 0.0)
    chance = np.where(rng.random(shape) < noise, rng.choice([-1.0, 1.0], shape), 0.0)
    return paid + chance


RANDOM = _rewards([0, 0, 0, 0], seed=1)
CEILING = _rewards([0.3, 0.3, 0.25, 0.25], seed=2)  # a mirrored ruleset is poorer


def _analyse(rates, seed: int = 3, ceiling=CEILING):
    return recovery_analysis(_rewards(rates, seed), RANDOM, ceiling, CHANGE, TRIAL)


def test_a_learner_that_relearns_within_a_trial_recovers_in_the_second_trial():
    # Before: 0.25 of the ceiling's 0.3 (f = 0.83); after: 0.05 of 0.25 (a fifth of f), then
    # 0.2 of 0.25 (back to 96% of f).
    found = _analyse([0.15, 0.25, 0.05, 0.2])
    assert found.verdict == "recovers"
    assert found.pre_change.above(0.0)
    assert found.trials_to_recover.value == 2 and found.trials_to_recover.high == 2
    first, second = found.regained
    assert first.below(RECOVERY_FRACTION) and second.above(RECOVERY_FRACTION)
    # Windows inside the poor trial do not regain it; the first reaching into the good trial does.
    assert TRIAL < found.steps_to_recover.value <= TRIAL + found.window


def test_a_collector_whose_margin_flips_sign_does_not_recover():
    found = _analyse([0.1, 0.1, -0.1, -0.1])
    assert found.verdict == "does_not_recover"
    assert all(r.below(0.0) for r in found.regained)
    assert found.recovered_share == 0.0 and not np.isfinite(found.trials_to_recover.value)


def test_an_agent_unaffected_by_the_change_recovers_at_once():
    found = _analyse([0.3, 0.3, 0.25, 0.25])
    assert found.verdict == "recovers"
    assert found.trials_to_recover.value == 1 and found.steps_to_recover.value == found.window


def test_random_play_has_no_margin_to_regain():
    found = _analyse([0, 0, 0, 0], seed=4)
    assert found.verdict == "no_pre_change_margin"
    assert not found.pre_change.above(0.0)


def test_a_partial_recovery_below_the_fraction_is_not_a_recovery():
    # Back to a quarter of the pre-change fraction (0.05 of 0.25 against 0.25 of 0.3).
    found = _analyse([0.15, 0.25, 0.0, 0.05])
    assert found.verdict == "does_not_recover"
    assert found.regained[-1].below(RECOVERY_FRACTION)


def test_an_agent_exactly_at_the_recovery_fraction_is_undecided():
    # Pre-change f = 0.25 / 0.3; last trial f = RECOVERY_FRACTION * that: half the resamples
    # recover, half do not.
    last = RECOVERY_FRACTION * 0.25 / 0.3 * 0.25
    found = _analyse([0.15, 0.25, 0.0, last], seed=5)
    assert found.verdict == "undecided", found.recovered_share
    assert 0.025 < found.recovered_share < 0.975


def test_without_a_ceiling_the_raw_margin_is_regained():
    found = _analyse([0.1, 0.2, 0.05, 0.2], ceiling=None)
    assert found.verdict == "recovers" and found.trials_to_recover.value == 2
    # Raw margin over random: the pre-change trial's summed reward difference, mean over episodes.
    assert found.pre_change.value == pytest.approx(
        (_rewards([0.1, 0.2, 0.05, 0.2], 3) - RANDOM)[TRIAL : CHANGE + 1].sum(0).mean()
    )


def test_a_change_inside_a_trial_is_refused():
    with pytest.raises(ValueError, match="does not end an inner trial"):
        recovery_analysis(RANDOM, RANDOM, None, CHANGE - 3, TRIAL)


# ------------------------------------------------------------------ the reference agents

WORLD = dict(grid_size=7, objects_per_type=2, trial_length=TRIAL, num_trials=TRIALS)
"""The rule_grid_default world (3 types x 2 objects on a 5 x 5 interior), 16 training rulesets."""
REFERENCE_EPISODES = 256


@functools.cache
def _mirrored():
    """{agent: rewards [T, B]} and info of the references on held-out rulesets, mirrored."""
    from metarl.evaluation.baselines import random_policy
    from metarl.evaluation.baselines.rule_grid import rule_grid_references

    base = dict(WORLD, num_tasks=16, held_out_size=256)
    overrides, change = mirrored_overrides({**base, "split": "held_out"}, TRIALS * TRIAL, TRIAL)
    env, params = menvs.make("rule-grid-v0", **overrides)
    _, train = menvs.make("rule-grid-v0", **base)
    refs = {**rule_grid_references(params, train), "random": random_policy(4)}
    player = Player(env, REFERENCE_EPISODES, TRIALS * TRIAL)
    played = {
        name: player.play_policy(refs[name], params, jax.random.PRNGKey(0))
        for name in ("random", "oracle_planner", "ruleset_learner", "memoryless_collector")
    }
    return {name: p.rewards for name, p in played.items()}, played["random"].info, change


def test_the_mirrored_condition_reverses_the_rewards_once_at_the_trial_boundary():
    overrides, change = mirrored_overrides({"drift": "change_point", "hazard": 0.004}, 60, 15)
    assert change == CHANGE
    assert overrides == {"drift": "change_point+reversal", "hazard": 0.004, "reversal_steps": (29,)}
    assert mirrored_overrides({}, 15, 15) is None  # one trial: no before and after
    _, info, change = _mirrored()
    reversal = np.asarray(info["reversal"])
    assert reversal[change].all() and reversal.sum() == reversal.shape[1]
    assert np.asarray(info["trial_boundary"])[change].all()


def test_the_reference_learner_recovers_and_the_collector_does_not():
    rewards, _, change = _mirrored()
    ceiling = rewards["oracle_planner"]

    def analyse(name):
        return recovery_analysis(rewards[name], rewards["random"], ceiling, change, TRIAL)

    learner = analyse("ruleset_learner")
    assert learner.verdict == "recovers"
    # It loses the first trial after the mirror (it acts on what it believed), is back
    # within the first post-change trial in steps, and in the second trial by trials.
    assert learner.regained[0].below(RECOVERY_FRACTION)
    assert learner.trials_to_recover.value == 2 and learner.trials_to_recover.high == 2
    assert learner.steps_to_recover.high < TRIAL
    collector = analyse("memoryless_collector")
    # Collecting everything near pays a little on the prior's rulesets (it forces one good type)
    # and costs on their mirrors: its margin over random turns negative and stays there.
    assert collector.verdict in ("does_not_recover", "no_pre_change_margin")
    assert collector.trial_fraction[-1].below(0.0)
    assert collector.recovered_share < 0.025
