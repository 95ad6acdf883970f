"""Rule-grid probes: the history read off the ground truth, the two beliefs, the learner-vs-locator
likelihood on choices of known mechanism, and decoding targets.

The likelihood analysis is first checked on simulated choosers whose mechanism is known
exactly (they choose by softmax over the learner's or the locator's posterior-mean
rewards), then on the family's reference agents playing the grid. Bounds are the
intervals of the sample in the test (fixed seeds), never a hand-set margin.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import metarl.envs as menvs
import numpy as np
import pytest
from metarl.envs.rule_grid_tasks import sample_prior

from metarl.evaluation.play import Player
from metarl.evaluation.policy import FunctionalPolicy
from metarl.evaluation.rollout import EpisodeBatch
from metarl.probes import decoding, rule_likelihood
from metarl.probes import rule_grid_beliefs as rgb
from metarl.probes.ground_truth import with_ground_truth
from metarl.probes.protocol import episode_batch

# 3 types x 2 objects on a 5 x 5 interior, 4 trials of 15 steps: the rule_grid_default world.
WORLD = dict(grid_size=7, objects_per_type=2, trial_length=15, num_trials=4)
POOL = 16
"""Training rulesets of the simulated locator: few enough that its beliefs about untried
types are sharp on held-out rulesets, where the learner's stay at the prior's."""


@functools.cache
def _params(split: str = "train", **extra):
    return menvs.make(
        "rule-grid-v0", **WORLD, num_tasks=POOL, held_out_size=256, split=split, **extra
    )


@functools.cache
def _random_walk(batch: int = 64, steps: int = 60, drift: str = "change_point"):
    """Random actions on the env itself: (actions, rewards, ground truth, env info) [T, B]."""
    env, params = _params(drift=drift, hazard=0.02) if drift != "none" else _params()

    def episode(key):
        reset_key, run_key = jax.random.split(key)
        _, state = env.reset(reset_key, params)

        def step(state, key):
            act_key, step_key = jax.random.split(key)
            action = jax.random.randint(act_key, (), 0, 4)
            truth = rgb.read_rule_grid_state(state)
            _, state, reward, _, _, info = env.step(step_key, state, action, params)
            return state, (action, reward, truth, info)

        return jax.lax.scan(step, state, jax.random.split(run_key, steps))[1]

    keys = jax.random.split(jax.random.PRNGKey(0), batch)
    out = jax.jit(jax.vmap(episode, out_axes=1))(keys)
    return jax.tree.map(np.asarray, out), params


def test_the_history_reads_the_envs_own_collections_off_the_ground_truth():
    (actions, rewards, truth, info), params = _random_walk()
    batch = EpisodeBatch(
        actions=actions,
        rewards=rewards,
        info={"trial_boundary": info["trial_boundary"]},
        extras={"ground_truth": truth},
    )
    history = rgb.rule_grid_history(batch, params)
    assert (history.collected >= 0).sum() > 100  # enough collections for the check to bite
    np.testing.assert_array_equal(history.collected, info["collected_type"])
    took = history.collected >= 0
    np.testing.assert_allclose(history.reward[took], rewards[took])
    np.testing.assert_array_equal(history.trial, info["trial"])
    # The collected type was on the grid, at a finite distance, and the choice was made at or
    # before the collection, after the previous one.
    steps, episodes = np.nonzero(took)
    assert history.present[steps, episodes, history.collected[took]].all()
    assert np.isfinite(history.distance[steps, episodes, history.collected[took]]).all()
    assert (history.decision_step[took] <= steps).all()
    np.testing.assert_array_equal(history.ruleset_rewards, info["ruleset_rewards"])


def test_the_learner_prior_is_the_samplers_distribution_of_reward_vectors():
    _, params = _params()
    vectors, probs = rgb.reward_prior(params)
    assert len(vectors) == 19 and probs.sum() == pytest.approx(1.0)  # 27 - 2**3 with no positive
    draws = 40_000
    sampled = jax.vmap(lambda k: sample_prior(k, params))(
        jax.random.split(jax.random.PRNGKey(3), draws)
    )
    drawn = np.asarray(sampled.rewards)
    freq = np.array([(drawn == v).all(-1).mean() for v in vectors])
    assert freq.sum() == pytest.approx(1.0)  # every draw is one of the enumerated vectors
    # 5 binomial standard errors per vector at this sample size.
    assert np.all(np.abs(freq - probs) <= 5 * np.sqrt(probs * (1 - probs) / draws))


def test_posterior_means_given_one_collection_by_hand():
    _, params = _params()
    prior = rgb.reward_prior(params)
    # Step 0: nothing seen. Step 1: type 0 paid +1 and disappeared.
    collected = np.array([[0], [-1]])
    knowledge = rgb.observed_knowledge(
        collected, np.array([[1.0], [0.0]]), np.array([[0], [-1]]), np.array([[0], [-1]]), 3
    )
    learner = rgb.learner_means(knowledge, *prior)
    # Each draw has probability 1/27; the 8 with no positive reward get one type (1/3 each)
    # raised to +1 from -1 or 0 (4 draws each): E[r] = (4 * 2 + 4 * 1) / (27 * 3) = 4/27.
    # Given r0 = +1, the vectors (1, a, b) with a, b <= 0 gain 2/81 each (draws (x, a, b),
    # x <= 0, fixed at type 0) on top of 1/27, the others have 1/27: E[r1] = -4/35.
    np.testing.assert_allclose(learner[0, 0], [4 / 27] * 3)
    np.testing.assert_allclose(learner[1, 0], [1.0, -4 / 35, -4 / 35])
    pool = (
        np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -1.0], [0.0, 1.0, 1.0]]),
        np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]]),
        np.array([[0, 1, 2], [0, 1, 2], [0, 1, 2]]),
    )
    locator = rgb.locator_means(knowledge, pool)
    np.testing.assert_allclose(locator[0, 0], pool[0].mean(0))
    np.testing.assert_allclose(locator[1, 0], [1.0, -1.0, 0.0])  # only ruleset 0 matches
    # No pool ruleset matches (reward +1, effect respawn, for type 2): rewards alone, then
    # the pool's average.
    knowledge = rgb.observed_knowledge(
        np.array([[2], [-1]]),
        np.array([[1.0], [0.0]]),
        np.array([[1], [-1]]),
        np.array([[2], [-1]]),
        3,
    )
    np.testing.assert_allclose(rgb.locator_means(knowledge, pool)[1, 0], [0.0, 1.0, 1.0])


def test_a_contradicting_collection_restarts_the_evidence():
    # Type 0 pays +1, type 1 pays 0, then type 0 pays -1 (the ruleset was mirrored).
    collected = np.array([[0], [1], [0], [-1]])
    rewards = np.array([[1.0], [0.0], [-1.0], [0.0]])
    effects = np.zeros((4, 1), int)
    targets = np.array([[0], [1], [0], [0]])
    knowledge = rgb.observed_knowledge(collected, rewards, effects, targets, 3)
    np.testing.assert_array_equal(
        knowledge.known[:, 0], [[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 0, 0]]
    )
    assert knowledge.value[3, 0, 0] == -1.0


# ------------------------------------------------------------------ choices of known mechanism


@functools.cache
def _beliefs():
    _, train = _params()
    _, held_out = _params("held_out")
    return rgb.reward_prior(train), rgb.training_pool(train), rgb.training_pool(held_out)


def simulated_choices(
    model: str, beta: float, gamma: float = 0.5, episodes: int = 400, seed: int = 0
):
    """A chooser of known mechanism on held-out rulesets: ``choices`` collections per episode,
    each a softmax over all K types of beta * (``model``'s posterior mean) - gamma * distance,
    with fresh random distances per choice. Returns its ``RuleGridHistory``."""
    prior, pool, held_out = _beliefs()
    rng = np.random.default_rng(seed)
    choices, num_types = 6, pool[0].shape[1]
    task = rng.integers(0, len(held_out[0]), episodes)
    rewards, effects, targets = (table[task] for table in held_out)
    distance = rng.integers(1, 7, (choices, episodes, num_types)).astype(float)
    collected = np.full((choices, episodes), -1)
    seen = [
        np.zeros((choices, episodes)),
        np.full((choices, episodes), -1),
        np.full((choices, episodes), -1),
    ]
    rows = np.arange(episodes)
    for t in range(choices):
        knowledge = rgb.observed_knowledge(collected, *seen, num_types)
        means = (
            rgb.learner_means(knowledge, *prior)
            if model == "learner"
            else rgb.locator_means(knowledge, pool)
        )
        utility = beta * means[t] - gamma * distance[t]
        probs = np.exp(utility - utility.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        pick = (rng.random((episodes, 1)) > np.cumsum(probs, -1)).sum(-1)
        collected[t] = pick
        for array, table in zip(seen, (rewards, effects, targets), strict=True):
            array[t] = table[rows, pick]
    steps = np.repeat(np.arange(choices)[:, None], episodes, 1)
    return rgb.RuleGridHistory(
        collected=collected,
        reward=seen[0],
        effect=seen[1],
        transform_to=seen[2],
        present=np.ones((choices, episodes, num_types), bool),
        distance=distance,
        decision_step=steps,
        trial=np.zeros_like(steps),
        ruleset_rewards=np.repeat(rewards[None], choices, 0),
    )


def _compare(history):
    prior, pool, _ = _beliefs()
    events = rule_likelihood.choice_events(
        history, rule_likelihood.belief_values(history, prior, pool)
    )
    return events, rule_likelihood.compare_rule_models(events, span=2.0, seed=0)


def _standard_errors(events, values, beta, gamma) -> np.ndarray:
    """Asymptotic standard errors of (beta, gamma): the multinomial logit's information matrix."""
    features = np.stack([values, -events.distance], -1)  # [E, K, 2]
    utility = np.where(events.present, beta * values - gamma * events.distance, -np.inf)
    probs = np.exp(utility - utility.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    mean = (probs[..., None] * features).sum(1)
    centered = features - mean[:, None]
    information = np.einsum("ek,eki,ekj->ij", probs, centered, centered)
    return np.sqrt(np.diag(np.linalg.inv(information)))


@pytest.mark.parametrize("model", ["learner", "locator"])
def test_simulated_choosers_are_told_apart_and_their_parameters_recovered(model):
    beta, gamma = 4.0, 0.5
    events, comparison = _compare(simulated_choices(model, beta, gamma))
    assert comparison.verdict == model, comparison.difference
    fitted = comparison.fitted[model]
    errors = _standard_errors(events, events.values[model], beta, gamma)
    # The true parameters lie within 4 asymptotic standard errors of the fit.
    assert abs(fitted["inverse_temperature"] - beta) < 4 * errors[0]
    assert abs(fitted["distance_weight"] - gamma) < 4 * errors[1]
    # Where both beliefs are the prior's (nothing seen yet) the two models barely part;
    # they part most once some types are known.
    by_known = comparison.difference_by_known
    assert np.sign(by_known[1]) == (1 if model == "learner" else -1)


def test_a_chooser_that_ignores_rewards_is_undecided():
    _, comparison = _compare(simulated_choices("learner", beta=0.0, gamma=0.5))
    assert comparison.verdict == "undecided", comparison.difference
    assert comparison.fitted["learner"]["inverse_temperature"] < 0.5


# ------------------------------------------------------------------ decoding targets


def test_the_learners_posterior_decodes_the_reward_signs_above_a_clock():
    (actions, rewards, truth, info), params = _random_walk(batch=200, drift="none")
    batch = EpisodeBatch(
        actions=actions,
        rewards=rewards,
        info={"trial_boundary": info["trial_boundary"]},
        extras={"ground_truth": truth},
    )
    history = rgb.rule_grid_history(batch, params)
    targets = rgb.rule_grid_targets(history, params)
    assert set(targets) == {"reward_sign", "tried", "learner_posterior_mean"}
    # A state that *is* the learner's posterior and the tried types, mixed linearly.
    state = np.concatenate([targets["learner_posterior_mean"], targets["tried"]], -1)
    mixed = state @ np.random.default_rng(1).normal(size=(6, 16))
    noise = np.random.default_rng(2).normal(size=mixed.shape)
    rows = {
        row["target"]: row
        for row in decoding.decode_targets(mixed, {"reward_sign": targets["reward_sign"]}, noise)
    }
    sign = rows["reward_sign"]
    assert sign["agent"] > max(sign["time_only"], sign["control"]) + 0.1, sign


# ------------------------------------------------------------------ the reference agents

REFERENCE_EPISODES = 128


def epsilon_random(policy, epsilon: float) -> FunctionalPolicy:
    """``policy`` whose action is replaced by a uniform one with probability ``epsilon``
    (its beliefs still follow what happened: it reads the previous action from its inputs)."""

    def act(carry, inputs, key):
        own_key, random_key, flip_key = jax.random.split(key, 3)
        carry, action, extras = policy.act(carry, inputs, own_key)
        uniform = jax.random.randint(random_key, action.shape, 0, policy.num_actions)
        flip = jax.random.uniform(flip_key, action.shape) < epsilon
        return carry, jnp.where(flip, uniform, action), extras

    return FunctionalPolicy(
        init_carry_fn=policy.init_carry, act_fn=act, num_actions=policy.num_actions
    )


@functools.cache
def _reference(name: str, epsilon: float = 0.0):
    """(batch with ground truth and extras, history) of a reference on held-out rulesets.

    The learner is told no change-points (hazard 0: there are none here), so its
    posterior is exactly the prior conditioned on what it collected.
    """
    from metarl.evaluation.baselines.rule_grid import rule_grid_references, ruleset_learner

    env, train = _params()
    _, held_out = _params("held_out")
    refs = rule_grid_references(held_out, train)
    refs["ruleset_learner"] = ruleset_learner(held_out, hazard=0.0)
    policy = refs[name] if epsilon == 0.0 else epsilon_random(refs[name], epsilon)
    player = Player(env, REFERENCE_EPISODES, held_out.max_steps_in_episode, record_extras=True)
    played = player.play_policy(
        with_ground_truth(policy, rgb.read_rule_grid_state), held_out, jax.random.PRNGKey(0)
    )
    batch = episode_batch(played)
    return batch, rgb.rule_grid_history(batch, held_out)


def _reference_comparison(name: str, epsilon: float = 0.0):
    return _compare(_reference(name, epsilon)[1])[1]


def test_the_learners_own_posterior_is_the_one_the_probe_computes():
    batch, history = _reference("ruleset_learner")
    prior, _, _ = _beliefs()
    computed = rgb.learner_means(rgb.history_knowledge(history), *prior)
    own = np.asarray(batch.extras["posterior_mean_rewards"])
    assert (history.collected >= 0).sum() > 1000
    # Two implementations (table filter in float32, enumeration here): float32 rounding apart.
    np.testing.assert_allclose(computed, own, atol=1e-5)
    np.testing.assert_array_equal(
        rgb.tried_types(history.collected, history.num_types), batch.extras["tried"]
    )


@pytest.mark.parametrize("name", ["ruleset_learner", "ruleset_locator"])
def test_the_probe_tells_the_reference_learner_from_the_reference_locator(name):
    comparison = _reference_comparison(name)
    expected = rule_likelihood.EXPECTED[name]
    assert comparison.verdict == expected, (comparison.difference, comparison.belief_gain)
    assert comparison.belief_gain[expected.replace("ruleset_", "")].above(0.0)


@pytest.mark.parametrize("name", ["ruleset_learner", "ruleset_locator"])
def test_half_random_references_are_still_told_apart_or_left_undecided(name):
    comparison = _reference_comparison(name, epsilon=0.5)
    assert comparison.verdict in (rule_likelihood.EXPECTED[name], "undecided")


def test_the_memoryless_collector_is_neither():
    comparison = _reference_comparison("memoryless_collector")
    assert comparison.verdict == "undecided", comparison.difference
    # Its choices are the nearest object's: distance explains them, rewards add nothing.
    assert not comparison.belief_gain["learner"].above(0.0)
    assert not comparison.belief_gain["locator"].above(0.0)


def test_the_learners_carry_decodes_the_reward_signs_above_a_clock():
    batch, history = _reference("ruleset_learner")
    _, params = _params("held_out")
    targets = rgb.rule_grid_targets(history, params)
    carry = np.concatenate(
        [batch.extras["posterior_mean_rewards"], batch.extras["tried"].astype(float)], -1
    )
    noise = np.random.default_rng(2).normal(size=carry.shape)
    rows = {row["target"]: row for row in decoding.decode_targets(carry, targets, noise)}
    for target in ("reward_sign", "learner_posterior_mean", "tried"):
        row = rows[target]
        assert row["agent"] > max(row["time_only"], row["control"]), row
    # The carry holds the posterior and the tried types exactly: linear decoders recover them.
    assert rows["learner_posterior_mean"]["agent"] > 0.999
    assert rows["tried"]["agent"] > 0.999


# ------------------------------------------------------------------ metarl probe


TINY_RUN = """
from metarl.config import AgentConfig, EnvConfig, ExperimentConfig, RunConfig

CONFIG = ExperimentConfig(
    name="tiny_rule_grid",
    description="tiny rule-grid run for the probe CLI test",
    env=EnvConfig(name="rule-grid-v0", overrides={overrides}),
    agent=AgentConfig(core="gru", hidden_size=8, embed_size=0),
    run=RunConfig(num_envs=8, rollout_length=10, total_env_steps=800, updates_per_chunk=5),
)
"""


@pytest.fixture(scope="module")
def probed_run(tmp_path_factory):
    """A rule-grid run trained for 800 env steps on 16 rulesets, probed with 16 episodes."""
    from metarl import cli

    directory = tmp_path_factory.mktemp("probe_rule_grid")
    overrides = {**WORLD, "num_tasks": POOL, "held_out_size": 32}
    (directory / "tiny_rule_grid.py").write_text(TINY_RUN.format(overrides=repr(overrides)))
    run_dir = directory / "run"
    train = ["train", str(directory / "tiny_rule_grid.py"), "--run-dir", str(run_dir)]
    assert cli.main([*train, "--no-progress"]) == cli.EXIT_OK
    probe = ["probe", str(run_dir), "--episodes", "16", "--seed", "3"]
    assert cli.main(probe) == cli.EXIT_OK
    return run_dir


def _summary(run_dir, probe: str) -> dict:
    import json

    return json.loads((run_dir / "probes" / probe / "summary.json").read_text())


def _ordered(entry: dict) -> bool:
    return entry["low"] <= entry["value"] <= entry["high"]


def test_metarl_probe_runs_every_rule_grid_probe_beside_its_references(probed_run):
    from metarl.probes.registry import PROBES_BY_FAMILY, VERDICTS

    names = PROBES_BY_FAMILY["rule_grid"]
    assert sorted(p.name for p in (probed_run / "probes").iterdir()) == sorted(names)
    for name in names:
        summary = _summary(probed_run, name)
        assert summary["status"] == "done" and summary["verdict"]["label"] in VERDICTS[name]
        assert summary["env"]["probe_suite"] == "held_out" and summary["episodes"] == 16
        figure = probed_run / "probes" / name / f"{name}.png"
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    likelihood = _summary(probed_run, "rule_likelihood")["results"]
    assert set(likelihood["agents"]) == {"checkpoint", "ruleset_learner", "ruleset_locator"}
    assert likelihood["training_pool_size"] == POOL and likelihood["prior_reward_vectors"] == 19
    for row in likelihood["agents"].values():
        assert _ordered(row["difference"]) and row["num_episodes"] <= 16
    recovery = _summary(probed_run, "recovery")["results"]
    assert set(recovery["agents"]) == {"checkpoint", "ruleset_learner", "memoryless_collector"}
    assert recovery["normalised_by"] == "oracle_planner"
    assert recovery["condition"]["change_step"] == 29
    assert set(recovery["reward_per_trial"]) == {*recovery["agents"], "random", "oracle_planner"}
    decoded = _summary(probed_run, "decoding")["results"]
    assert {r["target"] for r in decoded["targets"]} == {
        "reward_sign",
        "tried",
        "learner_posterior_mean",
    }
    thinking = _summary(probed_run, "thinking")["results"]
    assert thinking["success_measure"] == "reward per trial"
    assert "checkpoint" in thinking["agents"]


def test_rule_likelihood_is_skipped_for_a_run_on_the_infinite_prior():
    from types import SimpleNamespace

    _, prior_params = menvs.make("rule-grid-v0", **WORLD)
    result = rule_likelihood.run(SimpleNamespace(train_params=prior_params))
    assert result.status == "skipped" and result.verdict is None
    assert "infinite prior" in result.reason
