"""Rule-grid reference agents: the ruleset tables, the evidence they read, their ordering.

Episodes are paired (every agent plays the same episodes, same key), so claims are on
paired differences; a claim holds when it clears ``SE`` standard errors of that
difference, measured on the sample at hand. Fixed seeds throughout.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from metarl.envs.rule_grid import RuleGridConfig, count_rulesets
from metarl.envs.rule_grid_tasks import sample_prior

from metarl.errors import ConfigError
from metarl.evaluation.baselines import random_policy
from metarl.evaluation.baselines.rule_grid import (
    DEFAULT_HAZARD,
    bfs_plan,
    learner_hazard,
    memoryless_collector,
    rule_grid_references,
    ruleset_learner,
    type_worth,
)
from metarl.evaluation.baselines.rule_grid_beliefs import (
    observe_collection,
    pool_table,
    ruleset_table,
)
from metarl.evaluation.play import Player
from metarl.evaluation.rollout import evaluate_policy

SE = 3.0
EPISODES = 256
# The experiment-sized world (a 5 x 5 interior, full view); the default world is covered
# by the table, evidence and tracing tests.
SMALL = dict(
    grid_size=7,
    num_object_types=3,
    objects_per_type=2,
    view="full",
    trial_length=15,
    num_trials=4,
)
POOL = dict(num_tasks=16, held_out_size=16)  # equal sizes: train and held-out share programs


def _mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.shape[0]))


def _above(a, b, se: float = SE) -> bool:
    """a > b by more than ``se`` standard errors of the paired difference."""
    mean, err = _mean_se(np.asarray(a) - np.asarray(b))
    return mean > se * err


def _trials(rollouts, params) -> np.ndarray:
    """[trial, episode] reward summed over each trial (trials are exactly trial_length steps)."""
    steps, episodes = rollouts.rewards.shape
    return rollouts.rewards.reshape(
        steps // params.trial_length, params.trial_length, episodes
    ).sum(1)


# --------------------------------------------------------------------------------------
# Ruleset tables


@pytest.mark.parametrize(
    "overrides",
    [{}, SMALL, {"effects": ("disappear", "respawn")}, {"require_positive": False}],
)
def test_table_is_the_prior_its_size_is_count_rulesets(overrides):
    _, params = menvs.make("rule-grid-v0", **overrides)
    table = ruleset_table(params)
    assert table.size == count_rulesets(RuleGridConfig(**overrides))
    assert abs(float(table.probs.sum()) - 1.0) < 1e-5
    # Distinct rows: no ruleset is listed twice.
    rows = np.concatenate(
        [np.asarray(table.rewards), np.asarray(table.effects), np.asarray(table.transform_to)], 1
    )
    assert len(np.unique(rows, axis=0)) == table.size
    if not overrides:
        assert table.size == 1216
        # require_positive makes it non-uniform (the fix-up lands on some vectors only).
        assert len(np.unique(np.round(np.asarray(table.probs) * 17496))) > 1


def _table_index(table, rulesets) -> np.ndarray:
    """Index of each sampled ruleset in ``table`` (-1: absent)."""
    keys = {}
    for i in range(table.size):
        keys[_row_key(table.rewards[i], table.effects[i], table.transform_to[i])] = i
    return np.asarray(
        [
            keys.get(_row_key(r, e, t), -1)
            for r, e, t in zip(
                np.asarray(rulesets.rewards),
                np.asarray(rulesets.effects),
                np.asarray(rulesets.transform_to),
                strict=True,
            )
        ]
    )


def _row_key(rewards, effects, transform_to) -> bytes:
    return (
        np.asarray(rewards, np.float32).tobytes()
        + np.asarray(effects, np.int32).tobytes()
        + np.asarray(transform_to, np.int32).tobytes()
    )


@pytest.mark.parametrize("overrides", [{"num_object_types": 2}, {}])
def test_prior_samples_fall_in_the_table_at_its_frequencies(overrides):
    _, params = menvs.make("rule-grid-v0", **overrides)
    table = ruleset_table(params)
    draws = 40_000
    keys = jax.random.split(jax.random.PRNGKey(7), draws)
    samples = jax.vmap(sample_prior, in_axes=(0, None))(keys, params)
    index = _table_index(table, samples)
    assert (index >= 0).all(), "a prior draw is missing from the table"
    probs = np.asarray(table.probs, np.float64)
    observed = np.bincount(index, minlength=table.size).astype(np.float64)
    if table.size > 100:
        # Too few draws per ruleset: compare the totals of each probability level instead.
        levels = np.unique(np.round(probs * 1e7), return_inverse=True)[1]
        probs = np.bincount(levels, weights=probs)
        observed = np.bincount(levels, weights=observed)
    expected = draws * probs
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    dof = len(expected) - 1
    # Chi-square has mean dof and standard deviation sqrt(2 dof): 5 of them is p < 1e-4.
    assert chi2 < dof + 5 * np.sqrt(2 * dof), (chi2, dof)


def test_table_is_the_same_inside_a_compiled_program():
    _, params = menvs.make("rule-grid-v0")
    eager = ruleset_table(params)
    traced = jax.jit(ruleset_table)(params)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(traced), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_pool_table_is_uniform_over_the_active_entries():
    _, params = menvs.make("rule-grid-v0", num_tasks=5, pool_capacity=8)
    table = pool_table(params.task_pool, params.num_active_tasks)
    np.testing.assert_allclose(np.asarray(table.probs), [0.2] * 5 + [0.0] * 3, atol=1e-6)
    _, params = menvs.make("rule-grid-v0", num_tasks=4)
    np.testing.assert_allclose(np.asarray(pool_table(params.task_pool).probs), 0.25, atol=1e-6)


def test_a_continuous_prior_has_no_table_and_only_the_told_references():
    _, params = menvs.make("rule-grid-v0", reward_range=(-1.0, 1.0))
    with pytest.raises(ConfigError, match="'reward_range'"):
        ruleset_table(params)
    with pytest.raises(ConfigError, match="'reward_range'"):
        ruleset_learner(params)
    assert list(rule_grid_references(params, params)) == ["oracle_planner", "memoryless_collector"]


def test_a_prior_too_large_to_enumerate_is_refused():
    _, params = menvs.make("rule-grid-v0", num_object_types=6, objects_per_type=1)
    with pytest.raises(ConfigError, match="'num_object_types'"):
        ruleset_table(params)


# --------------------------------------------------------------------------------------
# Evidence and planning


@pytest.mark.parametrize("overrides", [{}, SMALL])
def test_collections_read_off_the_grid_match_the_env(overrides):
    env, params = menvs.make("rule-grid-v0", **overrides)
    batch, steps = 64, int(params.max_steps_in_episode)

    def run(key):
        reset_key, step_key, action_key = jax.random.split(key, 3)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, batch), params
        )

        def one(state, keys):
            step_key, action_key = keys
            action = jax.random.randint(action_key, (batch,), 0, 4)
            _, after, reward, _, _, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(step_key, batch), state, action, params
            )
            seen = observe_collection(
                (state.grid, state.agent_row, state.agent_col),
                (after.grid, after.agent_row, after.agent_col),
                action,
                reward,
                jnp.ones((batch,), bool),
                info["trial_boundary"],
                params.interior,
            )
            truth = (info["collected_type"], state.ruleset, info["trial_boundary"])
            return after, (seen, truth)

        keys = (jax.random.split(step_key, steps), jax.random.split(action_key, steps))
        return jax.lax.scan(one, state, keys)[1]

    seen, (kind, rules, boundary) = jax.device_get(jax.jit(run)(jax.random.PRNGKey(3)))
    collected = kind >= 0
    assert collected.sum() > 200
    np.testing.assert_array_equal(seen.collected, collected)
    np.testing.assert_array_equal(seen.type[collected], kind[collected])
    np.testing.assert_array_equal(seen.effect_seen, collected & ~boundary)
    picked = np.maximum(kind, 0)[..., None]
    effect = np.take_along_axis(rules.effects, picked, -1)[..., 0]
    target = np.take_along_axis(rules.transform_to, picked, -1)[..., 0]
    reward = np.take_along_axis(rules.rewards, picked, -1)[..., 0]
    shown = seen.effect_seen
    assert len(np.unique(effect[shown])) == 3
    np.testing.assert_array_equal(seen.effect[shown], effect[shown])
    transformed = shown & (effect == 2)
    np.testing.assert_array_equal(seen.transform_to[transformed], target[transformed])
    np.testing.assert_allclose(seen.reward[collected], reward[collected])


_PLAN = jax.jit(bfs_plan)
_TRIES = 64


def _plans(rows: list[str], row: int, col: int, values) -> tuple[set[int], set[int]]:
    """(actions, target types) the planner takes in ``_TRIES`` copies of one position
    (rows of digits, 0 empty and t + 1 type t), each with its own tie-breaks."""
    grid = jnp.asarray([[int(c) for c in "".join(rows)]] * _TRIES, jnp.int8)
    at = jnp.full((_TRIES,), row), jnp.full((_TRIES,), col)
    values = jnp.broadcast_to(jnp.asarray(values, jnp.float32), (_TRIES, len(values)))
    action, target = _PLAN(grid, *at, values, jax.random.PRNGKey(0))
    return set(np.asarray(action).tolist()), set(np.asarray(target).tolist())


def test_bfs_walks_around_bad_objects_and_steps_off_to_come_back():
    values = [1.0, -1.0, 0.0]  # type 0 good, type 1 bad, type 2 neutral
    rows = ["000", "020", "010"]  # good object at (2, 1), bad one at (1, 1)
    # From (1, 0): down is the shortest path; never into the bad object.
    assert _plans(rows, 1, 0, values) == ({2}, {0})
    # From (0, 1): round the bad object either way (both shortest); never the wall.
    assert _plans(rows, 0, 1, values) == ({1, 3}, {0})
    # A good object under the agent (a transform left it): it steps off, never into the wall.
    assert _plans(["000", "000", "100"], 2, 0, values)[0] == {0, 1}
    # Nothing worth collecting: a random move that avoids the bad neighbour and the wall.
    assert _plans(["000", "200", "000"], 0, 0, values) == ({1}, {-1})
    assert _plans(["000", "000", "030"], 0, 0, values) == ({1, 2}, {-1})


def test_type_worth_adds_a_positive_transform_target():
    rewards = jnp.asarray([[0.0, 1.0, -1.0]])
    effects = jnp.asarray([[2, 0, 2]])
    transform_to = jnp.asarray([[1, 1, 0]])
    np.testing.assert_allclose(type_worth(rewards, effects, transform_to), [[1.0, 1.0, -1.0]])


# --------------------------------------------------------------------------------------
# The agents, played


@pytest.fixture(scope="module")
def small_world():
    """Per-trial returns [K, E] by (split or drift, agent), on the experiment-sized world."""
    env, train = menvs.make("rule-grid-v0", **SMALL, **POOL)
    _, held = menvs.make("rule-grid-v0", **SMALL, **POOL, split="held_out")
    mid = int(train.max_steps_in_episode) // 2 - 1
    _, reversed_ = menvs.make(
        "rule-grid-v0", **SMALL, **POOL, drift="reversal", reversal_steps=(mid,)
    )
    player = Player(env, EPISODES, int(train.max_steps_in_episode))
    key = jax.random.PRNGKey(0)
    refs = rule_grid_references(train, train)
    out, raw = {}, {}
    for split, params in (("train", train), ("held_out", held)):
        for name, policy in refs.items():
            raw[split, name] = player.play_policy(policy, params, key)
            out[split, name] = _trials(raw[split, name], params)
    drifting = {
        "ruleset_learner": ruleset_learner(reversed_),
        "memoryless_collector": memoryless_collector(reversed_),
        "random": random_policy(4),
    }
    for name, policy in drifting.items():
        raw["reversal", name] = player.play_policy(policy, reversed_, key)
        out["reversal", name] = _trials(raw["reversal", name], reversed_)
    # The learner told a doubled reward unit (the ood suite's reward_scale).
    doubled = train.replace(reward_scale=2.0)
    raw["doubled", "ruleset_learner"] = player.play_policy(ruleset_learner(doubled), doubled, key)
    return out, raw, mid


@pytest.mark.parametrize("split", ["train", "held_out"])
def test_oracle_beats_learner_beats_collector(small_world, split):
    trials, _, _ = small_world
    per_trial = {
        name: trials[split, name].mean(0) for name in ("oracle_planner", "ruleset_learner")
    }
    per_trial["memoryless_collector"] = trials[split, "memoryless_collector"].mean(0)
    assert _above(per_trial["oracle_planner"], per_trial["ruleset_learner"])
    assert _above(per_trial["ruleset_learner"], per_trial["memoryless_collector"])


@pytest.mark.parametrize("split", ["train", "held_out"])
def test_learner_improves_from_the_first_trial_to_the_last(small_world, split):
    trials, _, _ = small_world
    learner = trials[split, "ruleset_learner"]
    assert _above(learner[-1], learner[0])


def test_locator_matches_the_learner_on_its_pool_and_falls_below_it_held_out(small_world):
    trials, _, _ = small_world
    on_pool = trials["train", "ruleset_locator"].mean(0) - trials["train", "ruleset_learner"].mean(
        0
    )
    mean, err = _mean_se(on_pool)
    assert mean > -SE * err, (mean, err)
    assert _above(
        trials["held_out", "ruleset_learner"].mean(0), trials["held_out", "ruleset_locator"].mean(0)
    )


def test_learner_recovers_after_a_reversal(small_world):
    trials, _, _ = small_world
    learner, random = trials["reversal", "ruleset_learner"], trials["reversal", "random"]
    # The change lands between trials 1 and 2: the first trial after it costs, the last
    # recovers, and both stay above random.
    assert _above(trials["train", "ruleset_learner"][1], learner[2])
    assert _above(learner[3], learner[2])
    assert _above(learner[3], random[3])


def test_collector_behaves_identically_after_a_reversal(small_world):
    _, raw, mid = small_world
    plain, mirrored = raw["train", "memoryless_collector"], raw["reversal", "memoryless_collector"]
    # Same episodes (same key): it never reads rewards, so it takes the very same actions
    # and collects the same objects; only the sign of what they pay flips.
    np.testing.assert_array_equal(plain.actions, mirrored.actions)
    np.testing.assert_array_equal(plain.rewards[: mid + 1], mirrored.rewards[: mid + 1])
    np.testing.assert_array_equal(plain.rewards[mid + 1 :], -mirrored.rewards[mid + 1 :])


def test_learner_divides_out_the_reward_scale(small_world):
    _, raw, _ = small_world
    plain, doubled = raw["train", "ruleset_learner"], raw["doubled", "ruleset_learner"]
    # Same episodes, same beliefs: the same actions, every reward twice as large.
    np.testing.assert_array_equal(plain.actions, doubled.actions)
    np.testing.assert_array_equal(2 * plain.rewards, doubled.rewards)


def test_references_build_inside_a_compiled_program():
    # A sweep builds them from traced params (``play(..., policy_args=params)``).
    env, params = menvs.make("rule-grid-v0", num_tasks=8, pool_capacity=16)
    steps = int(params.max_steps_in_episode)
    for name in ("oracle_planner", "ruleset_learner", "ruleset_locator", "memoryless_collector"):
        shapes = jax.eval_shape(
            lambda args, key, name=name: (
                evaluate_policy(
                    rule_grid_references(*args)[name], env, args[0], key, 4, steps
                ).rewards
            ),
            (params, params),
            jax.random.PRNGKey(0),
        )
        assert shapes.shape == (steps, 4)


def test_the_learner_takes_the_envs_change_rate():
    _, params = menvs.make("rule-grid-v0")
    assert learner_hazard(params) == DEFAULT_HAZARD
    _, params = menvs.make("rule-grid-v0", drift="change_point", hazard=0.05)
    assert float(learner_hazard(params)) == pytest.approx(0.05)
    _, params = menvs.make("rule-grid-v0", drift="reversal", reversal_steps=(10,))
    # Scheduled reversals only: no random rate to follow.
    assert float(learner_hazard(params)) == pytest.approx(DEFAULT_HAZARD)


def test_the_locator_without_a_pool_is_the_learner():
    _, params = menvs.make("rule-grid-v0")
    refs = rule_grid_references(params, params)
    assert list(refs) == [
        "oracle_planner",
        "ruleset_learner",
        "ruleset_locator",
        "memoryless_collector",
    ]
    # Trained on the infinite prior, the locator believes over the whole prior.
    assert refs["ruleset_locator"].init_carry(2).log_weights.shape == (2, 1216)
