"""Maze difficulty scaling: does an agent's search cost track the path, or the detour?

Per trial (one search for the goal, from a respawn to reaching it) the probe
records the trial's difficulty labels, ``trial_shortest_path`` (BFS steps from the
trial's start square to the goal) and ``detour_ratio`` (that over the Manhattan
distance: 1 when a straight-line-ish route exists, large when the maze forces a
detour), and the agent's cost: whether it reached the goal within a budget, and its
steps to the goal. Binned by either label, with 95% intervals clustered by episode,
and run beside the BFS planner and the local heuristic on the same episodes
(``metarl.evaluation.baselines.maze``): a planner's steps in later trials (goal
known) equal the shortest path whatever the detour, while a local, search-free
policy pays more the larger the detour ratio.

Definitions. A trial starts at an episode start or after a goal is reached; its
labels are those at its first step. ``reached``: the goal was reached before the
episode ended. Only trials that started at least ``budget`` steps before their
episode's end are *eligible* (so the horizon cuts none of them short); for those,
``success`` = reached within ``budget`` steps and ``steps_to_goal`` = min(steps,
budget) (a censored mean: failures count as the budget, so slow agents are not
flattered by averaging only their successes). ``first`` trials are each episode's
first search (the goal is unknown); ``later`` trials follow a goal already found.
Mazes with a moving goal re-label a trial when the goal moves; this probe keeps the
label of the trial's first step, so it is meant for static-goal mazes.

Ground truth. The rollout's ``EpisodeBatch.info`` does not (yet) carry
``trial_shortest_path`` and ``detour_ratio``, so ``with_maze_ground_truth`` wraps
the evaluated policy and adds them to ``extras`` from the env state before each
action (the same formulas as ``Maze._info``); the wrapped policy never sees them.
Both sources are accepted by ``maze_trials``. Evaluate on held-out layouts
(``held_out_maze`` makes ``split='held_out'`` envs).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

import metarl.envs as menvs
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs
from metarl.evaluation.rollout import EpisodeBatch
from metarl.evaluation.statistics import Z_95, clustered_mean, clustered_ols
from metarl.interval import Interval
from metarl.probes import figures
from metarl.probes.protocol import Probe, ProbeContext, ProbeResult, Verdict, text_plus_minus

TRUTH_KEYS = ("trial_shortest_path", "detour_ratio")
DEFAULT_PATH_BINS = (1, 4, 8, 12, 16, 24, 1000)
DEFAULT_DETOUR_BINS = (1.0, 1.0001, 1.5, 2.0, 3.0, 1000.0)
DEFAULT_BUDGET = 50


def held_out_maze(name: str = "maze-v0", **overrides):
    """``(env, params)`` of the named maze on its held-out layouts (disjoint from training)."""
    return menvs.make(name, split="held_out", **overrides)


def maze_ground_truth(env_state, layouts) -> dict[str, jax.Array]:
    """Batched maze state -> {'trial_shortest_path' [B] int32, 'detour_ratio' [B] float32}."""
    layout = env_state.layout
    start, goal = env_state.trial_start, env_state.goal
    path = layouts.distance[layout, start, goal].astype(jnp.int32)
    start_cell = layouts.cells[layout, start].astype(jnp.int32)
    goal_cell = layouts.cells[layout, goal].astype(jnp.int32)
    manhattan = jnp.abs(start_cell - goal_cell).sum(-1)
    return {
        "trial_shortest_path": path,
        "detour_ratio": path.astype(jnp.float32) / manhattan.astype(jnp.float32),
    }


def with_maze_ground_truth(policy, env_params, keep_extras: bool = False) -> FunctionalPolicy:
    """``policy`` whose extras also carry each step's trial labels (read by the probe, not the agent).

    ``keep_extras=False`` drops the policy's own extras (hidden states) to keep the record small.
    """

    def act(carry, inputs: PolicyInputs, key):
        carry, action, extras = policy.act(carry, inputs, key)
        truth = maze_ground_truth(inputs.privileged_state, env_params.layouts)
        return carry, action, {**(extras if keep_extras else {}), **truth}

    return FunctionalPolicy(
        init_carry_fn=policy.init_carry,
        act_fn=act,
        num_actions=policy.num_actions,
        think_fn=policy.think if getattr(policy, "thinks", False) else None,
    )


@dataclasses.dataclass(frozen=True)
class MazeTrials:
    """One entry per trial (numpy, flat over episodes)."""

    shortest_path: np.ndarray
    detour_ratio: np.ndarray
    steps: np.ndarray
    """Steps taken until the goal (to the episode end if not reached)."""
    reached: np.ndarray
    remaining: np.ndarray
    """Steps from the trial's start to its episode's end."""
    trial_index: np.ndarray
    """0 for an episode's first trial."""
    episode: np.ndarray
    """Cluster id: column * episodes_per_column + episode within the column."""


def maze_trials(batch: EpisodeBatch, horizon: int) -> MazeTrials:
    """Per-trial record of a maze ``EpisodeBatch`` (arrays ``[step, column]``; episodes of ``horizon`` steps)."""
    source = batch.info if all(k in batch.info for k in TRUTH_KEYS) else batch.extras
    if not all(k in source for k in TRUTH_KEYS):
        raise ValueError(
            "the batch has no trial labels: evaluate with_maze_ground_truth(policy, params) and "
            "record_extras=True (or record the maze info keys)"
        )
    path = np.asarray(source["trial_shortest_path"])
    detour = np.asarray(source["detour_ratio"])
    boundary = np.asarray(batch.info["trial_boundary"]).astype(bool)
    num_steps, num_columns = boundary.shape
    step = np.arange(num_steps)[:, None]
    episode_start = np.broadcast_to(step % horizon == 0, boundary.shape)
    start = episode_start.copy()
    start[1:] |= boundary[:-1]
    # Trial ids, flat and increasing over (column, time).
    start_t = start.T
    trial_id = (np.cumsum(start_t.ravel()) - 1).reshape(start_t.shape).T  # [T, B]
    num_trials = int(start.sum())
    first_step = np.full(num_trials, num_steps, np.int64)
    np.minimum.at(first_step, trial_id.ravel(), np.broadcast_to(step, boundary.shape).ravel())
    column = np.zeros(num_trials, np.int64)
    column[trial_id.ravel()] = np.broadcast_to(np.arange(num_columns), boundary.shape).ravel()
    end_step = np.full(num_trials, -1, np.int64)
    np.maximum.at(end_step, trial_id[boundary], np.broadcast_to(step, boundary.shape)[boundary])
    reached = end_step >= 0
    episode_index = first_step // horizon
    episode_end = np.minimum((episode_index + 1) * horizon, num_steps)
    steps = np.where(reached, end_step - first_step + 1, episode_end - first_step)
    first_trial = episode_start.T.ravel()[np.flatnonzero(start.T.ravel())]
    # Index within the episode: trials since the last episode start.
    trial_index = np.arange(num_trials) - np.maximum.accumulate(
        np.where(first_trial, np.arange(num_trials), 0)
    )
    return MazeTrials(
        shortest_path=path[first_step, column],
        detour_ratio=detour[first_step, column],
        steps=steps,
        reached=reached,
        remaining=episode_end - first_step,
        trial_index=trial_index,
        episode=column * (-(-num_steps // horizon)) + episode_index,
    )


@dataclasses.dataclass(frozen=True)
class DifficultyBins:
    """Binned cost against one difficulty label (one entry per bin)."""

    label: str
    edges: tuple[float, ...]
    count: list[int]
    success: list[Interval]
    steps_to_goal: list[Interval]
    """min(steps, budget) over eligible trials."""
    excess_ratio: list[Interval]
    """min(steps, budget) / shortest path over eligible trials (1 = optimal)."""

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "edges": list(self.edges),
            "count": self.count,
            "success": list(self.success),
            "steps_to_goal": list(self.steps_to_goal),
            "excess_ratio": list(self.excess_ratio),
        }


def bin_trials(
    trials: MazeTrials,
    label: str,
    edges,
    budget: int = DEFAULT_BUDGET,
    which: str = "later",
    z: float = Z_95,
) -> DifficultyBins:
    """Bin eligible trials by ``label`` ('shortest_path' or 'detour_ratio') into [edge_i, edge_i+1).

    ``which``: 'first', 'later' or 'all' trials.
    """
    if which not in ("first", "later", "all"):
        raise ValueError(f"which must be 'first', 'later' or 'all', got {which!r}")
    keep = trials.remaining >= budget
    if which == "first":
        keep &= trials.trial_index == 0
    elif which == "later":
        keep &= trials.trial_index > 0
    values = getattr(trials, label)
    success = trials.reached & (trials.steps <= budget)
    capped = np.minimum(trials.steps, budget).astype(np.float64)
    count, successes, steps, excess = [], [], [], []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        mask = keep & (values >= low) & (values < high)
        count.append(int(mask.sum()))
        successes.append(clustered_mean(success[mask], trials.episode[mask], z))
        steps.append(clustered_mean(capped[mask], trials.episode[mask], z))
        excess.append(
            clustered_mean(capped[mask] / trials.shortest_path[mask], trials.episode[mask], z)
        )
    return DifficultyBins(label, tuple(edges), count, successes, steps, excess)


@dataclasses.dataclass(frozen=True)
class DifficultyAnalysis:
    by_shortest_path: DifficultyBins
    by_detour_ratio: DifficultyBins
    trials: MazeTrials

    def as_dict(self) -> dict:
        return {
            "by_shortest_path": self.by_shortest_path.as_dict(),
            "by_detour_ratio": self.by_detour_ratio.as_dict(),
            "num_trials": int(self.trials.steps.size),
        }


def run_with_ground_truth(policy, env, env_params, key, num_episodes: int, num_steps: int):
    """``policy`` on ``num_episodes`` episodes, recording the trial labels in extras."""
    from metarl.evaluation.play import Player

    player = Player(env, num_episodes, num_steps, record_extras=True)
    return player.play_policy(with_maze_ground_truth(policy, env_params), env_params, key)


def analyze_difficulty(
    batch: EpisodeBatch,
    horizon: int,
    budget: int = DEFAULT_BUDGET,
    which: str = "later",
    path_bins=DEFAULT_PATH_BINS,
    detour_bins=DEFAULT_DETOUR_BINS,
    z: float = Z_95,
) -> DifficultyAnalysis:
    trials = maze_trials(batch, horizon)
    return DifficultyAnalysis(
        by_shortest_path=bin_trials(trials, "shortest_path", path_bins, budget, which, z),
        by_detour_ratio=bin_trials(trials, "detour_ratio", detour_bins, budget, which, z),
        trials=trials,
    )


def difficulty_scaling(
    policy,
    env,
    env_params,
    key: jax.Array,
    num_episodes: int,
    num_steps: int | None = None,
    references: dict | None = None,
    budget: int = DEFAULT_BUDGET,
    which: str = "later",
    path_bins=DEFAULT_PATH_BINS,
    detour_bins=DEFAULT_DETOUR_BINS,
) -> dict[str, DifficultyAnalysis]:
    """The agent (key 'agent') and the references (default: BFS planner, local heuristic) on the same episodes.

    ``env_params`` should be a held-out split (``held_out_maze``). ``policy`` may be
    None to run only the references.
    """
    from metarl.evaluation.baselines.maze import bfs_planner, local_heuristic

    horizon = int(env_params.max_steps_in_episode)
    num_steps = horizon if num_steps is None else num_steps
    if references is None:
        references = {
            "bfs_planner": bfs_planner(env_params),
            "local_heuristic": local_heuristic(env_params),
        }
    agents = dict(references) if policy is None else {"agent": policy, **references}
    return {
        name: analyze_difficulty(
            run_with_ground_truth(agent, env, env_params, key, num_episodes, num_steps),
            horizon,
            budget,
            which,
            path_bins,
            detour_bins,
        )
        for name, agent in agents.items()
    }


# ------------------------------------------------------------------ the probe

VERDICTS = ("planner_like", "heuristic_like", "undecided", "insufficient_trials")
MIN_TRIALS_PER_GROUP = 10
"""Fewest eligible later trials needed on each side of the detour split for a verdict."""
DETOUR_MARGIN = 1.0
"""Extra steps per detour trial (at equal shortest path) that separate a planner from a
heuristic. A planner's steps are the shortest path whatever the detour (effect 0; its
random actions cost steps that do not depend on the detour: measured -0.09 +- 0.43 at 30%
of them, 256 episodes), while heuristics that discover a detour by walking pay 10 or more
(wall followers; the local heuristic about 20). Without a margin, a wall follower that pays
less than the local heuristic passed for a planner (tests/probes/test_adversarial_difficulty.py)."""
STRAIGHT_DETOUR = 1.0001
"""Trials with detour ratio below this have a shortest path equal to the Manhattan distance."""
REFERENCES = {
    "bfs_planner": "knows the map, walks shortest paths once the goal is known",
    "local_heuristic": "Manhattan moves toward a remembered goal, no search",
}


def search_cost(analysis: DifficultyAnalysis, budget: int) -> dict:
    """What separates a planner from a local heuristic, on eligible later trials (goal known).

    * ``detour_effect``: extra steps to the goal, min(steps, budget), when the maze forces a
      detour (detour ratio above 1) at the *same* shortest path: the detour coefficient of
      steps ~ 1 + shortest path + detour, least squares with episode-clustered intervals.
      A planner pays nothing (its steps are the shortest path); a local heuristic pays.
    * ``excess_ratio``: mean min(steps, budget) / shortest path (1 = optimal): efficiency.
    Insensitivity to detours alone does not make a planner (a random walker is slow
    everywhere), hence both.
    """
    trials = analysis.trials
    keep = (trials.remaining >= budget) & (trials.trial_index > 0)
    detour = trials.detour_ratio[keep] >= STRAIGHT_DETOUR
    path = trials.shortest_path[keep].astype(np.float64)
    steps = np.minimum(trials.steps[keep], budget).astype(np.float64)
    episodes = trials.episode[keep]
    counts = {"trials_with_detour": int(detour.sum()), "trials_straight": int((~detour).sum())}
    out = {**counts, "excess_ratio": clustered_mean(steps / np.maximum(path, 1.0), episodes, Z_95)}
    if min(counts.values()) == 0:
        out["detour_effect"] = Interval(float("nan"))
        return out
    design = np.stack([np.ones_like(path), path, detour.astype(np.float64)], axis=1)
    coef, half = clustered_ols(design, steps, episodes, Z_95)
    out["detour_effect"] = Interval.from_half_width(coef[2], half[2])
    out["steps_per_path_step"] = Interval.from_half_width(coef[1], half[1])
    return out


def difference(mine: Interval, theirs: Interval) -> Interval:
    """mine - theirs for estimates of independent trial sets (half-widths in quadrature)."""
    half = float(np.hypot(mine.half_width, theirs.half_width))
    return Interval.from_half_width(mine.value - theirs.value, half)


def difficulty_verdict(cost: dict[str, dict], versus_local: dict[str, Interval]) -> Verdict:
    """Planner-like, heuristic-like or undecided, from the checkpoint's search cost.

    An equivalence test around ``DETOUR_MARGIN``: ``heuristic_like`` when the detour effect
    is above the margin (95% lower bound), ``planner_like`` when it is below it (95% upper
    bound) and the checkpoint also pays less for detours than the local heuristic and
    walks fewer steps per shortest-path step than it does (a walker capped at the budget
    everywhere pays no detour effect either); in between, ``undecided``.
    """
    mine = cost["checkpoint"]
    effect, ratio = mine["detour_effect"], mine["excess_ratio"]
    enough = min(mine["trials_with_detour"], mine["trials_straight"]) >= MIN_TRIALS_PER_GROUP
    if not enough or not np.isfinite(effect.value):
        return Verdict(
            "insufficient_trials",
            f"the checkpoint had {mine['trials_with_detour']} eligible later trials with a detour and "
            f"{mine['trials_straight']} without (at least {MIN_TRIALS_PER_GROUP} of each needed)",
        )
    less_detour_cost = versus_local["detour_effect"].below(0.0)
    more_efficient = versus_local["excess_ratio"].below(0.0)
    if effect.above(DETOUR_MARGIN):
        label = "heuristic_like"
    elif effect.below(DETOUR_MARGIN) and less_detour_cost and more_efficient:
        label = "planner_like"
    else:
        label = "undecided"
    local, bfs = cost["local_heuristic"], cost["bfs_planner"]
    reason = (
        f"extra steps for a detour at equal shortest path {effect.value:+.2f} +- {effect.half_width:.2f} "
        f"(margin {DETOUR_MARGIN:g}; local heuristic {local['detour_effect'].value:+.2f}, BFS planner "
        f"{bfs['detour_effect'].value:+.2f}); steps / shortest path "
        f"{ratio.value:.2f} +- {ratio.half_width:.2f} (local {local['excess_ratio'].value:.2f}, "
        f"BFS {bfs['excess_ratio'].value:.2f})"
    )
    return Verdict(label, reason)


def _arrays(analyses: dict[str, DifficultyAnalysis]) -> dict[str, np.ndarray]:
    """Per agent, label and quantity: the binned estimates' values and bounds, and the edges."""
    arrays = {}
    for name, analysis in analyses.items():
        for label, bins in (
            ("shortest_path", analysis.by_shortest_path),
            ("detour_ratio", analysis.by_detour_ratio),
        ):
            for field in ("success", "steps_to_goal", "excess_ratio"):
                for bound in ("value", "low", "high"):
                    arrays[f"{name}/{label}/{field}/{bound}"] = np.array(
                        [getattr(e, bound) for e in getattr(bins, field)]
                    )
            arrays[f"{name}/{label}/count"] = np.asarray(bins.count)
            arrays[f"{label}/edges"] = np.asarray(bins.edges, np.float64)
    return arrays


def _play_with_ground_truth(ctx: ProbeContext) -> dict[str, EpisodeBatch]:
    """The checkpoint, the BFS planner and the local heuristic on the probe episodes, with labels."""
    from metarl.evaluation.agent_policy import agent_policy
    from metarl.evaluation.baselines.maze import bfs_planner, local_heuristic

    agent, params = ctx.agent, ctx.env_params
    batches = {
        "checkpoint": ctx.play(
            lambda weights: with_maze_ground_truth(agent_policy(agent, weights), params),
            params,
            ctx.params,
            extras=True,
        )
    }
    for name, policy in (
        ("bfs_planner", bfs_planner(params)),
        ("local_heuristic", local_heuristic(params)),
    ):
        batches[name] = ctx.play(with_maze_ground_truth(policy, params), params, extras=True)
    return batches


def run(ctx: ProbeContext) -> ProbeResult:
    """Success and steps to goal vs shortest path and detour ratio, beside the BFS planner and local heuristic."""
    budget = min(DEFAULT_BUDGET, max(1, ctx.num_steps // 2))
    start = time.perf_counter()
    analyses = {
        name: analyze_difficulty(batch, ctx.num_steps, budget)
        for name, batch in _play_with_ground_truth(ctx).items()
    }
    rollout_s = time.perf_counter() - start
    agents = {}
    for name, analysis in analyses.items():
        row = analysis.as_dict()
        trials = analysis.trials
        first = (trials.remaining >= budget) & (trials.trial_index == 0)
        row["search_cost"] = search_cost(analysis, budget)
        row["first_trial_success"] = (
            float(np.mean(trials.reached[first] & (trials.steps[first] <= budget)))
            if first.any()
            else float("nan")
        )
        agents[name] = row
    cost = {name: row["search_cost"] for name, row in agents.items()}
    comparisons = {
        name: {
            key: difference(cost["checkpoint"][key], cost[name][key])
            for key in ("detour_effect", "excess_ratio")
        }
        for name in ("bfs_planner", "local_heuristic")
    }
    return ProbeResult(
        results={
            "budget": budget,
            "which_trials": "later (the goal was found earlier in the episode)",
            "agents": agents,
            "checkpoint_minus": comparisons,
            "note": f"planner_like: under {DETOUR_MARGIN:g} extra step for a detour (at equal "
            "shortest path), fewer than the local heuristic, and fewer steps per shortest-path step; "
            f"heuristic_like: over {DETOUR_MARGIN:g} extra step for a detour. Intervals are 95%, "
            "clustered by episode; agent-vs-agent differences add half-widths in quadrature.",
        },
        verdict=difficulty_verdict(cost, comparisons["local_heuristic"]),
        references=dict(REFERENCES),
        arrays=_arrays(analyses),
        timing={"rollouts_s": rollout_s},
    )


def format_lines(summary: dict) -> list[str]:
    lines = []
    for name, row in summary["results"]["agents"].items():
        cost = row["search_cost"]
        lines.append(
            f"  {name:24s} detour effect {text_plus_minus(cost['detour_effect'], '.2f')} steps  "
            f"steps / shortest path {text_plus_minus(cost['excess_ratio'], '.2f')}  "
            f"({cost['trials_with_detour'] + cost['trials_straight']} later trials)"
        )
    return lines


_PANELS = (
    ("shortest_path", "success", "P(goal within the budget)"),
    ("shortest_path", "steps_to_goal", "steps to goal, min(steps, budget)"),
    ("detour_ratio", "excess_ratio", "steps / shortest path (1 = optimal)"),
)
_AXIS_LABELS = {
    "shortest_path": "shortest path from the trial start (steps)",
    "detour_ratio": "detour ratio (shortest path / Manhattan distance)",
}


def _bin_names(label: str, edges) -> list[str]:
    names = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if label == "detour_ratio" and hi <= STRAIGHT_DETOUR:
            names.append("1 (straight)")
        elif label == "detour_ratio" and lo == STRAIGHT_DETOUR:
            names.append(f"(1, {hi:g})")
        elif hi < 100:
            names.append(f"[{lo:g}, {hi:g})")
        else:
            names.append(f">= {lo:g}")
    return names


def draw(fig, summary: dict, arrays: dict) -> None:
    order = list(summary["results"]["agents"])
    axes = fig.subplots(1, 3)
    for ax, (label, field, ylabel) in zip(axes, _PANELS, strict=True):
        names = _bin_names(label, arrays[f"{label}/edges"])
        offsets = np.linspace(-0.15, 0.15, len(order))
        for offset, name in zip(offsets, order, strict=True):
            prefix = f"{name}/{label}/{field}"
            values = arrays[f"{prefix}/value"]
            errors = np.hstack(
                [
                    figures.error_bar(v, lo, hi)
                    for v, lo, hi in zip(
                        values, arrays[f"{prefix}/low"], arrays[f"{prefix}/high"], strict=True
                    )
                ]
            )
            ax.errorbar(
                np.arange(len(values)) + offset,
                values,
                yerr=errors,
                fmt="-o",
                color=figures.color(name, order),
                lw=2.2 if name == figures.CHECKPOINT else 1.3,
                ms=5 if name == figures.CHECKPOINT else 4,
                capsize=3,
                label=figures.label(name),
            )
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names, fontsize=8, rotation=20)
        ax.set_xlabel(_AXIS_LABELS[label])
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.02, 1.05)
    axes[0].legend(fontsize=8)
    budget = summary["results"]["budget"]
    axes[1].set_title(f"later trials, budget {budget} steps (95% CI by episode)", fontsize=10)


PROBE = Probe(
    name="difficulty",
    families=("maze",),
    allowed_verdicts=VERDICTS,
    description="maze search cost vs shortest path and detour ratio",
    run=run,
    format=format_lines,
    draw=draw,
    figure_size=(15, 4.8),
)
