"""Measure of the maze_search reproduction: thinking gains on held-out mazes, hard vs easier.

For one trained ``maze-grid-v0`` setting (a DRC or a GRU core), every frozen training
seed plays ``episodes`` episodes of the *held-out* layouts (the run's ``held_out``
suite, disjoint from the training bank) at every thinking budget K in ``KS`` (K extra
frozen core steps on each observation before acting: ``probes.thinking.
with_traced_thinking``; one compiled program serves every K, seeds vmapped), all from
one key, so every K, seed and setting plays the same mazes and starts (paired
comparisons). The BFS planner, the local heuristic and the random policy play the same
episodes. Returned (JSON-ready; ``Interval`` as ``{"value", "low", "high"}``):

* ``goals`` / ``gain``: per maze group ('all', 'hard', 'easy') and K, goals reached
  per episode and its paired gain over K = 0, with a seed-level 95% interval
  (``seed_stats.seed_level_interval``); ``claim_gain_by_episode`` the per-seed,
  per-hard-episode gain at ``CLAIM_K`` (what the claim's difference of gains is
  computed from, ``gain_difference``);
* hard mazes (``hard_mazes``), fixed before running: the episode's maze (layout and
  goal) has an expected shortest path from a respawn of at least ``HARD_PATH`` steps
  *and* a mean detour ratio (shortest path / Manhattan distance, over the respawn
  squares) of at least ``HARD_DETOUR``: the difficulty probe's ground truth averaged
  over the squares a trial can start from (about a third of the held-out mazes);
* ``success``: per trial, whether the goal was reached within ``BUDGET`` steps
  (trials starting at least ``BUDGET`` steps before the episode ends), for first
  trials (goal unknown) and later ones (goal found before), per seed and over seeds;
  ``excess_ratio``: later trials' min(steps, budget) / shortest path (1 = optimal);
* ``trained_margin``: goals per episode at K = 0 minus the random policy's, paired,
  seed-level interval (the claims' prerequisite: was the core trained at all?);
* ``difficulty``: the difficulty probe on the later trials at K = 0 (seeds pooled,
  clustered by seed and episode): search cost per agent, the verdict
  (``probes.difficulty.difficulty_verdict``) and success by shortest-path bin;
* ``learning_curve``: the run's mean training return per seed against env steps
  (``metrics.jsonl``), and its training speed;
* ``table``: later-trial success at K = 0 and at ``CLAIM_K``, and the references'.

``plot(report, out_dir)`` draws ``reproduction.{png,pdf}``: both learning curves, the
thinking gain per K on hard and on easier mazes, success by shortest path.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy import stats

from metarl.interval import Interval
from metarl.reproduce.context import SettingContext
from metarl.reproduce.seed_stats import seed_level_interval
from metarl.reproduce.spec import CHECKPOINT

KS = (0, 1, 2, 4)
"""Thinking budgets measured (not a measure option: the claim's rule is written for them)."""
CLAIM_K = 4
"""The K whose gain over K = 0 the claim judges (the largest measured)."""
HARD_PATH = 8.0
"""Hard maze: expected shortest path from a respawn square to the goal, at least (steps)."""
HARD_DETOUR = 1.5
"""Hard maze: mean detour ratio over the respawn squares, at least."""
BUDGET = 40
"""Steps a trial has to reach the goal to count as a success (half the 80-step episode)."""
EPISODES = 512
EVAL_SEED = 2019
"""Fixed evaluation key (Guez et al.'s year), apart from training seeds (0, 1, ...)."""
THINKING = "checkpoint_thinking"
"""Table row of the checkpoint at ``CLAIM_K`` thinking steps."""
REFERENCES = ("bfs_planner", "local_heuristic", "random")
GROUPS = ("all", "hard", "easy")


def check_options(options: dict[str, Any]) -> None:
    """Refuse bad measure options before anything trains (ConfigError naming the field)."""
    from metarl.errors import ConfigError

    episodes = int(options.get("episodes", EPISODES))
    if episodes < 16:
        raise ConfigError(
            f"measure: field 'measure.episodes' = {episodes} is out of range; allowed: at least "
            "16 (a third of them are hard mazes)"
        )
    if int(options.get("eval_seed", EVAL_SEED)) < 0:
        raise ConfigError(
            f"measure: field 'measure.eval_seed' = {options['eval_seed']} is out of range; "
            "allowed: at least 0"
        )


# ------------------------------------------------------------------ ground truth
def maze_labels(env_state, layouts) -> dict:
    """Batched maze state -> the maze's difficulty: {'maze_path', 'maze_detour'} [B] float32.

    ``maze_path``: mean BFS distance to the goal over the squares a trial can start from
    (every free square but the goal: respawns are uniform over them); ``maze_detour``:
    the mean of that distance over the Manhattan distance. The difficulty probe's
    ``trial_shortest_path`` and ``detour_ratio``, averaged over a trial's possible starts.
    """
    import jax.numpy as jnp

    layout, goal = env_state.layout, env_state.goal
    distance = layouts.distance[layout, :, goal].astype(jnp.float32)  # [B, F]
    cells = layouts.cells[layout].astype(jnp.int32)  # [B, F, 2]
    goal_cell = layouts.cells[layout, goal].astype(jnp.int32)  # [B, 2]
    manhattan = jnp.abs(cells - goal_cell[:, None, :]).sum(-1).astype(jnp.float32)
    starts = jnp.arange(distance.shape[-1])[None, :] != goal[:, None]
    count = starts.sum(-1)
    return {
        "maze_path": jnp.where(starts, distance, 0.0).sum(-1) / count,
        "maze_detour": jnp.where(starts, distance / jnp.maximum(manhattan, 1.0), 0.0).sum(-1)
        / count,
    }


def with_maze_labels(policy, env_params):
    """``policy`` whose extras carry the trial labels (difficulty probe) and the maze labels."""
    from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs
    from metarl.probes.difficulty import with_maze_ground_truth

    labelled = with_maze_ground_truth(policy, env_params)

    def act(carry, inputs: PolicyInputs, key):
        carry, action, extras = labelled.act(carry, inputs, key)
        return carry, action, {**extras, **maze_labels(inputs.privileged_state, env_params.layouts)}

    return FunctionalPolicy(
        init_carry_fn=labelled.init_carry,
        act_fn=act,
        num_actions=labelled.num_actions,
        think_fn=labelled.think if getattr(labelled, "thinks", False) else None,
    )


def hard_mazes(maze_path, maze_detour) -> np.ndarray:
    """[episode] bool: the maze is hard (module docstring; thresholds fixed before running)."""
    return (np.asarray(maze_path) >= HARD_PATH) & (np.asarray(maze_detour) >= HARD_DETOUR)


# ------------------------------------------------------------------ statistics
def goals_per_episode(rewards, trial_boundary) -> np.ndarray:
    """``[..., step, episode]`` -> ``[..., episode]`` goals reached (rewarded trial ends)."""
    return ((np.asarray(rewards) > 0) & np.asarray(trial_boundary, bool)).sum(axis=-2)


def gain_difference(a, b, confidence: float = 0.95) -> tuple[Interval, str]:
    """Mean gain of ``a`` [S1, E] minus ``b`` [S2, E]: two independently trained settings, the
    same E episodes. Seeds are the unit: per-seed means' variances (Welch's degrees of
    freedom), widened by the episodes' sampling error of the per-episode difference of
    seed means (as ``seed_level_interval``). Fewer than 2 seeds on a side: no bounds."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or a.shape[1] < 2:
        raise ValueError(
            f"need [seeds, episodes >= 2] gains on the same episodes: {a.shape}, {b.shape}"
        )
    mean_a, mean_b = a.mean(axis=1), b.mean(axis=1)
    value = float(mean_a.mean() - mean_b.mean())
    if min(len(mean_a), len(mean_b)) < 2:
        return Interval(value), "no interval (a setting has one training seed)"
    var_a, var_b = mean_a.var(ddof=1) / len(mean_a), mean_b.var(ddof=1) / len(mean_b)
    episode_var = float((a.mean(axis=0) - b.mean(axis=0)).var(ddof=1)) / a.shape[1]
    seed_var = var_a + var_b
    if seed_var > 0:
        df = seed_var**2 / (var_a**2 / (len(mean_a) - 1) + var_b**2 / (len(mean_b) - 1))
    else:
        df = float(min(len(mean_a), len(mean_b)) - 1)
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(seed_var + episode_var)
    unit = (
        f"training seeds ({len(mean_a)} vs {len(mean_b)}, Welch t with {df:.1f} df, widened by "
        f"the sampling error of the {a.shape[1]} shared episodes)"
    )
    return Interval(value, value - half, value + half, confidence), unit


def _seed_mean(values) -> Interval:
    """Per-seed values [S] -> mean with a Student t interval over seeds (no bounds from one)."""
    from metarl.evaluation.statistics import seed_interval

    mean, low, high = seed_interval(values)
    return Interval(mean) if low is None else Interval(mean, low, high)


def _trials(rewards, info, extras, horizon: int):
    """``maze_trials`` of host arrays ``[step, episode]`` (one agent, one seed, or seeds pooled
    as columns ``[step, seed * episode]``)."""
    from metarl.probes.difficulty import maze_trials

    batch = SimpleNamespace(rewards=rewards, info=info, extras=extras)
    return maze_trials(batch, horizon)


def trial_success(trials, budget: int = BUDGET) -> dict[str, np.ndarray]:
    """{'first', 'later'}: success (goal within ``budget``) of each eligible trial of that kind."""
    eligible = trials.remaining >= budget
    success = trials.reached & (trials.steps <= budget)
    return {
        "first": success[eligible & (trials.trial_index == 0)],
        "later": success[eligible & (trials.trial_index > 0)],
    }


def _pooled(rewards, boundary, extras) -> tuple[np.ndarray, dict, dict]:
    """[S, T, E] arrays -> [T, S * E] (seed-major columns: each seed's episode its own cluster)."""

    def flat(x):
        x = np.asarray(x)
        return np.moveaxis(x, 0, 1).reshape(x.shape[1], -1)

    return (
        flat(rewards),
        {"trial_boundary": flat(boundary)},
        {k: flat(v) for k, v in extras.items()},
    )


# ------------------------------------------------------------------ playing
def _thinking_program(agent, env, episodes: int, steps: int, greedy: bool):
    """jit(vmap over seeds) of (params [S], K, env_params, key) -> the labelled EpisodeBatch."""
    import jax

    from metarl.evaluation.agent_policy import agent_policy
    from metarl.evaluation.rollout import evaluate_policy
    from metarl.probes.thinking import with_traced_thinking

    def one(params, k, env_params, key):
        policy = with_traced_thinking(agent_policy(agent, params, greedy), k)
        return evaluate_policy(
            with_maze_labels(policy, env_params),
            env,
            env_params,
            key,
            episodes,
            steps,
            record_extras=True,
        )

    # K is not mapped: the thinking loop's bound is one traced scalar for every seed.
    return jax.jit(jax.vmap(one, in_axes=(0, None, None, None)))


def _host(batch) -> dict[str, np.ndarray]:
    import jax

    host = jax.device_get(batch)
    return {
        "rewards": np.asarray(host.rewards),
        "boundary": np.asarray(host.info["trial_boundary"]).astype(bool),
        "extras": {k: np.asarray(v) for k, v in host.extras.items()},
    }


def play_thinking(frozen, env, params, key, episodes: int, greedy: bool) -> tuple[list, float]:
    """Per K in ``KS``: host arrays [S, T, E] of every seed; (plays, compile seconds)."""
    import jax
    import jax.numpy as jnp

    horizon = int(params.max_steps_in_episode)
    program = _thinking_program(frozen.agent, env, episodes, horizon, greedy)
    start = time.perf_counter()
    compiled = program.lower(frozen.params, jnp.int32(0), params, key).compile()
    compile_s = time.perf_counter() - start
    plays = [
        _host(jax.block_until_ready(compiled(frozen.params, jnp.int32(k), params, key))) for k in KS
    ]
    return plays, compile_s


def play_references(env, params, key, episodes: int) -> dict[str, dict]:
    """The BFS planner, local heuristic and random policy on the same episodes (host arrays)."""
    from metarl.evaluation.baselines import random_policy
    from metarl.evaluation.baselines.maze import bfs_planner, local_heuristic
    from metarl.evaluation.play import Player

    player = Player(env, episodes, int(params.max_steps_in_episode), record_extras=True)
    policies = {
        "bfs_planner": bfs_planner(params),
        "local_heuristic": local_heuristic(params),
        "random": random_policy(env.num_actions),
    }
    played = {}
    for name, policy in policies.items():
        rollouts = player.play_policy(with_maze_labels(policy, params), params, key)
        played[name] = {
            "rewards": rollouts.rewards,
            "boundary": rollouts.info["trial_boundary"].astype(bool),
            "extras": {k: np.asarray(v) for k, v in rollouts.extras.items()},
        }
    return played


# ------------------------------------------------------------------ summaries
def learning_curve(run_dir: Path | None) -> dict[str, Any]:
    """The run's training curve from ``metrics.jsonl``: env steps per seed, mean episode return
    per seed (training mazes), and the median training speed over all seeds."""
    path = None if run_dir is None else Path(run_dir) / "metrics.jsonl"
    if path is None or not path.is_file():
        return {"env_steps": [], "return_per_seed": [], "steps_per_s": float("nan")}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    per_seed = [r.get("mean_episode_return_per_seed", [r["mean_episode_return"]]) for r in records]
    speeds = [r["steps_per_s"] for r in records[1:]] or [r["steps_per_s"] for r in records]
    return {
        "env_steps": [int(r["env_steps"]) for r in records],
        "return_per_seed": np.asarray(per_seed, np.float64).T,  # [S, chunks]
        "steps_per_s": float(np.median(speeds)),
        "wall_time_s": float(records[-1].get("wall_time_s", float("nan"))),
    }


def thinking_summary(goals: np.ndarray, hard: np.ndarray) -> dict[str, Any]:
    """``goals`` [S, K, E]: per group and K the goals per episode and the paired gain over K = 0,
    each with its seed-level interval; per-seed curves; the claim's per-episode gains."""
    masks = {"all": np.ones_like(hard), "hard": hard, "easy": ~hard}
    gains = goals - goals[:, :1, :]
    summary: dict[str, Any] = {"goals": {}, "gain": {}, "per_seed": {}}
    for group, mask in masks.items():
        if mask.sum() < 2:
            empty = [Interval(float("nan"))] * len(KS)
            summary["goals"][group] = summary["gain"][group] = empty
            continue
        summary["goals"][group] = [
            seed_level_interval(goals[:, k, mask])[0] for k in range(len(KS))
        ]
        summary["gain"][group] = [seed_level_interval(gains[:, k, mask])[0] for k in range(len(KS))]
        summary["per_seed"][f"gain_{group}"] = gains[:, :, mask].mean(axis=-1)
    summary["interval_unit"] = seed_level_interval(goals[:, 0, :])[1]
    summary["claim_gain_by_episode"] = gains[:, KS.index(CLAIM_K), hard]
    summary["per_seed"]["goals"] = goals.mean(axis=-1)
    return summary


def _success_summary(plays: list[dict], horizon: int) -> dict[str, Any]:
    """Per K: first- and later-trial success and later-trial steps / shortest path, per seed."""
    out: dict[str, Any] = {"success": {}, "excess_ratio": [], "per_seed_success_later": []}
    for which in ("first", "later"):
        out["success"][which] = []
    for play in plays:
        per_seed = {"first": [], "later": [], "excess": []}
        for s in range(play["rewards"].shape[0]):
            extras = {k: v[s] for k, v in play["extras"].items()}
            trials = _trials(
                play["rewards"][s], {"trial_boundary": play["boundary"][s]}, extras, horizon
            )
            success = trial_success(trials)
            per_seed["first"].append(success["first"].mean() if success["first"].size else np.nan)
            per_seed["later"].append(success["later"].mean() if success["later"].size else np.nan)
            later = (trials.remaining >= BUDGET) & (trials.trial_index > 0)
            ratio = np.minimum(trials.steps[later], BUDGET) / np.maximum(
                trials.shortest_path[later], 1
            )
            per_seed["excess"].append(ratio.mean() if ratio.size else np.nan)
        for which in ("first", "later"):
            out["success"][which].append(_seed_mean(per_seed[which]))
        out["excess_ratio"].append(_seed_mean(per_seed["excess"]))
        out["per_seed_success_later"].append(per_seed["later"])
    return out


def difficulty_summary(checkpoint: dict, references: dict[str, dict], horizon: int) -> dict:
    """The difficulty probe on later trials at K = 0: the checkpoint (seeds pooled) beside the
    BFS planner and the local heuristic; search cost, verdict, success by shortest path."""
    from metarl.probes.difficulty import (
        DEFAULT_PATH_BINS,
        bin_trials,
        difference,
        difficulty_verdict,
        search_cost,
    )

    analyses = {
        "checkpoint": _trials(
            *_pooled(checkpoint["rewards"], checkpoint["boundary"], checkpoint["extras"]), horizon
        )
    }
    for name in ("bfs_planner", "local_heuristic"):
        play = references[name]
        analyses[name] = _trials(
            play["rewards"], {"trial_boundary": play["boundary"]}, play["extras"], horizon
        )
    cost = {name: search_cost(SimpleNamespace(trials=t), BUDGET) for name, t in analyses.items()}
    versus_local = {
        key: difference(cost["checkpoint"][key], cost["local_heuristic"][key])
        for key in ("detour_effect", "excess_ratio")
    }
    verdict = difficulty_verdict(cost, versus_local)
    return {
        "verdict": verdict.label,
        "reason": verdict.reason,
        "search_cost": cost,
        "checkpoint_minus_local": versus_local,
        "path_bins": list(DEFAULT_PATH_BINS),
        "success_by_path": {
            name: bin_trials(t, "shortest_path", DEFAULT_PATH_BINS, BUDGET, "later").success
            for name, t in analyses.items()
        },
        "interval_unit": "trials clustered by (seed, episode): seed-to-seed variation not included",
    }


def _reference_summary(references: dict[str, dict], hard: np.ndarray, horizon: int) -> dict:
    """Each reference's goals per episode (all, hard, easy) and later-trial success, over episodes."""
    from metarl.evaluation.statistics import clustered_mean
    from metarl.reproduce.seed_stats import episode_interval

    out = {}
    for name, play in references.items():
        goals = goals_per_episode(play["rewards"], play["boundary"])  # [E]
        trials = _trials(
            play["rewards"], {"trial_boundary": play["boundary"]}, play["extras"], horizon
        )
        eligible = (trials.remaining >= BUDGET) & (trials.trial_index > 0)
        success = trials.reached & (trials.steps <= BUDGET)
        out[name] = {
            "goals": {
                "all": episode_interval(goals),
                "hard": episode_interval(goals[hard]),
                "easy": episode_interval(goals[~hard]),
            },
            "success_later": clustered_mean(success[eligible], trials.episode[eligible]),
            "return_per_episode": float(np.asarray(play["rewards"]).sum(axis=0).mean()),
            "goals_by_episode": goals,
        }
    return out


def measure(
    context: SettingContext,
    episodes: int = EPISODES,
    eval_seed: int = EVAL_SEED,
    greedy: bool = False,
) -> dict[str, Any]:
    """The setting's thinking gains, success, difficulty placement and learning curve (module doc)."""
    import jax

    from metarl.evaluation.suites import make_suite_env
    from metarl.runner.train_loop import env_steps_per_update

    frozen = context.frozen()
    config = frozen.config
    suite, env, params = make_suite_env(
        config.env.name, config.env.overrides, "held_out", frozen.base_env, frozen.env_params
    )
    horizon = int(params.max_steps_in_episode)
    key = jax.random.PRNGKey(eval_seed)
    context.log(
        f"measure {context.setting.name}: {frozen.num_seeds} seed(s) x K in {KS}, and the "
        f"references, on {episodes} shared episodes of held-out mazes"
    )
    start = time.perf_counter()
    plays, compile_s = play_thinking(frozen, env, params, key, episodes, greedy)
    references = play_references(env, params, key, episodes)
    play_s = time.perf_counter() - start
    labels = plays[0]["extras"]
    hard = hard_mazes(labels["maze_path"][0, 0], labels["maze_detour"][0, 0])
    goals = np.stack([goals_per_episode(p["rewards"], p["boundary"]) for p in plays], axis=1)
    summary = thinking_summary(goals.astype(np.float64), hard)
    refs = _reference_summary(references, hard, horizon)
    margin = seed_level_interval(goals[:, 0, :] - refs["random"]["goals_by_episode"][None, :])[0]
    success = _success_summary(plays, horizon)
    table = {
        CHECKPOINT: success["success"]["later"][0],
        THINKING: success["success"]["later"][KS.index(CLAIM_K)],
        **{name: refs[name]["success_later"] for name in REFERENCES},
    }
    return {
        **summary,
        "core": config.agent.core,
        "agent": {
            "core": config.agent.core,
            "hidden_size": config.agent.hidden_size,
            "drc_channels": config.agent.drc_channels if config.agent.core == "drc" else None,
        },
        "ks": list(KS),
        "claim_k": CLAIM_K,
        "budget": BUDGET,
        "hard_rule": f"expected shortest path from a respawn >= {HARD_PATH:g} steps and mean "
        f"detour ratio >= {HARD_DETOUR:g}",
        "hard_episodes": int(hard.sum()),
        "hard_episode_index": np.flatnonzero(hard),
        "episodes": episodes,
        "eval_seed": eval_seed,
        "actions": "greedy" if greedy else "sampled",
        "suite": suite.description,
        "horizon": horizon,
        "num_seeds": frozen.num_seeds,
        "checkpoint_update": frozen.step,
        "env_steps_per_seed": frozen.step * env_steps_per_update(config),
        "trained_margin": margin,
        "success": success["success"],
        "excess_ratio": success["excess_ratio"],
        "references": {
            n: {k: v for k, v in r.items() if k != "goals_by_episode"} for n, r in refs.items()
        },
        "difficulty": difficulty_summary(plays[0], references, horizon),
        "learning_curve": learning_curve(context.run_dir),
        "table": table,
        "table_units": {
            CHECKPOINT: "training seeds (Student t over per-seed success rates)",
            THINKING: "training seeds (Student t over per-seed success rates)",
            **{name: "trials clustered by episode" for name in REFERENCES},
        },
        "timing": {"play_s": play_s, "compile_s": compile_s},
    }


# ------------------------------------------------------------------ figure
COLORS = {"drc": "#1f4e9c", "gru": "#d62728"}
REFERENCE_STYLE = {
    "bfs_planner": ("#2ca02c", "BFS planner"),
    "local_heuristic": ("#9467bd", "local heuristic"),
    "random": ("0.45", "random"),
}


def _errorbar(ax, x, intervals, **style) -> None:
    values = [Interval.from_json(i) for i in intervals]
    mean = np.array([v.value for v in values])
    low = np.array([v.low if v.has_bounds else v.value for v in values])
    high = np.array([v.high if v.has_bounds else v.value for v in values])
    ax.errorbar(x, mean, yerr=[mean - low, high - mean], capsize=3, marker="o", **style)


def _draw_learning(ax, report: dict) -> None:
    for setting in report["settings"]:
        curve = report["measured"].get(setting["name"], {}).get("learning_curve", {})
        steps, returns = np.asarray(curve.get("env_steps", [])), curve.get("return_per_seed", [])
        if steps.size == 0:
            continue
        color = COLORS.get(setting["name"], "black")
        marker = "o" if steps.size < 3 else None  # a run of one chunk is one point
        for seed in returns:
            ax.plot(steps, seed, color=color, lw=0.7, alpha=0.4, marker=marker, ms=3)
        ax.plot(steps, np.mean(returns, axis=0), color=color, lw=2.2, marker=marker,
                label=f"{setting['label']}, to {steps[-1]:,} steps: mean of {len(returns)} seeds (thin: each)")  # fmt: skip
    first = next(iter(report["measured"].values()), {})
    for name, (color, label) in REFERENCE_STYLE.items():
        value = first.get("references", {}).get(name, {}).get("return_per_episode")
        if value is not None:
            ax.axhline(value, color=color, ls="--", lw=1.2, label=f"{label} (held-out mazes)")
    ax.set_xscale("log")
    ax.set_xlabel("env steps per training seed (log scale)")
    ax.set_ylabel("mean return per 80-step episode\n(training mazes; 10 per goal reached)")
    ax.set_title("learning curves", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")


def _draw_gains(ax, report: dict, group: str, title: str) -> None:
    count = None
    for offset, setting in zip((-0.06, 0.06), report["settings"], strict=False):
        summary = report["measured"].get(setting["name"], {})
        if "gain" not in summary:
            continue
        ks = np.asarray(summary["ks"], float)
        _errorbar(ax, ks + offset, summary["gain"][group],
                  color=COLORS.get(setting["name"], "black"), lw=2, label=setting["label"])  # fmt: skip
        ax.set_xticks(ks, [str(int(k)) for k in ks])
        count, episodes = summary["hard_episodes"], summary["episodes"]
        rule = f"hard: path >= {HARD_PATH:g}, detour >= {HARD_DETOUR:g}"
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xlabel("thinking steps K (extra core steps before each action)")
    ax.set_ylabel("goals per episode, K - (K = 0)\n(paired; 95% interval over seeds)")
    if count is not None:
        title += f" ({count if group == 'hard' else episodes - count} episodes, {rule})"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _draw_success(ax, report: dict) -> None:
    bins, series = None, []
    for setting in report["settings"]:
        difficulty = report["measured"].get(setting["name"], {}).get("difficulty")
        if difficulty:
            bins = difficulty["path_bins"]
            color = COLORS.get(setting["name"], "black")
            series.append((difficulty["success_by_path"]["checkpoint"], color, setting["label"]))
            references = difficulty["success_by_path"]
    if bins is not None:
        for name in ("bfs_planner", "local_heuristic"):
            series.append((references[name], *REFERENCE_STYLE[name]))
    offsets = np.linspace(-0.12, 0.12, max(len(series), 1))
    for offset, (intervals, color, label) in zip(offsets, series, strict=False):
        _errorbar(ax, np.arange(len(intervals)) + offset, intervals, color=color, lw=1.6,
                  label=label)  # fmt: skip
    if bins is None:
        ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
        return
    names = [
        f"[{lo:g}, {hi:g})" if hi < 100 else f">= {lo:g}"
        for lo, hi in zip(bins[:-1], bins[1:], strict=True)
    ]
    ax.set_xticks(np.arange(len(names)), names, fontsize=7)
    ax.set_ylim(-0.05, 1.08)
    ax.set_xlabel("shortest path from the trial's start (steps)")
    ax.set_ylabel(f"P(goal within {BUDGET} steps)\n(later trials, K = 0; 95% CI by episode)")
    ax.set_title(
        "held-out success by distance (difficulty probe; each core's seeds pooled)", fontsize=9
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")


def plot(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``reproduction.{png,pdf}``: learning curves, thinking gains (hard, easier), success by path."""
    import textwrap

    from metarl.plotting import agg_pyplot, save_figure
    from metarl.reproduce.report import FIGURE

    plt = agg_pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(13.0, 10.0), constrained_layout=True)
    _draw_learning(axes[0, 0], report)
    _draw_success(axes[0, 1], report)
    _draw_gains(axes[1, 0], report, "hard", "thinking gain, hard held-out mazes")
    _draw_gains(axes[1, 1], report, "easy", "thinking gain, easier held-out mazes")
    low = min(axes[1, 0].get_ylim()[0], axes[1, 1].get_ylim()[0])
    high = max(axes[1, 0].get_ylim()[1], axes[1, 1].get_ylim()[1])
    for ax in axes[1]:
        ax.set_ylim(low, high)
    claims = "\n".join(textwrap.fill(f"{c['name']}: {c['status']}", 150) for c in report["claims"])
    source = textwrap.fill(report["source"], 150)
    fig.suptitle(
        f"{report['reproduction']} ({report['variant']}): {report['status']}\n{claims}\n{source}",
        fontsize=9,
    )
    return save_figure(fig, Path(out_dir), FIGURE, ("png", "pdf"))
