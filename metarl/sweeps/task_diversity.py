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

Per N, the seeds of every pool seed are the runs: IQM with a stratified
bootstrap interval over them (``metarl.sweeps.seeds``). The seed-level verdict
is 'learner' when the likelihood difference's interval lies above 0, 'locator'
below. Per point, the pooled per-episode intervals stay beside them.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import jax
import numpy as np

from metarl.interval import Interval
from metarl.sweeps.groups import num_tasks_of
from metarl.sweeps.seeds import iqm_interval, seed_verdict

EPISODES = 1024
EVAL_SEED = 0
NUM_TASKS = "env.overrides.num_tasks"
TASK_SEED = "env.overrides.task_seed"
MEASURES = (
    "held_out_return",
    "held_out_improvement",
    "memorisation_advantage",
    "likelihood_difference",
)
FORMAT_VERSION = 1


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


def _stack(trees: list[Any]) -> Any:
    return jax.tree.map(lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *trees)


def _env_params(configs, **extra) -> list[Any]:
    from metarl import envs

    return [envs.make(c.env.name, **{**c.env.overrides, **extra})[1] for c in configs]


def _training_params(ctx) -> tuple[list[Any], list[np.ndarray | None]]:
    """Each point's training env params as its group trained them, and its N task means."""
    by_point: list[Any] = [None] * len(ctx.configs)
    for group in ctx.groups:
        for config, index in zip(group.point_configs, group.point_indices, strict=True):
            by_point[index] = _env_params([group.member_config(config)])[0]
    means = []
    for config, params in zip(ctx.configs, by_point, strict=True):
        n = num_tasks_of(config)
        means.append(None if n is None else np.asarray(params.task_pool.means)[: int(n)])
    return by_point, means


def _stand_in_means(ctx, index: int) -> np.ndarray | None:
    """The largest finite pool of the same pool seed: the inf point's labelled stand-in."""
    seed = ctx.configs[index].env.overrides.get("task_seed")
    finite = [
        (num_tasks_of(c), c)
        for c in ctx.configs
        if num_tasks_of(c) is not None and c.env.overrides.get("task_seed") == seed
    ]
    if not finite:
        return None
    _, config = max(finite, key=lambda pair: pair[0])
    params = _env_params([config], pool_capacity=None)[0]
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
    buckets: dict[Any, list[int]] = {}
    for i, params in enumerate(params_list):
        buckets.setdefault(jax.tree.structure(params), []).append(i)
    for indices in buckets.values():
        stacked = _stack([params_list[i] for i in indices])
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
    held_params = _env_params(configs, split="held_out")
    env, first = envs.make(configs[0].env.name, **{**configs[0].env.overrides, "split": "held_out"})
    num_arms, num_steps = int(first.num_arms), int(first.max_steps_in_episode)
    reward_scale = float(first.reward_scale)
    player = Player(env, episodes, num_steps)
    key = jax.random.PRNGKey(eval_seed)
    ctx.log(f"sweep: evaluating {len(configs)} points on {episodes} held-out episodes each")
    stacked_held = _stack(held_params)
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
    by_n = _aggregate(points)
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
        "transition": _transition_text(by_n),
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
        "likelihood_difference": np.full(len(rewards), np.nan),
    }
    pooled_likelihood = None
    if means is not None:
        per_seed["likelihood_difference"] = np.array(
            [
                _likelihood(a, r, means, scale, seed).difference
                for a, r in zip(actions, rewards, strict=True)
            ]
        )
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


def _aggregate(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per N: IQM over (pool seeds x training seeds), stratified by pool seed."""
    order: list[Any] = []
    for p in points:
        if p["num_tasks"] not in order:
            order.append(p["num_tasks"])
    rows = []
    for n in order:
        mine = [p for p in points if p["num_tasks"] == n]
        iqm = {
            name: iqm_interval(np.stack([np.asarray(p["per_seed"][name]) for p in mine], axis=1))
            for name in MEASURES
        }
        references = {
            key: float(np.mean([p["references"][key] for p in mine if key in p["references"]]))
            for key in mine[0]["references"]
        }
        rows.append(
            {
                "num_tasks": n,
                "pool_seeds": [p["task_seed"] for p in mine],
                "runs": sum(len(p["per_seed"]["held_out_return"]) for p in mine),
                "iqm": iqm,
                "references": references,
                "verdict": seed_verdict(iqm["likelihood_difference"], "learner", "locator"),
                "stand_in_locator": n == "inf",
            }
        )
    return rows


def _transition_text(rows: list[dict[str, Any]]) -> str:
    parts = [
        f"N={r['num_tasks']}: {r['verdict']} {Interval.format(r['iqm']['likelihood_difference'], '+.3f')}"
        + (" (stand-in locator)" if r["stand_in_locator"] else "")
        for r in rows
    ]
    return (
        "seed-level verdict (IQM of learner - locator per choice, 95% stratified bootstrap): "
        + "; ".join(parts)
    )


# --------------------------------------------------------------------------- figure
PANELS = (
    (
        "held_out_return",
        "held-out return",
        "total reward per episode",
        ("thompson_sampling", "task_locator"),
    ),
    (
        "held_out_improvement",
        "held-out in-context improvement",
        "(late - early reward) / (oracle - random)",
        ("thompson_improvement", "locator_improvement"),
    ),
    (
        "memorisation_advantage",
        "memorisation advantage",
        "(train - held-out) return gap vs Thompson",
        (),
    ),
    (
        "likelihood_difference",
        "learner - locator (inf: largest pool as stand-in)",
        "log-likelihood per choice (nats)",
        (),
    ),
)
REFERENCE_STYLE = {
    "thompson_sampling": ("Thompson sampling", "tab:green"),
    "thompson_improvement": ("Thompson sampling", "tab:green"),
    "task_locator": ("task locator (N tasks)", "tab:red"),
    "locator_improvement": ("task locator (N tasks)", "tab:red"),
}


def _x_positions(labels: list[Any]) -> np.ndarray:
    """log2(N) for finite N; inf one step right of the largest."""
    finite = [math.log2(n) for n in labels if n != "inf"]
    right = (max(finite) if finite else 0.0) + 2.0
    return np.array([right if n == "inf" else math.log2(n) for n in labels])


def plot(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """``<out>/task_diversity.{png,pdf}``: every run faint, the IQM with its 95% band."""
    from metarl.plotting import agg_pyplot, save_figure

    plt = agg_pyplot()
    rows = summary["by_num_tasks"]
    labels = [r["num_tasks"] for r in rows]
    xs = _x_positions(labels)
    x_of = dict(zip([str(n) for n in labels], xs, strict=True))
    fig, axes = plt.subplots(
        1, len(PANELS), figsize=(4.2 * len(PANELS), 3.8), constrained_layout=True
    )
    for index, (ax, (measure, title, ylabel, references)) in enumerate(
        zip(axes, PANELS, strict=True)
    ):
        runs: dict[tuple[Any, int], list[tuple[float, float]]] = {}
        for point in summary["points"]:
            for s, value in enumerate(point["per_seed"][measure]):
                if value is not None:
                    runs.setdefault((point["task_seed"], s), []).append(
                        (x_of[str(point["num_tasks"])], value)
                    )
        for k, line in enumerate(runs.values()):
            line.sort()
            ax.plot(
                *zip(*line, strict=True),
                color="tab:blue",
                alpha=0.25,
                lw=0.8,
                marker=".",
                label="each run (pool seed x training seed)" if k == 0 else None,
            )
        iqm = [
            Interval.from_json(r["iqm"][measure])
            if isinstance(r["iqm"][measure], dict)
            else r["iqm"][measure]
            for r in rows
        ]
        values = np.array([e.value for e in iqm])
        low = np.array([e.low for e in iqm])
        high = np.array([e.high for e in iqm])
        ax.plot(xs, values, color="tab:blue", lw=2, marker="o", label="agent IQM, 95% CI")
        ax.fill_between(xs, low, high, color="tab:blue", alpha=0.2)
        for ref in references:
            ys = [r["references"].get(ref, np.nan) for r in rows]
            name, color = REFERENCE_STYLE[ref]
            ax.plot(xs, ys, color=color, ls="--", lw=1.2, label=name)
        if measure in ("memorisation_advantage", "likelihood_difference"):
            ax.axhline(0.0, color="0.4", lw=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(xs, [str(n) for n in labels])
        ax.set_xlabel("training tasks N (log scale; inf = fresh draw)")
        ax.set_ylabel(ylabel, fontsize=9)
        if index == 0:  # one legend: the same styles in every panel
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"Task diversity: {summary['seeds_per_point']} training seeds x "
        f"{len(rows[0]['pool_seeds'])} pool seeds per N, "
        f"{summary['env_steps_per_run'] / 1e6:.1f}M env steps per run, "
        f"{summary['episodes']} held-out episodes",
        fontsize=11,
    )
    return save_figure(fig, Path(out_dir), "task_diversity", ("png", "pdf"))
