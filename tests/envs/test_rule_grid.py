"""The rule gridworld: API contract, ruleset dynamics, drift statistics, task pools, views, config errors.

Statistical bounds are 5 binomial standard errors computed from the sample size
in the test, with fixed seeds.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from gymnax.wrappers import LogWrapper
from metarl.envs import ConfigError, RL2Wrapper
from metarl.envs.rule_grid import (
    DISAPPEAR,
    DOWN,
    LEFT,
    RESPAWN,
    RIGHT,
    TRANSFORM,
    UP,
    RuleGridConfig,
    RuleGridState,
    Ruleset,
    build_rule_grid,
    count_rulesets,
    select_free_cell,
)

BATCH = 1024
TRIAL_LENGTH = 6
NUM_TRIALS = 2
EPISODE = TRIAL_LENGTH * NUM_TRIALS
STEPS = 2 * EPISODE + 3  # crosses two auto-resets
SMALL = dict(trial_length=TRIAL_LENGTH, num_trials=NUM_TRIALS)
N_INTERIOR = 7  # default grid_size 9 includes the wall

INFO_DTYPES = {
    "trial_boundary": jnp.bool_,
    "trial": jnp.int32,
    "task_id": jnp.int32,
    "ruleset_id": jnp.int32,
    "collected_type": jnp.int32,
    "ruleset_rewards": jnp.float32,
    "ruleset_effects": jnp.int32,
    "ruleset_transform_to": jnp.int32,
    "change_point": jnp.bool_,
    "reversal": jnp.bool_,
    "drift_event": jnp.bool_,
    "terminated": jnp.bool_,
    "truncated": jnp.bool_,
    "final_observation": jnp.float32,
}


@partial(jax.jit, static_argnames=("env", "batch", "steps"))
def rollout(env, params, key, batch: int, steps: int):
    """Uniformly random actions; per-step arrays shaped [steps, batch, ...], states before and after."""
    reset_key, run_key = jax.random.split(key)
    obs0, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, batch), params)
    num_actions = env.action_space(params).n

    def one_step(state, step_key):
        action_key, env_key = jax.random.split(step_key)
        action = jax.random.randint(action_key, (batch,), 0, num_actions)
        obs, next_state, reward, terminated, truncated, info = jax.vmap(
            env.step, in_axes=(0, 0, 0, None)
        )(jax.random.split(env_key, batch), state, action, params)
        return next_state, dict(
            before=state,
            after=next_state,
            obs=obs,
            action=action,
            reward=reward,
            truncated=truncated,
            info=info,
        )

    _, out = jax.lax.scan(one_step, state, jax.random.split(run_key, steps))
    return obs0, out


def type_counts(grid: np.ndarray, num_types: int) -> np.ndarray:
    """[..., cells] int8 grid -> [..., num_types] object counts."""
    return np.stack([(grid == t + 1).sum(-1) for t in range(num_types)], -1)


@pytest.fixture(scope="module")
def prior_run():
    """Default ruleset prior (all three effects), short trials, 1024 envs, two auto-resets."""
    env, params = menvs.make("rule-grid-v0", **SMALL)
    obs0, out = rollout(env, params, jax.random.PRNGKey(0), BATCH, STEPS)
    return env, params, obs0, jax.tree.map(np.asarray, out)


# --------------------------------------------------------------------------- API contract


def test_shapes_dtypes_and_spaces(prior_run):
    env, params, obs0, out = prior_run
    assert env.num_actions == 4
    assert obs0.shape == (BATCH, 5, 5, 4) and obs0.dtype == jnp.float32
    assert out["obs"].shape == (STEPS, BATCH, 5, 5, 4) and out["obs"].dtype == np.float32
    assert env.observation_space(params).contains(jnp.asarray(out["obs"][0, 0]))
    assert out["reward"].shape == (STEPS, BATCH) and out["reward"].dtype == np.float32
    assert set(out["info"]) == set(INFO_DTYPES)
    for name, dtype in INFO_DTYPES.items():
        assert out["info"][name].dtype == dtype, name
    assert out["info"]["ruleset_rewards"].shape == (STEPS, BATCH, 3)
    # One-hot: every cell of the window holds at most one thing.
    assert out["obs"].sum(-1).max() == 1.0

    for name, shape in (("rule-grid-full-v0", (7, 7, 4)), ("rule-grid-v0", (5, 5, 4))):
        e, p = menvs.make(name)
        assert e.observation_space(p).shape == shape
    e, p = menvs.make("rule-grid-v0", obs_format="flat", view_size=3, allow_stay=True)
    assert e.observation_space(p).shape == (36,) and e.num_actions == 5


def test_auto_reset_and_trial_boundaries(prior_run):
    _, _, _, out = prior_run
    steps = np.arange(STEPS)
    time_after = out["after"].time[:, 0]
    expected_time = (steps + 1) % EPISODE
    np.testing.assert_array_equal(time_after, expected_time)
    truncated = out["truncated"]
    assert np.array_equal(truncated.all(1), (steps + 1) % EPISODE == 0) and np.array_equal(
        truncated.any(1), truncated.all(1)
    )
    boundary = out["info"]["trial_boundary"]
    assert np.array_equal(boundary.all(1), (steps + 1) % TRIAL_LENGTH == 0)
    assert np.array_equal(boundary.any(1), boundary.all(1))
    np.testing.assert_array_equal(out["info"]["trial"][:, 0], (steps % EPISODE) // TRIAL_LENGTH)

    # A trial start is a full fresh placement: objects_per_type of each type, agent on an empty cell.
    grid = out["after"].grid[boundary.all(1)]
    assert (type_counts(grid, 3) == 3).all()
    agent = out["after"].agent_row * N_INTERIOR + out["after"].agent_col
    on_agent = np.take_along_axis(out["after"].grid, agent[..., None], -1)[..., 0]
    assert (on_agent[boundary.all(1)] == 0).all()
    # Placements differ across envs (drawn from the layout bank, not one layout).
    assert len({g.tobytes() for g in grid[0]}) > BATCH // 2

    # The ruleset is kept across trial starts inside an episode and redrawn at an episode start.
    rewards = out["info"]["ruleset_rewards"]
    inside = (steps % EPISODE) != 0  # step t and t-1 belong to the same episode
    same = (rewards[1:] == rewards[:-1]).all(-1)
    assert same[inside[1:]].all()
    new_episode = same[~inside[1:]]
    assert new_episode.mean() < 0.1  # redrawn: most envs get a different ruleset


def test_determinism(prior_run):
    env, params, obs0, out = prior_run
    # Same compiled rollout as the fixture: same key, bit-identical; another key, another run.
    obs0_again, again = rollout(env, params, jax.random.PRNGKey(0), BATCH, STEPS)
    np.testing.assert_array_equal(obs0_again, obs0)
    for x, y in zip(jax.tree.leaves(again), jax.tree.leaves(out), strict=True):
        np.testing.assert_array_equal(np.asarray(x), y)
    _, other = rollout(env, params, jax.random.PRNGKey(1), BATCH, STEPS)
    assert not np.array_equal(np.asarray(other["after"].grid), out["after"].grid)


def test_step_matches_step_env_until_the_episode_ends():
    """The fused auto-reset step equals step_env inside an episode and resets at its end."""
    env, params = menvs.make("rule-grid-v0", **SMALL, num_tasks=8)
    key = jax.random.PRNGKey(5)
    _, state = env.reset(key, params)
    both = jax.jit(lambda k, s, a: (env.step(k, s, a, params), env.step_env(k, s, a, params)))
    for t in range(EPISODE):
        (obs, new_state, reward, _, truncated, info), (obs_e, state_e, reward_e, _, _) = both(
            jax.random.fold_in(key, t), state, t % 4
        )
        np.testing.assert_array_equal(obs, obs_e)
        assert reward == reward_e
        assert bool(truncated) == (t == EPISODE - 1)
        if t < EPISODE - 1:
            for x, y in zip(jax.tree.leaves(new_state), jax.tree.leaves(state_e), strict=True):
                np.testing.assert_array_equal(x, y)
        else:
            assert int(new_state.time) == 0
            task_id = int(new_state.task_id)
            assert 0 <= task_id < 8 and int(new_state.ruleset_id) == task_id
            np.testing.assert_array_equal(
                new_state.ruleset.rewards, params.task_pool.rewards[task_id]
            )
            np.testing.assert_array_equal(
                new_state.grid, state_e.grid
            )  # the trial change placed it
        state = new_state


def test_log_wrapper_and_rl2_wrapper():
    env, params = menvs.make("rule-grid-v0", **SMALL, num_tasks=4, reward_values=(1.0,))
    # Every object is worth +1, so an episode's return is its number of collections.
    log_env = LogWrapper(env)
    key = jax.random.PRNGKey(7)
    _, state = log_env.reset(key, params)
    step = jax.jit(log_env.step)
    total, collections = 0.0, 0
    for t in range(EPISODE):
        _, state, reward, _, truncated, info = step(
            jax.random.fold_in(key, t), state, t % 4, params
        )
        total += float(reward)
        collections += int(info["collected_type"] >= 0)
    assert bool(info["returned_episode"]) and bool(truncated)
    assert float(info["returned_episode_returns"]) == total == collections
    assert int(info["returned_episode_lengths"]) == EPISODE

    rl2 = RL2Wrapper(env)
    assert rl2.observation_size(params) == 5 * 5 * 4 + 4 + 2
    key = jax.random.key(8)  # typed keys work as well as raw ones
    obs, state = rl2.reset(key, params)
    assert obs.shape == (106,) and obs[-1] == 1.0
    flags = []
    for t in range(TRIAL_LENGTH + 1):
        obs, state, *_ = rl2.step(jax.random.fold_in(key, 100 + t), state, RIGHT, params)
        flags.append(float(obs[-1]))
    assert flags == [0.0] * (TRIAL_LENGTH - 1) + [1.0, 0.0]
    assert obs[100 + RIGHT] == 1.0  # previous action one-hot


# --------------------------------------------------------------------------- ruleset dynamics


def test_rewards_and_effects_follow_the_ruleset(prior_run):
    _, _, _, out = prior_run
    info = out["info"]
    collected = info["collected_type"]
    hit = collected >= 0
    t = np.maximum(collected, 0)
    r_t = np.take_along_axis(info["ruleset_rewards"], t[..., None], -1)[..., 0]
    np.testing.assert_array_equal(out["reward"], np.where(hit, r_t, 0.0))

    boundary = info["trial_boundary"]
    before, after = out["before"], out["after"]
    counts_before, counts_after = type_counts(before.grid, 3), type_counts(after.grid, 3)
    effect = np.take_along_axis(info["ruleset_effects"], t[..., None], -1)[..., 0]
    target = np.take_along_axis(info["ruleset_transform_to"], t[..., None], -1)[..., 0]
    agent = after.agent_row * N_INTERIOR + after.agent_col
    under_agent = np.take_along_axis(after.grid, agent[..., None], -1)[..., 0]
    one_hot = np.eye(3, dtype=int)
    inside = ~boundary  # trial starts re-place everything; checked elsewhere

    # Nothing collected: the grid does not change.
    quiet = inside & ~hit
    assert np.array_equal(before.grid[quiet], after.grid[quiet])

    disappear = inside & hit & (effect == DISAPPEAR)
    assert np.array_equal(counts_after[disappear], counts_before[disappear] - one_hot[t[disappear]])
    assert (under_agent[disappear] == 0).all()

    respawn = inside & hit & (effect == RESPAWN)
    assert np.array_equal(counts_after[respawn], counts_before[respawn])
    assert (under_agent[respawn] == 0).all()
    # The object reappears on exactly one cell that was empty before.
    appeared = (after.grid != before.grid) & (after.grid > 0)
    assert (appeared[respawn].sum(-1) == 1).all()
    assert (before.grid[respawn][appeared[respawn]] == 0).all()

    transform = inside & hit & (effect == TRANSFORM)
    expected = counts_before[transform] - one_hot[t[transform]] + one_hot[target[transform]]
    assert np.array_equal(counts_after[transform], expected)
    assert np.array_equal(under_agent[transform], target[transform] + 1)
    assert (target[transform] != t[transform]).all()

    # Every effect actually happened often enough for the checks above to mean something.
    assert disappear.sum() > 200 and respawn.sum() > 200 and transform.sum() > 200


def _hand_state(
    grid_rows: dict[tuple[int, int], int], agent: tuple[int, int], ruleset: Ruleset
) -> RuleGridState:
    grid = np.zeros(N_INTERIOR * N_INTERIOR, np.int8)
    for (r, c), t in grid_rows.items():
        grid[r * N_INTERIOR + c] = t + 1
    return RuleGridState(
        time=jnp.int32(0),
        grid=jnp.asarray(grid),
        agent_row=jnp.int32(agent[0]),
        agent_col=jnp.int32(agent[1]),
        ruleset=ruleset,
        ruleset_id=jnp.int32(-1),
        task_id=jnp.int32(-1),
    )


def _ruleset(rewards, effects, transform_to) -> Ruleset:
    return Ruleset(
        rewards=jnp.asarray(rewards, jnp.float32),
        effects=jnp.asarray(effects, jnp.int32),
        transform_to=jnp.asarray(transform_to, jnp.int32),
    )


def test_hand_built_effects_and_respawn_is_uniform():
    env, params = menvs.make("rule-grid-v0")
    step_env = jax.jit(jax.vmap(env.step_env, in_axes=(0, None, None, None)))
    # Type 0 disappears (+1), type 1 respawns (-1), type 2 turns into type 0 (0.5 reward is not in the
    # prior; hand-built rulesets need not be).
    rules = _ruleset([1.0, -1.0, 0.5], [DISAPPEAR, RESPAWN, TRANSFORM], [0, 1, 0])
    keys = jax.random.split(jax.random.PRNGKey(11), 4000)
    for t, action, expected_reward in ((0, RIGHT, 1.0), (1, DOWN, -1.0), (2, LEFT, 0.5)):
        target = {RIGHT: (3, 4), DOWN: (4, 3), LEFT: (3, 2)}[action]
        others = {(0, 0): 0, (6, 6): 1, (0, 6): 2}
        state = _hand_state({target: t, **others}, (3, 3), rules)
        _, after, reward, _, info = step_env(keys, state, action, params)
        np.testing.assert_array_equal(reward, expected_reward)
        np.testing.assert_array_equal(info["collected_type"], t)
        assert (after.agent_row == target[0]).all() and (after.agent_col == target[1]).all()
        cell = target[0] * N_INTERIOR + target[1]
        grid = np.asarray(after.grid)
        untouched = [r * N_INTERIOR + c for r, c in others]
        assert (grid[:, untouched] == np.asarray(state.grid)[untouched]).all()
        if t == 0:
            assert (grid == np.asarray(state.grid) * (np.arange(49) != cell)).all()
        elif t == 2:
            assert (grid[:, cell] == 1).all()  # now a type-0 object under the agent
        else:
            assert (grid[:, cell] == 0).all()
            # Respawned uniformly over the 49 - 3 others - 1 agent cell = 45 empty cells.
            free = np.flatnonzero((np.asarray(state.grid) == 0) & (np.arange(49) != cell))
            assert free.size == 45
            moved_to = np.argmax((grid == 2) & (np.asarray(state.grid) == 0)[None], axis=1)
            assert np.isin(moved_to, free).all()
            counts = np.bincount(moved_to, minlength=49)[free]
            n, p = keys.shape[0], 1.0 / 45
            bound = 5 * np.sqrt(n * p * (1 - p))  # 5 binomial standard errors per cell
            assert np.abs(counts - n * p).max() < bound, counts

    # Walking into the wall or staying collects nothing and changes nothing.
    state = _hand_state({(0, 1): 0}, (0, 0), rules)
    _, after, reward, _, info = step_env(keys, state, UP, params)
    assert (reward == 0).all() and (info["collected_type"] == -1).all()
    np.testing.assert_array_equal(after.grid[0], state.grid)


def test_select_free_cell_is_the_rank_th_free_cell():
    rng = np.random.default_rng(0)
    select = jax.jit(jax.vmap(select_free_cell))
    for cells in (3, 33, 49, 100):
        free = rng.random((300, cells)) < 0.4
        free[:, -1] = True
        word = rng.integers(0, 1 << 32, 300, dtype=np.uint64).astype(np.uint32)
        got = select(jnp.asarray(free), jnp.asarray(word))
        want = [np.flatnonzero(f)[w % f.sum()] for f, w in zip(free, word, strict=True)]
        np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- views


def test_egocentric_view_shows_the_agents_surroundings():
    env, params = menvs.make("rule-grid-v0")
    rules = _ruleset([1.0, 0.0, -1.0], [0, 0, 0], [0, 1, 2])
    # Interior coordinates; the agent at row 2, column 1 sees rows 0..4 and columns -1..3 (-1 is wall).
    state = _hand_state({(0, 0): 0, (1, 2): 1, (3, 3): 2, (4, 0): 1, (5, 5): 0}, (2, 1), rules)
    obs = np.asarray(jax.jit(env.get_obs)(state, params))
    E, W, A, B, C = 0, 1, 2, 3, 4  # empty, wall, type 0, type 1, type 2
    expected_codes = np.array(
        [
            [W, A, E, E, E],
            [W, E, E, B, E],
            [W, E, E, E, E],
            [W, E, E, E, C],
            [W, B, E, E, E],
        ]
    )
    channel_of = {A: 0, B: 1, C: 2, W: 3}
    expected = np.zeros((5, 5, 4), np.float32)
    for (i, j), code in np.ndenumerate(expected_codes):
        if code != E:
            expected[i, j, channel_of[code]] = 1.0
    np.testing.assert_array_equal(obs, expected)

    # On the bottom edge with a 3x3 view: the row below the agent is wall.
    env3, params3 = menvs.make("rule-grid-v0", view_size=3)
    state = _hand_state({(5, 5): 1, (6, 4): 2, (5, 6): 0, (6, 6): 0}, (6, 5), rules)
    obs = np.asarray(jax.jit(env3.get_obs)(state, params3))
    expected = np.zeros((3, 3, 4), np.float32)
    expected[0, 1, 1] = 1.0  # (5, 5) type 1
    expected[1, 0, 2] = 1.0  # (6, 4) type 2
    expected[0, 2, 0] = 1.0  # (5, 6) type 0
    expected[1, 2, 0] = 1.0  # (6, 6) type 0
    expected[2, :, 3] = 1.0  # row 7 is wall
    np.testing.assert_array_equal(obs, expected)


def test_full_view_shows_every_object_and_the_agent():
    env, params = menvs.make("rule-grid-full-v0", obs_format="flat")
    rules = _ruleset([1.0, 0.0, -1.0], [0, 0, 0], [0, 1, 2])
    objects = {(0, 0): 0, (1, 2): 1, (3, 3): 2, (6, 6): 0}
    state = _hand_state(objects, (4, 5), rules)
    obs = np.asarray(jax.jit(env.get_obs)(state, params))
    assert obs.shape == (7 * 7 * 4,)
    expected = np.zeros((7, 7, 4), np.float32)
    for (r, c), t in objects.items():
        expected[r, c, t] = 1.0
    expected[4, 5, 3] = 1.0
    np.testing.assert_array_equal(obs, expected.reshape(-1))


# --------------------------------------------------------------------------- drift


def _drift_run(steps: int = 40, batch: int = BATCH, **overrides):
    env, params = menvs.make(
        "rule-grid-v0", grid_size=5, objects_per_type=1, trial_length=10, num_trials=10, **overrides
    )
    _, out = rollout(env, params, jax.random.PRNGKey(21), batch, steps)
    return params, jax.tree.map(np.asarray, out)


def test_change_points_and_reversals():
    hazard, period, steps = 0.1, 7, 40
    params, out = _drift_run(
        steps, num_tasks=16, drift="change_point+reversal", hazard=hazard, reversal_period=period
    )
    info = out["info"]
    change, reversal = info["change_point"], info["reversal"]
    n = change.size
    bound = 5 * np.sqrt(hazard * (1 - hazard) / n)  # 5 binomial standard errors
    assert abs(change.mean() - hazard) < bound, (change.mean(), bound)
    due = (np.arange(steps) + 1) % period == 0
    assert np.array_equal(reversal, np.broadcast_to(due[:, None], reversal.shape))
    assert np.array_equal(info["drift_event"], change | reversal)

    # Change-points switch to a pool entry (reported in ruleset_id); reversals mirror the rewards
    # in the prior's range [-1, 1] (r -> -r); effects never drift; nothing else changes the ruleset.
    before, after = out["before"], out["after"]
    pool_rewards = np.asarray(params.task_pool.rewards)
    ids = after.ruleset_id
    assert ((ids >= 0) & (ids < 16)).all()
    np.testing.assert_array_equal(after.ruleset.effects, np.asarray(params.task_pool.effects)[ids])
    fresh = pool_rewards[ids]
    rewards = {
        "quiet": (~change & ~reversal, before.ruleset.rewards),
        "change": (change & ~reversal, fresh),
        "reversal": (~change & reversal, -before.ruleset.rewards),
        "both": (change & reversal, -fresh),
    }
    for name, (mask, expected) in rewards.items():
        assert mask.any(), name
        np.testing.assert_array_equal(after.ruleset.rewards[mask], expected[mask], err_msg=name)
    np.testing.assert_array_equal(ids[~change], before.ruleset_id[~change])
    # task_id keeps the episode's first draw (no episode ends within these 40 steps).
    np.testing.assert_array_equal(after.task_id, before.task_id)


def test_random_walk_moves_rewards_inside_the_prior_range():
    _, out = _drift_run(
        20, batch=256, reward_values=(0.0, 1.0), drift="random_walk", volatility=0.2
    )
    before, after = out["before"].ruleset.rewards, out["after"].ruleset.rewards
    assert (after >= 0.0).all() and (after <= 1.0).all()
    step = np.abs(after - before)
    assert (step > 0).mean() > 0.99 and 0.05 < step.mean() < 0.3


# --------------------------------------------------------------------------- task distributions


def _fingerprints(pool: Ruleset) -> list[bytes]:
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(pool)]
    return [b"".join(leaf[i].tobytes() for leaf in leaves) for i in range(leaves[0].shape[0])]


def test_finite_pools_are_distinct_and_disjoint_from_held_out():
    _, held_out_env = menvs.make("rule-grid-v0", num_tasks=256, split="held_out")
    held_out = set(_fingerprints(held_out_env.task_pool))
    assert len(held_out) == 256
    for n in (1, 4, 16, 64, 256):
        _, params = menvs.make("rule-grid-v0", num_tasks=n)
        prints = _fingerprints(params.task_pool)
        assert len(prints) == n and len(set(prints)) == n
        if n == 256:
            assert not set(prints) & held_out


def test_episodes_draw_uniformly_from_the_pool():
    env, params = menvs.make("rule-grid-v0", num_tasks=4)
    n = 4000
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(
        jax.random.split(jax.random.PRNGKey(2), n), params
    )
    ids = np.asarray(states.task_id)
    np.testing.assert_array_equal(states.ruleset.rewards, np.asarray(params.task_pool.rewards)[ids])
    counts = np.bincount(ids, minlength=4)
    bound = 5 * np.sqrt(n * 0.25 * 0.75)  # 5 binomial standard errors per task
    assert np.abs(counts - n / 4).max() < bound, counts


def test_prior_draws_follow_the_config():
    env, params = menvs.make("rule-grid-v0")
    n = 4096
    rules = jax.jit(jax.vmap(lambda k: env.sample_prior(k, params)))(
        jax.random.split(jax.random.PRNGKey(9), n)
    )
    rewards, effects, target = (
        np.asarray(x) for x in (rules.rewards, rules.effects, rules.transform_to)
    )
    assert set(np.unique(rewards)) == {-1.0, 0.0, 1.0}
    assert (rewards > 0).any(-1).all()  # require_positive
    assert set(np.unique(effects)) == {DISAPPEAR, RESPAWN, TRANSFORM}
    types = np.arange(3)[None]
    assert ((target != types) == (effects == TRANSFORM)).all()
    p = 1 / 3
    bound = 5 * np.sqrt(p * (1 - p) / effects.size)  # 5 binomial standard errors
    for code in (DISAPPEAR, RESPAWN, TRANSFORM):
        assert abs((effects == code).mean() - p) < bound

    env, params = menvs.make("rule-grid-v0", reward_range=(-0.5, 2.0), effects=("respawn",))
    rules = jax.vmap(lambda k: env.sample_prior(k, params))(
        jax.random.split(jax.random.PRNGKey(9), 512)
    )
    assert (rules.rewards >= -0.5).all() and (rules.rewards <= 2.0).all()
    assert len(np.unique(np.asarray(rules.rewards))) > 1000 and (rules.effects == RESPAWN).all()


def test_count_rulesets_matches_the_prior_and_limits_pools():
    config = dict(num_object_types=2, reward_values=(-1.0, 1.0))
    env, params = menvs.make("rule-grid-v0", **config)
    rules = jax.vmap(lambda k: env.sample_prior(k, params))(
        jax.random.split(jax.random.PRNGKey(4), 4000)
    )
    # Reward vectors with a positive entry: 2**2 - 1 = 3; effects per type: disappear, respawn,
    # transform into the other type = 3, so 3 * 3**2 = 27; 4000 draws miss one with prob < 1e-50.
    assert count_rulesets(RuleGridConfig(**config)) == 27
    assert len(set(_fingerprints(rules))) == 27

    tiny = dict(num_object_types=1, effects=("disappear", "respawn"), reward_values=(1.0, 0.5))
    assert count_rulesets(RuleGridConfig(**tiny)) == 4
    _, params = menvs.make("rule-grid-v0", **tiny, num_tasks=4)
    assert len(set(_fingerprints(params.task_pool))) == 4
    with pytest.raises(ConfigError, match="'num_tasks'.* only 4 distinct"):
        menvs.make("rule-grid-v0", **tiny, num_tasks=5)
    with pytest.raises(ConfigError, match="'held_out_size'.* only 4 distinct"):
        menvs.make("rule-grid-v0", **tiny, num_tasks=2, held_out_size=3, split="held_out")


# --------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    "field, overrides",
    [
        ("grid_size", dict(grid_size=3)),
        ("num_object_types", dict(num_object_types=0)),
        ("objects_per_type", dict(objects_per_type=20)),
        ("view", dict(view="side")),
        ("view_size", dict(view_size=4)),
        ("obs_format", dict(obs_format="chw")),
        ("allow_stay", dict(allow_stay="yes")),
        ("trial_length", dict(trial_length=0)),
        ("num_trials", dict(num_trials=0)),
        ("reward_values", dict(reward_values=())),
        ("reward_values", dict(reward_values=(-1.0, 0.0))),
        ("reward_range", dict(reward_range=(1.0, -1.0))),
        ("effects", dict(effects=("explode",))),
        ("effects", dict(effects=("transform",), num_object_types=1)),
        ("require_positive", dict(require_positive="no")),
        ("num_layouts", dict(num_layouts=0)),
        ("num_tasks", dict(num_tasks=0)),
        ("held_out_size", dict(held_out_size=0)),
        ("split", dict(split="test")),
        ("drift", dict(drift="chaos")),
        ("hazard", dict(drift="change_point")),
        ("volatility", dict(drift="random_walk")),
        ("reversal", dict(drift="reversal")),
        ("no_such_field", dict(no_such_field=1)),
    ],
)
def test_config_errors_name_the_field(field, overrides):
    with pytest.raises(ConfigError, match=field):
        menvs.make("rule-grid-v0", **overrides)


def test_build_validates_before_building():
    with pytest.raises(ConfigError, match="view_size"):
        build_rule_grid(RuleGridConfig(view_size=0), "rule-grid-test")
