"""Hidden-state decoding on agents of known mechanism: belief statistics are found in an agent
whose state is (a linear mixing of) them, and not, or much less, in a random network or a clock."""

import functools

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest

from metarl.config import AgentConfig
from metarl.evaluation import beliefs, evaluate_policy
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs
from metarl.evaluation.replay import replay_policy
from metarl.probes import decoding

NUM_ARMS = 3
HORIZON = 100
EPISODES = 200
HIDDEN = 32


def belief_mixing_agent(num_arms: int, hidden_size: int, seed: int = 5) -> FunctionalPolicy:
    """Thompson sampling whose exposed hidden state is a fixed random linear mixing of its
    Beta counts and posterior means: a state that *is* the belief statistics, in a basis the
    probe does not know."""
    mixing = jax.random.normal(jax.random.PRNGKey(seed), (3 * num_arms, hidden_size))

    def init_carry(batch):
        return beliefs.empty_beta_counts(batch, num_arms)

    def act(counts, inputs: PolicyInputs, key):
        counts = beliefs.update_beta_counts(
            counts, inputs.prev_action, inputs.prev_reward, inputs.episode_start
        )
        posterior_mean = beliefs.beta_posterior_mean(counts)
        samples = jax.random.beta(key, 1.0 + counts.successes, 1.0 + counts.failures)
        hidden = (
            jnp.concatenate([posterior_mean, counts.successes, counts.failures], axis=-1) @ mixing
        )
        return counts, jnp.argmax(samples, axis=-1).astype(jnp.int32), {"hidden": hidden}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


@functools.cache
def _episodes():
    """The mixing agent on the restless bandit (random walk + change-points), one episode per column."""
    env, params = menvs.make("bandit-restless-v0", num_arms=NUM_ARMS, horizon=HORIZON)
    run = jax.jit(
        lambda key: evaluate_policy(
            belief_mixing_agent(NUM_ARMS, HIDDEN),
            env,
            params,
            key,
            EPISODES,
            HORIZON,
            record_extras=True,
            record_observations=True,
        )
    )
    return run(jax.random.PRNGKey(0))


@functools.cache
def _control():
    """A random network of the default architecture replayed on the mixing agent's histories."""
    return decoding.random_network_hidden(
        _episodes(), AgentConfig(), jax.random.PRNGKey(1), NUM_ARMS
    )


@functools.cache
def _decoded():
    episodes = _episodes()
    rows = decoding.decode_beliefs(
        episodes.extras["hidden"], episodes, NUM_ARMS, control_hidden=_control()
    )
    return {row["target"]: row for row in rows}


def test_steps_since_change_counts_from_the_step_after_each_change():
    change = np.array([0, 0, 1, 0, 0, 1, 1, 0], bool)[:, None]
    np.testing.assert_array_equal(
        decoding.steps_since_change(change)[:, 0], [0, 1, 2, 0, 1, 2, 0, 0]
    )


def test_targets_are_the_beta_statistics_of_the_history():
    episodes = _episodes()
    targets = decoding.belief_targets(episodes, NUM_ARMS)
    assert set(targets) == {
        "posterior_mean",
        "pull_count",
        "posterior_best_arm",
        "steps_since_change",
    }
    # Before step t the agent has pulled exactly t times.
    np.testing.assert_array_equal(
        targets["pull_count"].sum(-1), np.arange(HORIZON)[:, None] * np.ones(EPISODES)
    )
    assert targets["posterior_mean"].shape == (HORIZON, EPISODES, NUM_ARMS)


def test_posterior_statistics_are_decoded_from_a_state_that_is_them():
    rows = _decoded()
    for name in ("posterior_mean", "pull_count"):
        assert rows[name]["metric"] == "r2"
        assert min(rows[name]["agent_per_dim"]) > 0.99, rows[name]
        # A clock alone explains little of either.
        assert rows[name]["time_only"] < 0.5, rows[name]
    best = rows["posterior_best_arm"]
    assert best["metric"] == "accuracy" and best["agent"] > 0.95 and best["chance"] < 0.5, best


def test_a_random_network_holds_much_less_of_the_posterior():
    rows = _decoded()
    for name, margin in (("posterior_mean", 0.2), ("pull_count", 0.1)):
        assert rows[name]["control"] < rows[name]["agent"] - margin, rows[name]
    assert rows["posterior_best_arm"]["control"] < rows["posterior_best_arm"]["agent"] - 0.03


def test_a_state_without_beliefs_decodes_nothing():
    episodes = _episodes()
    noise = np.asarray(jax.random.normal(jax.random.PRNGKey(2), (HORIZON, EPISODES, HIDDEN)))
    rows = {row["target"]: row for row in decoding.decode_beliefs(noise, episodes, NUM_ARMS)}
    # Held-out R^2 of pure noise: 0 up to fitting noise (32 features, 10,000 fit samples).
    assert abs(rows["posterior_mean"]["agent"]) < 0.02, rows["posterior_mean"]
    assert abs(rows["pull_count"]["agent"]) < 0.02, rows["pull_count"]


def test_replay_across_episode_boundaries_resets_the_state():
    """Replayed with an extra episode start at step 50, the agent's state is the mixing of the
    Beta statistics counted afresh from step 50 (computed independently by choice_models)."""
    from metarl.probes import choice_models

    episodes = _episodes()
    episode_start = np.zeros((HORIZON, EPISODES), bool)
    episode_start[[0, 50]] = True
    policy = belief_mixing_agent(NUM_ARMS, HIDDEN)
    replayed = jax.jit(lambda e, s: replay_policy(policy, e, jax.random.PRNGKey(9), s))(
        episodes, episode_start
    )
    counts = choice_models.pull_counts(episodes.actions, episodes.rewards, NUM_ARMS, episode_start)
    posterior_mean = beliefs.beta_posterior_mean(counts)
    mixing = jax.random.normal(jax.random.PRNGKey(5), (3 * NUM_ARMS, HIDDEN))
    expected = (
        jnp.concatenate([posterior_mean, counts.successes, counts.failures], axis=-1) @ mixing
    )
    np.testing.assert_allclose(replayed["hidden"], expected, atol=1e-4)
    # Up to step 50 nothing differs from what the agent itself carried.
    np.testing.assert_allclose(replayed["hidden"][:50], episodes.extras["hidden"][:50], atol=1e-4)
    assert (
        np.abs(
            np.asarray(replayed["hidden"][51:]) - np.asarray(episodes.extras["hidden"][51:])
        ).max()
        > 1.0
    )


# ----------------------------------------------------------------- maze targets

MAZE_HORIZON = 50
MAZE_EPISODES = 80


def privileged_maze_walker(
    num_free_cells: int, hidden_size: int, seed: int = 6
) -> FunctionalPolicy:
    """A random walker whose exposed hidden state is a fixed random linear mixing of one_hot(goal)
    and its map of visited squares, both read from the env state (privileged: a test instrument
    whose state is, by construction, the maze targets)."""
    mixing = jax.random.normal(jax.random.PRNGKey(seed), (2 * num_free_cells, hidden_size))

    def init_carry(batch):
        return jnp.zeros((batch, num_free_cells))

    def act(visited, inputs: PolicyInputs, key):
        state = inputs.privileged_state
        here = jax.nn.one_hot(state.position, num_free_cells)
        visited = jnp.maximum(jnp.where(inputs.episode_start[:, None], 0.0, visited), here)
        hidden = (
            jnp.concatenate([jax.nn.one_hot(state.goal, num_free_cells), visited], axis=-1) @ mixing
        )
        action = jax.random.randint(key, state.position.shape, 0, 4, dtype=jnp.int32)
        return visited, action, {"hidden": hidden}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=4)


def test_maze_goal_and_visited_squares_are_decoded_from_a_state_that_is_them():
    env, params = menvs.make("maze-v0", num_tasks=8, horizon=MAZE_HORIZON)
    free = params.num_free_cells
    policy = decoding.with_ground_truth(privileged_maze_walker(free, 128), decoding.read_maze_state)
    episodes = jax.jit(
        lambda key: evaluate_policy(
            policy,
            env,
            params,
            key,
            MAZE_EPISODES,
            MAZE_HORIZON,
            record_extras=True,
            record_observations=True,
        )
    )(jax.random.PRNGKey(7))
    truth = episodes.extras["ground_truth"]
    targets = decoding.maze_targets(truth, free)
    # The visited map holds the current square and grows by at most one square per step.
    here = np.eye(free, dtype=bool)[np.asarray(truth["position"])]
    assert targets["visited"][here].all()
    grown = np.diff(targets["visited"].sum(-1), axis=0)
    assert grown.min() >= 0 and grown.max() <= 1
    control = decoding.random_network_hidden(episodes, AgentConfig(), jax.random.PRNGKey(8), 4)
    rows = decoding.decode_targets(
        episodes.extras["hidden"],
        {"goal": targets["goal"], "visited": targets["visited"]},
        control_hidden=control,
    )
    rows = {row["target"]: row for row in rows}
    assert rows["goal"]["agent"] > 0.95 and rows["goal"]["control"] < rows["goal"]["agent"] - 0.3, (
        rows["goal"]
    )
    assert rows["visited"]["agent"] > 0.99, rows["visited"]
    assert rows["visited"]["control"] < rows["visited"]["agent"] - 0.2, rows["visited"]


# ----------------------------------------------------------------- the verdict's folds


def test_folds_deal_every_episode_once_in_near_equal_parts():
    folds = decoding.episode_folds(203, 5, seed=0)
    np.testing.assert_array_equal(np.bincount(folds), [41, 41, 41, 40, 40])
    assert not np.array_equal(folds, decoding.episode_folds(203, 5, seed=1))
    assert not np.array_equal(folds, np.arange(203) % 5)  # shuffled, not dealt in order


def test_the_fold_interval_is_a_corrected_t_interval():
    # Differences 1..5: mean 3, variance 2.5; Nadeau-Bengio: 2.5 (1/5 + 1/4) = 1.125;
    # t(4) at 97.5% = 2.7764.
    interval = decoding.fold_interval(np.arange(1.0, 6.0), 1.0 / 4.0)
    assert interval.value == 3.0
    assert interval.half_width == pytest.approx(2.7764451 * np.sqrt(1.125), rel=1e-6)
    # The same difference on every fold: no spread, and 0 stays inside a zero difference.
    assert not decoding.fold_interval(np.zeros(5), 0.25).above(0.0)


@functools.cache
def _fold_rows():
    """(rows against the random network, rows against the agent's own state as the control)."""
    episodes = _episodes()
    targets = decoding.belief_targets(episodes, NUM_ARMS)
    # The statistics the agent's state is a mixing of (not steps since a change-point).
    encoded = {
        name: targets[name] for name in ("posterior_mean", "pull_count", "posterior_best_arm")
    }
    hidden = episodes.extras["hidden"]
    same = {name: targets[name] for name in ("posterior_mean", "posterior_best_arm")}
    return (
        {row["target"]: row for row in decoding.decoding_rows(hidden, encoded, _control())},
        {row["target"]: row for row in decoding.decoding_rows(hidden, same, hidden)},
    )


def test_a_target_the_agent_encodes_and_the_random_network_does_not_is_above_controls():
    rows, _ = _fold_rows()
    for name in ("posterior_mean", "pull_count", "posterior_best_arm"):
        row = rows[name]
        assert row["folds"] == decoding.FOLDS and row["above_controls"], row
        differences = row["differences"]
        assert set(differences) <= set(decoding.CONTROLS) and "control" in differences
        # Every control's paired interval lies above 0; the binding one is reported.
        assert all(d.low > 0 for d in differences.values()), differences
        assert row["margin_over_best_control"] == min(differences.values(), key=lambda d: d.low)
        assert row["agent_range"][0] <= row["agent"] <= row["agent_range"][1]
    assert decoding.decoding_verdict(list(rows.values())).label == "above_controls"


def test_identical_features_are_not_above_the_control():
    # The "random network" is the agent itself: every fold's difference is exactly 0.
    _, rows = _fold_rows()
    for row in rows.values():
        difference = row["differences"]["control"]
        assert difference.value == 0.0 and difference.low <= 0.0 <= difference.high, row
        assert not row["above_controls"]
    assert decoding.decoding_verdict(list(rows.values())).label == "not_above_controls"
