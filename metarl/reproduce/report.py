"""A reproduction's report: ``report.json`` (strict JSON), ``report.md`` and its figure.

``report.json`` holds everything the other two are drawn from: the finding (name,
question, source, budget, notes), per setting the measured summary, the table rows
(setting, agent, published value, measured value with its interval and what the
interval is over, the statuses of the claims about that row), and every claim with
its statement, status and reason, plus the overall status (every claim reproduced:
reproduced; none reproduced or partly: not_reproduced; else partly). ``report.md``
and the figure are pure functions of it, so ``--plot-only`` redraws them alone.

The figure has one panel per setting: a bar per agent at its measured value with
its 95% interval, the published value of that agent marked beside it (a black
diamond), the checkpoint's bar in the checkpoint colour. A measure module may draw
its own instead by defining ``plot(report, out_dir) -> [paths]``.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

from metarl.interval import Interval
from metarl.reproduce.spec import CHECKPOINT, ClaimResult, Reproduction, overall_status

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
FIGURE = "reproduction"
FORMAT_VERSION = 1


def _agents(repro: Reproduction, setting: str, table: dict[str, Any]) -> list[str]:
    """Published agents in their published order, then measured-only ones, checkpoint first."""
    order = [p.agent for p in repro.published if p.setting == setting]
    order += [a for a in table if a not in order]
    return sorted(dict.fromkeys(order), key=lambda a: a != CHECKPOINT)


def _rows(repro: Reproduction, measured: dict[str, Any], results: dict[str, ClaimResult]):
    rows = []
    for setting in repro.settings:
        summary = measured.get(setting.name, {})
        table = summary.get("table", {})
        for agent in _agents(repro, setting.name, table):
            statuses = [
                {"claim": c.name, "status": results[c.name].status}
                for c in repro.claims
                if c.setting == setting.name and agent in c.agents
            ]
            rows.append(
                {
                    "setting": setting.name,
                    "label": setting.label,
                    "agent": agent,
                    "published": repro.published_value(setting.name, agent),
                    "note": next(
                        (
                            p.note
                            for p in repro.published
                            if p.setting == setting.name and p.agent == agent
                        ),
                        "",
                    ),
                    "measured": table.get(agent),
                    "interval_over": summary.get("table_units", {}).get(
                        agent, summary.get("interval_unit") if agent == CHECKPOINT else "episodes"
                    ),
                    "claims": statuses,
                }
            )
    return rows


def build_report(
    repro: Reproduction,
    measured: dict[str, Any],
    results: dict[str, ClaimResult],
    training: dict[str, Any],
    sets: tuple[str, ...] | list[str],
) -> dict[str, Any]:
    """The report document (module docstring); JSON-ready."""
    claims = [
        {
            "name": c.name,
            "setting": c.setting,
            "statement": c.statement,
            "status": results[c.name].status,
            "reason": results[c.name].reason,
        }
        for c in repro.claims
    ]
    return {
        "format_version": FORMAT_VERSION,
        "reproduction": repro.name,
        "variant": repro.variant,
        "question": repro.question,
        "source": repro.source,
        "budget": repro.budget,
        "notes": list(repro.notes),
        "value_label": repro.value_label,
        "sets": list(sets),
        "settings": [{"name": s.name, "label": s.label} for s in repro.settings],
        "status": overall_status(list(results.values())),
        "claims": claims,
        "table": _rows(repro, measured, results),
        "measured": measured,
        "training": training,
    }


# ------------------------------------------------------------------ markdown
def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.2f}" if math.isfinite(value) else "-"


def _measured_text(value: Any) -> str:
    if value is None:
        return "not measured"
    interval = Interval.from_json(value)
    return interval.format(".2f") if interval.has_bounds else _number(interval.value)


def format_markdown(report: dict[str, Any]) -> str:
    """report.md's text."""
    lines = [
        f"# Reproduction: {report['reproduction']} ({report['variant']})",
        "",
        f"**Question.** {report['question']}",
        "",
        f"**Source.** {report['source']}",
        "",
        f"**Budget.** {report['budget']}",
        "",
        f"**Overall status: {report['status']}** "
        f"({sum(c['status'] == 'reproduced' for c in report['claims'])} of "
        f"{len(report['claims'])} claims reproduced)",
    ]
    if report.get("sets"):
        lines += ["", "Overrides: " + ", ".join(f"`{s}`" for s in report["sets"])]
    lines += [
        "",
        f"## Table ({report['value_label']})",
        "",
        "| setting | agent | published | measured [95% interval] | status |",
        "|---|---|---|---|---|",
    ]
    for row in report["table"]:
        status = "; ".join(f"{c['status']} ({c['claim']})" for c in row["claims"]) or "-"
        agent = row["agent"] + (f" ({row['note']})" if row.get("note") else "")
        lines.append(
            f"| {row['label']} | {agent} | {_number(row['published'])} | "
            f"{_measured_text(row['measured'])} | {status} |"
        )
    units = sorted({r["interval_over"] for r in report["table"] if r["measured"]} - {None})
    lines += [
        "",
        "Intervals are 95%, over " + "; ".join(units) + ".",
        "",
        "## Claims",
        "",
    ]
    for claim in report["claims"]:
        lines += [
            f"- **{claim['name']}: {claim['status']}.** {claim['reason']}",
            f"  Rule: {claim['statement']}",
        ]
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    lines += ["", "## Training", ""]
    for name, info in report.get("training", {}).items():
        described = ", ".join(
            f"{k} {v:.0f}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()
        )
        lines.append(f"- {name}: {described}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ figure
def _finite(*values) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def draw_points(
    ax,
    entries: list[tuple[str, Any, Any]],
    ylabel: str,
    all_checkpoint: bool = False,
    headroom: float = 0.0,
) -> None:
    """One x position per (name, measured Interval JSON or None, published number or None):
    the measured value with its 95% interval, the published value as a diamond beside it.
    The checkpoint's points (all of them with ``all_checkpoint``) in the checkpoint colour;
    ``headroom``: the fraction of the height kept free above the points (for a text box)."""
    from metarl.plotting import CHECKPOINT_COLOR

    shown: list[float] = []
    for x, (name, measured, published) in enumerate(entries):
        interval = Interval.from_json(measured) if measured else None
        if interval is not None and math.isfinite(interval.value):
            mine = all_checkpoint or name == CHECKPOINT
            color = CHECKPOINT_COLOR if mine else "#6f6f6f"
            error = None
            if interval.has_bounds:
                error = [[interval.value - interval.low], [interval.high - interval.value]]
            ax.errorbar(x, interval.value, yerr=error, fmt="o", color=color, capsize=4, lw=2)
            shown += _finite(interval.value, interval.low, interval.high)
        if isinstance(published, (int, float)):
            ax.plot(x + 0.25, published, "D", color="black", markersize=5)
            shown += _finite(published)
    if shown:
        low, high = min(shown), max(shown)
        pad = 0.08 * (high - low) + 1e-3 * max(abs(high), 1.0)
        top = high + pad
        ax.set_ylim(low - pad, top + headroom * (top - low + pad) / max(1.0 - headroom, 0.1))
    ax.set_xlim(-0.6, len(entries) - 0.4)
    ax.set_xticks(range(len(entries)), [e[0] for e in entries], rotation=45, ha="right")
    ax.set_ylabel(ylabel, fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def _difference_entries(report: dict[str, Any], setting: str, rows) -> list:
    """checkpoint - reference, measured (paired) and published (difference of published means)."""
    measured = report["measured"].get(setting, {}).get("checkpoint_minus", {})
    published = {r["agent"]: r["published"] for r in rows}
    mine = published.get(CHECKPOINT)
    entries = []
    for agent in [r["agent"] for r in rows if r["agent"] in measured]:
        theirs = published.get(agent)
        both = isinstance(mine, (int, float)) and isinstance(theirs, (int, float))
        entries.append((agent, measured[agent], mine - theirs if both else None))
    return entries


def plot_table(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``<out>/reproduction.{png,pdf}``: per setting, every agent's measured value with its
    interval and the published value (top); checkpoint - each reference, paired, beside the
    published difference, with the zero line (bottom, where the measure reports differences)."""
    from metarl.plotting import CHECKPOINT_COLOR, agg_pyplot, save_figure

    plt = agg_pyplot()
    settings = report["settings"]
    has_differences = any("checkpoint_minus" in m for m in report["measured"].values())
    rows_of_axes = 2 if has_differences else 1
    fig, axes = plt.subplots(
        rows_of_axes,
        len(settings),
        # At least 9 inches wide, so one setting's figure still holds the title and legend.
        figsize=(max(4.8 * len(settings), 9.0), 3.6 * rows_of_axes + 0.8),
        constrained_layout=True,
        squeeze=False,
    )
    for column, setting in enumerate(settings):
        rows = [r for r in report["table"] if r["setting"] == setting["name"]]
        entries = [(r["agent"], r["measured"], r["published"]) for r in rows]
        # Published findings without a number (a figure's direction) go in words, in a
        # band kept free above the points.
        words = [
            f"published, {r['agent']}: {r['published']}"
            for r in rows
            if isinstance(r["published"], str)
        ]
        draw_points(
            axes[0, column],
            entries,
            report["value_label"],
            headroom=0.06 * len(words) + 0.04 * bool(words),
        )
        axes[0, column].set_title(setting["label"], fontsize=10)
        if words:
            axes[0, column].text(
                0.02,
                0.97,
                "\n".join(words),
                transform=axes[0, column].transAxes,
                va="top",
                fontsize=7,
                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0},
            )
        if has_differences:
            ax = axes[1, column]
            entries = _difference_entries(report, setting["name"], rows)
            draw_points(ax, entries, "checkpoint - agent (paired)", all_checkpoint=True)
            ax.axhline(0.0, color="black", lw=0.8)
    handles = [
        plt.Line2D([], [], marker="o", color=CHECKPOINT_COLOR, linestyle=""),
        plt.Line2D([], [], marker="o", color="#6f6f6f", linestyle=""),
    ]
    labels = ["checkpoint, measured (95% interval)", "reference, measured (95% interval)"]
    if any(isinstance(r["published"], (int, float)) for r in report["table"]):
        handles.append(plt.Line2D([], [], marker="D", color="black", linestyle=""))
        labels.append("published")
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=len(labels),
        fontsize=8,
    )
    import textwrap

    source = textwrap.fill(report["source"], 110)
    fig.suptitle(
        f"{report['reproduction']} ({report['variant']}): {report['status']}\n{source}",
        fontsize=9,
    )
    return save_figure(fig, Path(out_dir), FIGURE, ("png", "pdf"))


def write_outputs(report: dict[str, Any], out_dir: Path, repro: Reproduction) -> list[Path]:
    """report.md (with the measure module's ``markdown`` sections if it has them) and the
    figure (the measure module's ``plot`` if it has one)."""
    import os

    out_dir = Path(out_dir)
    module = importlib.import_module(repro.measure)
    text = format_markdown(report)
    # A measure may add sections of its own (``markdown(report) -> lines``).
    extra = getattr(module, "markdown", None)
    if extra is not None:
        text += "\n" + "\n".join(extra(report)) + "\n"
    # Atomic like the JSON files: a kill leaves the old report.md or the new one.
    tmp = out_dir / (REPORT_MD + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, out_dir / REPORT_MD)
    plot = getattr(module, "plot", plot_table)
    return [out_dir / REPORT_MD, *plot(report, out_dir)]


def format_status_lines(report: dict[str, Any]) -> list[str]:
    """What ``metarl reproduce`` prints: the overall status and one line per claim."""
    lines = [f"{report['reproduction']} ({report['variant']}): {report['status']}"]
    lines += [f"  {c['name']}: {c['status']}: {c['reason']}" for c in report["claims"]]
    return lines
