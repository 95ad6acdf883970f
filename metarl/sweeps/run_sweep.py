"""``metarl sweep NAME --out DIR``: train every group of a sweep, then run its analysis.

1. The experiment file's ``SWEEP`` gives the points (``metarl.sweeps.spec``);
   ``--set`` values apply to every point. ``<out>/sweep.json`` records the
   definition and the ``--set`` values: an out dir of other settings is refused
   (naming what differs), never overwritten.
2. Points are grouped (``metarl.sweeps.groups``); each group trains as one vmapped
   program into ``<out>/groups/<group>/``. Resumable: a finished group is skipped,
   a killed one resumes from its newest intact checkpoint (bit-identical on CPU).
3. The sweep's analysis module evaluates the frozen groups and writes
   ``<out>/sweep_summary.json`` and its figure; ``--plot-only`` redraws the figure
   from the summary alone.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metarl.config import ExperimentConfig
from metarl.errors import ConfigError
from metarl.reporting import log, read_json, write_json
from metarl.sweeps.groups import Group, GroupTrainer, plan_groups, write_group_file
from metarl.sweeps.spec import Sweep, SweepPoint, check_sets, point_config

SWEEP_FILE = "sweep.json"
SUMMARY_FILE = "sweep_summary.json"
GROUPS_DIR = "groups"
FORMAT_VERSION = 1


class SweepDirError(RuntimeError):
    """The out dir holds a sweep of other settings."""


@dataclasses.dataclass
class SweepContext:
    """What an analysis module gets: the points, their configs and trained params."""

    sweep: Sweep
    out_dir: Path
    points: list[SweepPoint]
    labels: list[str]
    configs: list[ExperimentConfig]
    groups: list[Group]
    params: Any
    """Agent params of every point, leaves ``[num_points, num_seeds, ...]`` (sweep order);
    None when the points' architectures differ (their params cannot be stacked)."""
    agent: Any
    """The shared agent architecture; None when the points' architectures differ."""
    log: Callable[[str], None] = log
    point_params: list[Any] = dataclasses.field(default_factory=list)
    """Each point's params, leaves ``[num_seeds, ...]`` (always set; sweep order)."""
    point_agents: list[Any] = dataclasses.field(default_factory=list)
    """Each point's agent (always set): a sweep over the architecture has one per point."""


def load_sweep(name: str) -> Sweep:
    """The ``SWEEP`` of ``experiments/<name>.py`` (or of a path to a .py file)."""
    from metarl.experiments import load_experiment_module

    module = load_experiment_module(name)
    sweep = getattr(module, "SWEEP", None)
    if not isinstance(sweep, Sweep):
        raise ConfigError(
            f"experiment {name!r} defines no SWEEP (a metarl.sweeps.Sweep); "
            "a sweep is an experiment file that exports one"
        )
    return sweep


def _definition(sweep: Sweep, sets: Sequence[str]) -> dict[str, Any]:
    from metarl.config_io import config_to_dict

    return {
        "format_version": FORMAT_VERSION,
        "sweep": sweep.name,
        "experiment": config_to_dict(sweep.experiment),
        "axes": [_axis_definition(a) for a in sweep.axes],
        "sets": list(sets),
        "analysis": sweep.analysis,
        "analysis_options": dict(sweep.analysis_options),
    }


def _axis_definition(axis) -> dict[str, Any]:
    row: dict[str, Any] = {"path": axis.path, "values": list(axis.values)}
    if axis.linked:  # only then: sweep.json of sweeps without linked fields stays as it was
        row["linked"] = [{"path": p, "values": list(v)} for p, v in axis.linked]
    return row


def check_out_dir(out_dir: Path, definition: dict[str, Any]) -> None:
    """Refuse an out dir that holds a sweep of other settings (the keys that differ named)."""
    path = out_dir / SWEEP_FILE
    if not path.is_file():
        if out_dir.is_dir() and any(out_dir.iterdir()):
            raise SweepDirError(
                f"{out_dir} is not empty and holds no {SWEEP_FILE}; pick a new --out"
            )
        return
    saved = read_json(path)
    expected = _json_normal(definition)
    differing = sorted(k for k in set(saved) | set(expected) if saved.get(k) != expected.get(k))
    if differing:
        raise SweepDirError(
            f"{out_dir} holds a sweep with other settings (differing: {', '.join(differing)}); "
            "resume it with the same sweep and --set values, or pick a new --out"
        )


def _json_normal(data: Any) -> Any:
    import json

    from metarl.reporting import json_ready

    return json.loads(json.dumps(json_ready(data)))


def group_status(group: Group, group_dir: Path) -> tuple[str, int]:
    """('fresh' | 'partial' | 'finished', newest checkpoint update or 0)."""
    from metarl.runner.run_dir import RunDir
    from metarl.runner.train_loop import total_updates

    directory = RunDir(group_dir)
    if not directory.exists_nonempty():
        return "fresh", 0
    directory.check_resumable(group.config)
    if not directory.has_checkpoint():
        return "partial", 0
    from metarl.runner.frozen import open_read_only

    checkpointer = open_read_only(group_dir, group.config)
    try:
        latest = checkpointer.latest_step() or 0
    finally:
        checkpointer.close()
    return ("finished" if latest >= total_updates(group.config) else "partial"), int(latest)


def train_groups(
    groups: list[Group], out_dir: Path, labels: list[str], report: Callable[[str], None] = log
) -> tuple[list[Any], dict[str, int]]:
    """Train (or skip, or resume) every group: each group's final params [members, ...], and
    each group dir's final update."""
    from metarl.runner.frozen import load_frozen_run
    from metarl.runner.train_loop import env_steps_per_update, total_updates, train

    total_steps = sum(
        total_updates(g.config) * env_steps_per_update(g.config) * g.num_members for g in groups
    )
    done_steps, trained_steps, start = 0, 0, time.perf_counter()
    params, updates = [], {}
    for group in groups:
        group_dir = out_dir / GROUPS_DIR / group.dir_name
        group_steps = total_updates(group.config) * env_steps_per_update(group.config)
        status, latest = group_status(group, group_dir)
        what = (
            f"group {group.index + 1}/{len(groups)} ({len(group.point_configs)} points x "
            f"{group.seeds_per_point} seeds = {group.num_members} runs in one program)"
        )
        if status == "finished":
            report(f"sweep: {what}: finished earlier (update {latest}), skipped")
            params.append(load_frozen_run(group_dir, latest).params)
            updates[group.dir_name] = latest
        else:
            trainer = GroupTrainer(group)
            report(f"sweep: {what}: {'resuming' if status == 'partial' else 'training'}")
            group_dir.parent.mkdir(parents=True, exist_ok=True)
            result = train(group.config, group_dir, trainer=trainer, resume=status == "partial")
            write_group_file(group_dir, group, labels)
            trained_steps += (
                (result.update - result.start_update)
                * env_steps_per_update(group.config)
                * group.num_members
            )
            params.append(result.state.params)
            updates[group.dir_name] = result.update
        done_steps += group_steps * group.num_members
        elapsed = time.perf_counter() - start
        rate = trained_steps / elapsed if elapsed > 0 else 0.0
        left = total_steps - done_steps
        eta = f", ETA {left / rate:.0f} s" if rate > 0 and left > 0 else ""
        report(
            f"sweep: {done_steps:,} / {total_steps:,} env steps "
            f"({100 * done_steps / max(total_steps, 1):.0f}%), {rate:,.0f} steps/s{eta}"
        )
    return params, updates


def params_per_point(groups: list[Group], group_params: list[Any], num_points: int) -> list[Any]:
    """Each point's params, leaves ``[num_seeds, ...]``, in sweep order from the groups' rows."""
    import jax

    rows: list[Any] = [None] * num_points
    for group, params in zip(groups, group_params, strict=True):
        seeds = group.seeds_per_point
        host = jax.device_get(params)
        for k, point_index in enumerate(group.point_indices):
            rows[point_index] = jax.tree.map(lambda x, a=k * seeds, b=(k + 1) * seeds: x[a:b], host)
    return rows


def params_by_point(groups: list[Group], group_params: list[Any], num_points: int) -> Any:
    """Leaves ``[num_points, num_seeds, ...]`` in sweep order from the groups' member rows."""
    import jax

    rows = params_per_point(groups, group_params, num_points)
    return jax.tree.map(lambda *leaves: np.stack(leaves), *rows)


def point_agents(configs: list[ExperimentConfig]) -> list[Any]:
    """Each point's agent, built once per distinct (env, agent) config."""
    from metarl.config_io import config_to_dict
    from metarl.training.build import build

    built: dict[str, Any] = {}
    agents = []
    for config in configs:
        data = config_to_dict(config)
        key = repr((data["env"]["name"], data["agent"]))  # the pool does not change the agent
        if key not in built:
            built[key] = build(config).agent
        agents.append(built[key])
    return agents


def _cached_summary(out_dir: Path, updates: dict[str, int]) -> dict[str, Any] | None:
    """The summary on disk when it evaluated exactly these groups' final checkpoints.

    (``sweep.json`` already matched, so the definition and ``--set`` values are the same.)
    """
    path = out_dir / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        summary = read_json(path)
    except ValueError:
        return None  # unreadable: evaluate again and overwrite
    return summary if summary.get("trained_updates") == updates else None


def run_sweep(
    sweep: Sweep,
    out_dir: str | Path,
    sets: Sequence[str] = (),
    *,
    plot_only: bool = False,
    report: Callable[[str], None] = log,
) -> dict[str, Any]:
    """Train, evaluate and plot ``sweep`` into ``out_dir``; the summary (see the module doc)."""
    out_dir = Path(out_dir)
    analysis = importlib.import_module(sweep.analysis)
    if plot_only:
        summary_path = out_dir / SUMMARY_FILE
        if not summary_path.is_file():
            raise SweepDirError(f"{summary_path} does not exist: run the sweep first")
        summary = read_json(summary_path)
        analysis.plot(summary, out_dir)
        return summary
    check_sets(sweep, sets)
    points = sweep.points()
    labels = [p.name(sweep.axes) for p in points]
    configs = [point_config(sweep, p, sets) for p in points]  # every bad value before any work
    definition = _definition(sweep, sets)
    check_out_dir(out_dir, definition)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / SWEEP_FILE, definition)
    groups = plan_groups(configs)
    report(f"sweep {sweep.name}: {len(points)} points in {len(groups)} compiled group(s)")
    group_params, updates = train_groups(groups, out_dir, labels, report)
    cached = _cached_summary(out_dir, updates)
    if cached is not None:
        report(f"sweep: evaluation of these checkpoints cached in {SUMMARY_FILE}, reused")
        analysis.plot(cached, out_dir)
        return cached
    rows = params_per_point(groups, group_params, len(points))
    agents = point_agents(configs)
    shared = all(a is agents[0] for a in agents)  # else the params trees differ in shape
    context = SweepContext(
        sweep=sweep,
        out_dir=out_dir,
        points=points,
        labels=labels,
        configs=configs,
        groups=groups,
        params=params_by_point(groups, group_params, len(points)) if shared else None,
        agent=agents[0] if shared else None,
        log=report,
        point_params=rows,
        point_agents=agents,
    )
    summary = analysis.evaluate(context, **sweep.analysis_options)
    # Whole chunks run, so a run trains up to updates_per_chunk - 1 updates past its budget.
    run = configs[0].run
    trained = max(updates.values()) * run.num_envs * run.rollout_length
    summary = {**summary, "env_steps_per_run": trained, "trained_updates": updates}
    write_json(out_dir / SUMMARY_FILE, summary)
    analysis.plot(summary, out_dir)
    return summary
