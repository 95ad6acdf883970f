"""One suite's summary: every number an Interval, paired against the checkpoint, one JSON form."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from metarl import reporting
from metarl.evaluation import statistics as st
from metarl.evaluation.summary import CHECKPOINT, ORACLE, RANDOM, summarize_suite
from metarl.interval import Interval

STEPS, EPISODES, SEEDS, ARMS = 10, 64, 3, 3


def _rollouts(rng, shape, optimal, oracle):
    actions = rng.integers(0, ARMS, shape)
    rewards = (rng.random(shape) < 0.3 + 0.4 * (actions == optimal)).astype(np.float32)
    info = {
        "optimal_action": np.broadcast_to(optimal, shape),
        "optimal_expected_reward": np.broadcast_to(oracle, shape),
        "regret": np.where(actions == optimal, 0.0, 0.4).astype(np.float32),
    }
    return SimpleNamespace(rewards=rewards, actions=actions, info=info)


@pytest.fixture(scope="module")
def suite():
    rng = np.random.default_rng(0)
    optimal = rng.integers(0, ARMS, (STEPS, EPISODES))
    oracle = np.full((STEPS, EPISODES), 0.7, np.float32)
    rollouts = {
        CHECKPOINT: _rollouts(rng, (SEEDS, STEPS, EPISODES), optimal, oracle),
        RANDOM: _rollouts(rng, (STEPS, EPISODES), optimal, oracle),
    }
    counts = st.bootstrap_counts(EPISODES, 200, 0)
    agents, curves, context = summarize_suite(rollouts, None, counts)
    return rollouts, agents, curves, context


def test_every_number_is_an_interval_paired_with_the_checkpoint(suite):
    rollouts, agents, _, _ = suite
    assert set(agents) == {
        CHECKPOINT,
        *(f"{CHECKPOINT}_seed{s}" for s in range(SEEDS)),
        RANDOM,
        ORACLE,
    }
    pooled = rollouts[CHECKPOINT].rewards.astype(np.float64).mean(axis=0).sum(axis=0)
    total = agents[CHECKPOINT]["total_reward"]
    assert isinstance(total, Interval) and total.value == pytest.approx(pooled.mean())
    assert total.low < total.value < total.high
    random_totals = rollouts[RANDOM].rewards.astype(np.float64).sum(axis=0)
    gap = agents[RANDOM]["checkpoint_minus_this"]
    assert gap.value == pytest.approx(pooled.mean() - random_totals.mean())
    assert "checkpoint_minus_this" not in agents[CHECKPOINT]
    for name, entry in agents[CHECKPOINT].items():
        if name not in ("recovery", "over_training_seeds"):
            assert isinstance(entry, Interval), name
    assert agents[ORACLE]["total_expected_reward"].value == pytest.approx(0.7 * STEPS)


def test_seed_intervals_and_the_json_form(suite):
    rollouts, agents, _, _ = suite
    seeds = agents[CHECKPOINT]["over_training_seeds"]["total_reward"]
    per_seed = rollouts[CHECKPOINT].rewards.astype(np.float64).sum(axis=1).mean(axis=1)
    value, low, high = st.seed_interval(per_seed)
    assert seeds == {"value": value, "low": low, "high": high, "seeds": SEEDS}
    data = json.loads(json.dumps(reporting.json_ready(agents)))
    entry = data[CHECKPOINT]["total_reward"]
    assert set(entry) == {"value", "low", "high"}
    assert Interval.from_json(entry) == agents[CHECKPOINT]["total_reward"]


def test_curves_carry_bands_and_episode_counts(suite):
    _, _, curves, context = suite
    assert context.layout.unit == "step" and context.events is None
    for name in (CHECKPOINT, RANDOM, *(f"{CHECKPOINT}_seed{s}" for s in range(SEEDS))):
        mean, low, high = (curves[f"{name}/reward/{k}"] for k in ("mean", "low", "high"))
        assert (
            mean.shape == (STEPS,) and np.all(low <= mean + 1e-12) and np.all(mean <= high + 1e-12)
        )
        assert np.all(curves[f"{name}/reward/episodes"] == EPISODES)
    assert f"{ORACLE}/reward/mean" in curves


def test_a_ceiling_reference_stands_for_the_oracle_where_the_env_has_none():
    """Rule-grid-like trials with no expected-reward oracle: in-context improvement is
    normalised by the named ceiling agent's gap over random, and absent without it."""
    rng = np.random.default_rng(1)
    trials, per_trial, episodes = 4, 5, 256
    trial = np.repeat(np.arange(trials), per_trial)[:, None] * np.ones((1, episodes), int)

    def agent(levels, shape=(trials * per_trial, episodes)):
        means = np.repeat(np.asarray(levels, float), per_trial)[:, None]
        rewards = (rng.random(shape) < means).astype(np.float32)
        info = {"trial": np.broadcast_to(trial, shape)}
        return SimpleNamespace(rewards=rewards, actions=np.zeros(shape, int), info=info)

    rollouts = {
        CHECKPOINT: agent([0.2, 0.4, 0.5, 0.6], (1, trials * per_trial, episodes)),
        RANDOM: agent([0.2] * trials),
        "told": agent([0.8] * trials),
    }
    counts = st.bootstrap_counts(episodes, 200, 0)
    without, _, _ = summarize_suite(rollouts, None, counts)
    assert "in_context_improvement" not in without[CHECKPOINT]
    agents, _, context = summarize_suite(rollouts, None, counts, ceiling="told")
    assert context.layout.unit == "trial"
    # (last-trial total - first-trial total) / (ceiling - random) per trial: (0.6-0.2)/(0.8-0.2).
    value = agents[CHECKPOINT]["in_context_improvement"]
    se = 1.0 / np.sqrt(episodes)  # per-episode improvement is ~0.5 in sd for these Bernoullis
    assert abs(value.value - 2 / 3) < 4 * se
    assert abs(agents[RANDOM]["in_context_improvement"].value) < 4 * se
    assert ORACLE not in agents  # the ceiling is an agent of its own, not the env's oracle
