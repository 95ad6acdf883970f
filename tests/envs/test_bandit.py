"""Bandit family: API contract, determinism, and statistics of rewards, priors and drift."""

import math

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from gymnax.wrappers import LogWrapper

BATCH = 1024


def rollout(env, params, key, steps, batch=BATCH, action_fn=None):
    """Scan ``steps`` vmapped steps with random (or given) actions; returns stacked outputs."""
    num_actions = env.action_space(params).n

    @jax.jit
    def run(key):
        reset_key, run_key = jax.random.split(key)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, batch), params
        )

        def one(carry, step_key):
            obs, state = carry
            action_key, env_key = jax.random.split(step_key)
            actions = jax.random.randint(action_key, (batch,), 0, num_actions)
            if action_fn is not None:
                actions = action_fn(actions)
            obs, state, reward, terminated, truncated, info = jax.vmap(
                env.step, in_axes=(0, 0, 0, None)
            )(jax.random.split(env_key, batch), state, actions, params)
            return (obs, state), (obs, actions, reward, terminated, truncated, info)

        _, out = jax.lax.scan(one, (obs, state), jax.random.split(run_key, steps))
        return out

    return run(key)


def test_shapes_dtypes_and_jit_vmap_over_1024_envs():
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=5, horizon=10)
    obs, _, reward, terminated, truncated, info = rollout(env, params, jax.random.PRNGKey(0), 3)
    assert obs.shape == (3, BATCH, 1) and obs.dtype == jnp.float32
    assert reward.shape == (3, BATCH) and reward.dtype == jnp.float32
    assert terminated.dtype == jnp.bool_ and truncated.dtype == jnp.bool_
    assert info["arm_means"].shape == (3, BATCH, 5)
    assert info["optimal_action"].dtype == jnp.int32
    assert bool(jnp.all((reward == 0) | (reward == 1)))


def test_same_key_same_trajectory_different_key_differs():
    env, params = menvs.make("bandit-restless-v0", num_arms=3, horizon=20)
    a = rollout(env, params, jax.random.PRNGKey(7), 50, batch=64)
    b = rollout(env, params, jax.random.PRNGKey(7), 50, batch=64)
    c = rollout(env, params, jax.random.PRNGKey(8), 50, batch=64)
    for leaf_a, leaf_b in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(leaf_a), np.asarray(leaf_b))
    assert not np.array_equal(np.asarray(a[5]["arm_means"]), np.asarray(c[5]["arm_means"]))


def test_auto_reset_after_horizon_draws_a_new_task():
    horizon = 10
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=2, horizon=horizon)
    _, _, _, terminated, truncated, info = rollout(
        env, params, jax.random.PRNGKey(1), 3 * horizon, batch=256
    )
    truncated = np.asarray(truncated)
    expected = np.zeros(3 * horizon, bool)
    expected[horizon - 1 :: horizon] = True
    np.testing.assert_array_equal(truncated, np.broadcast_to(expected[:, None], truncated.shape))
    assert not np.asarray(terminated).any()
    means = np.asarray(info["arm_means"])
    np.testing.assert_array_equal(means[0], means[horizon - 1])  # no drift: fixed within an episode
    assert (means[horizon] != means[horizon - 1]).any(axis=-1).all()  # every env got a new task
    np.testing.assert_array_equal(np.asarray(info["trial"])[:horizon, 0], np.arange(horizon))


def test_bernoulli_reward_frequency_matches_arm_mean():
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=2, horizon=100)
    _, _, reward, _, _, info = rollout(env, params, jax.random.PRNGKey(2), 100)
    expected = np.asarray(info["expected_reward"]).ravel()
    reward = np.asarray(reward).ravel()
    n = reward.size
    # Sum of independent Bernoullis: the mean difference has sd sqrt(sum p(1-p))/n.
    se = math.sqrt(np.sum(expected * (1 - expected))) / n
    assert abs(reward.mean() - expected.mean()) < 5 * se
    # Per-arm-mean calibration: rewards among pulls with p in [0.8, 1] average ~0.9.
    high = expected > 0.8
    se_high = math.sqrt(np.sum(expected[high] * (1 - expected[high]))) / high.sum()
    assert abs(reward[high].mean() - expected[high].mean()) < 5 * se_high


def test_gaussian_rewards_have_configured_noise():
    env, params = menvs.make("bandit-gaussian-v0", num_arms=2, horizon=50, reward_noise=0.5)
    _, _, reward, _, _, info = rollout(env, params, jax.random.PRNGKey(3), 50)
    residual = np.asarray(reward - info["expected_reward"]).ravel()
    n = residual.size
    assert abs(residual.mean()) < 5 * 0.5 / math.sqrt(n)
    assert abs(residual.std() - 0.5) < 5 * 0.5 / math.sqrt(2 * n)


@pytest.mark.parametrize("prior,expected_mean", [("uniform", 0.5), ("beta", 2.0 / (2.0 + 6.0))])
def test_prior_means(prior, expected_mean):
    env, params = menvs.make(
        "bandit-bernoulli-v0", num_arms=4, prior=prior, prior_a=2.0, prior_b=6.0
    )
    _, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(4), 20000), params
    )
    means = np.asarray(state.task.means).ravel()
    var = 1 / 12 if prior == "uniform" else (2 * 6) / ((8**2) * 9)
    assert abs(means.mean() - expected_mean) < 5 * math.sqrt(var / means.size)


def test_dependent_prior_arms_sum_to_one():
    env, params = menvs.make("bandit-dependent-v0")
    _, _, _, _, _, info = rollout(env, params, jax.random.PRNGKey(5), 5, batch=64)
    np.testing.assert_allclose(np.asarray(info["arm_means"]).sum(-1), 1.0, atol=1e-6)


def test_change_point_frequency_matches_hazard():
    hazard = 0.05
    env, params = menvs.make(
        "bandit-bernoulli-v0", num_arms=3, horizon=100, drift="change_point", hazard=hazard
    )
    _, _, _, _, truncated, info = rollout(env, params, jax.random.PRNGKey(6), 100)
    flags = np.asarray(info["change_point"]).ravel()
    n = flags.size
    assert abs(flags.mean() - hazard) < 5 * math.sqrt(hazard * (1 - hazard) / n)
    # A change-point really changes the next step's means, and nothing else does.
    means = np.asarray(info["arm_means"])
    changed = (means[1:] != means[:-1]).any(-1)
    flagged = np.asarray(info["change_point"])[:-1] & ~np.asarray(truncated)[:-1]
    np.testing.assert_array_equal(changed & ~np.asarray(truncated)[:-1], flagged)


@pytest.mark.parametrize("walk_space", ["logit", "bounded"])
def test_random_walk_increments_have_volatility_sigma(walk_space):
    sigma = 0.01
    env, params = menvs.make(
        "bandit-bernoulli-v0",
        num_arms=2,
        horizon=100,
        drift="random_walk",
        volatility=sigma,
        walk_space=walk_space,
        num_tasks=1,
        task_seed=0,
    )
    params = params.replace(task_pool=params.task_pool.replace(means=jnp.array([[0.5, 0.5]])))
    _, _, _, _, _, info = rollout(env, params, jax.random.PRNGKey(7), 2)
    means = np.asarray(info["arm_means"], np.float64)
    if walk_space == "logit":
        means = np.log(means / (1 - means))
        step_sd = (
            sigma / 0.25
        )  # d logit / dp = 1/(p(1-p)) = 4 at p = 0.5... in logit units the sd is sigma
        step_sd = sigma
    else:
        step_sd = sigma
    increments = (means[1] - means[0]).ravel()
    n = increments.size
    assert abs(increments.mean()) < 5 * step_sd / math.sqrt(n)
    assert abs(increments.std() - step_sd) < 5 * step_sd / math.sqrt(2 * n)


def test_bounded_walk_stays_in_bounds():
    env, params = menvs.make(
        "bandit-bernoulli-v0",
        num_arms=2,
        horizon=100,
        drift="random_walk",
        volatility=0.3,
        walk_space="bounded",
        walk_low=0.25,
        walk_high=0.75,
        prior="uniform",
    )
    _, _, _, _, _, info = rollout(env, params, jax.random.PRNGKey(8), 100, batch=256)
    means = np.asarray(info["arm_means"])[1:]  # after the first walk step
    start = np.asarray(info["arm_means"])[0]
    inside = ((start >= 0.25) & (start <= 0.75)).all(-1)
    walked = means[:, inside]
    assert walked.min() >= 0.25 - 1e-6 and walked.max() <= 0.75 + 1e-6
    assert walked.std() > 0.1  # it really moved


def test_scheduled_reversal_swaps_arms_exactly_once():
    env, params = menvs.make(
        "bandit-bernoulli-v0", num_arms=3, horizon=20, drift="reversal", reversal_steps=(9,)
    )
    _, _, _, _, _, info = rollout(env, params, jax.random.PRNGKey(9), 20, batch=32)
    means = np.asarray(info["arm_means"])
    reversal = np.asarray(info["reversal"])
    assert reversal[9].all() and reversal.sum() == 32
    np.testing.assert_array_equal(means[10], means[9][:, ::-1])
    np.testing.assert_array_equal(means[0], means[9])


def test_finite_pool_is_exactly_n_distinct_tasks_and_episodes_use_it():
    env, params = menvs.make(
        "bandit-bernoulli-v0", num_arms=4, num_tasks=16, task_seed=3, horizon=5
    )
    pool = np.asarray(params.task_pool.means)
    assert pool.shape == (16, 4)
    assert len({row.tobytes() for row in pool}) == 16
    _, _, _, _, _, info = rollout(env, params, jax.random.PRNGKey(10), 5 * 20, batch=256)
    task_ids = np.asarray(info["task_id"]).ravel()
    np.testing.assert_array_equal(np.asarray(info["arm_means"]).reshape(-1, 4), pool[task_ids])
    counts = np.bincount(task_ids, minlength=16) / 5  # per episode
    episodes = counts.sum()
    # Uniform over 16 tasks: each count ~ Binomial(episodes, 1/16).
    sd = math.sqrt(episodes * (1 / 16) * (15 / 16))
    assert np.all(np.abs(counts - episodes / 16) < 5 * sd)


@pytest.mark.parametrize("num_tasks", [1, 4, 64])
def test_held_out_pool_is_disjoint_from_training_pool(num_tasks):
    _, train = menvs.make(
        "bandit-bernoulli-v0", num_arms=2, num_tasks=num_tasks, task_seed=1, held_out_size=256
    )
    _, held = menvs.make(
        "bandit-bernoulli-v0",
        num_arms=2,
        num_tasks=num_tasks,
        task_seed=1,
        held_out_size=256,
        split="held_out",
    )
    train_rows = {row.tobytes() for row in np.asarray(train.task_pool.means)}
    held_rows = {row.tobytes() for row in np.asarray(held.task_pool.means)}
    assert len(train_rows) == num_tasks and len(held_rows) == 256
    assert not train_rows & held_rows


def test_discrete_prior_pool_excludes_training_tasks_from_held_out():
    # A tiny discrete prior: only 4 possible tasks. Two go to training, the rest are held out.
    tasks = jnp.array([[0.1, 0.9], [0.9, 0.1], [0.5, 0.5], [0.3, 0.7]])

    def sample(key):
        return {"means": tasks[jax.random.randint(key, (), 0, 4)]}

    train, held = menvs.build_task_pools(sample, num_tasks=2, task_seed=0, held_out_size=2)
    train_rows = {row.tobytes() for row in np.asarray(train["means"])}
    held_rows = {row.tobytes() for row in np.asarray(held["means"])}
    assert len(train_rows) == 2 and len(held_rows) == 2 and not train_rows & held_rows
    with pytest.raises(menvs.ConfigError, match="distinct"):
        menvs.build_task_pools(sample, num_tasks=3, task_seed=0, held_out_size=2)


def test_infinite_tasks_draw_fresh_from_prior():
    env, params = menvs.make("bandit-bernoulli-v0", num_tasks="infinite")
    assert params.task_pool is None
    _, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), 512), params
    )
    assert len({row.tobytes() for row in np.asarray(state.task.means)}) == 512
    assert int(state.task_id[0]) == -1


def test_log_wrapper_interop_returns_episode_sums():
    horizon = 8
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=2, horizon=horizon)
    _, _, reward, _, _, info = rollout(
        LogWrapper(env), params, jax.random.PRNGKey(11), 2 * horizon, batch=128
    )
    episode_sum = np.asarray(reward)[:horizon].sum(0)
    np.testing.assert_allclose(
        np.asarray(info["returned_episode_returns"])[horizon - 1], episode_sum
    )
    assert np.asarray(info["returned_episode"])[horizon - 1].all()


def test_reward_scale_scales_rewards_and_regret():
    env, params = menvs.make("bandit-bernoulli-v0", num_arms=2, reward_scale=-2.0)
    _, _, reward, _, _, info = rollout(env, params, jax.random.PRNGKey(12), 5, batch=64)
    assert set(np.unique(np.asarray(reward))) <= {0.0, -2.0}
    np.testing.assert_allclose(
        np.asarray(info["regret"]),
        np.asarray(info["optimal_expected_reward"] - info["expected_reward"]),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"num_arms": 1}, "num_arms"),
        ({"reward_type": "poisson"}, "reward_type"),
        ({"prior": "dependent", "num_arms": 3}, "prior"),
        ({"drift": "random_walk"}, "volatility"),
        ({"drift": "teleport"}, "drift"),
        ({"hazard": 1.5, "drift": "change_point"}, "hazard"),
        ({"split": "test"}, "split"),
        ({"num_tasks": 0}, "num_tasks"),
        ({"arms": 3}, "arms"),
    ],
)
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(menvs.ConfigError, match=field):
        menvs.make("bandit-bernoulli-v0", **overrides)


def test_unknown_env_lists_registered_names():
    with pytest.raises(menvs.ConfigError, match="bandit-bernoulli-v0"):
        menvs.make("no-such-env-v0")


def test_gymnax_names_fall_through():
    env, params = menvs.make("BernoulliBandit-misc")
    assert env.name == "BernoulliBandit-misc"
