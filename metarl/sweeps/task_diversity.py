"""The task-diversity analysis: locator or learner, as the number N of training tasks grows?

Every point (N, pool seed) trained ``S`` seeds. Each frozen seed plays the same
held-out episodes (its pool seed's held-out tasks, disjoint from its training
pool) beside Thompson sampling (a general learner), the random policy and the
task locator over that point's N training tasks (exact Bayes over memorised
tasks; N = inf uses the largest finite pool of the same pool seed as a labelled
stand-in), all on the same key (common random numbers), and then its own
training tasks beside Thompson sampling. Per seed:

* ``held_out_return``: mean total reward per held-out episode;
* ``held_out_improvement``: in-context improvement on held-out tasks, ((last 10% -
  first 10% of the reward curve) / (oracle - random));
* ``memorisation_advantage``: (agent - Thompson on the training tasks) - (agent -
  Thompson on held-out tasks): what the agent gains from having trained on
  these very tasks, with task difficulty removed by Thompson sampling;
* ``likelihood_difference``: cross-validated per-choice log-likelihood of the
  seed's held-out choices, Bayes learner - locator
  (``metarl.probes.likelihood.compare_learner_vs_locator``).

* ``learner_belief_gain`` / ``locator_belief_gain``: what each belief adds to the
  memoryless floor, per choice (``metarl.probes.memoryless_floor``).

Per N, the seeds of every pool seed are the runs: IQM with a stratified
bootstrap interval over them (``metarl.sweeps.seeds``). The seed-level verdict
is 'learner' when the likelihood difference's interval lies above 0, 'locator'
below, either only where the named belief's gain lies above ``likelihood.MIN_GAIN``
(since 2026-12-03; a memoryless player read 'learner' before). Per point, the pooled
per-episode intervals stay beside them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import numpy as np

from metarl.sweeps.diversity import (
    Panel,
    aggregate,
    by_structure,
    env_params,
    largest_pool_config,
    plot_panels,
    stack,
    training_params,
    transition_text,
)
from metarl.sweeps.groups import num_tasks_of

EPISODES = 1024
EVAL_SEED = 0
NUM_TASKS = "env.overrides.num_tasks"
TASK_SEED = "env.overrides.task_seed"
MEASURES = (
    "held_out_return",
    "held_out_improvement",
    "memorisation_advantage",
    "likelihood_difference",
    "learner_belief_gain",
    "locator_belief_gain",
)
GAINS = ("learner_belief_gain", "locator_belief_gain")
FORMAT_VERSION = 2
"""2: the belief gains over the memoryless floor, which the verdict needs."""


@functools.cache
def _thompson_maker(num_arms: int):
    from metarl.evaluation.baselines import thompson_sampling

    return lambda _: thompson_sampling(num_arms)


@functools.cache
def _random_maker(num_arms: int):
    from metarl.evaluation.baselines import random_policy

    return lambda _: random_policy(num_arms)


@functools.cache
def _locator_maker():
    from metarl.evaluation.baselines import task_locator

    return lambda means: task_locator(means, "greedy")


def _training_params(ctx) -> tuple[list[Any], list[np.ndarray | None]]:
    """Each point's training env params as its group trained them, and its N task means."""
    by_point = training_params(ctx)
    means = []
    for config, params in zip(ctx.configs, by_point, strict=True):
        n = num_tasks_of(config)
        means.append(None if n is None else np.asarray(params.task_pool.means)[: int(n)])
    return by_point, means


def _stand_in_means(ctx, index: int) -> np.ndarray | None:
    """The largest finite pool of the same pool seed: the inf point's labelled stand-in."""
    config = largest_pool_config(ctx.configs, index)
    if config is None:
        return None
    params = env_params([config], pool_capacity=None)[0]
    return np.asarray(params.task_pool.means)


def _returns(rewards: np.ndarray) -> np.ndarray:
    """[..., T, E] rewards -> [...] mean total reward per episode."""
    return rewards.sum(axis=-2).mean(axis=-1)


def _play_split(ctx, player, params_list, key, num_arms):
    """Agent [P, S, T, E] and Thompson [P, T, E] rewards on per-point env params.

    Points whose params share a structure (every finite pool, or the prior) play in
    one vmapped call each.
    """
    from metarl.evaluation.play import checkpoint_maker

    num_points = len(params_list)
    agent = [None] * num_points
    thompson = [None] * num_points
    for indices in by_structure(params_list):
        stacked = stack([params_list[i] for i in indices])
        rows = np.asarray(indices)
        point_params = jax.tree.map(lambda x, rows=rows: x[rows], ctx.params)
        mine = player.play(
            checkpoint_maker(ctx.agent),
            stacked,
            key,
            policy_args=point_params,
            seeds=True,
            points=True,
        )
        theirs = player.play(_thompson_maker(num_arms), stacked, key, points=True)
        for k, i in enumerate(indices):
            agent[i] = mine.rewards[k]
            thompson[i] = theirs.rewards[k]
    return agent, thompson, mine


def evaluate(ctx, episodes: int = EPISODES, eval_seed: int = EVAL_SEED) -> dict[str, Any]:
    """Held-out and training-task evaluation of every point and seed; the sweep summary."""
    from metarl import envs
    from metarl.evaluation import metrics
    from metarl.evaluation.play import Player, checkpoint_maker

    configs = ctx.configs
    held_params = env_params(configs, split="held_out")
    env, first = envs.make(configs[0].env.name, **{**configs[0].env.overrides, "split": "held_out"})
    num_arms, num_steps = int(first.num_arms), int(first.max_steps_in_episode)
    reward_scale = float(first.reward_scale)
    player = Player(env, episodes, num_steps)
    key = jax.random.PRNGKey(eval_seed)
    ctx.log(f"sweep: evaluating {len(configs)} points on {episodes} held-out episodes each")
    stacked_held = stack(held_params)
    agent_held = player.play(
        checkpoint_maker(ctx.agent),
        stacked_held,
        key,
        policy_args=ctx.params,
        seeds=True,
        points=True,
    )  # [P, S, T, E]
    thompson_held = player.play(_thompson_maker(num_arms), stacked_held, key, points=True)
    random_held = player.play(_random_maker(num_arms), stacked_held, key, points=True)
    train_params, train_means = _training_params(ctx)
    agent_train, thompson_train, _ = _play_split(ctx, player, train_params, key, num_arms)

    points = []
    for i, config in enumerate(configs):
        means = train_means[i] if train_means[i] is not None else _stand_in_means(ctx, i)
        locator = None
        if means is not None:
            locator = player.play(
                _locator_maker(), held_params[i], key, policy_args=jax.numpy.asarray(means)
            )
        points.append(
            _point_summary(
                ctx.labels[i],
                config,
                agent_held.actions[i],
                agent_held.rewards[i],
                {"thompson_sampling": thompson_held, "random": random_held},
                i,
                locator,
                means,
                agent_train[i],
                thompson_train[i],
                reward_scale,
                eval_seed,
                metrics,
            )
        )
    from metarl.probes.likelihood import MIN_GAIN

    by_n = aggregate(points, MEASURES, gain_measures=GAINS, min_gain=MIN_GAIN)
    return {
        "format_version": FORMAT_VERSION,
        "sweep": ctx.sweep.name,
        "episodes": episodes,
        "eval_seed": eval_seed,
        "env_steps_per_run": configs[0].run.num_updates
        * configs[0].run.num_envs
        * configs[0].run.rollout_length,
        "seeds_per_point": configs[0].run.num_seeds,
        "points": points,
        "by_num_tasks": by_n,
        "transition": transition_text(by_n),
    }


def _likelihood(actions, rewards, means, reward_scale, seed):
    from metarl.probes.likelihood import compare_learner_vs_locator

    # The probe's Bayes learner counts Bernoulli successes: rewards must be 0/1.
    return compare_learner_vs_locator(actions, np.asarray(rewards) / reward_scale, means, seed=seed)


def _point_summary(
    label,
    config,
    actions,
    rewards,
    refs,
    i,
    locator,
    means,
    train_rewards,
    ts_train,
    scale,
    seed,
    metrics,
):
    """Per-seed measures and pooled per-episode intervals of one point."""
    ts_rewards = refs["thompson_sampling"].rewards[i]
    random_rewards = refs["random"].rewards[i]
    oracle = float(refs["thompson_sampling"].info["optimal_expected_reward"][i].mean())
    random_level = float(random_rewards.mean())
    held_return = _returns(rewards)  # [S]
    train_return = _returns(train_rewards)
    memorisation = (train_return - _returns(ts_train)) - (held_return - _returns(ts_rewards))
    improvement = np.array(
        [metrics.in_context_improvement(r, oracle, random_level).mean() for r in rewards]
    )
    per_seed = {
        "held_out_return": held_return,
        "held_out_improvement": improvement,
        "memorisation_advantage": memorisation,
        **{name: np.full(len(rewards), np.nan) for name in ("likelihood_difference", *GAINS)},
    }
    pooled_likelihood = None
    if means is not None:
        seeds = [
            _likelihood(a, r, means, scale, seed) for a, r in zip(actions, rewards, strict=True)
        ]
        per_seed["likelihood_difference"] = np.array([c.difference for c in seeds])
        per_seed["learner_belief_gain"] = np.array([c.learner_gain for c in seeds])
        per_seed["locator_belief_gain"] = np.array([c.locator_gain for c in seeds])
        pooled = _likelihood(
            np.concatenate(list(actions), 1), np.concatenate(list(rewards), 1), means, scale, seed
        )
        pooled_likelihood = {
            "difference": pooled.difference_interval,
            "verdict": pooled.verdict,
            "stand_in": num_tasks_of(config) is None,
            "locator_tasks": len(means),
            "calibration": {
                "thompson_sampling": _likelihood(
                    refs["thompson_sampling"].actions[i], ts_rewards, means, scale, seed
                ).difference_interval,
                "task_locator": _likelihood(
                    locator.actions, locator.rewards, means, scale, seed
                ).difference_interval,
            },
        }
    references = {
        "thompson_sampling": float(_returns(ts_rewards)),
        "random": float(_returns(random_rewards)),
        "thompson_improvement": float(
            metrics.in_context_improvement(ts_rewards, oracle, random_level).mean()
        ),
    }
    if locator is not None:
        references["task_locator"] = float(_returns(locator.rewards))
        references["locator_improvement"] = float(
            metrics.in_context_improvement(locator.rewards, oracle, random_level).mean()
        )
    n = num_tasks_of(config)
    return {
        "label": label,
        "num_tasks": "inf" if n is None else int(n),
        "task_seed": config.env.overrides.get("task_seed"),
        "per_seed": per_seed,
        "references": references,
        "likelihood_pooled_seeds": pooled_likelihood,
    }


# --------------------------------------------------------------------------- figure
PANELS = (
    Panel(
        "held_out_return",
        "held-out return",
        "total reward per episode",
        ("thompson_sampling", "task_locator"),
    ),
    Panel(
        "held_out_improvement",
        "held-out in-context improvement",
        "(late - early reward) / (oracle - random)",
        ("thompson_improvement", "locator_improvement"),
    ),
    Panel(
        "memorisation_advantage",
        "memorisation advantage",
        "(train - held-out) return gap vs Thompson",
        zero_line=True,
    ),
    Panel(
        "likelihood_difference",
        "learner - locator (inf: largest pool as stand-in)",
        "log-likelihood per choice (nats)",
        zero_line=True,
    ),
)
REFERENCE_STYLE = {
    "thompson_sampling": ("Thompson sampling", "tab:green"),
    "thompson_improvement": ("Thompson sampling", "tab:green"),
    "task_locator": ("task locator (N tasks)", "tab:red"),
    "locator_improvement": ("task locator (N tasks)", "tab:red"),
}


def plot(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """``<out>/task_diversity.{png,pdf}``: every run faint, the IQM with its 95% band."""
    rows = summary["by_num_tasks"]
    return plot_panels(
        summary,
        out_dir,
        PANELS,
        REFERENCE_STYLE,
        stem="task_diversity",
        title=(
            f"Task diversity: {summary['seeds_per_point']} training seeds x "
            f"{len(rows[0]['pool_seeds'])} pool seeds per N, "
            f"{summary['env_steps_per_run'] / 1e6:.1f}M env steps per run, "
            f"{summary['episodes']} held-out episodes"
        ),
        xlabel="training tasks N (log scale; inf = fresh draw)",
    )
