"""``metarl probe``: the registered probes pointed at a run's frozen checkpoint.

``probe_run(run_dir, probes="all", checkpoint="latest", num_episodes=256, seed=0, seed_index=0)``

1. reads ``config.json`` and checks the probe names against the run's env family
   (``check_probes``), the episode count, seed and training-seed index, before
   anything is restored or compiled (``ConfigError``, exit 2);
2. restores the checkpoint exactly as ``metarl eval`` does
   (``metarl.runner.frozen.load_frozen_run``: a checkpoint whose config differs
   from the run's is refused with ``CheckpointError``) and takes the params of one
   training seed (``seed_index``);
3. runs each probe (``metarl.probes.registry``) on the checkpoint *and on reference
   agents of known mechanism on the same episodes* (one evaluation key,
   ``PRNGKey(seed)``, so every agent faces the same tasks and reward draws): the
   probe's validation context, so a reader sees the checkpoint next to agents whose
   answer is known;
4. writes ``<run_dir>/probes/<probe>/summary.json`` (verdict, numbers with
   intervals as ``Interval`` JSON, references, timing), ``arrays.npz`` where there
   are curves, and ``<probe>.png`` / ``.pdf`` (the probe's ``plot``).

Which probes apply to which env family, and what each may conclude, is the
registry's (``PROBES_BY_FAMILY``, ``VERDICTS``); all run on the run's ``held_out``
suite (held-out tasks for a finite pool or maze bank; fresh prior draws otherwise).

Every summary is a pure function of (checkpoint, probe, seed, episodes,
seed_index): evaluation keys come from ``seed``, episode splits and bootstraps
from fixed seeds, fits are deterministic. Only ``summary.json["timing"]`` differs
between two runs, and a probe's numbers do not depend on which other probes ran
in the same call (shared rollouts are the same programs on the same key).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from metarl.errors import ConfigError
from metarl.probes.figures import ARRAYS_FILE, SUMMARY_FILE, read_probe_dir
from metarl.probes.protocol import ProbeContext
from metarl.probes.registry import (
    ALL_PROBES,
    FAMILIES,
    PROBE_DESCRIPTIONS,
    PROBES_BY_FAMILY,
    VERDICTS,
    probe,
)
from metarl.reporting import log as log_stderr
from metarl.reporting import write_json

__all__ = [
    "ALL",
    "ALL_PROBES",
    "ARRAYS_FILE",
    "PROBES_BY_FAMILY",
    "PROBE_DESCRIPTIONS",
    "SUMMARY_FILE",
    "VERDICTS",
    "check_probes",
    "check_request",
    "format_probe_summary",
    "plot_probe_dir",
    "probe_run",
    "run_probe",
]

SUMMARY_FORMAT_VERSION = 2
"""2: every number with an interval is ``{"value", "low", "high"}`` (``metarl.interval``)."""
PROBES_DIR = "probes"
ALL = "all"
PROBE_SUITE = "held_out"
MIN_EPISODES = 8
"""Cross-validated and split-half analyses need a few episodes in each half."""


# ------------------------------------------------------------------ names, checks


def allowed_probes(env_name: str) -> tuple[str, ...]:
    from metarl.evaluation.families import family_of

    return PROBES_BY_FAMILY.get(family_of(env_name), ())


def check_probes(env_name: str, probes: str) -> list[str]:
    """The probe names ``probes`` stands for ('all', a name or a comma list), in family order.

    Raises ``ConfigError`` naming the allowed probes for ``env_name``'s family.
    """
    from metarl.evaluation.families import family_of

    family = family_of(env_name)
    allowed = allowed_probes(env_name)
    if not allowed:
        families = ", ".join(FAMILIES[:-1]) + f" and {FAMILIES[-1]}"
        raise ConfigError(
            f"no probes are defined for {env_name!r} ({family} family); probes exist for the "
            f"{families} families"
        )
    if probes == ALL:
        return list(allowed)
    names = [part.strip() for part in probes.split(",") if part.strip()] or [probes]
    listing = f"allowed values: {', '.join(repr(p) for p in allowed)}, or {ALL!r}"
    for name in names:
        if name not in allowed:
            what = "does not apply to" if name in ALL_PROBES else "is not defined for"
            raise ConfigError(f"probe {name!r} {what} {env_name!r} ({family} family); {listing}")
    return [p for p in allowed if p in names]


def check_request(run_dir, probes: str, num_episodes: int, seed: int, seed_index: int):
    """(config, probe names) after every check that needs no checkpoint (``ConfigError`` / ``RunDirError``)."""
    from metarl.runner.run_dir import RunDir

    config = RunDir(run_dir).read_config()
    names = check_probes(config.env.name, probes)
    if num_episodes < MIN_EPISODES:
        raise ConfigError(
            f"--episodes {num_episodes} is out of range; allowed: at least {MIN_EPISODES}"
        )
    if seed < 0:
        raise ConfigError(f"--seed {seed} is out of range; allowed: at least 0")
    if not 0 <= seed_index < config.run.num_seeds:
        raise ConfigError(
            f"--seed-index {seed_index} is out of range; allowed: 0 to {config.run.num_seeds - 1} "
            f"(the run trained {config.run.num_seeds} seed(s))"
        )
    return config, names


# ------------------------------------------------------------------ one probe


def _summary(ctx: ProbeContext, name: str, result, probe_s: float) -> dict:
    """The probe's ``summary.json``: what ran, on what, and what it found."""
    config = ctx.config
    found = probe(name)
    return {
        "format_version": SUMMARY_FORMAT_VERSION,
        "probe": name,
        "description": found.description,
        "status": result.status,
        "reason": result.reason,
        "verdict": None if result.verdict is None else found.verdict_json(result.verdict),
        "run": {
            "dir": str(ctx.frozen.run_dir),
            "name": ctx.frozen.run_dir.name,
            "experiment": config.name,
        },
        "env": {
            "name": config.env.name,
            "family": ctx.family,
            "training_overrides": config.env.overrides,
            "probe_suite": ctx.suite.name,
            "probe_suite_description": ctx.suite.description,
            "steps_per_episode": ctx.num_steps,
        },
        "checkpoint": {
            "update": ctx.frozen.step,
            "requested": ctx.frozen.choice,
            "seed_index": ctx.seed_index,
            "num_seeds": int(config.run.num_seeds),
            "actions": "sampled",
            "agent": dataclasses.asdict(config.agent),
        },
        "episodes": ctx.num_episodes,
        "seed": ctx.seed,
        "references": result.references,
        "results": result.results,
        "timing": {**result.timing, "probe_total_s": probe_s},
    }


def run_probe(ctx: ProbeContext, name: str, out_dir: Path | None = None, plot: bool = True) -> Path:
    """Run one probe on ``ctx`` and write its directory; returns the directory."""
    found = probe(name)
    start = time.perf_counter()
    ctx.log(f"probe {name}: {found.description}")
    result = found.run(ctx)
    probe_s = time.perf_counter() - start
    summary = _summary(ctx, name, result, probe_s)
    directory = Path(out_dir) if out_dir is not None else ctx.frozen.run_dir / PROBES_DIR / name
    directory.mkdir(parents=True, exist_ok=True)
    for stale in (directory / ARRAYS_FILE, directory / f"{name}.png", directory / f"{name}.pdf"):
        stale.unlink(missing_ok=True)  # a skipped probe must not leave an older run's files behind
    if result.arrays:
        np.savez(directory / ARRAYS_FILE, **result.arrays)
    write_json(directory / SUMMARY_FILE, summary)
    if plot and result.status == "done":
        plot_start = time.perf_counter()
        found.plot(directory)
        summary["timing"]["plot_s"] = time.perf_counter() - plot_start
        write_json(directory / SUMMARY_FILE, summary)
    ctx.log(f"  {name}: {summary['status']} in {probe_s:.1f}s")
    return directory


def plot_probe_dir(directory: str | Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Draw ``<directory>/<probe>.{png,pdf}`` from its summary (and arrays); [] for a skipped probe."""
    summary, _ = read_probe_dir(Path(directory))
    return probe(summary["probe"]).plot(directory, formats)


# ------------------------------------------------------------------ a run


def probe_run(
    run_dir: str | Path,
    *,
    probes: str = ALL,
    checkpoint: str | int = "latest",
    num_episodes: int = 256,
    seed: int = 0,
    seed_index: int = 0,
    plot: bool = True,
    log: Callable[[str], None] = log_stderr,
) -> list[Path]:
    """Run ``probes`` ('all', a name or a comma list) on ``run_dir``'s checkpoint; one directory per probe.

    Raises RunDirError (no config.json), ConfigError (bad probe, episodes, seed or
    seed index: before anything is restored or compiled) or CheckpointError.
    """
    import jax

    from metarl.evaluation.families import family_of
    from metarl.evaluation.suites import make_suite_env
    from metarl.runner.frozen import load_frozen_run, parse_checkpoint_choice

    if isinstance(checkpoint, str):
        checkpoint = parse_checkpoint_choice(checkpoint)
    config, names = check_request(run_dir, probes, num_episodes, seed, seed_index)
    frozen = load_frozen_run(run_dir, checkpoint)
    log(f"restored update {frozen.step} of {frozen.run_dir} in {frozen.restore_s:.1f}s")
    suite, env, env_params = make_suite_env(
        config.env.name, config.env.overrides, PROBE_SUITE, frozen.base_env, frozen.env_params
    )
    ctx = ProbeContext(
        frozen=frozen,
        family=family_of(config.env.name),
        params=frozen.seed_params(seed_index),
        seed_index=seed_index,
        seed=seed,
        num_episodes=num_episodes,
        key=jax.random.PRNGKey(seed),
        suite=suite,
        env=env,
        env_params=env_params,
        train_params=frozen.env_params,
        num_steps=int(env_params.max_steps_in_episode),
        log=log,
    )
    log(
        f"probing {frozen.run_dir.name} (training seed {seed_index}) on {suite.name}: {suite.description}; "
        f"{num_episodes} episodes x {ctx.num_steps} steps, seed {seed}"
    )
    return [run_probe(ctx, name, plot=plot) for name in names]


# ------------------------------------------------------------------ text summary


def format_probe_summary(summary: dict) -> str:
    """A few lines per probe: verdict, its reason, and the checkpoint beside the references."""
    head = (
        f"{summary['run']['name']}  update {summary['checkpoint']['update']}  "
        f"seed index {summary['checkpoint']['seed_index']}  probe {summary['probe']}: "
        f"{summary['description']}"
    )
    if summary["status"] != "done":
        return f"{head}\n  skipped: {summary['reason']}"
    verdict = summary["verdict"]
    lines = [head, f"  verdict: {verdict['label']}  ({verdict['reason']})"]
    return "\n".join(lines + probe(summary["probe"]).format(summary))
