"""``metarl eval``: frozen evaluation of a run directory's checkpoint on named suites.

``evaluate_run(run_dir, checkpoint="latest", suites="train", episodes=4096, seed=0)``

1. reads ``config.json``, checks the suite names (before anything is built or
   compiled), picks the checkpoint (``latest``, ``best`` or an update number) and
   checks its sidecar config against the run's (``CheckpointError`` naming the
   differing fields otherwise);
2. restores the frozen params (``metarl.runner.frozen.load_frozen_run``: a
   leading seed axis);
3. per suite, plays ``episodes`` episodes with every training seed at once and
   with each reference agent of the env's family (``metarl.evaluation.play``:
   one compiled program each), all from the same key: same tasks, same reward
   draws, paired;
4. writes ``<run_dir>/eval/<suite>/``: ``episodes.npz`` (per-step arrays
   ``[step, episode]``, ``[seed, step, episode]`` for the checkpoint),
   ``curves.npz`` (means and 95% bootstrap bands of every curve),
   ``summary.json`` (totals, paired differences, in-context improvement, area vs
   random, regret, recovery after drift, each number an ``Interval``
   ``{"value", "low", "high"}``: ``metarl.evaluation.summary``; timing) and the
   plots (``metarl.plotting``).

This module is orchestration only: frozen runs are ``metarl.runner.frozen``,
playing is ``metarl.evaluation.play``, statistics are
``metarl.evaluation.summary``, suites and references come from the family spec.

Evaluation is a pure function of (checkpoint, suite, seed, episodes): the env
and policy keys come from ``seed`` only, and the bootstrap uses a fixed-seed
numpy Generator. Only ``summary.json["timing"]`` differs between two runs.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from metarl import reporting
from metarl.errors import ConfigError
from metarl.evaluation import metrics
from metarl.evaluation import statistics as st
from metarl.evaluation.baselines import random_policy
from metarl.evaluation.families import family_spec
from metarl.evaluation.play import Player, Rollouts, checkpoint_maker
from metarl.evaluation.references import reference_policies
from metarl.evaluation.suites import Suite, check_suite, make_suite_env
from metarl.evaluation.summary import (
    CHECKPOINT,
    ORACLE,
    RANDOM,
    RECOVERY_MIN_MARGIN_SE,
    SuiteContext,
    change_point_index,
    recovery_measure,
    summarize_suite,
)
from metarl.interval import Interval
from metarl.runner.frozen import FrozenRun, load_frozen_run, parse_checkpoint_choice

__all__ = [
    "CHECKPOINT",
    "CURVES_FILE",
    "EPISODES_FILE",
    "EVAL_DIR",
    "ORACLE",
    "RANDOM",
    "SUMMARY_FILE",
    "evaluate_run",
    "evaluate_suite",
    "format_summary",
]

SUMMARY_FORMAT_VERSION = 2
"""2: every number with an interval is ``{"value", "low", "high"}`` (was ``{"mean", "ci95"}``)."""
EVAL_DIR = "eval"
EPISODES_FILE = "episodes.npz"
CURVES_FILE = "curves.npz"
SUMMARY_FILE = "summary.json"


# ------------------------------------------------------------------ playing
def _play_suite(
    frozen: FrozenRun,
    policies: dict[str, Any],
    env,
    env_params,
    key,
    num_episodes: int,
    greedy: bool,
    log: Callable[[str], None],
) -> dict[str, Rollouts]:
    """The checkpoint (every seed) and each reference on the suite's episodes, same key."""
    player = Player(env, num_episodes, int(env_params.max_steps_in_episode))
    rollouts = {
        CHECKPOINT: player.play(
            checkpoint_maker(frozen.agent, greedy),
            env_params,
            key,
            policy_args=frozen.params,
            seeds=True,
        )
    }
    for name, policy in policies.items():
        rollouts[name] = player.play_policy(policy, env_params, key)
        log(f"  {name}: compile {rollouts[name].compile_s:.1f}s, run {rollouts[name].run_s:.2f}s")
    log(
        f"  {CHECKPOINT}: compile {rollouts[CHECKPOINT].compile_s:.1f}s, "
        f"run {rollouts[CHECKPOINT].run_s:.2f}s"
    )
    return rollouts


def _references(frozen: FrozenRun, env, env_params, references) -> dict[str, Any]:
    if references == "none":
        return {RANDOM: random_policy(int(env.action_space(env_params).n))}
    return reference_policies(
        frozen.config.env.name,
        env,
        env_params,
        frozen.env_params,
        only=None if references == "all" else list(references),
        training_discount=frozen.config.algo.discount_at_end,
    )


# ------------------------------------------------------------------ files
def _compact(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == np.int32 and array.size and array.min() >= -128 and array.max() < 128:
        return array.astype(np.int8)
    return array


def _episode_arrays(rollouts: dict[str, Rollouts]) -> dict[str, np.ndarray]:
    """Flat npz entries: per-agent rewards/actions, info stored once where no agent changes it."""
    reference = rollouts[RANDOM]
    out: dict[str, np.ndarray] = {}
    for name, r in rollouts.items():
        out[f"{name}/rewards"] = r.rewards.astype(np.float32)
        out[f"{name}/actions"] = _compact(r.actions)
    for field, value in reference.info.items():
        shared = all(
            np.array_equal(np.broadcast_to(value, r.info[field].shape), r.info[field])
            for r in rollouts.values()
        )
        if shared:
            out[f"episode/{field}"] = _compact(value)
        else:
            for name, r in rollouts.items():
                out[f"{name}/{field}"] = _compact(r.info[field])
    return out


def _summary_document(
    frozen: FrozenRun,
    suite: Suite,
    context: SuiteContext,
    agents: dict[str, Any],
    rollouts: dict[str, Rollouts],
    *,
    num_episodes: int,
    seed: int,
    greedy: bool,
    bootstrap_resamples: int,
) -> dict[str, Any]:
    """summary.json's content but its timing block."""
    config, layout = frozen.config, context.layout
    random_info = rollouts[RANDOM].info
    return {
        "format_version": SUMMARY_FORMAT_VERSION,
        "run": {"dir": str(frozen.run_dir), "name": frozen.run_dir.name, "experiment": config.name},
        "env": {"name": config.env.name, "training_overrides": config.env.overrides},
        "checkpoint": {
            "update": frozen.step,
            "requested": frozen.choice,
            "num_seeds": frozen.num_seeds,
            "actions": "greedy" if greedy else "sampled",
            "agent": dataclasses.asdict(config.agent),
        },
        "suite": {
            "name": suite.name,
            "description": suite.description,
            "env_overrides": suite.overrides,
            "change_step": suite.change_step,
        },
        "episodes": num_episodes,
        "steps_per_episode": layout.num_steps,
        "seed": seed,
        "curve": {
            "unit": layout.unit,
            "points": int(context.random_curve.shape[0]),
            "early_window": list(context.early),
            "late_window": list(context.late),
            "trials_per_episode": layout.num_trials if layout.unit == "trial" else None,
            "steps_per_trial": layout.steps_per_trial if layout.unit == "trial" else None,
            "change_point_index": change_point_index(suite.change_step, layout),
            "variable_length_trials": layout.variable,
            "oracle": _oracle_source(random_info, context),
        },
        "recovery": None
        if context.events is None
        else {
            "measure": recovery_measure("optimal_action" in random_info, random_info),
            "window_before": context.recovery_before,
            "window_after": context.recovery_after,
            "threshold": metrics.RECOVERY_THRESHOLD,
            "baseline": "the random policy on the same episodes, aligned on the same events",
            "min_margin": context.recovery_min_margin,
            "min_margin_standard_errors": RECOVERY_MIN_MARGIN_SE,
        },
        "bootstrap": {
            "resamples": bootstrap_resamples,
            "seed": st.BOOTSTRAP_SEED,
            "confidence": 0.95,
        },
        "agents": agents,
    }


def _oracle_source(random_info: dict, context: SuiteContext) -> str | None:
    """What in-context improvement is normalised by (None: no oracle, no improvement)."""
    if context.oracle_curve is None:
        return None
    if "optimal_expected_reward" in random_info:
        return "the env's expected reward of the optimal action"
    return "the family's ceiling reference's reward on the same episodes"


# ------------------------------------------------------------------ one suite
def evaluate_suite(
    frozen: FrozenRun,
    suite_name: str,
    *,
    num_episodes: int = 4096,
    seed: int = 0,
    greedy: bool = False,
    out_dir: Path | None = None,
    bootstrap_resamples: int = st.BOOTSTRAP_RESAMPLES,
    references: str | list[str] = "all",
    log: Callable[[str], None] = reporting.log,
) -> Path:
    """Evaluate ``frozen`` on one suite and write its directory; returns the directory."""
    import jax

    config = frozen.config
    suite, env, env_params = make_suite_env(
        config.env.name, config.env.overrides, suite_name, frozen.base_env, frozen.env_params
    )
    num_steps = int(env_params.max_steps_in_episode)
    key = jax.random.PRNGKey(seed)
    suite_start = time.perf_counter()
    build_start = time.perf_counter()
    policies = _references(frozen, env, env_params, references)
    references_s = time.perf_counter() - build_start
    log(
        f"eval {frozen.run_dir.name} suite {suite.name}: {num_episodes} episodes x {num_steps} steps, "
        f"{frozen.num_seeds} seed(s) + {len(policies)} reference(s): {', '.join(policies)}"
    )
    rollouts = _play_suite(frozen, policies, env, env_params, key, num_episodes, greedy, log)

    stats_start = time.perf_counter()
    counts = st.bootstrap_counts(num_episodes, bootstrap_resamples, st.BOOTSTRAP_SEED)
    ceiling = family_spec(config.env.name).ceiling_reference
    agents, curves, context = summarize_suite(rollouts, suite.change_step, counts, ceiling)
    stats_s = time.perf_counter() - stats_start
    summary = _summary_document(
        frozen,
        suite,
        context,
        agents,
        rollouts,
        num_episodes=num_episodes,
        seed=seed,
        greedy=greedy,
        bootstrap_resamples=bootstrap_resamples,
    )
    summary["timing"] = {
        "restore_s": frozen.restore_s,
        "build_references_s": references_s,
        "compile_s": {name: r.compile_s for name, r in rollouts.items()},
        "rollout_s": {name: r.run_s for name, r in rollouts.items()},
        "rollouts_total_s": sum(r.run_s for r in rollouts.values()),
        "statistics_s": stats_s,
    }

    directory = Path(out_dir) if out_dir is not None else frozen.run_dir / EVAL_DIR / suite.name
    directory.mkdir(parents=True, exist_ok=True)
    write_start = time.perf_counter()
    np.savez_compressed(directory / EPISODES_FILE, **_episode_arrays(rollouts))
    np.savez(directory / CURVES_FILE, **curves)
    summary["timing"]["write_s"] = time.perf_counter() - write_start
    summary["timing"]["suite_total_s"] = time.perf_counter() - suite_start
    reporting.write_json(directory / SUMMARY_FILE, summary)
    return directory


def evaluate_run(
    run_dir: str | Path,
    *,
    checkpoint: str | int = "latest",
    suite: str = "train",
    num_episodes: int = 4096,
    seed: int = 0,
    greedy: bool = False,
    bootstrap_resamples: int = st.BOOTSTRAP_RESAMPLES,
    references: str | list[str] = "all",
    plot: bool = True,
    log: Callable[[str], None] = reporting.log,
) -> list[Path]:
    """Evaluate a run dir's checkpoint on ``suite`` (a name, comma list or 'all'); plot each.

    ``references``: 'all', 'none' (random only) or a list of reference names.
    Raises RunDirError (no config.json), ConfigError (bad suite, episodes, seed:
    checked before anything is restored or compiled) or CheckpointError.
    """
    from metarl.runner.run_dir import RunDir

    if isinstance(checkpoint, str):
        checkpoint = parse_checkpoint_choice(checkpoint)
    if num_episodes < 2:
        raise ConfigError(f"--episodes {num_episodes} is out of range; allowed: at least 2")
    if seed < 0:
        raise ConfigError(f"--seed {seed} is out of range; allowed: at least 0")
    if bootstrap_resamples < 10:
        raise ConfigError(
            f"bootstrap_resamples {bootstrap_resamples} is out of range; allowed: at least 10"
        )
    config = RunDir(run_dir).read_config()
    names = check_suite(config.env.name, suite)
    frozen = load_frozen_run(run_dir, checkpoint)
    log(f"restored update {frozen.step} of {frozen.run_dir} in {frozen.restore_s:.1f}s")
    directories = []
    for name in names:
        directory = evaluate_suite(
            frozen,
            name,
            num_episodes=num_episodes,
            seed=seed,
            greedy=greedy,
            bootstrap_resamples=bootstrap_resamples,
            references=references,
            log=log,
        )
        if plot:
            from metarl.plotting import plot_eval_dir

            start = time.perf_counter()
            written = plot_eval_dir(directory)
            log(
                f"  plots: {', '.join(str(p) for p in written)} ({time.perf_counter() - start:.1f}s)"
            )
        directories.append(directory)
    return directories


def format_summary(summary: dict) -> str:
    """A text table of one suite's summary (what ``metarl eval`` prints)."""
    agents = summary["agents"]
    suite = summary["suite"]
    lines = [
        f"{summary['run']['name']}  update {summary['checkpoint']['update']}  suite {suite['name']}: "
        f"{suite['description']}",
        f"{summary['episodes']} episodes x {summary['steps_per_episode']} steps, seed {summary['seed']}; "
        "means with 95% bootstrap intervals over episodes",
    ]

    def fmt(entry, key, width=26):
        value = Interval.from_json(entry.get(key))
        if value is None or math.isnan(value.value):
            return "-".rjust(width)
        # A leading space keeps columns apart when a wide interval fills its width.
        return (" " + value.format(".3f")).rjust(width)

    # The name column fits the longest name (e.g. gittins_at_training_discount).
    width = max(22, *(len(name) + 1 for name in agents))
    lines.append(
        f"{'agent':{width}s}{'total reward':>26s} {'checkpoint - agent':>26s}"
        f"{'in-context improvement':>26s}{'P(optimal action)':>26s}"
    )
    single_seed = summary["checkpoint"]["num_seeds"] == 1
    for name, entry in agents.items():
        if single_seed and name.startswith(f"{CHECKPOINT}_seed"):
            continue  # identical to the pooled row
        row = {"total": entry.get("total_reward") or entry.get("total_expected_reward")}
        lines.append(
            f"{name:{width}s}{fmt(row, 'total')} {fmt(entry, 'checkpoint_minus_this')}"
            f"{fmt(entry, 'in_context_improvement')}{fmt(entry, 'optimal_action_rate')}"
        )
    recovery = agents[CHECKPOINT].get("recovery")
    if recovery:
        if recovery["steps"] is None:
            why = {
                "no margin over baseline": "undefined: its pre-change level is not above random",
                "not regained within the window": "not regained within the window",
            }.get(recovery["status"], recovery["status"])
            lines.append(
                f"checkpoint recovery after drift: {why} ({recovery['episodes_with_event']} episodes)"
            )
        else:
            high = "not regained" if recovery["high"] is None else f"{recovery['high']:g}"
            lines.append(
                f"checkpoint recovery after drift: {recovery['steps']:g} steps [{recovery['low']:g}, {high}] "
                f"to regain 90% of its pre-change margin over random ({recovery['episodes_with_event']} episodes)"
            )
    return "\n".join(lines)
