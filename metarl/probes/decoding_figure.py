"""The decoding probe's figure: held-out scores of the agent beside its controls, per target.

Bars are means over the cross-validation folds (or, in summaries written before the
folds, random splits) with their range; each target is marked with the verdict and the
difference that decides it (``decoding.decoding_rows``).
"""

from __future__ import annotations

import numpy as np

from metarl.plotting import CHECKPOINT_COLOR, REFERENCE_COLORS
from metarl.probes import figures
from metarl.probes.protocol import text_interval

_SERIES = (
    ("agent", "checkpoint hidden state", CHECKPOINT_COLOR),
    ("control", "random network (same inputs)", REFERENCE_COLORS[0]),
    ("time_only", "clock (step index only)", "0.6"),
    ("chance", "chance (majority class)", "0.85"),
)


def _draw_metric(ax, metric: str, targets: list[dict], resamples: str) -> None:
    present = [s for s in _SERIES if any(s[0] in r for r in targets)]
    width = 0.8 / len(present)
    for j, (key, label, color) in enumerate(present):
        x = np.arange(len(targets)) - 0.4 + (j + 0.5) * width
        values = np.array([figures.number(r.get(key)) for r in targets])
        ranges = [r.get(f"{key}_range", [None, None]) for r in targets]
        errors = np.hstack(
            [
                figures.error_bar(v, figures.number(lo), figures.number(hi))
                for v, (lo, hi) in zip(values, ranges, strict=True)
            ]
        )
        ax.bar(
            x,
            values,
            width=width,
            color=color,
            label=label,
            edgecolor="black" if key == "agent" else "none",
            lw=0.8,
        )
        ax.errorbar(x, values, yerr=errors, fmt="none", color="black", capsize=2, lw=0.8)
    for i, row in enumerate(targets):
        text = "above controls" if row["above_controls"] else "not above"
        margin = row.get("margin_over_best_control")
        if isinstance(margin, dict):  # an Interval since the fold intervals; a float before
            text += f"\nmargin {text_interval(margin, '.2f')}"
        ax.annotate(
            text,
            (i, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, -2),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=8,
        )
    ax.set_xticks(np.arange(len(targets)))
    ax.set_xticklabels([r["target"].replace("_", " ") for r in targets])
    ax.set_ylabel(
        "held-out R$^2$ (1 = perfect, 0 = the mean)"
        if metric == "r2"
        else "held-out accuracy (fraction of steps)"
    )
    low = min(
        0.0,
        *(
            np.nanmin([figures.number(r.get(k)) for k in ("agent", "control", "time_only")])
            for r in targets
        ),
    )
    ax.set_ylim(max(low - 0.05, -1.0), 1.12)
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(
        ("continuous targets (ridge)" if metric == "r2" else "categorical targets (logistic)")
        + f"; bars: range over {resamples}",
        fontsize=9,
    )


def draw(fig, summary: dict, arrays: dict) -> None:
    rows = summary["results"]["targets"]
    groups = {
        "r2": [r for r in rows if r["metric"] == "r2"],
        "accuracy": [r for r in rows if r["metric"] == "accuracy"],
    }
    groups = {k: v for k, v in groups.items() if v}
    # Summaries written before the folds used random splits.
    first = rows[0]
    resamples = f"{first['folds']} folds" if "folds" in first else f"{first['splits']} splits"
    axes = np.atleast_1d(
        fig.subplots(
            1, len(groups), gridspec_kw={"width_ratios": [len(v) + 0.6 for v in groups.values()]}
        )
    )
    for ax, (metric, targets) in zip(axes, groups.items(), strict=True):
        _draw_metric(ax, metric, targets, resamples)
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        handles.values(), handles.keys(), loc="outside lower center", ncol=len(handles), fontsize=8
    )
