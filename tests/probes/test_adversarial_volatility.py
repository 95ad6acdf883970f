"""The volatility probe's verdict against agents of known mechanism with swept nuisance parameters.

Fixed agents (a change-point Bayesian whose assumed hazard never changes, a Rescorla-Wagner
learner with a fixed rate) must never get ``beyond_fixed_references``, whatever their hazard,
rate, softmax temperature or action noise; the agent told each condition's hazard (hazard 0
when stable, the true 0.05 when volatile: it adapts) must get it, or the undecided
``not_beyond_fixed_references``, never ``slower_when_volatile``. Every agent stands in for the
checkpoint: it plays the probe's own conditions (the default bandit, 5 arms, 100 pulls, with
change-points at hazard 0.05 or none) on the same key as the probe's references, and the
probe's own fits, references and verdict rule judge it.

Grid (the slow test, 256 episodes, the probe's default): fixed-hazard Bayesians at hazards
0, 0.01, 0.05, 0.1, 0.2 x inverse temperature 1, 3, 10, 30, 100, greedy x action noise 0, 0.3
(60); fixed-rate Q-learners at rates 0.05, 0.1, 0.3, 0.5, 1 x inverse temperature 3, 30,
greedy x noise 0, 0.3 (30); the told-hazard agent at every temperature x noise (12): 102 agents.
Measured: 0 wrong verdicts; the 12 told-hazard agents all get beyond_fixed_references (+0.21 to
+0.30), the 90 fixed agents not_beyond_fixed_references (76) or slower_when_volatile (14, the
hazard-0 Bayesians and two noisy slow Q-learners). Against the earlier references (hazards 0 and
0.05 at inverse temperature 10) fixed Bayesians with a soft choice (inverse temperature 3) or
10-30% random actions, at hazards 0.01-0.05, got the adaptive verdict.
The fast test (128 episodes) plays the fixed agents that earned the adaptive verdict against the
probe's earlier references (hazards 0 and 0.05 at inverse temperature 10 only) and the adaptive one.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import pytest

from metarl.evaluation.baselines import change_point_bayesian, q_learning
from metarl.evaluation.baselines.nuisance import tempered_choice, with_action_noise
from metarl.evaluation.play import Player
from metarl.probes import volatility

NUM_ARMS, HORIZON = 5, 100
KEY = jax.random.PRNGKey(0)
SEED = 0
GREEDY = float("inf")
SETTING = {"num_arms": NUM_ARMS, "reward_scale": 1.0, "prior_a": 1.0, "prior_b": 1.0}
HAZARDS = (0.0, 0.01, 0.05, 0.1, 0.2)
INVERSE_TEMPERATURES = (1.0, 3.0, 10.0, 30.0, 100.0, GREEDY)
NOISES = (0.0, 0.3)
RATES = (0.05, 0.1, 0.3, 0.5, 1.0)
Q_INVERSE_TEMPERATURES = (3.0, 30.0, GREEDY)


@functools.cache
def _conditions():
    env, volatile = menvs.make(
        "bandit-bernoulli-v0",
        num_arms=NUM_ARMS,
        horizon=HORIZON,
        drift="change_point",
        hazard=volatility.VOLATILE_HAZARD,
    )
    return env, volatile.replace(drift=volatile.drift.replace(hazard=0.0)), volatile


@functools.cache
def _player(episodes: int) -> Player:
    return Player(_conditions()[0], episodes, HORIZON)


def _bayesian(args):
    """A change-point Bayesian assuming ``hazard``, softmax(beta) over its means, noise epsilon."""
    hazard, beta, noise = args
    inner = change_point_bayesian(NUM_ARMS, HORIZON, hazard, 1.0)
    return with_action_noise(tempered_choice(inner, beta), noise)


def _q_learner(args):
    rate, beta, noise = args
    inner = q_learning(NUM_ARMS, rate, inverse_temperature=1.0)
    return with_action_noise(tempered_choice(inner, beta), noise)


def _play(maker, args, condition: int, episodes: int):
    params = _conditions()[1 + condition]
    if args is None:
        return _player(episodes).play_policy(maker, params, KEY)
    return _player(episodes).play(maker, params, KEY, policy_args=args)


@functools.cache
def _references(episodes: int) -> dict:
    """The probe's references, fitted as the probe fits them (told-hazard included)."""
    comparisons = {
        name: volatility.agent_comparison(
            *(_play(maker, args, c, episodes) for c in (0, 1)), SETTING, SEED
        )
        for name, (maker, args) in volatility.reference_agents(SETTING, HORIZON).items()
    }
    comparisons["bayes_told_hazard"] = volatility.told_hazard_comparison(comparisons)
    return comparisons


def _judge(description: str, adaptive: bool, maker, stable_args, volatile_args, episodes: int):
    """One agent in the checkpoint's place: its verdict and whether that is wrong."""
    to_args = functools.partial(jnp.asarray, dtype=jnp.float32)
    pair = (
        _play(maker, to_args(stable_args), 0, episodes),
        _play(maker, to_args(volatile_args), 1, episodes),
    )
    agent = volatility.agent_comparison(*pair, SETTING, SEED)
    excess = volatility.excess_over_references(agent, _references(episodes))
    verdict = volatility.volatility_verdict(agent, excess).label
    right = ("beyond_fixed_references", "not_beyond_fixed_references") if adaptive else None
    wrong = verdict not in right if adaptive else verdict == "beyond_fixed_references"
    low, high = agent.difference_interval
    return {
        "agent": description,
        "verdict": verdict,
        "wrong": wrong,
        "detail": f"volatile - stable {agent.difference:+.3f} [{low:+.3f}, {high:+.3f}]",
    }


def _fixed_bayesian(hazard, beta, noise, episodes):
    args = (hazard, beta, noise)
    name = f"fixed hazard {hazard:g} beta {beta:g} noise {noise:g}"
    return _judge(name, False, _bayesian, args, args, episodes)


def _told_bayesian(beta, noise, episodes):
    name = f"told hazard beta {beta:g} noise {noise:g}"
    return _judge(
        name,
        True,
        _bayesian,
        (0.0, beta, noise),
        (volatility.VOLATILE_HAZARD, beta, noise),
        episodes,
    )


def _fixed_q_learner(rate, beta, noise, episodes):
    args = (rate, beta, noise)
    return _judge(
        f"q rate {rate:g} beta {beta:g} noise {noise:g}", False, _q_learner, args, args, episodes
    )


def _report(title: str, rows: list[dict]) -> int:
    wrong = [row for row in rows if row["wrong"]]
    counts = {v: sum(row["verdict"] == v for row in rows) for v in volatility.VERDICTS}
    print(f"\n{title}: {len(rows)} agents, {len(wrong)} wrong verdicts; verdicts {counts}")
    for row in rows:
        print(
            f"  {'WRONG ' if row['wrong'] else ''}{row['agent']}: {row['verdict']} {row['detail']}"
        )
    return len(wrong)


def test_fixed_agents_that_beat_the_earlier_references_are_not_beyond_the_probe_references():
    """Softer choice and action noise inflate a fixed Bayesian's difference (+0.09 to +0.10
    measured at 256 episodes, above the earlier hazard-0.05, inverse-temperature-10 reference's
    +0.06); the references over the hazard range at a soft choice hold them, and still leave
    room for the agent that adapts."""
    episodes = 128
    rows = [
        _fixed_bayesian(0.01, 3.0, 0.0, episodes),
        _fixed_bayesian(0.05, 10.0, 0.3, episodes),
        _fixed_q_learner(1.0, GREEDY, 0.3, episodes),
        _told_bayesian(10.0, 0.0, episodes),
    ]
    assert _report("volatility adversarial corners", rows) == 0
    assert rows[-1]["verdict"] == "beyond_fixed_references", rows[-1]


@pytest.mark.slow
def test_volatility_verdict_over_the_full_nuisance_grid():
    episodes = 256
    rows = [
        _fixed_bayesian(h, b, e, episodes)
        for h in HAZARDS
        for b in INVERSE_TEMPERATURES
        for e in NOISES
    ]
    rows += [
        _fixed_q_learner(a, b, e, episodes)
        for a in RATES
        for b in Q_INVERSE_TEMPERATURES
        for e in NOISES
    ]
    rows += [_told_bayesian(b, e, episodes) for b in INVERSE_TEMPERATURES for e in NOISES]
    assert len(rows) == 102
    assert _report("volatility adversarial grid", rows) == 0
