"""wang_two_step and wang_volatility: their claim rules, their measures' parts, their specs.

The rules get synthetic summaries reaching every status they can give. The block
measure's fit is checked on agents of known mechanism played on the blocked bandit: a
Rescorla-Wagner learner told the block (rate 0.1 in stable blocks, 0.6 in volatile
ones) must come out faster when volatile, its volatile rate near the truth (its stable
one pulled up by values learnt in earlier volatile blocks); one fixed rate must not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest

from metarl.evaluation.play import Player
from metarl.evaluation.policy import FunctionalPolicy
from metarl.probes.volatility import bootstrap_weights
from metarl.reproduce import NOT_REPRODUCED, PARTLY, REPRODUCED, two_step_table, volatility_blocks
from metarl.reproduce.registry import load_reproduction, reproduction_files
from metarl.reproduce.runner import prepare


def _module(name):
    from metarl.experiments import load_experiment_module

    return load_experiment_module(str(reproduction_files()[name]))


def _interval(value, low, high):
    return {"value": value, "low": low, "high": high}


# ------------------------------------------------------------------ wang_two_step
def _row(verdict, index=1.0, stay=(0.95, 0.6, 0.6, 0.9)):
    return {
        "verdict": verdict,
        "model_based_index": _interval(index, index - 0.2, index + 0.2),
        "fitted_model_free_index": _interval(0.4, 0.3, 0.5),
        "stay_interaction": _interval(0.65, 0.6, 0.7),
        "w": _interval(0.7, 0.6, 0.8),
        "stay": dict(zip(two_step_table.CONDITIONS, stay, strict=True)),
    }


MB, MF, UN = "model-based", "model-free", "undecided"


@pytest.mark.parametrize(
    "verdicts, status",
    [
        ([MB] * 8, REPRODUCED),
        ([MB] * 6 + [MF, UN], REPRODUCED),  # the stated rule: at least 6 of 8
        ([MB] * 5 + [MF] * 3, PARTLY),
        ([MB] + [UN] * 7, PARTLY),
        ([MF] * 4 + [UN] * 4, NOT_REPRODUCED),
        ([MB] * 12 + [MF] * 4, REPRODUCED),  # 16 seeds (the pod variant): three quarters
        ([MB] * 11 + [MF] * 5, PARTLY),
    ],
)
def test_wang_two_step_rule(verdicts, status):
    module = _module("wang_two_step")
    summary = {"verdicts": verdicts, "per_seed": [_row(v) for v in verdicts]}
    result = module.model_based_in_most_seeds({module.SETTING: summary})
    assert result.status == status, result.reason
    assert f"{verdicts.count(MB)} of {len(verdicts)}" in result.reason and "+1.00" in result.reason


def _reference_summary():
    stay = {c: _interval(0.5, 0.45, 0.55) for c in two_step_table.CONDITIONS}
    agents = {
        name: {"model_based_index": _interval(value, value - 0.1, value + 0.1), "stay": stay}
        for name, value in (("model_based", 1.0), ("mf_a", 0.3), ("mf_b", 0.6))
    }
    return {"results": {"agents": agents, "model_free_references": ["mf_a", "mf_b"]}}


def test_two_step_summary_averages_seeds_and_names_the_strongest_model_free_agent():
    rows = [_row(MB, 1.0, (0.9, 0.5, 0.6, 0.8)), _row(MF, 0.2, (0.7, 0.7, 0.4, 0.4))]
    summary = two_step_table.summarize(rows, _reference_summary())
    assert summary["model_based_seeds"] == 1 and summary["verdict_counts"] == {MB: 1, MF: 1}
    rc = summary["stay_mean"]["rewarded_common"]
    assert rc.value == pytest.approx(0.8) and rc.low < 0.8 < rc.high  # Student t over 2 seeds
    assert summary["strongest_model_free"] == "mf_b"
    assert set(summary["table"]) == {"checkpoint", "model_based", "mf_b"}
    assert summary["table"]["checkpoint"].value == pytest.approx(0.6)


def test_two_step_figure_draws_bars_and_seed_indices(tmp_path):
    from metarl.reporting import json_ready

    rows = [_row(MB), _row(MB, 0.8), _row(UN, 0.1, (0.6, 0.6, 0.5, 0.5))]
    summary = json_ready(two_step_table.summarize(rows, _reference_summary()))
    report = {
        "reproduction": "wang_two_step",
        "variant": "cpu",
        "status": PARTLY,
        "source": "synthetic",
        "settings": [{"name": "two_step", "label": "synthetic"}],
        "measured": {"two_step": summary},
    }
    paths = two_step_table.plot(report, tmp_path)
    assert {p.suffix for p in paths} == {".png", ".pdf"} and all(p.stat().st_size for p in paths)


# ------------------------------------------------------------------ wang_volatility's measure
HAZARDS = (0.0, 0.2)
BLOCK = 25
HORIZON = 100
EPISODES = 256


def told_rescorla_wagner(rates, inverse_temperature=8.0) -> FunctionalPolicy:
    """Rescorla-Wagner with the rate of the block in force (privileged: reads the env state's
    block, nothing else); ``rates`` per block type."""
    rates = jnp.asarray(rates, jnp.float32)

    def act(values, inputs, key):
        values = jnp.where(inputs.episode_start[:, None], 0.5, values)
        pulled = jax.nn.one_hot(inputs.prev_action, 2) * (inputs.prev_action >= 0)[:, None]
        alpha = rates[inputs.privileged_state.block][:, None]
        values = values + alpha * pulled * (inputs.prev_reward[:, None] - values)
        action = jax.random.categorical(key, inverse_temperature * values)
        return values, action.astype(jnp.int32), {}

    return FunctionalPolicy(
        init_carry_fn=lambda batch: jnp.full((batch, 2), 0.5), act_fn=act, num_actions=2
    )


@pytest.fixture(scope="module")
def blocked_bandit():
    env, params = menvs.make(
        "bandit-dependent-v0", horizon=HORIZON, block_hazards=HAZARDS, block_length=BLOCK
    )
    key = jax.random.PRNGKey(4)
    # The episode record keeps the block of each pull (RECORDED_INFO), whoever plays.
    played = Player(env, EPISODES, HORIZON).play_policy(
        told_rescorla_wagner((0.3, 0.3)), params, key
    )
    labels = np.asarray(played.info["block"])
    return env, params, key, labels


def test_labels_are_the_blocks_in_force(blocked_bandit):
    env, params, key, labels = blocked_bandit
    per_block = labels.reshape(HORIZON // BLOCK, BLOCK, EPISODES)
    assert (per_block == per_block[:, :1]).all()
    reversal = Player(env, EPISODES, HORIZON).play_policy(
        told_rescorla_wagner((0.3, 0.3)), params, key
    )
    reversal = np.asarray(reversal.info["reversal"])
    assert not reversal[labels == 0].any()  # stable blocks (hazard 0) never reverse
    assert 0.1 < reversal[labels == 1].mean() < 0.3  # volatile ones at about 0.2 per pull


@pytest.mark.parametrize("rates, faster", [((0.1, 0.6), True), ((0.3, 0.3), False)])
def test_block_fit_recovers_a_told_learners_rates(blocked_bandit, rates, faster):
    env, params, key, labels = blocked_bandit
    played = Player(env, EPISODES, HORIZON).play_policy(told_rescorla_wagner(rates), params, key)
    grid = volatility_blocks.block_log_lik_grid(played.actions, played.rewards, labels, 2, 2)
    assert grid.shape[2:] == (2, EPISODES)
    comparison = volatility_blocks.compare_blocks(grid, bootstrap_weights(EPISODES, 50, 0), 0, 1)
    assert comparison.volatile.learning_rate == pytest.approx(rates[1], abs=0.15)
    if faster:
        # Stable-block choices also use values learnt fast in earlier volatile blocks, so one
        # rate fitted to them is pulled up (0.23 for 0.1, measured): still nearer its own.
        assert rates[0] < comparison.stable.learning_rate < sum(rates) / 2
    else:
        assert comparison.stable.learning_rate == pytest.approx(rates[0], abs=0.1)
    low, high = comparison.difference_interval
    assert (low > 0) if faster else (low < 0 < high)


def test_seed_interval_widens_by_the_shared_episodes():
    values = np.array([0.2, 0.3, 0.25])
    rng = np.random.default_rng(0)
    tight = values[:, None] + 0.001 * rng.standard_normal((3, 200))
    loose = values[:, None] + 0.1 * rng.standard_normal((1, 200))  # shared episode error
    narrow, unit = volatility_blocks.seed_interval(values, tight)
    wide, _ = volatility_blocks.seed_interval(values, loose)
    assert narrow.value == pytest.approx(0.25) and "seeds" in unit
    assert wide.high - wide.low > narrow.high - narrow.low
    one, unit = volatility_blocks.seed_interval(values[:1], tight[:1])
    assert one.low < 0.2 < one.high and "ONE training seed" in unit


# ------------------------------------------------------------------ specs
def test_wang_two_step_spec_is_the_papers_task_and_network():
    repro = load_reproduction("wang_two_step")
    config = prepare(repro).configs["two_step"]
    assert config.env.name == "two-step-v0"
    assert config.env.overrides == {
        "variant": "wang",
        "num_trials": 100,
        "common_prob": 0.8,
        "reward_high": 0.9,
        "reward_low": 0.1,
        "swap_prob": 0.025,
    }
    assert (config.agent.core, config.agent.hidden_size) == ("lstm", 48)
    assert (config.algo.name, config.algo.optimizer, config.algo.gamma) == ("a2c", "rmsprop", 0.9)
    assert config.run.num_seeds >= 8
    assert config.run.total_env_steps // 200 >= 10_000  # episodes per seed: the paper trained 10k
    assert repro.measure_options["episodes"] == 300
    env, params = menvs.make(config.env.name, **config.env.overrides)
    assert params.drift.reversal_hazard == pytest.approx(0.025)


def test_wang_volatility_trains_across_stable_and_volatile_blocks():
    module = _module("wang_volatility")
    config = prepare(load_reproduction("wang_volatility")).configs["volatility"]
    _, params = menvs.make(config.env.name, **config.env.overrides)
    assert np.asarray(params.block_hazards).tolist() == [0.0, pytest.approx(module.VOLATILE_HAZARD)]
    assert int(params.block_length) == module.BLOCK_LENGTH < params.max_steps_in_episode
