"""The two-step task: API contract, transition/reward/drift statistics, task pools, config errors.

Statistical bounds are 5 binomial (or normal) standard errors computed from the
sample size in the test, with fixed seeds.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from gymnax.wrappers import LogWrapper
from metarl.envs import ConfigError, RL2Wrapper
from metarl.envs.two_step import TwoStep, TwoStepConfig, build_two_step

NUM_TRIALS = 20
STEPS = 4 * NUM_TRIALS  # two episodes, so auto-reset is inside every rollout
BATCH = 1024

INFO_DTYPES = {
    "trial_boundary": jnp.bool_,
    "trial": jnp.int32,
    "stage": jnp.int32,
    "task_id": jnp.int32,
    "first_stage_action": jnp.int32,
    "transition_common": jnp.bool_,
    "second_stage_state": jnp.int32,
    "rewarded": jnp.bool_,
    "reward_probs": jnp.float32,
    "optimal_action": jnp.int32,
    "expected_reward": jnp.float32,
    "optimal_expected_reward": jnp.float32,
    "regret": jnp.float32,
    "change_point": jnp.bool_,
    "reversal": jnp.bool_,
    "drift_event": jnp.bool_,
}


@partial(jax.jit, static_argnames=("env", "batch", "steps"))
def rollout(env, params, key, batch: int, steps: int):
    """Uniformly random actions; returns per-step arrays shaped [steps, batch, ...]."""
    reset_key, run_key = jax.random.split(key)
    obs0, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, batch), params)

    def one_step(state, step_key):
        action_key, env_key = jax.random.split(step_key)
        action = jax.random.randint(action_key, (batch,), 0, 2)
        obs, state, reward, terminated, truncated, info = jax.vmap(
            env.step, in_axes=(0, 0, 0, None)
        )(jax.random.split(env_key, batch), state, action, params)
        return state, dict(
            obs=obs,
            action=action,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            info=info,
        )

    final_state, out = jax.lax.scan(one_step, state, jax.random.split(run_key, steps))
    return obs0, out, final_state


# Every rollout runs the stack training uses, RL^2 inputs over gymnax's episode
# logging over the env, with one stack per variant so tests share its compile.
_STACKS: dict[str, RL2Wrapper] = {}


def make(name: str, **overrides):
    env, params = menvs.make(name, **overrides)
    assert isinstance(env, TwoStep)
    return _STACKS.setdefault(params.variant, RL2Wrapper(LogWrapper(env))), params


def run(name: str, seed: int = 0, **overrides):
    """Random-action rollout: (reset obs, per-step outputs, final env state) as numpy.

    ``obs`` is the env's own observation; ``rl2_obs`` the full wrapped input.
    """
    stack, params = make(name, num_trials=NUM_TRIALS, **overrides)
    rl2_obs0, out, final = jax.tree.map(
        np.asarray, rollout(stack, params, jax.random.PRNGKey(seed), BATCH, STEPS)
    )
    out["rl2_obs"], out["obs"] = out["obs"], out["obs"][..., :3]
    return rl2_obs0[:, :3], out, final.env_state.env_state


@pytest.fixture(scope="module")
def wang():
    return run("two-step-v0")


@pytest.fixture(scope="module")
def daw():
    return run("two-step-daw-v0")


def test_registered_defaults():
    assert {"two-step-v0", "two-step-daw-v0"} <= set(menvs.registered_names())
    _, wang_params = menvs.make("two-step-v0")
    assert wang_params.variant == "wang"
    assert wang_params.max_steps_in_episode == 200
    assert wang_params.common_prob == pytest.approx(0.8)
    assert (wang_params.reward_high, wang_params.reward_low) == pytest.approx((0.9, 0.1))
    assert wang_params.drift.kinds == ("reversal",)
    assert wang_params.drift.reversal_hazard == pytest.approx(0.025)
    _, daw_params = menvs.make("two-step-daw-v0")
    assert daw_params.variant == "daw"
    assert daw_params.max_steps_in_episode == 200
    assert daw_params.common_prob == pytest.approx(0.7)
    assert daw_params.drift.kinds == ("random_walk",)
    assert daw_params.drift.walk_space == "bounded"
    assert daw_params.drift.volatility == pytest.approx(0.025)
    assert (daw_params.drift.walk_low, daw_params.drift.walk_high) == pytest.approx((0.25, 0.75))


def test_determinism(wang):
    again = run("two-step-v0")
    other = run("two-step-v0", seed=1)
    for a, b in zip(jax.tree.leaves(wang), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(
        wang[1]["info"]["transition_common"], other[1]["info"]["transition_common"]
    )


@pytest.mark.parametrize("fixture", ["wang", "daw"])
def test_shapes_dtypes_and_trial_structure(fixture, request):
    obs0, out, _ = request.getfixturevalue(fixture)
    env, params = menvs.make("two-step-v0" if fixture == "wang" else "two-step-daw-v0")
    assert env.action_space(params).n == 2
    space = env.observation_space(params)
    assert obs0.shape == (BATCH, 3) and obs0.dtype == np.float32
    np.testing.assert_array_equal(obs0, np.tile([1.0, 0.0, 0.0], (BATCH, 1)))
    obs, info = out["obs"], out["info"]
    assert obs.shape == (STEPS, BATCH, 3) and obs.dtype == np.float32
    assert bool(space.contains(jnp.asarray(obs[0, 0])))
    assert out["reward"].shape == (STEPS, BATCH) and out["reward"].dtype == np.float32
    assert set(INFO_DTYPES) <= set(info)
    for key, dtype in INFO_DTYPES.items():
        assert info[key].dtype == dtype, key
        expected = (STEPS, BATCH, 2, 2) if key == "reward_probs" else (STEPS, BATCH)
        assert info[key].shape == expected, key
    t = np.arange(STEPS)[:, None]
    np.testing.assert_array_equal(info["stage"], np.broadcast_to(1 + t % 2, (STEPS, BATCH)))
    np.testing.assert_array_equal(info["trial_boundary"], info["stage"] == 2)
    np.testing.assert_array_equal(
        info["trial"], np.broadcast_to((t % (2 * NUM_TRIALS)) // 2, (STEPS, BATCH))
    )
    # After a first-stage step the agent sees the second-stage state it reached; after
    # a second-stage step it is back at the first stage.
    reached = np.eye(3, dtype=np.float32)[1 + info["second_stage_state"]]
    np.testing.assert_array_equal(obs[0::2], reached[0::2])
    np.testing.assert_array_equal(obs[1::2], np.broadcast_to([1.0, 0.0, 0.0], obs[1::2].shape))
    np.testing.assert_array_equal(info["first_stage_action"][0::2], out["action"][0::2])
    np.testing.assert_array_equal(info["first_stage_action"][1::2], out["action"][0::2])
    np.testing.assert_array_equal(
        info["second_stage_state"][1::2], info["second_stage_state"][0::2]
    )
    np.testing.assert_array_equal(info["transition_common"][1::2], info["transition_common"][0::2])
    # Rewards only at the second stage, and exactly when `rewarded`.
    assert not info["rewarded"][0::2].any()
    np.testing.assert_array_equal(out["reward"], info["rewarded"].astype(np.float32))
    assert not info["change_point"].any()
    assert not info["drift_event"][0::2].any()
    np.testing.assert_array_equal(info["regret"][0::2], 0.0)


@pytest.mark.parametrize("fixture", ["wang", "daw"])
def test_auto_reset_after_two_steps_per_trial(fixture, request):
    _, out, final_state = request.getfixturevalue(fixture)
    episode = 2 * NUM_TRIALS
    truncated = np.zeros((STEPS, BATCH), bool)
    truncated[episode - 1 :: episode] = True
    np.testing.assert_array_equal(out["truncated"], truncated)
    assert not out["terminated"].any()
    np.testing.assert_array_equal(np.asarray(final_state.time), 0)
    # The new episode starts at the first stage with a fresh prior draw of the task.
    np.testing.assert_array_equal(out["obs"][episode - 1], np.tile([1.0, 0.0, 0.0], (BATCH, 1)))
    probs = out["info"]["reward_probs"]
    same_task = np.all(np.isclose(probs[episode - 1], probs[episode]), axis=(-2, -1))
    # wang: an independent fair draw keeps the good side with probability 1/2 (bound:
    # 5 binomial SE at n = BATCH); daw: continuous probabilities are never redrawn equal.
    limit = 0.5 + 5 * np.sqrt(0.25 / BATCH) if fixture == "wang" else 0.0
    assert same_task.mean() <= limit


@pytest.mark.parametrize("common_prob", [0.8, 0.7])
def test_transition_frequencies_match_common_prob(common_prob):
    out = run("two-step-v0", seed=1, common_prob=common_prob)[1]
    info, action = out["info"], out["action"]
    common = info["transition_common"][0::2]
    first_action = action[0::2]
    reached = info["second_stage_state"][0::2]
    np.testing.assert_array_equal(reached, np.where(common, first_action, 1 - first_action))
    for a in (0, 1):
        chose = first_action == a
        n = chose.sum()
        bound = 5 * np.sqrt(common_prob * (1 - common_prob) / n)
        assert abs(common[chose].mean() - common_prob) < bound, (a, n)


def test_rewards_follow_reward_probs(wang, daw):
    for out in (wang[1], daw[1]):
        info = out["info"]
        p = info["expected_reward"][1::2]
        # expected_reward is the true probability of the state and action taken.
        chosen = np.take_along_axis(
            np.take_along_axis(
                info["reward_probs"][1::2], info["second_stage_state"][1::2, :, None, None], axis=2
            )[:, :, 0],
            out["action"][1::2, :, None],
            axis=2,
        )[..., 0]
        np.testing.assert_allclose(p, chosen)
        rewarded = info["rewarded"][1::2].astype(np.float64)
        bound = 5 * np.sqrt((p * (1 - p)).sum()) / p.size
        assert abs((rewarded - p).mean()) < bound


@pytest.mark.parametrize(
    ("common_prob", "good_value", "bad_value"), [(0.8, 0.74, 0.26), (0.7, 0.66, 0.34)]
)
def test_wang_optimal_action_and_regret_reference_values(common_prob, good_value, bad_value):
    # Hand-computed: Q(good) = c*0.9 + (1-c)*0.1, Q(bad) = c*0.1 + (1-c)*0.9.
    info = run("two-step-v0", seed=2, common_prob=common_prob)[1]["info"]
    probs = info["reward_probs"]
    good_state = np.argmax(probs[..., 0], axis=-1)
    np.testing.assert_array_equal(info["optimal_action"][0::2], good_state[0::2])
    chose_good = info["first_stage_action"][1::2] == good_state[1::2]
    np.testing.assert_allclose(
        info["regret"][1::2], np.where(chose_good, 0.0, good_value - bad_value), atol=1e-6
    )
    np.testing.assert_allclose(info["optimal_expected_reward"][1::2], good_value, atol=1e-6)


def test_daw_regret_reference_values():
    env, params = menvs.make("two-step-daw-v0", num_trials=NUM_TRIALS, common_prob=0.7)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = state.replace(
        task=state.task.replace(reward_probs=jnp.array([[0.3, 0.6], [0.5, 0.4]], jnp.float32))
    )
    # V = (0.6, 0.5); Q1 = (0.7*0.6 + 0.3*0.5, 0.7*0.5 + 0.3*0.6) = (0.57, 0.53): a1 = 0 is optimal.
    _, mid, _, _, _, info1 = env.step(jax.random.PRNGKey(1), state, 1, params)
    assert int(info1["optimal_action"]) == 0
    assert float(info1["regret"]) == 0.0
    s2 = int(info1["second_stage_state"])
    _, _, _, _, _, info2 = env.step(jax.random.PRNGKey(2), mid, 0, params)
    # a1 = 1 costs 0.57 - 0.53; a2 = 0 then costs V[s2] - p[s2, 0]: 0.3 in state 0, 0 in state 1.
    expected = 0.04 + (0.3 if s2 == 0 else 0.0)
    assert float(info2["regret"]) == pytest.approx(expected, abs=1e-6)
    assert int(info2["optimal_action"]) == (1 if s2 == 0 else 0)
    assert float(info2["optimal_expected_reward"]) == pytest.approx(0.57, abs=1e-6)


@pytest.mark.parametrize("swap_prob", [0.025, 0.2])
def test_swap_frequency_per_trial_matches_swap_prob(swap_prob):
    out = run("two-step-v0", seed=3, swap_prob=swap_prob)[1]
    info = out["info"]
    assert not info["reversal"][0::2].any()
    swaps = info["reversal"][1::2]
    n = swaps.size
    assert abs(swaps.mean() - swap_prob) < 5 * np.sqrt(swap_prob * (1 - swap_prob) / n)
    # A reported reversal is the good side actually swapping for the next trial, and
    # nothing else ever changes the task inside an episode.
    probs = info["reward_probs"]
    end_probs, next_probs = probs[1:-1:2], probs[2::2]
    inside = ~out["truncated"][1:-1:2]
    reversed_now = info["reversal"][1:-1:2]
    np.testing.assert_array_equal(
        next_probs[inside & reversed_now], end_probs[inside & reversed_now][:, ::-1]
    )
    np.testing.assert_array_equal(
        next_probs[inside & ~reversed_now], end_probs[inside & ~reversed_now]
    )
    # Within a trial the task is fixed.
    np.testing.assert_array_equal(probs[0::2], probs[1::2])


def test_daw_random_walk_has_configured_sd_and_stays_in_bounds(daw):
    out = daw[1]
    probs = out["info"]["reward_probs"].astype(np.float64)
    assert probs.min() >= 0.25 - 1e-6 and probs.max() <= 0.75 + 1e-6
    np.testing.assert_array_equal(probs[0::2], probs[1::2])  # walks once per trial
    inside = ~out["truncated"][1:-1:2]
    before, after = probs[1:-1:2][inside], probs[2::2][inside]
    # Reflection can only bend an increment that starts near a bound; 0.125 = 5 sd away.
    interior = (before > 0.375) & (before < 0.625)
    increments = (after - before)[interior]
    n = increments.size
    sd = 0.025
    assert n > 10_000
    assert abs(increments.mean()) < 5 * sd / np.sqrt(n)
    # SE of a sample sd of n normals is sd / sqrt(2 (n - 1)).
    assert abs(increments.std(ddof=1) - sd) < 5 * sd / np.sqrt(2 * (n - 1))
    # The bounded walk reached the edges, so the bounds above were exercised.
    assert (probs < 0.26).any() and (probs > 0.74).any()
    # Initial probabilities ~ U(0.25, 0.75): mean 0.5, sd 0.5 / sqrt(12).
    start = probs[[0, 2 * NUM_TRIALS]].ravel()
    assert abs(start.mean() - 0.5) < 5 * (0.5 / np.sqrt(12)) / np.sqrt(start.size)


def _reset_many(env, params, count: int = 1024):
    _, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), count), params
    )
    return np.asarray(state.task_id), np.asarray(state.task.reward_probs)


def test_daw_finite_pool_is_n_distinct_tasks_disjoint_from_held_out():
    config = TwoStepConfig(variant="daw", num_tasks=5, held_out_size=7, task_seed=3)
    env, train = build_two_step(config, "test")
    # A separate build: disjointness also needs the pools to be reproducible from task_seed.
    _, held = build_two_step(dataclasses.replace(config, split="held_out"), "test")
    train_rows = {row.tobytes() for row in np.asarray(train.task_pool.reward_probs).reshape(5, 4)}
    held_rows = {row.tobytes() for row in np.asarray(held.task_pool.reward_probs).reshape(7, 4)}
    assert len(train_rows) == 5 and len(held_rows) == 7
    assert not train_rows & held_rows
    task_id, probs = _reset_many(env, train)
    assert set(task_id.tolist()) == set(range(5))
    np.testing.assert_array_equal(probs, np.asarray(train.task_pool.reward_probs)[task_id])


def test_wang_pools_deal_out_the_two_orientations():
    left_good = np.array([[0.9, 0.9], [0.1, 0.1]], np.float32)
    right_good = left_good[::-1]
    env, one = menvs.make("two-step-v0", num_tasks=1)
    _, held = menvs.make("two-step-v0", num_tasks=1, split="held_out")
    pools = [np.asarray(one.task_pool.reward_probs), np.asarray(held.task_pool.reward_probs)]
    assert pools[0].shape == pools[1].shape == (1, 2, 2)
    assert {pools[0][0].tobytes(), pools[1][0].tobytes()} == {
        left_good.tobytes(),
        right_good.tobytes(),
    }
    task_id, probs = _reset_many(env, one)
    np.testing.assert_array_equal(task_id, 0)
    np.testing.assert_array_equal(probs, np.broadcast_to(pools[0][0], probs.shape))
    _, both = menvs.make("two-step-v0", num_tasks=2)
    assert {row.tobytes() for row in np.asarray(both.task_pool.reward_probs)} == {
        left_good.tobytes(),
        right_good.tobytes(),
    }
    # With infinitely many tasks the held-out set is both orientations.
    _, prior_held = menvs.make("two-step-v0", split="held_out")
    assert np.asarray(prior_held.task_pool.reward_probs).shape == (2, 2, 2)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (dict(num_tasks=3), "num_tasks"),
        (dict(num_tasks=1, held_out_size=2), "held_out_size"),
        (dict(num_tasks=2, split="held_out"), "split"),
    ],
)
def test_wang_pool_errors_when_asking_for_more_tasks_than_exist(overrides, field):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        menvs.make("two-step-v0", **overrides)


@pytest.mark.parametrize(
    ("name", "overrides", "field"),
    [
        ("two-step-v0", dict(variant="tree"), "variant"),
        ("two-step-v0", dict(num_trials=0), "num_trials"),
        ("two-step-v0", dict(num_trials=2.5), "num_trials"),
        ("two-step-v0", dict(common_prob=0.4), "common_prob"),
        ("two-step-v0", dict(common_prob=1.1), "common_prob"),
        ("two-step-v0", dict(reward_high=1.2), "reward_high"),
        ("two-step-v0", dict(reward_low=-0.1), "reward_low"),
        ("two-step-v0", dict(reward_low=0.9, reward_high=0.5), "reward_low"),
        ("two-step-v0", dict(swap_prob=1.5), "swap_prob"),
        ("two-step-v0", dict(volatility=0.1), "volatility"),
        ("two-step-daw-v0", dict(volatility=-0.1), "volatility"),
        ("two-step-daw-v0", dict(walk_low=0.8, walk_high=0.7), "walk_low"),
        ("two-step-daw-v0", dict(walk_high=1.5), "walk_high"),
        ("two-step-v0", dict(num_tasks=0), "num_tasks"),
        ("two-step-v0", dict(task_seed=-1), "task_seed"),
        ("two-step-daw-v0", dict(held_out_size=0), "held_out_size"),
        ("two-step-v0", dict(split="test"), "split"),
        ("two-step-v0", dict(swap=0.1), "swap"),
    ],
)
def test_bad_config_raises_config_error_naming_the_field(name, overrides, field):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        menvs.make(name, **overrides)


def test_log_wrapper_and_rl2_wrapper(wang):
    _, out, _ = wang
    info, rl2_obs, truncated = out["info"], out["rl2_obs"], out["truncated"]
    episode = 2 * NUM_TRIALS
    _, params = menvs.make("two-step-v0")
    assert RL2Wrapper(LogWrapper(TwoStep())).observation_size(params) == 3 + 2 + 2
    assert rl2_obs.shape == (STEPS, BATCH, 7)
    # LogWrapper: an episode is returned every 2 * num_trials steps with its summed reward.
    done = info["returned_episode"]
    np.testing.assert_array_equal(done, truncated)
    np.testing.assert_array_equal(info["returned_episode_lengths"][done], episode)
    rewards = out["reward"].reshape(2, episode, BATCH).sum(axis=1)
    np.testing.assert_allclose(info["returned_episode_returns"][done].reshape(2, BATCH), rewards)
    # RL^2: new-trial flag after every second-stage step, never after a first-stage one.
    new_trial = np.broadcast_to((np.arange(STEPS) % 2 == 1)[:, None], (STEPS, BATCH))
    np.testing.assert_array_equal(rl2_obs[..., -1], new_trial)
    # The previous-reward input is the reward just received (0 after an episode ends) and
    # the previous action the one just taken (none after an episode ends).
    np.testing.assert_array_equal(rl2_obs[..., -2], np.where(truncated, 0.0, out["reward"]))
    one_hot_action = np.eye(2, dtype=np.float32)[out["action"]] * ~truncated[..., None]
    np.testing.assert_array_equal(rl2_obs[..., 3:5], one_hot_action)
    # An episode ends at the first stage, so the last observation equals the reset one.
    np.testing.assert_array_equal(rl2_obs[..., :3], info["final_observation"])
