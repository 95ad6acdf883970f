"""Sweep points and groups: what trains in one vmapped program, and that it trains the same."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from metarl.errors import ConfigError
from metarl.sweeps import Axis
from metarl.sweeps.groups import GroupTrainer, plan_groups
from metarl.sweeps.spec import check_sets, point_config
from metarl.training.trainer import make_trainer


def test_points_are_the_product_of_the_axes_in_order(sweep):
    points = sweep.points()
    assert [p.name(sweep.axes) for p in points] == [
        "num_tasks=1,task_seed=0",
        "num_tasks=1,task_seed=1",
        "num_tasks=3,task_seed=0",
        "num_tasks=3,task_seed=1",
        "num_tasks=inf,task_seed=0",
        "num_tasks=inf,task_seed=1",
    ]
    config = point_config(sweep, points[3], ["algo.learning_rate=0.001"])
    assert config.env.overrides["num_tasks"] == 3 and config.env.overrides["task_seed"] == 1
    assert config.algo.learning_rate == 0.001
    assert point_config(sweep, points[4]).env.overrides["num_tasks"] is None


def test_a_swept_field_cannot_be_set(sweep):
    with pytest.raises(ConfigError, match="env.overrides.num_tasks.*is a sweep axis"):
        check_sets(sweep, ["env.overrides.num_tasks=8"])
    check_sets(sweep, ["env.overrides.num_arms=4"])  # any other field is fine


def test_pools_and_seeds_share_a_program_the_prior_and_other_shapes_do_not(make_sweep):
    sweep = make_sweep()
    sweep = dataclasses.replace(sweep, axes=(*sweep.axes, Axis("agent.hidden_size", (8, 16))))
    configs = [point_config(sweep, p) for p in sweep.points()]
    groups = plan_groups(configs)
    # {finite, inf} x {hidden 8, hidden 16}: four programs for 12 points.
    assert len(groups) == 4
    finite_small = groups[0]
    assert finite_small.pool_capacity == 3
    assert [configs[i].env.overrides["num_tasks"] for i in finite_small.point_indices] == [
        1,
        1,
        3,
        3,
    ]
    assert {configs[i].agent.hidden_size for i in finite_small.point_indices} == {8}
    assert finite_small.num_members == 8  # 4 points x 2 seeds
    assert finite_small.config.run.num_seeds == 8
    prior = [g for g in groups if g.pool_capacity is None]
    assert len(prior) == 2 and all(len(g.point_indices) == 2 for g in prior)
    assert len({g.key for g in groups}) == 4


def test_a_point_trained_in_the_vmapped_group_equals_the_point_trained_alone(sweep):
    configs = [point_config(sweep, p) for p in sweep.points()]
    group = plan_groups(configs)[0]  # N in {1, 3} x task_seed in {0, 1}: 8 members
    grouped = GroupTrainer(group)
    state = grouped.init(jax.random.key(12345))  # the key is ignored: members use their own
    state, _ = grouped.train_chunk(state)
    seeds = group.seeds_per_point
    for k in (0, 3):  # N=1 with pool seed 0, N=3 with pool seed 1 (two compiles, not four)
        config = group.point_configs[k]
        # Exactly what `metarl train --set env.overrides.num_tasks=N ...` trains: no padding.
        assert "pool_capacity" not in config.env.overrides
        alone = make_trainer(config)
        alone_state, _ = alone.train_chunk(alone.init(jax.random.key(config.run.seed)))
        for a, b in zip(
            jax.tree.leaves(alone_state.params), jax.tree.leaves(state.params), strict=True
        ):
            np.testing.assert_allclose(
                np.asarray(a), np.asarray(b)[k * seeds : (k + 1) * seeds], rtol=1e-5, atol=1e-6
            )
    # Not vacuous: training moved the params, and the points differ from each other.
    first = jax.tree.leaves(state.params)[0]
    assert not np.allclose(first[0], first[seeds])
