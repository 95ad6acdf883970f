"""``metarl reproduce NAME --out DIR``: train -> measure -> claims -> report, resumable.

1. **Check** (before anything is built or compiled): ``--set`` values apply to every
   setting's config through the typed override path of ``metarl train --set`` (a bad
   field or value is a ``ConfigError`` naming it); ``env.*`` fields are refused (the
   env *is* the published setting), ``measure.<key>`` sets a measure option (typed
   by its default). ``DIR/reproduction.json`` records the definition and the sets:
   an out dir of other settings is refused, naming what differs.
2. **Train** each setting into ``DIR/settings/<name>/run`` through the trainer
   (``metarl.runner.train_loop.train``), every training seed vmapped in one program:
   a finished run is skipped, a killed one resumes from its newest intact checkpoint
   exactly as ``metarl train --resume`` does. A sweep setting runs ``metarl sweep``
   into ``DIR/settings/<name>`` (resumable the same way).
3. **Measure** each setting with the reproduction's measure module: its result goes
   to ``DIR/settings/<name>/measured.json`` beside the checkpoint update and options
   it was measured with, and is reused while those match.
4. **Claims**: every claim's rule (written in the experiment file before running) on
   the measured summaries; then ``DIR/report.json``, ``DIR/report.md`` and the
   figure (``metarl.reproduce.report``). These are cheap and always redone;
   ``--plot-only`` redraws report.md and the figure from report.json alone.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from metarl.config import ExperimentConfig
from metarl.errors import ConfigError
from metarl.reporting import log, read_json, write_json
from metarl.reproduce.context import SettingContext
from metarl.reproduce.spec import Reproduction, Setting

DEFINITION_FILE = "reproduction.json"
SETTINGS_DIR = "settings"
RUN_DIR = "run"
MEASURED_FILE = "measured.json"
MEASURE_PREFIX = "measure."
FORMAT_VERSION = 1


class ReproductionDirError(RuntimeError):
    """The out dir holds another reproduction, or other settings of this one."""


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The checked inputs of a run: each setting's config (or sweep) and the measure options."""

    configs: dict[str, ExperimentConfig | None]
    config_sets: tuple[str, ...]
    options: dict[str, Any]


# ------------------------------------------------------------------ checking
def _coerce_option(name: str, text: str, default: Any) -> Any:
    from metarl.config_io import coerce

    if isinstance(default, tuple):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return coerce(f"measure.{name}", text, type(default))


def split_sets(repro: Reproduction, sets: Sequence[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """(config sets, measure options): ``measure.<key>=v`` typed by the option's default."""
    from metarl.experiments import parse_set

    options = dict(repro.measure_options)
    config_sets = []
    for text in sets:
        key, value = parse_set(text)
        if key.startswith(MEASURE_PREFIX):
            name = key[len(MEASURE_PREFIX) :]
            if name not in repro.measure_options:
                allowed = ", ".join(MEASURE_PREFIX + n for n in repro.measure_options) or "(none)"
                raise ConfigError(
                    f"reproduction {repro.name!r}: unknown field '{key}'; allowed measure "
                    f"fields: {allowed}"
                )
            options[name] = _coerce_option(name, value, repro.measure_options[name])
        elif key == "env" or key.startswith("env."):
            raise ConfigError(
                f"reproduction {repro.name!r}: field '{key}' is the published setting's env and "
                "cannot be set; change run.*, agent.* or algo.* (or train a variation with "
                "'metarl train')"
            )
        else:
            config_sets.append(text)
    return tuple(config_sets), options


def prepare(repro: Reproduction, sets: Sequence[str] = ()) -> Prepared:
    """Every setting's config with ``sets`` applied and checked (ConfigError); nothing compiled."""
    from metarl.config import validate
    from metarl.config_io import retype_env_overrides
    from metarl.experiments import apply_overrides, check_env_values
    from metarl.sweeps.spec import check_sets, point_config

    config_sets, options = split_sets(repro, sets)
    check_options = getattr(importlib.import_module(repro.measure), "check_options", None)
    if check_options is not None:
        check_options(options)
    configs: dict[str, ExperimentConfig | None] = {}
    for setting in repro.settings:
        if setting.sweep is not None:
            check_sets(setting.sweep, config_sets)
            for point in setting.sweep.points():
                point_config(setting.sweep, point, config_sets)
            configs[setting.name] = None
            continue
        config = retype_env_overrides(apply_overrides(setting.config, list(config_sets)))
        validate(config)
        check_env_values(config)
        configs[setting.name] = config
    return Prepared(configs, config_sets, options)


def _definition(repro: Reproduction, prepared: Prepared) -> dict[str, Any]:
    from metarl.config_io import config_to_dict
    from metarl.reporting import json_ready

    settings = {}
    for setting in repro.settings:
        config = prepared.configs[setting.name]
        if config is not None:
            settings[setting.name] = {"config": config_to_dict(config)}
        else:
            sweep = setting.sweep
            settings[setting.name] = {
                "sweep": sweep.name,
                "experiment": config_to_dict(sweep.experiment),
                "axes": [{"path": a.path, "values": list(a.values)} for a in sweep.axes],
            }
    return json_ready(
        {
            "format_version": FORMAT_VERSION,
            "reproduction": repro.name,
            "variant": repro.variant,
            "settings": settings,
            "sets": list(prepared.config_sets),
            "measure": repro.measure,
            "measure_options": prepared.options,
        }
    )


def _with_config_defaults(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition with every setting's config read back through the config loader, so a
    field added to the configs since the out dir was written (at its default) is no change,
    as ``metarl train --resume`` treats it; unreadable configs are compared as they are."""
    from metarl.config_io import config_from_dict, config_to_dict
    from metarl.errors import ConfigError

    def normalised(data):
        try:
            return config_to_dict(config_from_dict(data))
        except (ConfigError, TypeError, ValueError):
            return data

    settings = {}
    for name, entry in dict(definition.get("settings") or {}).items():
        entry = dict(entry)
        for key in ("config", "experiment"):
            if isinstance(entry.get(key), dict):
                entry[key] = normalised(entry[key])
        settings[name] = entry
    return {**definition, "settings": settings}


def check_out_dir(out_dir: Path, definition: dict[str, Any]) -> None:
    """Refuse an out dir holding something else (keys that differ named); never overwrite it."""
    import json

    path = out_dir / DEFINITION_FILE
    if not path.is_file():
        if out_dir.is_dir() and any(out_dir.iterdir()):
            raise ReproductionDirError(
                f"{out_dir} is not empty and holds no {DEFINITION_FILE}; pick a new --out"
            )
        return
    saved = _with_config_defaults(read_json(path))
    expected = _with_config_defaults(json.loads(json.dumps(definition)))
    differing = sorted(k for k in set(saved) | set(expected) if saved.get(k) != expected.get(k))
    if differing:
        raise ReproductionDirError(
            f"{out_dir} holds a reproduction with other settings (differing: "
            f"{', '.join(differing)}); rerun it with the same name, variant and --set values, "
            "or pick a new --out"
        )


# ------------------------------------------------------------------ training
def run_status(config: ExperimentConfig, run_dir: Path) -> tuple[str, int]:
    """('fresh' | 'partial' | 'finished', newest checkpoint update or 0); RunDirError when the
    directory holds a run of another config."""
    from metarl.runner.frozen import open_read_only
    from metarl.runner.run_dir import RunDir
    from metarl.runner.train_loop import total_updates

    directory = RunDir(run_dir)
    if not directory.exists_nonempty():
        return "fresh", 0
    directory.check_resumable(config)
    if not directory.has_checkpoint():
        return "partial", 0
    checkpointer = open_read_only(run_dir, config)
    try:
        latest = int(checkpointer.latest_step() or 0)
    finally:
        checkpointer.close()
    return ("finished" if latest >= total_updates(config) else "partial"), latest


def train_setting(
    setting: Setting, config: ExperimentConfig, run_dir: Path, report, progress: bool
) -> dict[str, Any]:
    """Train (or skip, or resume) one setting; what happened, for the report's timing block."""
    from metarl.runner.train_loop import env_steps_per_update, train

    status, latest = run_status(config, run_dir)
    seeds = config.run.num_seeds
    if status == "finished":
        report(f"reproduce: {setting.name}: trained earlier (update {latest}), skipped")
        return {"status": "skipped", "update": latest, "train_s": 0.0}
    report(
        f"reproduce: {setting.name}: {'resuming' if status == 'partial' else 'training'} "
        f"{seeds} seed(s) x {config.run.total_env_steps:,} env steps in one program"
    )
    start = time.perf_counter()
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    result = train(
        config,
        run_dir,
        resume=status == "partial",
        progress_stream=sys.stderr,
        show_progress=progress,
    )
    elapsed = time.perf_counter() - start
    steps = (result.update - result.start_update) * env_steps_per_update(config) * seeds
    report(
        f"reproduce: {setting.name}: update {result.update} in {elapsed:.0f} s "
        f"({steps / max(elapsed, 1e-9):,.0f} env steps/s over all seeds)"
    )
    return {
        "status": "resumed" if status == "partial" else "trained",
        "update": result.update,
        "train_s": elapsed,
        "env_steps_this_run": steps,
    }


# ------------------------------------------------------------------ measuring
def _json_form(data: Any) -> Any:
    import json

    from metarl.reporting import json_ready

    return json.loads(json.dumps(json_ready(data)))


def _cached(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        saved = read_json(path)
    except ValueError:
        return None  # unreadable: measure again and overwrite
    return saved if all(saved.get(k) == v for k, v in key.items()) else None


def measure_setting(
    repro: Reproduction, context: SettingContext, cache_key: dict[str, Any], options, report
) -> dict[str, Any]:
    """The setting's measured summary (JSON form), cached in its measured.json."""
    path = context.directory / MEASURED_FILE
    key = _json_form({**cache_key, "options": options})
    cached = _cached(path, key)
    if cached is not None:
        report(f"reproduce: {context.setting.name}: measured earlier ({MEASURED_FILE}), reused")
        return cached["summary"]
    start = time.perf_counter()
    summary = importlib.import_module(repro.measure).measure(context, **options)
    summary = _json_form(summary)
    summary.setdefault("timing", {})["measure_s"] = time.perf_counter() - start
    write_json(path, {**key, "summary": summary})
    report(f"reproduce: {context.setting.name}: measured in {time.perf_counter() - start:.0f} s")
    return summary


def _run_setting(repro, setting, prepared, out_dir: Path, report, progress) -> tuple[dict, dict]:
    """(measured summary, what training did) of one setting."""
    from metarl.config_io import config_to_dict

    directory = out_dir / SETTINGS_DIR / setting.name
    config = prepared.configs[setting.name]
    if config is None:
        from metarl.sweeps.run_sweep import run_sweep

        start = time.perf_counter()
        summary = run_sweep(setting.sweep, directory, prepared.config_sets, report=report)
        summary = _json_form(summary)  # Interval objects when fresh, JSON when cached: one form
        context = SettingContext(setting, None, directory, None, summary, report)
        trained = {"status": "sweep", "train_s": time.perf_counter() - start}
        cache_key = {"trained_updates": summary.get("trained_updates")}
    else:
        run_dir = directory / RUN_DIR
        trained = train_setting(setting, config, run_dir, report, progress)
        context = SettingContext(setting, config, directory, run_dir, None, report)
        cache_key = {"checkpoint_update": trained["update"], "config": config_to_dict(config)}
    measured = measure_setting(repro, context, cache_key, prepared.options, report)
    return measured, trained


def run_reproduction(
    repro: Reproduction,
    out_dir: str | Path,
    sets: Sequence[str] = (),
    *,
    plot_only: bool = False,
    progress: bool = True,
    report: Callable[[str], None] = log,
) -> dict[str, Any]:
    """Train, measure, check and report ``repro`` into ``out_dir``; the report (module doc)."""
    from metarl.reproduce import report as reporting

    out_dir = Path(out_dir)
    if plot_only:
        path = out_dir / reporting.REPORT_JSON
        if not path.is_file():
            raise ReproductionDirError(f"{path} does not exist: run the reproduction first")
        document = read_json(path)
        reporting.write_outputs(document, out_dir, repro)
        return document
    prepared = prepare(repro, sets)  # every bad field before any work
    definition = _definition(repro, prepared)
    check_out_dir(out_dir, definition)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / DEFINITION_FILE, definition)
    report(f"reproduce {repro.name} ({repro.variant}): {len(repro.settings)} setting(s)")
    measured, training = {}, {}
    for setting in repro.settings:
        measured[setting.name], training[setting.name] = _run_setting(
            repro, setting, prepared, out_dir, report, progress
        )
    results = {claim.name: claim.check(measured) for claim in repro.claims}
    document = reporting.build_report(repro, measured, results, training, prepared.config_sets)
    write_json(out_dir / reporting.REPORT_JSON, document)
    reporting.write_outputs(document, out_dir, repro)
    return document
