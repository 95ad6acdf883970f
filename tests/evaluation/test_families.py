"""One spec per env family: coverage of every registered family, suites and references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from metarl.envs import registry

from metarl.errors import ConfigError
from metarl.evaluation import families, suites
from metarl.evaluation.baselines import finite_horizon_gittins_table
from metarl.evaluation.families import FAMILIES, OTHER, ReferenceContext, family_of, family_spec
from metarl.evaluation.policy import PolicyInputs
from metarl.evaluation.references import reference_policies


def test_every_registered_family_has_a_spec():
    for family in registry.families():
        assert family in FAMILIES, f"family {family!r} is registered but has no FamilySpec"
        assert FAMILIES[family].name == family
    for name in menvs.registered_names():
        assert family_of(name) == registry.family_of(name) != OTHER
        assert family_spec(name) is FAMILIES[registry.family_of(name)]
    assert family_of("BernoulliBandit-misc") == OTHER
    assert family_spec("BernoulliBandit-misc").suites == ("train",)


@pytest.mark.parametrize("name", menvs.registered_names())
def test_every_suite_of_every_registered_env_builds_with_the_agents_interface(name):
    spec = family_spec(name)
    assert spec.suites[0] == "train"
    for suite_name in spec.suites:
        suite, env, params = suites.make_suite_env(name, {}, suite_name)
        assert suite.name == suite_name and suite.description
        assert env.action_space(params).n >= 2


def test_references_come_from_the_family_spec():
    env, params = menvs.make("maze-v0")
    refs = reference_policies("maze-v0", env, params, params)
    assert list(refs) == ["random", "bfs_planner", "depth_limited_planner", "local_heuristic"]
    env, params = menvs.make("two-step-v0")
    refs = reference_policies("two-step-v0", env, params, params, only=["model_based"])
    assert list(refs) == ["random", "model_based"]
    env, params = menvs.make("rule-grid-v0")
    assert list(reference_policies("rule-grid-v0", env, params, params)) == [
        "random",
        "oracle_planner",
        "ruleset_learner",
        "ruleset_locator",
        "memoryless_collector",
    ]
    with pytest.raises(ConfigError, match="'gittins' not available for 'rule-grid-v0'"):
        reference_policies("rule-grid-v0", env, params, params, only=["gittins"])


def test_bandit_references_are_told_a_scaled_reward_unit():
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=3, horizon=20, reward_scale=2.0)
    context = ReferenceContext(env, params, params, only=("thompson_sampling",))
    refs = family_spec("bandit-bernoulli-v0").references(context)
    assert "thompson_sampling" in refs and "gittins" in refs
    # The scale wraps every reference (a rescaling policy has no think step of its own).
    assert all(not getattr(p, "thinks", False) for p in refs.values())


def test_bandit_references_play_gittins_at_the_training_discount_when_told_it():
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=3, horizon=20)
    only = ["gittins", "gittins_at_training_discount"]
    refs = reference_policies(
        "bandit-bernoulli-v0", env, params, params, only=only, training_discount=0.9
    )
    assert list(refs) == ["random", "gittins", "gittins_at_training_discount"]
    # At an episode start every arm's index is the table's fresh-arm index for 20 pulls
    # left, at the discount each player was built with.
    inputs = PolicyInputs(
        observation=jnp.zeros((1, 1)),
        prev_action=jnp.full((1,), -1, jnp.int32),
        prev_reward=jnp.zeros((1,)),
        episode_start=jnp.ones((1,), bool),
    )
    for name, discount in (("gittins", 1.0), ("gittins_at_training_discount", 0.9)):
        policy = refs[name]
        _, _, extras = policy.act(policy.init_carry(1), inputs, jax.random.PRNGKey(0))
        expected = finite_horizon_gittins_table(20, discount=discount)[0, 0, 20]
        np.testing.assert_allclose(extras["action_values"], np.full((1, 3), expected), rtol=1e-6)
    for discount in (None, 1.0):
        names = reference_policies(
            "bandit-bernoulli-v0", env, params, params, training_discount=discount
        )
        assert "gittins_at_training_discount" not in names and "gittins" in names


@pytest.mark.parametrize(
    "name, expected",
    [
        ("bandit-bernoulli-v0", ["thompson_sampling"]),
        ("bandit-gaussian-v0", ["q_learning"]),
        ("two-step-v0", ["model_based", "model_free"]),
        ("maze-v0", ["depth_limited_planner", "local_heuristic"]),
        ("rule-grid-v0", ["ruleset_learner", "memoryless_collector"]),
    ],
)
def test_thinking_references_per_family(name, expected):
    env, params = menvs.make(name)
    policies, described = family_spec(name).thinking_references(
        ReferenceContext(env, params, params)
    )
    assert list(policies) == expected and list(described) == expected
    assert all(text for text in described.values())
    assert family_spec("CartPole-v1").thinking_references is None
    assert families.THINKING_Q_LEARNING_RATE == 0.3
