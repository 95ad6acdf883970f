"""The one player: compile reuse, seed and point axes equal to separate calls."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest

from metarl.agents.actor_critic import ActorCritic
from metarl.config import AgentConfig
from metarl.evaluation.baselines import random_policy, thompson_sampling
from metarl.evaluation.play import Player, checkpoint_maker

EPISODES, STEPS = 16, 12


@pytest.fixture(scope="module")
def bandit():
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=3, horizon=STEPS)
    return env, params


def _agent(env, params) -> ActorCritic:
    wrapped = menvs.RL2Wrapper(env)
    config = AgentConfig(core="gru", hidden_size=8, embed_size=0)
    return ActorCritic(config, wrapped.observation_size(params), wrapped.num_actions_rl2)


def _seed_params(agent, num_seeds: int):
    keys = jax.random.split(jax.random.PRNGKey(3), num_seeds)
    params = jax.vmap(agent.init_params)(keys)
    # Fresh heads act near-uniformly (tiny logits), so seeds would pick the same sampled
    # actions; distinct action preferences make each seed's behaviour its own.
    bias = params["policy"]["bias"]
    params["policy"]["bias"] = bias + 3.0 * jax.random.normal(jax.random.PRNGKey(4), bias.shape)
    return params


def test_a_second_call_with_the_same_shapes_does_not_recompile(bandit):
    env, params = bandit
    player = Player(env, EPISODES, STEPS)
    policy = thompson_sampling(3)
    first = player.play_policy(policy, params, jax.random.PRNGKey(0))
    again = player.play_policy(policy, params, jax.random.PRNGKey(0))
    other_key = player.play_policy(policy, params, jax.random.PRNGKey(1))
    assert first.compile_s > 0.0
    assert again.compile_s == 0.0 and other_key.compile_s == 0.0
    assert player.num_compiled == 1
    np.testing.assert_array_equal(first.actions, again.actions)
    np.testing.assert_array_equal(first.rewards, again.rewards)
    assert not np.array_equal(first.rewards, other_key.rewards)
    assert first.rewards.shape == (STEPS, EPISODES)
    assert "regret" in first.info and first.info["regret"].shape == (STEPS, EPISODES)

    # A checkpoint's params are arguments: new values of the same shapes reuse the program,
    # and so does another agent object of the same architecture.
    agent = _agent(env, params)
    maker = checkpoint_maker(agent)
    key = jax.random.PRNGKey(0)
    a = player.play(maker, params, key, policy_args=_seed_params(agent, 2), seeds=True)
    assert a.compile_s > 0.0 and player.num_compiled == 2
    twin = _agent(env, params)
    assert checkpoint_maker(twin) is maker
    halved = jax.tree.map(lambda x: x * 0.5, _seed_params(agent, 2))
    b = player.play(checkpoint_maker(twin), params, key, policy_args=halved, seeds=True)
    assert b.compile_s == 0.0 and player.num_compiled == 2
    assert not np.array_equal(a.actions, b.actions)
    # Another number of seeds is another shape, so another program.
    c = player.play(maker, params, key, policy_args=_seed_params(agent, 3), seeds=True)
    assert c.compile_s > 0.0 and player.num_compiled == 3


def test_seed_vmapped_checkpoint_equals_per_seed_play(bandit):
    env, params = bandit
    agent = _agent(env, params)
    seed_params = _seed_params(agent, 3)
    player = Player(env, EPISODES, STEPS)
    key = jax.random.PRNGKey(7)
    together = player.play(
        checkpoint_maker(agent), params, key, policy_args=seed_params, seeds=True
    )
    assert together.rewards.shape == (3, STEPS, EPISODES)
    for seed in range(3):
        alone = player.play(
            checkpoint_maker(agent),
            params,
            key,
            policy_args=jax.tree.map(lambda leaf, s=seed: leaf[s], seed_params),
        )
        np.testing.assert_array_equal(together.actions[seed], alone.actions)
        np.testing.assert_allclose(together.rewards[seed], alone.rewards)
        for name, value in alone.info.items():
            np.testing.assert_allclose(together.info[name][seed], value, err_msg=name)
    # Every seed faced the same tasks (common random numbers).
    oracle = together.info["optimal_expected_reward"]
    np.testing.assert_array_equal(oracle[0], oracle[1])
    # Different params, different behaviour: the seed axis is really mapped.
    assert not np.array_equal(together.actions[0], together.actions[1])


def _pool_params(task_seed: int):
    _, params = menvs.make(
        "bandit-bernoulli-v0", num_arms=3, horizon=STEPS, num_tasks=4, task_seed=task_seed
    )
    return params


def test_env_params_point_axis_equals_separate_calls(bandit):
    env, _ = bandit
    points = [_pool_params(seed) for seed in (0, 1)]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *points)
    agent = _agent(env, points[0])
    # Sweep layout: params [P, S, ...] beside env params [P, ...].
    seed_params = _seed_params(agent, 2)
    point_params = jax.tree.map(lambda leaf: jnp.stack([leaf, leaf * 0.9]), seed_params)
    player = Player(env, EPISODES, STEPS)
    key = jax.random.PRNGKey(11)
    maker = checkpoint_maker(agent)
    swept = player.play(maker, stacked, key, policy_args=point_params, seeds=True, points=True)
    reference = player.play_policy(random_policy(3), stacked, key, points=True)
    assert swept.rewards.shape == (2, 2, STEPS, EPISODES)
    assert reference.rewards.shape == (2, STEPS, EPISODES)
    for index, env_params in enumerate(points):
        alone = player.play(
            maker,
            env_params,
            key,
            policy_args=jax.tree.map(lambda leaf, i=index: leaf[i], point_params),
            seeds=True,
        )
        np.testing.assert_array_equal(swept.actions[index], alone.actions)
        np.testing.assert_allclose(swept.rewards[index], alone.rewards)
        np.testing.assert_array_equal(swept.info["task_id"][index], alone.info["task_id"])
        ref_alone = player.play_policy(random_policy(3), env_params, key)
        np.testing.assert_array_equal(reference.actions[index], ref_alone.actions)
        np.testing.assert_array_equal(reference.rewards[index], ref_alone.rewards)
    # The two pools hold different tasks, so the points really differ.
    assert not np.array_equal(
        swept.info["optimal_expected_reward"][0], swept.info["optimal_expected_reward"][1]
    )


def test_recorded_extras_and_observations(bandit):
    env, params = bandit
    agent = _agent(env, params)
    player = Player(env, EPISODES, STEPS, record_extras=True, record_observations=True)
    single = jax.tree.map(lambda leaf: leaf[0], _seed_params(agent, 1))
    out = player.play(checkpoint_maker(agent), params, jax.random.PRNGKey(0), policy_args=single)
    assert out.observations.shape[:2] == (STEPS, EPISODES)
    assert "hidden" in out.extras
    assert np.asarray(out.extras["hidden"]).shape[:2] == (STEPS, EPISODES)
    assert out.returns.shape == (EPISODES,)
    plain = Player(env, EPISODES, STEPS).play(
        checkpoint_maker(agent), params, jax.random.PRNGKey(0), policy_args=single
    )
    assert plain.observations is None and plain.extras == {}
    np.testing.assert_array_equal(plain.actions, out.actions)


def test_seeds_need_policy_arrays(bandit):
    env, params = bandit
    with pytest.raises(ValueError, match="seed axis"):
        Player(env, EPISODES, STEPS).play(lambda _: random_policy(3), params, None, seeds=True)
