"""metrics.jsonl and TensorBoard: one record per chunk, averaged over seeds plus per seed.

A record holds ``update`` (updates done, the checkpoint step), ``env_steps`` (per
seed), the chunk's mean of each trainer metric (seed mean under the metric's name,
per-seed list under ``<name>_per_seed``), ``steps_per_s`` and wall time. On resume
the log is cut back to the restored checkpoint's update, so the file never holds
updates that the resumed run will redo (TensorBoard is told the same with
``purge_step``).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

SUMMARY_METRICS = (
    "mean_episode_return",
    "mean_regret_per_step",
    "policy_loss",
    "value_loss",
    "entropy",
    "total_loss",
    "grad_norm",
)
"""Trainer metrics ([num_seeds, updates_per_chunk]) summarised as a chunk mean, where present."""


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN/inf; a non-finite chunk never gets here, but a metric such as
    # the return of a chunk with no finished episode may legitimately be NaN.
    return float(value) if math.isfinite(value) else None


def chunk_record(
    metrics: dict[str, np.ndarray],
    *,
    update: int,
    env_steps: float,
    steps_per_s: float,
    chunk_seconds: float,
    wall_time_s: float,
) -> dict[str, Any]:
    """The metrics.jsonl line of one chunk. ``metrics`` are host arrays [num_seeds, updates]."""
    record: dict[str, Any] = {
        "update": int(update),
        "env_steps": int(env_steps),
        "steps_per_s": float(steps_per_s),
        "chunk_seconds": float(chunk_seconds),
        "wall_time_s": float(wall_time_s),
        "time": time.time(),
    }
    for name in SUMMARY_METRICS:
        if name not in metrics:
            continue
        per_seed = np.asarray(metrics[name], np.float64).mean(axis=-1)
        record[name] = _finite_or_none(float(per_seed.mean()))
        record[f"{name}_per_seed"] = [_finite_or_none(float(v)) for v in per_seed]
    return record


class MetricsLog:
    """Appends records to metrics.jsonl; only the primary process writes."""

    def __init__(self, path: Path | str, *, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def append(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()

    def read(self) -> list[dict[str, Any]]:
        return read_records(self.path)

    def truncate_after(self, update: int) -> int:
        """Drop records past ``update`` (and a torn last line); returns how many were dropped."""
        if not self.enabled or not self.path.exists():
            return 0
        lines = self.path.read_text().splitlines(keepends=True)
        kept = []
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill mid-write
            if not line.endswith("\n"):
                continue
            if record.get("update", math.inf) <= update:
                kept.append(line)
        # Write-then-rename: a kill during the truncation leaves the old or the new file.
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(kept))
        os.replace(tmp, self.path)
        return len(lines) - len(kept)


def read_records(path: Path | str) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class TensorBoardLog:
    """tensorboardX scalars per chunk at the update count; only the primary process writes."""

    def __init__(self, log_dir: Path | str, *, enabled: bool = True, purge_step: int | None = None):
        self.writer = None
        if enabled:
            from tensorboardX import SummaryWriter

            # purge_step makes TensorBoard drop events at or past it from earlier files:
            # the updates a killed run logged after its last checkpoint.
            self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def write(self, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = record["update"]
        for name in (*SUMMARY_METRICS, "steps_per_s"):
            value = record.get(name)
            if value is not None:
                self.writer.add_scalar(f"train/{name}", value, step)
        self.writer.add_scalar("train/env_steps", record["env_steps"], step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
