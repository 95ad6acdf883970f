"""Per-seed measures of the architecture sweep, one function per env family.

``metarl.sweeps.architecture`` trains one group per core (the architectures differ
in shape, so they cannot share a vmapped program) and hands every core's frozen
seeds here. Both families measure, per seed, on held-out tasks and on one key
(common random numbers: every core and every reference plays the same episodes):

* ``held_out_return``: mean total reward per episode;
* ``held_out_improvement``: in-context improvement, (late - early part of the
  curve) / (oracle - random): bandits the last and first 10% of pulls
  (``metrics.in_context_improvement``), the rule grid the last and first trial over
  the oracle planner's - random's per-trial return (as ``rule_grid_diversity``);
* ``curve``: reward per pull averaged in tenths of the episode (bandits) or return
  per trial (rule grid), ``[S, X]``;
* ``recovery_regained``: after a change the agent never saw in training, the share
  of its pre-change margin over random that is back by the episode's end. Bandits:
  the ``drift`` eval suite (arm means reversed after pull H/2), margin in
  P(optimal action) over random, the last 10% of pulls against the 10% before the
  change (``metrics.recovery_time`` aligns the curves and also gives the steps until
  90% is regained, NaN when never). Rule grid: every reward mirrored at the middle
  trial boundary (the ``recovery`` probe's condition and ``recovery_analysis``),
  margin as a share of the oracle planner's, the last trial against the last one
  before the change;
* ``likelihood_difference``: cross-validated log-likelihood per choice, learner -
  locator. Bandits: ``metarl.probes.likelihood`` (Bayes learner vs the task locator
  over the training pool; an agent trained on the prior, as bandit_default is, has
  no pool, so the locator searches a labelled stand-in pool of ``STAND_IN_TASKS``
  prior draws, as ``task_diversity`` does for N = inf). Rule grid: the
  ``rule_likelihood`` probe's choice model over the run's training rulesets
  (``rule_grid_diversity.learner_vs_locator``), with each belief's gain over
  distance alone (``learner_belief_gain``, ``locator_belief_gain``; bandits: over
  the memoryless floor, ``metarl.probes.memoryless_floor``, the best account of the
  choices from the previous action, reward and time alone), which the verdict also needs.

The references (bandits: Thompson sampling, the task locator, random, the oracle's
expected reward; rule grid: oracle planner, ruleset learner and locator, memoryless
collector, random) are played once on the same episodes and measured the same way.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import numpy as np

from metarl.sweeps import diversity
from metarl.sweeps import rule_grid_diversity as rgd

GAINS = ("learner_belief_gain", "locator_belief_gain")
"""Per seed, each model's log-likelihood per choice over a model-free floor (bandits: the
memoryless floor; rule grid: distance alone, ``rule_grid_diversity.GAINS``): a verdict needs
the named model above it. Bandits used uniform choice until 2026-12-03, and the memoryless MLP
then read 'learner' at 40.96M env steps: win-stay lose-shift beats uniform choice too."""
STAND_IN_TASKS = 256
"""Bandit stand-in pool for the likelihood of an agent trained on the prior (as task_diversity's
N = inf uses the N = 256 pool of its pool seed)."""
STAND_IN_SEED = 0
CURVE_POINTS = 10
"""Bandit curve: reward per pull averaged over this many equal parts of the episode."""
RECOVERY_WINDOW = 0.1
"""Bandit recovery: the share of the episode read before the change and at the episode's end."""


@dataclasses.dataclass
class FamilyResult:
    """What a family's evaluation hands back to the sweep analysis."""

    points: list[dict[str, Any]]
    """Per core: ``{"per_seed": {measure: [S]}, "curve": [S, X], "details": {...}}``."""
    references: dict[str, dict[str, Any]]
    """Per reference: the same measures (one value each) and its ``curve`` [X]."""
    measures: tuple[str, ...]
    gains: tuple[str, str] | None
    """Per-seed belief gains the verdict also needs (rule grid), else None."""
    curve_label: str
    curve_ticks: list[str]
    notes: dict[str, Any]
    min_gain: float = 0.0
    """What a named belief's gain must exceed (bandits: ``likelihood.MIN_GAIN``)."""


def add_axis(rollouts):
    """``Rollouts`` with a leading axis of one (a ``[S, T, E]`` play seen as ``[1, S, T, E]``)."""
    return rollouts.replace(
        rewards=rollouts.rewards[None],
        actions=rollouts.actions[None],
        info={k: v[None] for k, v in rollouts.info.items()},
        extras=jax.tree.map(lambda x: np.asarray(x)[None], rollouts.extras),
    )


# --------------------------------------------------------------------------- bandits
@functools.cache
def _bandit_maker(name: str, num_arms: int):
    from metarl.evaluation import baselines

    if name == "task_locator":
        return lambda means: baselines.task_locator(means, "greedy")
    policy = {
        "thompson_sampling": baselines.thompson_sampling,
        "random": baselines.random_policy,
    }[name](num_arms)
    return lambda _: policy


def curve_parts(rewards, points: int = CURVE_POINTS) -> np.ndarray:
    """``[..., T, E]`` rewards -> ``[..., X]`` mean reward per step in X equal parts of the episode."""
    rewards = np.asarray(rewards, np.float64).mean(axis=-1)
    parts = np.array_split(np.arange(rewards.shape[-1]), min(points, rewards.shape[-1]))
    return np.stack([rewards[..., p].mean(axis=-1) for p in parts], axis=-1)


def bandit_regained(optimal, random_optimal, events, change_step: int) -> dict[str, Any]:
    """Recovery of one agent after the drift suite's change, from P(optimal action) ``[T, E]``.

    ``regained``: margin over random in the last ``RECOVERY_WINDOW`` of the episode over the
    margin in as many pulls before the change (1: all of it back); ``steps``: pulls after the
    change until 90% is back (``metrics.recovery_time``; NaN when not within the episode).
    """
    from metarl.evaluation import metrics
    from metarl.evaluation.summary import RECOVERY_MIN_MARGIN, RECOVERY_MIN_MARGIN_SE

    num_steps = optimal.shape[0]
    before = max(1, round(RECOVERY_WINDOW * num_steps))
    after = num_steps - change_step - 1
    before = min(before, change_step + 1)
    # Eval's rule (metarl.evaluation.summary): a pre-change margin under 10% of the
    # optimum - random gap, or under 3 standard errors, leaves recovery undefined.
    found = metrics.recovery_time(
        optimal,
        events,
        before,
        after,
        baseline=random_optimal,
        min_margin=RECOVERY_MIN_MARGIN * (1.0 - float(np.mean(random_optimal))),
        min_margin_se=RECOVERY_MIN_MARGIN_SE,
    )
    margin = found["curve"] - found["baseline_curve"]
    pre = float(np.nanmean(margin[:before]))
    late = float(np.nanmean(margin[-before:]))
    # A share of nothing is no number: without a pre-change margin clear of its own noise
    # (recovery_time's 3-standard-error rule) the ratio would be noise over noise.
    defined = found["status"] in ("regained", "not regained within the window") and pre > 0
    regained = late / pre if defined else float("nan")
    return {"regained": regained, "steps": found["steps"], "status": found["status"]}


def _bandit_likelihood(actions, rewards, means, scale: float, seed: int):
    from metarl.probes.likelihood import compare_learner_vs_locator

    # The probe's Bayes learner counts Bernoulli successes: rewards must be 0/1.
    return compare_learner_vs_locator(actions, np.asarray(rewards) / scale, means, seed=seed)


def _bandit_pool(config) -> tuple[np.ndarray, bool]:
    """(task means the locator searches, whether they are a stand-in for a pool-less run)."""
    from metarl.sweeps.groups import num_tasks_of

    n = num_tasks_of(config)
    if n is not None:
        return np.asarray(diversity.env_params([config])[0].task_pool.means)[: int(n)], False
    stand_in = diversity.env_params([config], num_tasks=STAND_IN_TASKS, task_seed=STAND_IN_SEED)[0]
    return np.asarray(stand_in.task_pool.means)[:STAND_IN_TASKS], True


@dataclasses.dataclass(frozen=True)
class BanditEpisodes:
    """The held-out and drift episodes every core plays, and the references' plays of them."""

    player: Any
    drift_player: Any
    held: Any
    drift: Any
    key: jax.Array
    suite: Any
    """The ``drift`` eval suite (its ``change_step``, ``description``)."""
    means: np.ndarray
    """Task means the locator searches (the training pool, or the stand-in)."""
    stand_in: bool
    refs: dict[str, Any]
    drift_refs: dict[str, Any]


def bandit_episodes(ctx, episodes: int, eval_seed: int) -> BanditEpisodes:
    """Build the held-out and drift conditions of the sweep's env and play the references."""
    from metarl import envs
    from metarl.evaluation.play import Player
    from metarl.evaluation.suites import build_suite

    config = ctx.configs[0]
    held_overrides = {**config.env.overrides, "split": "held_out"}
    env, held = envs.make(config.env.name, **held_overrides)
    # The drift suite of the held-out tasks (on the prior: fresh draws, as eval's drift suite).
    suite = build_suite(config.env.name, held_overrides, "drift")
    drift_env, drift = envs.make(config.env.name, **suite.overrides)
    num_arms, num_steps = int(held.num_arms), int(held.max_steps_in_episode)
    player, drift_player = Player(env, episodes, num_steps), Player(drift_env, episodes, num_steps)
    key = jax.random.PRNGKey(eval_seed)
    means, stand_in = _bandit_pool(config)
    refs = {
        name: player.play(_bandit_maker(name, num_arms), held, key, policy_args=args)
        for name, args in (
            ("thompson_sampling", None),
            ("random", None),
            ("task_locator", jax.numpy.asarray(means)),
        )
    }
    drift_refs = {
        name: drift_player.play(_bandit_maker(name, num_arms), drift, key)
        for name in ("thompson_sampling", "random")
    }
    return BanditEpisodes(
        player, drift_player, held, drift, key, suite, means, stand_in, refs, drift_refs
    )


def bandit_measure(found: BanditEpisodes, eval_seed: int):
    """``(rewards, actions, drift_rewards, drift_actions) -> one agent's measures`` (``[T, E]``)."""
    from metarl.evaluation import metrics
    from metarl.evaluation.summary import events_of

    random_held, random_drift = found.refs["random"], found.drift_refs["random"]
    oracle = float(random_held.info["optimal_expected_reward"].mean())
    random_level = float(random_held.rewards.mean())
    scale = float(found.held.reward_scale)
    events = events_of(random_drift.info)
    optimal = random_drift.info["optimal_action"]
    random_optimal = metrics.optimal_action_indicator(random_drift.actions, optimal)

    def measure(rewards, actions, drift_rewards, drift_actions) -> dict[str, Any]:
        recovery = bandit_regained(
            metrics.optimal_action_indicator(drift_actions, optimal),
            random_optimal,
            events,
            found.suite.change_step,
        )
        comparison = _bandit_likelihood(actions, rewards, found.means, scale, eval_seed)
        return {
            "held_out_return": float(rewards.sum(0).mean()),
            "held_out_improvement": float(
                metrics.in_context_improvement(rewards, oracle, random_level).mean()
            ),
            "recovery_regained": recovery["regained"],
            "drift_return": float(drift_rewards.sum(0).mean()),
            "likelihood_difference": comparison.difference,
            # Each model's held-out log-likelihood per choice over the memoryless floor: the
            # verdict names a model only where it explains more than the last step does (an
            # untrained agent fits both beliefs at inverse temperature ~0, a memoryless one
            # fits the learner better than the locator, and neither is either).
            "learner_belief_gain": comparison.learner_gain,
            "locator_belief_gain": comparison.locator_gain,
            "curve": curve_parts(rewards),
            "details": {
                "recovery": recovery,
                "likelihood": {
                    "difference": comparison.difference_interval,
                    "verdict": comparison.verdict,
                },
            },
        }

    return measure


def evaluate_bandit(ctx, episodes: int, eval_seed: int) -> FamilyResult:
    """Every core's seeds and the bandit references on held-out tasks and the drift suite."""
    from metarl.evaluation.play import checkpoint_maker
    from metarl.probes import likelihood

    found = bandit_episodes(ctx, episodes, eval_seed)
    measure = bandit_measure(found, eval_seed)
    points = []
    for label, agent, params in zip(ctx.labels, ctx.point_agents, ctx.point_params, strict=True):
        ctx.log(f"sweep: {label}: {episodes} held-out and {episodes} drift episodes per seed")
        maker = checkpoint_maker(agent)
        mine = found.player.play(maker, found.held, found.key, policy_args=params, seeds=True)
        drifted = found.drift_player.play(
            maker, found.drift, found.key, policy_args=params, seeds=True
        )
        seeds = [
            measure(mine.rewards[s], mine.actions[s], drifted.rewards[s], drifted.actions[s])
            for s in range(mine.rewards.shape[0])
        ]
        points.append(_stack_seeds(seeds))
    references = {}
    for name, played in found.refs.items():
        drifted = found.drift_refs.get(name, played)
        row = measure(played.rewards, played.actions, drifted.rewards, drifted.actions)
        if name not in found.drift_refs:  # the locator plays held-out tasks only
            row["recovery_regained"] = row["drift_return"] = float("nan")
        references[name] = {k: v for k, v in row.items() if k != "details"}
    expected = found.refs["random"].info["optimal_expected_reward"]
    references["oracle"] = {
        "held_out_return": float(expected.sum(0).mean()),
        "curve": curve_parts(expected),
    }
    return FamilyResult(
        points=points,
        references=references,
        measures=(
            "held_out_return",
            "held_out_improvement",
            "recovery_regained",
            "likelihood_difference",
            "drift_return",
            *GAINS,
        ),
        gains=GAINS,
        min_gain=likelihood.MIN_GAIN,
        curve_label="mean reward per pull",
        curve_ticks=_part_ticks(expected.shape[0]),
        notes={
            "held_out": "fresh prior draws" if found.stand_in else "held-out split of the pool",
            "drift": found.suite.description,
            "change_step": found.suite.change_step,
            "locator_tasks": int(len(found.means)),
            "stand_in_locator": found.stand_in,
        },
    )


def _part_ticks(num_steps: int) -> list[str]:
    parts = np.array_split(np.arange(num_steps), min(CURVE_POINTS, num_steps))
    return [f"{p[0] + 1}-{p[-1] + 1}" if len(p) > 1 else f"{p[0] + 1}" for p in parts]


def _stack_seeds(seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-seed dicts -> ``{"per_seed": {measure: [S]}, "curve": [S, X], "details": [...]}``."""
    scalars = [k for k in seeds[0] if k not in ("curve", "details")]
    return {
        "per_seed": {k: np.array([s[k] for s in seeds], np.float64) for k in scalars},
        "curve": np.stack([s["curve"] for s in seeds]),
        "details": [s["details"] for s in seeds],
    }


# --------------------------------------------------------------------------- rule grid
@dataclasses.dataclass(frozen=True)
class RuleGridEpisodes:
    """The held-out and mirrored episodes every core plays, and the references' plays of them."""

    player: Any
    mirror_player: Any
    held: Any
    mirror: Any
    train: Any
    """The training env params (their pool is what the locator searches)."""
    key: jax.Array
    change: int
    """The last step before every reward is mirrored."""
    refs: Any
    """``rule_grid_diversity.ReferencePlays`` on the held-out rulesets."""
    mirror_rewards: dict[str, np.ndarray]


def rule_grid_episodes(ctx, episodes: int, eval_seed: int) -> RuleGridEpisodes:
    """Build the held-out and mirrored conditions of the sweep's env and play the references."""
    from metarl import envs
    from metarl.evaluation.play import Player
    from metarl.probes.recovery import mirrored_overrides

    config = ctx.configs[0]
    overrides = {**config.env.overrides, "split": "held_out"}
    env, held = envs.make(config.env.name, **overrides)
    train = diversity.training_params(ctx)[0]
    trial_length, num_steps = int(held.trial_length), int(held.max_steps_in_episode)
    mirrored, change = mirrored_overrides(overrides, num_steps, trial_length)
    mirror_env, mirror = envs.make(config.env.name, **mirrored)
    player = Player(env, episodes, num_steps, record_extras=True)
    mirror_player = Player(mirror_env, episodes, num_steps)
    key = jax.random.PRNGKey(eval_seed)
    refs = rgd.play_references(player, rgd.HeldOutSets([held], ["held_out"], [0]), [train], key)
    mirror_rewards = {
        name: mirror_player.play(
            rgd.recording(rgd.reference_maker(name), record=False),
            mirror,
            key,
            policy_args=(mirror, train),
        ).rewards
        for name in ("oracle_planner", "ruleset_learner", "memoryless_collector")
    }
    random = rgd.recording(rgd.random_maker(int(env.action_space(held).n)), record=False)
    mirror_rewards["random"] = mirror_player.play(random, mirror, key).rewards
    return RuleGridEpisodes(
        player, mirror_player, held, mirror, train, key, change, refs, mirror_rewards
    )


def rule_grid_measure(found: RuleGridEpisodes, eval_seed: int):
    """``(rewards, mirror_rewards, likelihood or None) -> one agent's measures`` (``[T, E]``)."""
    trial_length = int(found.held.trial_length)
    ref_held = found.refs.rewards[0]

    def measure(rewards, mirror_rewards, likelihood=None) -> dict[str, Any]:
        # seed_measures' improvement normalisation, reused; its memorisation advantage needs
        # training rulesets this sweep does not play, so the agent stands in (and is dropped).
        held = rgd.seed_measures(rewards[None], rewards[None], ref_held, rewards, trial_length)
        recovery = rgd_recovery(
            mirror_rewards, found.mirror_rewards, found.change, trial_length, eval_seed
        )
        row = {
            "held_out_return": float(held["held_out_return"][0]),
            "held_out_improvement": float(held["held_out_improvement"][0]),
            "held_out_improvement_raw": float(held["held_out_improvement_raw"][0]),
            "recovery_regained": recovery["regained"],
            "drift_return": float(np.asarray(mirror_rewards).sum(0).mean()),
            "curve": rgd.per_trial_returns(rewards, trial_length).mean(axis=-1),
            "details": {"recovery": recovery},
        }
        if likelihood is not None:
            row["likelihood_difference"] = likelihood["difference"].value
            for gain, model in zip(GAINS, ("learner", "locator"), strict=True):
                available = likelihood["available"]
                row[gain] = likelihood["belief_gain"][model].value if available else np.nan
            row["details"]["likelihood"] = likelihood
        return row

    return measure


def evaluate_rule_grid(ctx, episodes: int, eval_seed: int) -> FamilyResult:
    """Every core's seeds and the rule-grid references on held-out rulesets and after a mirror."""
    from metarl.evaluation.play import checkpoint_maker

    found = rule_grid_episodes(ctx, episodes, eval_seed)
    measure = rule_grid_measure(found, eval_seed)
    points = []
    for label, agent, params in zip(ctx.labels, ctx.point_agents, ctx.point_params, strict=True):
        ctx.log(f"sweep: {label}: {episodes} held-out and {episodes} mirrored episodes per seed")
        maker = checkpoint_maker(agent)
        mine = found.player.play(
            rgd.recording(maker), found.held, found.key, policy_args=params, seeds=True
        )
        mirrored = found.mirror_player.play(
            rgd.recording(maker, record=False),
            found.mirror,
            found.key,
            policy_args=params,
            seeds=True,
        ).rewards
        likelihoods = rgd.seed_likelihoods(add_axis(mine), 0, found.held, found.train)
        seeds = [
            measure(mine.rewards[s], mirrored[s], likelihoods[s])
            for s in range(mine.rewards.shape[0])
        ]
        points.append(_stack_seeds(seeds))
    held, train, refs = found.held, found.train, found.refs
    calibration = {"ruleset_learner": rgd.learner_vs_locator(refs.learner[0], held, train)}
    if refs.locator[0] is not None:
        calibration["ruleset_locator"] = rgd.learner_vs_locator(refs.locator[0], held, train)
    references = {}
    for name, rewards in refs.rewards[0].items():
        row = measure(rewards, found.mirror_rewards.get(name, rewards))
        if name not in found.mirror_rewards:  # the locator plays held-out rulesets only
            row["recovery_regained"] = row["drift_return"] = float("nan")
        if name in calibration and calibration[name]["available"]:
            row["likelihood_difference"] = calibration[name]["difference"].value
        references[name] = {k: v for k, v in row.items() if k != "details"}
    num_trials = int(held.max_steps_in_episode) // int(held.trial_length)
    return FamilyResult(
        points=points,
        references=references,
        measures=(
            "held_out_return",
            "held_out_improvement",
            "recovery_regained",
            "likelihood_difference",
            "drift_return",
            "held_out_improvement_raw",
            *GAINS,
        ),
        gains=GAINS,
        curve_label="return per trial",
        curve_ticks=[str(k + 1) for k in range(num_trials)],
        notes={
            "held_out": f"{pool_size(held)} held-out rulesets disjoint from the pool",
            "drift": "every reward mirrored at the middle trial boundary (the recovery probe's)",
            "change_step": found.change,
            "locator_rulesets": pool_size(train),
            "stand_in_locator": False,
            "likelihood_calibration": calibration,
        },
    )


def pool_size(params) -> int:
    """Tasks in a pool: its active count when padded, else its length."""
    if getattr(params, "num_active_tasks", None) is not None:
        return int(params.num_active_tasks)
    return int(jax.tree.leaves(params.task_pool)[0].shape[0])


def rgd_recovery(rewards, refs: dict[str, np.ndarray], change: int, trial_length: int, seed: int):
    """``recovery_analysis`` of one agent's mirrored episodes: the last trial's regained share
    of the pre-change margin (ceiling-normalised), the trials until half is back, the verdict."""
    from metarl.probes.recovery import recovery_analysis

    found = recovery_analysis(
        rewards, refs["random"], refs["oracle_planner"], change, trial_length, seed=seed
    )
    # A share of nothing is no number: a pre-change margin whose interval is not above 0
    # (the probe's no_pre_change_margin) would make the ratio noise over noise.
    return {
        "regained": found.regained[-1].value if found.pre_change.above(0.0) else float("nan"),
        "regained_by_trial": found.regained,
        "pre_change": found.pre_change,
        "trials_to_recover": found.trials_to_recover,
        "verdict": found.verdict,
    }
