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

import jax
import jax.numpy as jnp
import numpy as np

import metarl.envs as menvs
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs
from metarl.evaluation.rollout import EpisodeBatch, evaluate_policy
from metarl.evaluation.statistics import Z_95
from metarl.probes.two_step import Estimate

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


def clustered_mean(values: np.ndarray, clusters: np.ndarray, z: float = Z_95) -> Estimate:
    """Pooled mean with a cluster-robust (ratio-estimator) 95% interval."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return Estimate(float("nan"), float("nan"))
    _, inverse = np.unique(clusters, return_inverse=True)
    count = np.bincount(inverse).astype(np.float64)
    total = np.bincount(inverse, weights=values)
    mean = values.mean()
    influence = (total - mean * count) / values.size
    k = len(count)
    return Estimate(float(mean), float(z * np.sqrt(k / max(k - 1, 1) * np.sum(influence**2))))


@dataclasses.dataclass(frozen=True)
class DifficultyBins:
    """Binned cost against one difficulty label (one entry per bin)."""

    label: str
    edges: tuple[float, ...]
    count: list[int]
    success: list[Estimate]
    steps_to_goal: list[Estimate]
    """min(steps, budget) over eligible trials."""
    excess_ratio: list[Estimate]
    """min(steps, budget) / shortest path over eligible trials (1 = optimal)."""

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "edges": list(self.edges),
            "count": self.count,
            "success": [e.as_dict() for e in self.success],
            "steps_to_goal": [e.as_dict() for e in self.steps_to_goal],
            "excess_ratio": [e.as_dict() for e in self.excess_ratio],
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


def run_with_ground_truth(
    policy, env, env_params, key, num_episodes: int, num_steps: int
) -> EpisodeBatch:
    """One jitted evaluation of ``policy`` recording the trial labels in extras."""
    wrapped = with_maze_ground_truth(policy, env_params)
    return jax.jit(
        lambda k: evaluate_policy(
            wrapped, env, env_params, k, num_episodes, num_steps, record_extras=True
        )
    )(key)


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
