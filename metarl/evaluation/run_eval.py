"""``metarl eval``: frozen evaluation of a run directory's checkpoint on named suites.

``evaluate_run(run_dir, checkpoint="latest", suites="train", episodes=4096, seed=0)``

1. reads ``config.json``, checks the suite names (before anything is built or
   compiled), picks the checkpoint (``latest``, ``best`` or an update number) and
   checks its sidecar config against the run's (``CheckpointError`` naming the
   differing fields otherwise);
2. restores the frozen params with orbax onto the trainer's abstract state
   (``state.params`` has a leading seed axis);
3. per suite, plays ``episodes`` episodes with every training seed at once
   (``jit(vmap)`` over seeds) and with each reference agent (one jitted call
   each), all from the same key: same tasks, same reward draws, paired;
4. writes ``<run_dir>/eval/<suite>/``: ``episodes.npz`` (per-step arrays
   ``[step, episode]``, ``[seed, step, episode]`` for the checkpoint),
   ``curves.npz`` (means and 95% bootstrap bands of every curve),
   ``summary.json`` (totals, paired differences, in-context improvement, area vs
   random, regret, recovery after drift, all with intervals; timing) and the
   plots (``metarl.plotting``).

Evaluation is a pure function of (checkpoint, suite, seed, episodes): the env
and policy keys come from ``seed`` only, and the bootstrap uses a fixed-seed
numpy Generator. Only ``summary.json["timing"]`` differs between two runs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from metarl.errors import ConfigError
from metarl.evaluation import metrics
from metarl.evaluation import statistics as st
from metarl.evaluation.suites import Suite, check_suite, make_suite_env

SUMMARY_FORMAT_VERSION = 1
EVAL_DIR = "eval"
EPISODES_FILE = "episodes.npz"
CURVES_FILE = "curves.npz"
SUMMARY_FILE = "summary.json"
CHECKPOINT = "checkpoint"
ORACLE = "oracle"
RANDOM = "random"
EVENT_KEYS = ("drift_event", "change_point", "reversal")
RECOVERY_MIN_MARGIN = 0.1
"""Recovery needs a pre-change margin over random of at least this fraction of (ceiling - random)..."""
RECOVERY_MIN_MARGIN_SE = 3.0
"""... and of at least this many standard errors of the pre-change level."""


def _log_stderr(message: str) -> None:
    sys.stderr.write(f"metarl: {message}\n")
    sys.stderr.flush()


# ------------------------------------------------------------------ checkpoint
def parse_checkpoint_choice(text: str) -> str | int:
    """'latest', 'best', or a non-negative update number (ConfigError otherwise)."""
    if text in ("latest", "best"):
        return text
    if text.isdigit():
        return int(text)
    raise ConfigError(
        f"--checkpoint {text!r} is not allowed; allowed values: 'latest', 'best', or an update number"
    )


def resolve_checkpoint_step(checkpointer, choice: str | int) -> int:
    """The update number ``choice`` names among the run's checkpoints (CheckpointError if none)."""
    from metarl.runner.checkpointing import CheckpointError

    steps = sorted(checkpointer.steps())
    if not steps:
        raise CheckpointError(
            checkpointer.directory, "no checkpoints saved yet (train the run first)"
        )
    if choice == "latest":
        return steps[-1]
    if choice == "best":
        best = checkpointer.best_step()
        if best is None:
            raise CheckpointError(
                checkpointer.directory, "no checkpoint carries a best-metric value"
            )
        return best
    if choice not in steps:
        raise CheckpointError(
            checkpointer.step_path(int(choice)),
            f"no checkpoint at update {choice}; available: {', '.join(map(str, steps))}",
        )
    return int(choice)


@dataclasses.dataclass
class FrozenRun:
    """A run's config, trainer (agent + training env) and restored frozen params."""

    run_dir: Path
    config: Any
    trainer: Any
    params: Any
    """Agent params with a leading [num_seeds] axis."""
    step: int
    choice: str
    restore_s: float


def load_frozen_run(run_dir: str | Path, checkpoint: str | int = "latest") -> FrozenRun:
    """Restore the params of ``run_dir``'s checkpoint (RunDirError / CheckpointError on failure)."""
    from metarl.runner.checkpointing import Checkpointer, CheckpointError
    from metarl.runner.run_dir import RunDir
    from metarl.training.trainer import make_trainer

    start = time.perf_counter()
    run = RunDir(run_dir)
    config = run.read_config()
    if not run.checkpoint_dir.is_dir():
        raise CheckpointError(run.checkpoint_dir, "no checkpoints directory (train the run first)")
    # orbax warns (absl) that a read-only manager does not save: expected here, not news.
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        checkpointer = Checkpointer(run.checkpoint_dir, config, read_only=True)
    finally:
        absl_logger.setLevel(level)
    try:
        step = resolve_checkpoint_step(checkpointer, checkpoint)
        checkpointer.read_meta(step)  # config mismatch: refuse before building anything
        trainer = make_trainer(config)
        state, _ = checkpointer.restore(step, trainer.abstract_state())
    finally:
        checkpointer.close()
    return FrozenRun(
        run_dir=run.root,
        config=config,
        trainer=trainer,
        params=state.params,
        step=step,
        choice=str(checkpoint),
        restore_s=time.perf_counter() - start,
    )


# ------------------------------------------------------------------- rollouts
@dataclasses.dataclass
class Rollouts:
    """Host arrays of one agent: [step, episode] (checkpoint: [seed, step, episode])."""

    rewards: np.ndarray
    actions: np.ndarray
    info: dict[str, np.ndarray]
    compile_s: float
    run_s: float


def _timed_call(jitted, *args) -> tuple[Any, float, float]:
    import jax

    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return out, compile_s, time.perf_counter() - start


def _to_rollouts(batch, compile_s: float, run_s: float) -> Rollouts:
    import jax

    host = jax.device_get(batch)
    return Rollouts(
        rewards=np.asarray(host.rewards),
        actions=np.asarray(host.actions),
        info={name: np.asarray(value) for name, value in host.info.items()},
        compile_s=compile_s,
        run_s=run_s,
    )


def play_checkpoint(
    frozen: FrozenRun, env, env_params, key, num_episodes: int, greedy: bool
) -> Rollouts:
    """Every training seed on the same episodes: one jit(vmap over seeds) call."""
    import jax

    from metarl.evaluation.agent_policy import agent_policy
    from metarl.evaluation.rollout import evaluate_policy

    agent = frozen.trainer.agent
    num_steps = int(env_params.max_steps_in_episode)

    def play(params, env_params, key):
        def one_seed(seed_params):
            policy = agent_policy(agent, seed_params, greedy=greedy)
            return evaluate_policy(policy, env, env_params, key, num_episodes, num_steps)

        return jax.vmap(one_seed)(params)

    batch, compile_s, run_s = _timed_call(jax.jit(play), frozen.params, env_params, key)
    return _to_rollouts(batch, compile_s, run_s)


def play_policy(policy, env, env_params, key, num_episodes: int) -> Rollouts:
    """One reference policy on the suite's episodes: one jitted call."""
    import jax

    from metarl.evaluation.rollout import evaluate_policy

    num_steps = int(env_params.max_steps_in_episode)

    def play(env_params, key):
        return evaluate_policy(policy, env, env_params, key, num_episodes, num_steps)

    batch, compile_s, run_s = _timed_call(jax.jit(play), env_params, key)
    return _to_rollouts(batch, compile_s, run_s)


# ------------------------------------------------------------------ statistics
@dataclasses.dataclass
class AgentView:
    """One agent's [T, E] arrays (a checkpoint's pooled view averages its seeds per episode)."""

    rewards: np.ndarray
    optimal: np.ndarray | None
    regret: np.ndarray | None
    performance: np.ndarray
    """What recovery is measured on: P(optimal action) if known, else expected reward, else reward."""
    trial: np.ndarray | None
    trial_boundary: np.ndarray | None


def _view(rewards, actions, info) -> AgentView:
    """AgentView of arrays [..., T, E]; leading seed axes are averaged away."""
    rewards = np.asarray(rewards, np.float64)
    optimal = None
    if "optimal_action" in info:
        optimal = metrics.optimal_action_indicator(actions, info["optimal_action"])
    regret = np.asarray(info["regret"], np.float64) if "regret" in info else None
    if optimal is not None:
        performance = optimal
    elif "expected_reward" in info:
        performance = np.asarray(info["expected_reward"], np.float64)
    else:
        performance = rewards

    def pool(x):
        return None if x is None else (x.mean(axis=0) if x.ndim == 3 else x)

    def first(x):
        return None if x is None else (np.asarray(x)[0] if np.ndim(x) == 3 else np.asarray(x))

    return AgentView(
        rewards=pool(rewards),
        optimal=pool(optimal),
        regret=pool(regret),
        performance=pool(performance),
        trial=first(info.get("trial")),
        trial_boundary=first(info.get("trial_boundary")),
    )


def _seed_views(rollouts: Rollouts) -> list[AgentView]:
    return [
        _view(rollouts.rewards[s], rollouts.actions[s], {k: v[s] for k, v in rollouts.info.items()})
        for s in range(rollouts.rewards.shape[0])
    ]


@dataclasses.dataclass
class TrialLayout:
    """How the learning curve's x-axis is laid out for this suite."""

    unit: str
    """'step' (bandits, mazes) or 'trial' (fixed multi-step trials: two-step, rule grid)."""
    num_trials: int
    variable: bool
    """Trials of variable length (mazes): trial lengths become a curve of their own."""

    @property
    def steps_per_trial(self) -> int:
        return 1 if self.unit == "step" else self.num_steps // self.num_trials

    num_steps: int = 0


def trial_layout(reference_info: dict[str, np.ndarray], num_steps: int) -> TrialLayout:
    trial = reference_info.get("trial")
    if trial is None:
        return TrialLayout("step", num_steps, False, num_steps)
    trial = np.asarray(trial)
    num_trials = int(trial.max()) + 1
    same_everywhere = bool((trial == trial[:, :1]).all())
    equal_blocks = np.array_equal(
        trial[:, 0], np.arange(num_steps) // max(1, num_steps // num_trials)
    )
    if num_trials >= num_steps:
        return TrialLayout("step", num_steps, False, num_steps)
    if same_everywhere and equal_blocks and num_steps % num_trials == 0:
        return TrialLayout("trial", num_trials, False, num_steps)
    return TrialLayout("step", num_trials, True, num_steps)


def learning_curve(values, view: AgentView, layout: TrialLayout, mean: bool = False) -> np.ndarray:
    """[X, E]: per step, or per trial (summed, or averaged if ``mean``) for fixed multi-step trials."""
    if layout.unit == "trial":
        totals = metrics.trial_totals(values, view.trial, layout.num_trials)
        return totals / layout.steps_per_trial if mean else totals
    return np.asarray(values, np.float64)


def _performance_points(view: AgentView, layout: TrialLayout) -> np.ndarray:
    """What recovery is measured on, per curve point (trial means where trials are the unit)."""
    return learning_curve(view.performance, view, layout, mean=True)


def _interval(point, low, high) -> dict:
    return {"mean": point, "ci95": [low, high]}


def _boot(values, counts) -> dict:
    return _interval(*st.bootstrap_mean(values, counts))


def _events(info: dict[str, np.ndarray]) -> np.ndarray | None:
    for name in EVENT_KEYS:
        if name in info:
            events = np.asarray(info[name], bool)
            return events if events.any() else None
    return None


def _change_point_index(suite: Suite, layout: TrialLayout) -> int | None:
    """The curve point (step, or trial) whose end brings the suite's scheduled change."""
    if suite.change_step is None:
        return None
    return suite.change_step // layout.steps_per_trial


def _recovery_windows(suite: Suite, layout: TrialLayout, num_points: int) -> tuple[int, int]:
    """(points before, points after) the change that recovery looks at."""
    before = max(1, round(0.1 * num_points))
    change = _change_point_index(suite, layout)
    if change is not None:
        return min(before, change + 1), num_points - change - 1
    return before, max(2, round(0.25 * num_points))


@dataclasses.dataclass
class SuiteContext:
    """What every agent's statistics are measured against (shared, so they stay paired)."""

    counts: np.ndarray
    layout: TrialLayout
    early: tuple[int, int]
    late: tuple[int, int]
    random_curve: np.ndarray
    oracle_curve: np.ndarray | None
    checkpoint_totals: np.ndarray
    random_performance: np.ndarray
    """[X, E] the random policy's recovery measure, per curve point: the baseline it is measured against."""
    recovery_min_margin: float
    """An agent less than this above random before a change has no recovery time (10% of oracle - random)."""
    events: np.ndarray | None
    recovery_before: int
    recovery_after: int


def agent_summary(view: AgentView, context: SuiteContext, compare_to_checkpoint: bool) -> dict:
    """Every summary number of one agent (means with 95% bootstrap intervals over episodes)."""
    counts = context.counts
    totals = view.rewards.sum(axis=0)
    curve = learning_curve(view.rewards, view, context.layout)
    out: dict[str, Any] = {
        "total_reward": _boot(totals, counts),
        "mean_reward_per_step": _boot(view.rewards.mean(axis=0), counts),
    }
    if compare_to_checkpoint:
        out["checkpoint_minus_this"] = _boot(context.checkpoint_totals - totals, counts)
    early = metrics.window_mean(curve, context.early)
    late = metrics.window_mean(curve, context.late)
    out["early_window_mean"] = _boot(early, counts)
    out["late_window_mean"] = _boot(late, counts)
    out["late_minus_early"] = _boot(late - early, counts)
    random_level = float(np.nanmean(context.random_curve))
    if context.oracle_curve is not None:
        oracle_level = float(np.nanmean(context.oracle_curve))
        if oracle_level != random_level:
            improvement = metrics.in_context_improvement(
                curve, oracle_level, random_level, context.early, context.late
            )
            out["in_context_improvement"] = _boot(improvement, counts)
    area = metrics.area_between(curve, context.random_curve)
    out["area_vs_random"] = _boot(area, counts)
    if context.oracle_curve is not None:
        oracle_area = metrics.area_between(context.oracle_curve, context.random_curve)
        if float(np.mean(oracle_area)) != 0.0:
            out["area_fraction_of_oracle"] = _interval(
                *st.bootstrap_ratio(area, oracle_area, counts)
            )
    if view.regret is not None:
        out["total_regret"] = _boot(view.regret.sum(axis=0), counts)
    if view.optimal is not None:
        out["optimal_action_rate"] = _boot(view.optimal.mean(axis=0), counts)
        _, late_steps = metrics.default_windows(view.optimal.shape[0])
        out["late_optimal_action_rate"] = _boot(
            metrics.window_mean(view.optimal, late_steps), counts
        )
    if context.layout.variable and view.trial is not None and view.trial_boundary is not None:
        lengths = metrics.trial_lengths(view.trial, view.trial_boundary, context.layout.num_trials)
        out["trials_completed"] = _boot(np.isfinite(lengths).sum(axis=0).astype(np.float64), counts)
    if context.events is not None:
        recovery = metrics.recovery_time(
            _performance_points(view, context.layout),
            context.events,
            context.recovery_before,
            context.recovery_after,
            counts=counts,
            baseline=context.random_performance,
            min_margin=context.recovery_min_margin,
            min_margin_se=RECOVERY_MIN_MARGIN_SE,
        )
        recovery.pop("curve")
        recovery.pop("baseline_curve")
        out["recovery"] = recovery
    return out


def agent_curves(view: AgentView, context: SuiteContext) -> dict[str, np.ndarray]:
    """Mean and 95% bootstrap band of each curve of one agent, flat ``curve/{mean,low,high}`` keys."""
    counts = context.counts
    # Per step where a step is a trial (bandits) or trials vary (mazes); per trial otherwise,
    # where per-step curves would zigzag between the stages of each trial.
    curves = {"reward": view.rewards}
    if context.layout.unit == "trial":
        curves["trial_reward"] = learning_curve(view.rewards, view, context.layout)
    if view.optimal is not None:
        curves["optimal_action"] = learning_curve(view.optimal, view, context.layout, mean=True)
    if view.regret is not None:
        curves["cumulative_regret"] = metrics.cumulative_regret(view.regret)
    if context.layout.variable and view.trial is not None and view.trial_boundary is not None:
        curves["trial_length"] = metrics.trial_lengths(
            view.trial, view.trial_boundary, context.layout.num_trials
        )
    if context.events is not None:
        curves["recovery"] = metrics.event_aligned(
            _performance_points(view, context.layout),
            context.events,
            context.recovery_before,
            context.recovery_after,
        )
    out = {}
    for name, values in curves.items():
        mean, low, high = st.bootstrap_curve(values, counts)
        out[f"{name}/mean"], out[f"{name}/low"], out[f"{name}/high"] = mean, low, high
        out[f"{name}/episodes"] = np.isfinite(values).sum(axis=1)
    return out


# ------------------------------------------------------------------ one suite
def _json_ready(value):
    """NaN / inf -> None and numpy scalars -> Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    return value


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
    log: Callable[[str], None] = _log_stderr,
) -> Path:
    """Evaluate ``frozen`` on one suite and write its directory; returns the directory."""
    import jax

    from metarl.evaluation.baselines import random_policy
    from metarl.evaluation.references import reference_policies

    config = frozen.config
    trainer = frozen.trainer
    suite, env, env_params = make_suite_env(
        config.env.name, config.env.overrides, suite_name, trainer.env._env, trainer.env_params
    )
    num_steps = int(env_params.max_steps_in_episode)
    key = jax.random.PRNGKey(seed)
    suite_start = time.perf_counter()

    build_start = time.perf_counter()
    if references == "none":
        policies = {RANDOM: random_policy(int(env.action_space(env_params).n))}
    else:
        policies = reference_policies(
            config.env.name,
            env,
            env_params,
            trainer.env_params,
            log=lambda m: log(f"note: {m}"),
            only=None if references == "all" else list(references),
        )
    references_s = time.perf_counter() - build_start
    log(
        f"eval {frozen.run_dir.name} suite {suite.name}: {num_episodes} episodes x {num_steps} steps, "
        f"{_num_seeds(frozen)} seed(s) "
        f"+ {len(policies)} reference(s): {', '.join(policies)}"
    )
    rollouts: dict[str, Rollouts] = {
        CHECKPOINT: play_checkpoint(frozen, env, env_params, key, num_episodes, greedy)
    }
    for name, policy in policies.items():
        rollouts[name] = play_policy(policy, env, env_params, key, num_episodes)
        log(f"  {name}: compile {rollouts[name].compile_s:.1f}s, run {rollouts[name].run_s:.2f}s")
    log(
        f"  {CHECKPOINT}: compile {rollouts[CHECKPOINT].compile_s:.1f}s, run {rollouts[CHECKPOINT].run_s:.2f}s"
    )
    stats_start = time.perf_counter()

    counts = st.bootstrap_counts(num_episodes, bootstrap_resamples, st.BOOTSTRAP_SEED)
    random_r = rollouts[RANDOM]
    views = {name: _view(r.rewards, r.actions, r.info) for name, r in rollouts.items()}
    seed_views = _seed_views(rollouts[CHECKPOINT])
    layout = trial_layout(random_r.info, num_steps)
    random_view = views[RANDOM]
    random_curve = learning_curve(random_view.rewards, random_view, layout)
    oracle_steps = random_r.info.get("optimal_expected_reward")
    oracle_curve = None
    if oracle_steps is not None:
        oracle_curve = learning_curve(np.asarray(oracle_steps, np.float64), random_view, layout)
    early, late = metrics.default_windows(random_curve.shape[0])
    events = _events(random_r.info)
    if events is not None and layout.unit == "trial":  # events per trial: any event inside it
        events = (
            metrics.trial_totals(events.astype(np.float64), random_view.trial, layout.num_trials)
            > 0
        )
    random_level = float(np.nanmean(_performance_points(random_view, layout)))
    if random_view.optimal is not None:
        ceiling = 1.0  # P(optimal action)
    elif "expected_reward" in random_r.info and oracle_steps is not None:
        ceiling = float(np.mean(oracle_steps))
    else:  # no known optimum: the best mean level any agent reached
        ceiling = max(
            float(np.nanmax(np.nanmean(_performance_points(v, layout), axis=1)))
            for v in views.values()
        )
    before, after = _recovery_windows(suite, layout, random_curve.shape[0])
    context = SuiteContext(
        counts=counts,
        layout=layout,
        early=early,
        late=late,
        random_curve=random_curve,
        oracle_curve=oracle_curve,
        checkpoint_totals=views[CHECKPOINT].rewards.sum(axis=0),
        random_performance=_performance_points(random_view, layout),
        recovery_min_margin=RECOVERY_MIN_MARGIN * (ceiling - random_level),
        events=events,
        recovery_before=before,
        recovery_after=after,
    )

    agents: dict[str, Any] = {CHECKPOINT: agent_summary(views[CHECKPOINT], context, False)}
    curves: dict[str, np.ndarray] = {}
    curves.update(
        {f"{CHECKPOINT}/{k}": v for k, v in agent_curves(views[CHECKPOINT], context).items()}
    )
    per_seed = [agent_summary(v, context, True) for v in seed_views]
    for index, (summary, view) in enumerate(zip(per_seed, seed_views, strict=True)):
        agents[f"{CHECKPOINT}_seed{index}"] = summary
        if len(seed_views) > 1:
            curves.update(
                {f"{CHECKPOINT}_seed{index}/{k}": v for k, v in agent_curves(view, context).items()}
            )
    agents[CHECKPOINT]["over_training_seeds"] = _over_seeds(per_seed)
    for name in policies:
        agents[name] = agent_summary(views[name], context, True)
        curves.update({f"{name}/{k}": v for k, v in agent_curves(views[name], context).items()})
    if oracle_steps is not None:
        oracle_totals = np.asarray(oracle_steps, np.float64).sum(axis=0)
        agents[ORACLE] = {
            "total_expected_reward": _boot(oracle_totals, counts),
            "checkpoint_minus_this": _boot(context.checkpoint_totals - oracle_totals, counts),
        }
        for name, values in {
            "reward": np.asarray(oracle_steps, np.float64),
            **({"trial_reward": oracle_curve} if layout.unit == "trial" else {}),
        }.items():
            mean, low, high = st.bootstrap_curve(values, counts)
            (
                curves[f"{ORACLE}/{name}/mean"],
                curves[f"{ORACLE}/{name}/low"],
                curves[f"{ORACLE}/{name}/high"],
            ) = (
                mean,
                low,
                high,
            )
    stats_s = time.perf_counter() - stats_start

    summary = {
        "format_version": SUMMARY_FORMAT_VERSION,
        "run": {"dir": str(frozen.run_dir), "name": frozen.run_dir.name, "experiment": config.name},
        "env": {"name": config.env.name, "training_overrides": config.env.overrides},
        "checkpoint": {
            "update": frozen.step,
            "requested": frozen.choice,
            "num_seeds": _num_seeds(frozen),
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
        "steps_per_episode": num_steps,
        "seed": seed,
        "curve": {
            "unit": layout.unit,
            "points": int(random_curve.shape[0]),
            "early_window": list(early),
            "late_window": list(late),
            "trials_per_episode": layout.num_trials if layout.unit == "trial" else None,
            "steps_per_trial": layout.steps_per_trial if layout.unit == "trial" else None,
            "change_point_index": _change_point_index(suite, layout),
            "variable_length_trials": layout.variable,
        },
        "recovery": None
        if events is None
        else {
            "measure": "optimal_action"
            if views[CHECKPOINT].optimal is not None
            else ("expected_reward" if "expected_reward" in random_r.info else "reward"),
            "window_before": before,
            "window_after": after,
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
        "timing": {
            "restore_s": frozen.restore_s,
            "build_references_s": references_s,
            "compile_s": {name: r.compile_s for name, r in rollouts.items()},
            "rollout_s": {name: r.run_s for name, r in rollouts.items()},
            "rollouts_total_s": sum(r.run_s for r in rollouts.values()),
            "statistics_s": stats_s,
        },
    }

    directory = Path(out_dir) if out_dir is not None else frozen.run_dir / EVAL_DIR / suite.name
    directory.mkdir(parents=True, exist_ok=True)
    write_start = time.perf_counter()
    np.savez_compressed(directory / EPISODES_FILE, **_episode_arrays(rollouts))
    np.savez(directory / CURVES_FILE, **curves)
    summary["timing"]["write_s"] = time.perf_counter() - write_start
    summary["timing"]["suite_total_s"] = time.perf_counter() - suite_start
    _write_json(directory / SUMMARY_FILE, summary)
    return directory


def _num_seeds(frozen: FrozenRun) -> int:
    import jax

    return int(jax.tree.leaves(frozen.params)[0].shape[0])


def _over_seeds(per_seed: list[dict]) -> dict:
    """Student-t intervals over training seeds of each seed's mean (no interval from one seed)."""
    out = {}
    for key in (
        "total_reward",
        "in_context_improvement",
        "area_vs_random",
        "total_regret",
        "optimal_action_rate",
    ):
        if key in per_seed[0]:
            mean, low, high = st.seed_interval([s[key]["mean"] for s in per_seed])
            out[key] = {"mean": mean, "ci95": [low, high], "seeds": len(per_seed)}
    return out


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_json_ready(data), indent=2) + "\n")
    tmp.replace(path)


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
    log: Callable[[str], None] = _log_stderr,
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
        value = entry.get(key)
        if not value or value.get("mean") is None:
            return "-".rjust(width)
        low, high = value["ci95"]
        if low is None or high is None:
            return f"{value['mean']:.3f}".rjust(width)
        return f"{value['mean']:.3f} [{low:.3f}, {high:.3f}]".rjust(width)

    lines.append(
        f"{'agent':22s}{'total reward':>26s}{'checkpoint - agent':>26s}"
        f"{'in-context improvement':>26s}{'P(optimal action)':>26s}"
    )
    single_seed = summary["checkpoint"]["num_seeds"] == 1
    for name, entry in agents.items():
        if single_seed and name.startswith(f"{CHECKPOINT}_seed"):
            continue  # identical to the pooled row
        row = {"total": entry.get("total_reward") or entry.get("total_expected_reward")}
        lines.append(
            f"{name:22s}{fmt(row, 'total')}{fmt(entry, 'checkpoint_minus_this')}"
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
