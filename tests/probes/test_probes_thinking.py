"""Thinking steps: exact K = 0, the checkpoint's K core passes, and the probe on known mechanisms.

A depth-limited planner (think = one more level of search) must gain from thinking;
a policy with no think step (the local maze heuristic) must not, on identical episodes.
Bounds are the paired 95% intervals of the sample in the test (fixed seeds).
"""

from __future__ import annotations

import jax
import metarl.envs as menvs
import numpy as np
import pytest
from metarl.envs.wrappers import RL2Wrapper

from metarl.agents.actor_critic import ActorCritic
from metarl.config import AgentConfig
from metarl.evaluation import evaluate_policy
from metarl.evaluation.agent_policy import agent_policy
from metarl.evaluation.baselines.maze import depth_limited_planner, local_heuristic
from metarl.probes.difficulty import held_out_maze
from metarl.probes.thinking import thinking_curve, with_thinking

KEY = jax.random.PRNGKey(0)


@pytest.fixture(scope="module")
def gru_agent():
    env, params = menvs.make("two-step-v0", num_trials=10)
    agent = ActorCritic(
        AgentConfig(core="gru", hidden_size=16, embed_size=8),
        RL2Wrapper(env).observation_size(params),
        2,
    )
    return env, params, agent, agent.init_params(jax.random.PRNGKey(1))


@pytest.fixture(scope="module")
def maze():
    return held_out_maze(held_out_size=64, prior_bank_size=256)


def _rollout(policy, env, params, episodes, steps):
    return jax.jit(
        lambda k: evaluate_policy(
            policy, env, params, k, episodes, steps, record_extras=True, record_observations=True
        )
    )(KEY)


def test_checkpoint_thinking_is_k_extra_core_passes_on_the_same_input(gru_agent):
    env, params, agent, weights = gru_agent
    policy = agent_policy(agent, weights)
    assert with_thinking(policy, 0) is policy  # K = 0 is exactly act
    episodes, steps, k = 4, 40, 3  # two episodes per column (20 steps each)
    batch = _rollout(with_thinking(policy, k), env, params, episodes, steps)

    # Replay by hand: reset at each episode start, K core steps, then one more whose heads act.
    @jax.jit
    def replay_step(carry, obs):
        for _ in range(k):
            carry, _ = agent.core_step(weights, carry, obs)
        return agent.core_step(weights, carry, obs)

    carry = agent.initialize_carry(episodes)
    for t in range(steps):
        if t % 20 == 0:
            carry = agent.initialize_carry(episodes)
        carry, out = replay_step(carry, batch.observations[t])
        np.testing.assert_allclose(
            np.asarray(batch.extras["logits"][t]), np.asarray(out.logits), atol=1e-5
        )
    # Thinking changed something: the K = 0 agent's logits on the same inputs differ.
    plain = _rollout(policy, env, params, episodes, steps)
    assert (
        np.abs(np.asarray(plain.extras["logits"]) - np.asarray(batch.extras["logits"])).max() > 1e-4
    )

    # The curve's single program with a traced K gives the same episodes as the static wrappers.
    curve = thinking_curve(
        policy, env, params, KEY, ks=(0, k), num_episodes=episodes, num_steps=steps
    )
    for index, reference in enumerate((plain, batch)):
        expected = float(np.mean(np.asarray(reference.returns, np.float64)))
        assert curve.return_mean[index] == pytest.approx(expected, abs=1e-9)
    assert curve.return_gain[0] == 0.0 and curve.return_gain_half_width[0] == 0.0


def test_think_extends_the_depth_limited_planners_search(maze):
    env, params = maze
    batch = _rollout(with_thinking(depth_limited_planner(params, depth=2), 3), env, params, 8, 30)
    assert np.all(np.asarray(batch.extras["search_depth"]) == 5)


def test_depth_limited_planner_gains_from_thinking_and_the_local_heuristic_does_not(maze):
    env, params = maze
    ks = (0, 1, 2, 4, 8)
    planner = thinking_curve(
        depth_limited_planner(params, depth=1), env, params, KEY, ks=ks, num_episodes=128
    )
    heuristic = thinking_curve(local_heuristic(params), env, params, KEY, ks=ks, num_episodes=128)
    # Goals reached per 200-step episode (measured, 128 episodes: 8.08 +- 0.94 at K = 0,
    # 11.77 +- 1.27 at K = 8, paired gain +3.70 +- 0.72; K = 4: +1.45 +- 0.55).
    assert planner.success_gain[-1] - planner.success_gain_half_width[-1] > 1.0
    assert planner.success_gain[3] - planner.success_gain_half_width[3] > 0.0
    assert planner.success_mean[-1] > planner.success_mean[2] > planner.success_mean[0]
    # No think step: identical play at every K, zero gain inside its interval.
    np.testing.assert_array_equal(heuristic.success_gain, 0.0)
    assert np.all(np.abs(heuristic.return_gain) <= heuristic.return_gain_half_width)
    assert heuristic.success_half_width[0] > 0


def test_bad_arguments(gru_agent, maze):
    env, params, agent, weights = gru_agent
    policy = agent_policy(agent, weights)
    with pytest.raises(ValueError):
        with_thinking(policy, -1)
    with pytest.raises(ValueError):
        thinking_curve(policy, env, params, KEY, ks=(1, 2), num_episodes=4)
    with pytest.raises(ValueError):
        depth_limited_planner(maze[1], depth=0)
