"""Task pools as traced data: a pool padded to a capacity, with its active count as a leaf.

Pools of different N (and task seeds) padded to one capacity C have params of one
shape, so a sweep can stack them and vmap over them. The padded env must be the
unpadded one, bit for bit, for the same keys; padded slots must be real tasks; the
held-out pool must not depend on the capacity.
"""

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from metarl.envs import distributions

from metarl.errors import ConfigError

# (name, overrides, N, C, steps): small settings whose rollouts cross an episode end.
CASES = {
    "bandit": ("bandit-bernoulli-v0", dict(num_arms=3, horizon=10), 3, 8, 25),
    "bandit-restless": ("bandit-restless-v0", dict(num_arms=3, horizon=10), 5, 7, 25),
    "two-step-daw": ("two-step-daw-v0", dict(num_trials=5, held_out_size=16), 3, 8, 25),
    "two-step-wang": ("two-step-v0", dict(num_trials=5), 1, 2, 25),
    "maze": (
        "maze-moving-goal-v0",
        dict(cells_per_side=4, prior_bank_size=64, held_out_size=16, horizon=20),
        3,
        8,
        45,
    ),
    # N = 1 draws no task uniform unpadded, but one (unused) when padded.
    "maze-one-task": (
        "maze-v0",
        dict(cells_per_side=4, prior_bank_size=64, held_out_size=16, horizon=20),
        1,
        4,
        45,
    ),
    "rule-grid": (
        "rule-grid-v0",
        dict(
            trial_length=4,
            num_trials=2,
            num_layouts=64,
            held_out_size=16,
            drift="change_point",
            hazard=0.1,
        ),
        3,
        8,
        20,
    ),
}


def _make(name, overrides, **more):
    return menvs.make(name, **{**overrides, **more})


@partial(jax.jit, static_argnames=("env", "steps"))
def _rollout(env, params, key, steps):
    """Reset and ``steps`` auto-resetting steps with random actions, for 8 keys.

    Jitted as a whole, so params of one shape (padded pools) share a compilation.
    """
    num_actions = env.action_space(params).n

    def run(key):
        reset_key, step_key = jax.random.split(key)
        obs, state = env.reset(reset_key, params)

        def body(carry, k):
            action_key, env_key = jax.random.split(k)
            action = jax.random.randint(action_key, (), 0, num_actions)
            out = env.step(env_key, carry[1], action, params)
            return (out[0], out[1]), out

        _, trajectory = jax.lax.scan(body, (obs, state), jax.random.split(step_key, steps))
        return (obs, state), trajectory

    return jax.vmap(run)(jax.random.split(key, 8))


def _assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _assert_trees_close(a, b):
    """Equal, up to float rounding (1e-6 relative) in floating leaves."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if jnp.issubdtype(x.dtype, jnp.floating):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("case", sorted(CASES))
def test_padded_pool_is_the_unpadded_pool_bit_for_bit(case):
    name, overrides, n, capacity, steps = CASES[case]
    env, plain = _make(name, overrides, num_tasks=n, task_seed=1)
    padded_env, padded = _make(name, overrides, num_tasks=n, task_seed=1, pool_capacity=capacity)
    assert plain.num_active_tasks is None  # no capacity: the static pool, as before
    assert int(padded.num_active_tasks) == n
    assert distributions.pool_size(padded.task_pool) == capacity
    # The first N tasks are the unpadded pool; the rest repeat them (valid tasks, no NaN).
    repeats = np.arange(capacity) % n
    for full, short in zip(
        jax.tree.leaves(padded.task_pool), jax.tree.leaves(plain.task_pool), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(full), np.asarray(short)[repeats])
        if jnp.issubdtype(full.dtype, jnp.floating):
            assert np.all(np.isfinite(np.asarray(full)))
    _assert_trees_equal(
        distributions.active_task_pool(padded.task_pool, padded.num_active_tasks), plain.task_pool
    )
    key = jax.random.PRNGKey(7)
    _assert_trees_equal(_rollout(padded_env, padded, key, steps), _rollout(env, plain, key, steps))


@pytest.mark.parametrize("case", ["bandit", "two-step-daw", "maze", "rule-grid"])
def test_episodes_draw_only_active_tasks(case):
    name, overrides, n, capacity, _ = CASES[case]
    env, params = _make(name, overrides, num_tasks=n, pool_capacity=capacity)
    keys = jax.random.split(jax.random.PRNGKey(0), 512)
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    task_ids = np.asarray(states.task_id if hasattr(states, "task_id") else states.layout)
    assert set(task_ids.tolist()) == set(range(n))


@pytest.mark.parametrize("case", ["bandit", "two-step-daw", "maze", "rule-grid"])
def test_held_out_pool_does_not_depend_on_the_capacity(case):
    name, overrides, n, capacity, _ = CASES[case]
    held_out = dict(overrides, num_tasks=n, task_seed=2, split="held_out", held_out_size=16)
    _, plain = _make(name, held_out)
    _, padded = _make(name, held_out, pool_capacity=capacity)
    _assert_trees_equal(padded.task_pool, plain.task_pool)
    assert plain.num_active_tasks is None
    assert int(padded.num_active_tasks) == 16


@pytest.mark.parametrize("case", ["bandit", "two-step-daw", "maze", "rule-grid"])
def test_pools_of_different_sizes_and_seeds_stack_and_vmap(case):
    """Params of (N, task_seed) = (2, 0) and (5, 3) at one capacity are one vmap axis."""
    name, overrides, _, capacity, steps = CASES[case]
    made = [
        _make(name, overrides, num_tasks=size, task_seed=seed, pool_capacity=capacity)
        for size, seed in ((2, 0), (5, 3))
    ]
    env = made[0][0]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *(p for _, p in made))
    np.testing.assert_array_equal(np.asarray(stacked.num_active_tasks), [2, 5])
    keys = jax.random.split(jax.random.PRNGKey(11), 2)
    actions = jnp.zeros((2,), jnp.int32)
    vmapped_reset = jax.jit(jax.vmap(env.reset))(keys, stacked)
    vmapped_step = jax.jit(jax.vmap(env.step))(keys, vmapped_reset[1], actions, stacked)
    for i, (_, params) in enumerate(made):
        # One env object serves both: an env holds no task data, its params do.
        obs, state = env.reset(keys[i], params)
        _assert_trees_equal(jax.tree.map(lambda x, i=i: x[i], vmapped_reset), (obs, state))
        stepped = env.step(keys[i], state, actions[i], params)
        _assert_trees_equal(jax.tree.map(lambda x, i=i: x[i], vmapped_step), stepped)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["bandit", "two-step-daw", "maze", "rule-grid"])
def test_vmapped_rollouts_over_pools_match_separate_ones(case):
    """A sweep's rollout vmapped over stacked pools equals separate rollouts, up to rounding:
    batched params are operands, not constants, so XLA may fuse float arithmetic
    differently (1-ulp differences in the daw walk on CPU)."""
    name, overrides, _, capacity, steps = CASES[case]
    made = [
        _make(name, overrides, num_tasks=size, task_seed=seed, pool_capacity=capacity)[1]
        for size, seed in ((2, 0), (5, 3))
    ]
    env = _make(name, overrides, num_tasks=2, pool_capacity=capacity)[0]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *made)
    key = jax.random.PRNGKey(5)
    together = jax.jit(jax.vmap(lambda p: _rollout(env, p, key, steps)))(stacked)
    for i, params in enumerate(made):
        _assert_trees_close(
            jax.tree.map(lambda x, i=i: x[i], together), _rollout(env, params, key, steps)
        )


def test_rule_grid_padded_draw_reads_the_word_an_unpadded_pool_reads():
    """With 4096 placements, a reset's pool digit moves to the next key word for pools
    of more than 256 rulesets; a padded pool's traced count must follow it on both
    sides of that line. (A step's reset draw has no placement digit: no such line.)"""
    overrides = dict(trial_length=4, num_trials=2, held_out_size=16)
    keys = jax.random.split(jax.random.PRNGKey(3), 512)
    for n in (100, 300):
        env, plain = _make("rule-grid-v0", overrides, num_tasks=n)
        _, padded = _make("rule-grid-v0", overrides, num_tasks=n, pool_capacity=400)
        reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
        _assert_trees_equal(reset(keys, padded), reset(keys, plain))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(num_tasks=8, pool_capacity=4), "'pool_capacity' = 4 is out of range; allowed: [8"),
        (dict(pool_capacity=4), "'pool_capacity' = 4 needs a finite num_tasks"),
        (dict(num_tasks=4, pool_capacity=4.5), "'pool_capacity' = 4.5 must be an integer"),
    ],
)
def test_pool_capacity_is_validated(overrides, message):
    for name in ("bandit-bernoulli-v0", "two-step-daw-v0", "maze-v0", "rule-grid-v0"):
        with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
            menvs.env_config(name, **overrides).task_source(name)


# The override names users type before the shared configs existed: they must not change.
FIELDS_BEFORE = {
    "bandit": "num_arms horizon reward_type prior prior_a prior_b reward_noise reward_scale "
    "num_tasks task_seed held_out_size split drift volatility hazard walk_space walk_low "
    "walk_high reversal_steps reversal_period reversal_hazard",
    "two_step": "variant num_trials common_prob reward_high reward_low swap_prob volatility "
    "walk_low walk_high num_tasks task_seed held_out_size split",
    "maze": "cells_per_side extra_openings horizon goal_reward num_tasks task_seed held_out_size "
    "prior_bank_size split drift hazard reversal_steps reversal_period reversal_hazard",
    "rule_grid": "grid_size num_object_types objects_per_type view view_size obs_format allow_stay "
    "trial_length num_trials reward_values reward_range effects require_positive reward_scale "
    "num_layouts layout_seed num_tasks task_seed held_out_size split drift volatility hazard "
    "walk_space reversal_steps reversal_period reversal_hazard",
    "dark_room": "room_size trial_length num_trials goal_reward num_tasks task_seed held_out_size "
    "split",
}
# Fields added since, beside the shared pool_capacity (new names only: none above renamed).
FIELDS_ADDED = {"bandit": {"block_hazards", "block_length"}}


@pytest.mark.parametrize("name", menvs.registered_names())
def test_family_configs_share_the_task_source_and_keep_their_field_names(name):
    env_spec = menvs.spec(name)
    assert issubclass(env_spec.config_cls, distributions.TaskSourceConfig)
    fields = menvs.allowed_overrides(name)
    assert fields[0] == FIELDS_BEFORE[env_spec.family].split()[0]  # the family's own come first
    added = {"pool_capacity"} | FIELDS_ADDED.get(env_spec.family, set())
    assert set(fields) == set(FIELDS_BEFORE[env_spec.family].split()) | added
    defaults = env_spec.config_cls()
    assert dataclasses.replace(defaults, num_tasks=4).num_tasks == 4
