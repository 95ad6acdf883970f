"""What every probe figure shares (PNG + PDF, matplotlib Agg, from a probe directory's files).

Each probe draws its own panels (``Probe.draw``, beside its analysis); this module
reads ``summary.json`` and ``arrays.npz``, makes the figure, titles it with the
run, checkpoint and verdict, and saves it. The checkpoint is dark blue and
thick, the reference agents of known mechanism take the other colours, and 95%
intervals are error bars or bands. It imports no probe, so probes import it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from metarl.interval import Interval
from metarl.plotting import CHECKPOINT_COLOR, REFERENCE_COLORS, agg_pyplot, save_figure
from metarl.reporting import read_json

CHECKPOINT = "checkpoint"
SUMMARY_FILE = "summary.json"
ARRAYS_FILE = "arrays.npz"


def color(name: str, order: list[str]) -> str:
    if name == CHECKPOINT:
        return CHECKPOINT_COLOR
    others = [n for n in order if n != CHECKPOINT]
    return REFERENCE_COLORS[others.index(name) % len(REFERENCE_COLORS)]


def label(name: str) -> str:
    return "checkpoint (frozen)" if name == CHECKPOINT else name.replace("_", " ")


def number(value) -> float:
    """A JSON number as a float (null, written for NaN, back to NaN)."""
    return float("nan") if value is None else float(value)


def error_bar(value: float, low: float, high: float) -> np.ndarray:
    """[[below], [above]] for errorbar, zero where an end is missing."""
    below = 0.0 if low is None or not np.isfinite(low) else max(value - low, 0.0)
    above = 0.0 if high is None or not np.isfinite(high) else max(high - value, 0.0)
    return np.array([[below], [above]])


def interval_error(entry: dict) -> tuple[float, np.ndarray]:
    """(value, [[below], [above]]) of an interval written by ``Interval.to_json``."""
    interval = Interval.from_json(entry)
    return interval.value, error_bar(interval.value, interval.low, interval.high)


def interval_rows(ax, names: list[str], entries: list[dict], order: list[str], xlabel: str):
    """One row per agent: point and 95% interval (``Interval`` JSON); checkpoint on top."""
    intervals = [Interval.from_json(entry) for entry in entries]
    horizontal_intervals(
        ax,
        names,
        [i.value for i in intervals],
        [i.low for i in intervals],
        [i.high for i in intervals],
        order,
        xlabel,
    )


def horizontal_intervals(ax, names, values, lows, highs, order, xlabel: str) -> None:
    """One row per agent: point and 95% interval; the checkpoint on top, a line at 0."""
    rows = np.arange(len(names))[::-1]
    for row, name, value, low, high in zip(rows, names, values, lows, highs, strict=True):
        value = number(value)
        ax.errorbar(
            value,
            row,
            xerr=error_bar(value, number(low), number(high)),
            fmt="o",
            color=color(name, order),
            ms=7 if name == CHECKPOINT else 5,
            capsize=3,
            lw=2 if name == CHECKPOINT else 1.2,
        )
    ax.set_yticks(rows)
    ax.set_yticklabels([label(n) for n in names], fontsize=8)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.axvline(0.0, color="0.4", lw=0.8, ls=":")
    # At most five ticks: small differences (e.g. -0.008) otherwise print into each other.
    ax.xaxis.get_major_locator().set_params(nbins=5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)


def read_probe_dir(directory: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(summary, arrays) of a probe directory (arrays empty where none were written)."""
    summary = read_json(directory / SUMMARY_FILE)
    arrays = {}
    if (directory / ARRAYS_FILE).is_file():
        with np.load(directory / ARRAYS_FILE) as data:
            arrays = {k: data[k] for k in data.files}
    return summary, arrays


def draw_probe_figure(
    directory: Path,
    draw: Callable[[object, dict, dict], None],
    size: tuple[float, float],
    formats: tuple[str, ...] = ("png", "pdf"),
) -> list[Path]:
    """``draw`` the probe's panels under a title naming run, checkpoint and verdict; save it."""
    summary, arrays = read_probe_dir(directory)
    if summary["status"] != "done":
        return []
    plt = agg_pyplot()
    fig = plt.figure(figsize=size, layout="constrained")
    draw(fig, summary, arrays)
    checkpoint = summary["checkpoint"]
    probe = summary["probe"]
    fig.suptitle(
        f"{summary['run']['name']} ({summary['env']['name']}), update {checkpoint['update']}, training seed "
        f"{checkpoint['seed_index']}: probe '{probe}' -> {summary['verdict']['label']}\n"
        f"{summary['env']['probe_suite']} episodes ({summary['episodes']} per agent, probe seed {summary['seed']}): "
        f"{summary['env']['probe_suite_description']}",
        fontsize=10,
    )
    return save_figure(fig, directory, probe, formats)
