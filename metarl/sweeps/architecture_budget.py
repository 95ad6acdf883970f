"""One architecture sweep run at several budgets, side by side: does the ranking hold?

A single ``metarl sweep architecture_*`` run compares the cores at one env-step
budget, and on bandits the answer changes with it (the transformer leads early and
the recurrent cores overtake it). This reads the ``sweep_summary.json`` of runs of
the *same* sweep at different ``run.total_env_steps`` and draws each core's held-out
return, in-context improvement and learner - locator likelihood against the budget
(every seed faint, the IQM with its 95% bootstrap interval over seeds, the
references dashed), with a table of the IQMs and of each core minus the GRU per
budget. Nothing is recomputed: every number is the sweep's own.

    python -m metarl.sweeps.architecture_budget runs/arch_5m runs/arch_20m runs/arch_41m \\
        --out docs/architecture_budget
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metarl.interval import Interval
from metarl.sweeps.architecture import CORE_COLORS, REFERENCE_STYLE
from metarl.sweeps.run_sweep import SUMMARY_FILE

FIGURE = "architecture_budget"
REFERENCES = ("thompson_sampling", "task_locator", "ruleset_learner", "ruleset_locator")
PANELS = (
    ("held_out_return", "held-out return", "total reward per episode", ".2f", REFERENCES),
    (
        "held_out_improvement",
        "in-context improvement",
        "(late - early) / (oracle - random)",
        "+.3f",
        REFERENCES,
    ),
    # The locators score far below every agent here (-0.1 nats on bandits): drawn,
    # they would flatten the cores' differences into one line.
    (
        "likelihood_difference",
        "learner - locator",
        "log-likelihood per choice (nats)",
        "+.3f",
        ("thompson_sampling", "ruleset_learner"),
    ),
)


class BudgetError(ValueError):
    """The summaries given cannot be compared (which field differs, and how)."""


def load_summaries(run_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Each directory's sweep summary, checked comparable, in increasing budget."""
    if len(run_dirs) < 2:
        raise BudgetError(
            f"need at least 2 sweep directories to compare budgets, got {len(run_dirs)}"
        )
    summaries = []
    for run_dir in run_dirs:
        path = Path(run_dir) / SUMMARY_FILE
        if not path.is_file():
            raise BudgetError(
                f"{run_dir}: no {SUMMARY_FILE} (run 'metarl sweep ... --out {run_dir}')"
            )
        summaries.append(json.loads(path.read_text()))
    return check_comparable(summaries, [str(d) for d in run_dirs])


def check_comparable(summaries: list[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """Same sweep, same cores, same held-out episodes, distinct budgets; sorted by budget."""
    first = summaries[0]
    for name, summary in zip(names[1:], summaries[1:], strict=True):
        for field in ("sweep", "family", "episodes", "eval_seed"):
            if summary.get(field) != first.get(field):
                raise BudgetError(
                    f"{name}: field '{field}' = {summary.get(field)!r} differs from "
                    f"{names[0]}'s {first.get(field)!r}; only runs of one sweep compare"
                )
        cores = [row["core"] for row in summary["by_core"]]
        if cores != [row["core"] for row in first["by_core"]]:
            raise BudgetError(f"{name}: cores {cores} differ from {names[0]}'s")
    budgets = [s["env_steps_per_run"] for s in summaries]
    if len(set(budgets)) != len(budgets):
        raise BudgetError(f"two directories have the same budget: env_steps_per_run = {budgets}")
    return [summaries[i] for i in np.argsort(budgets)]


def _interval(value: Any) -> Interval:
    return Interval.from_json(value) if isinstance(value, dict) else value


def _row(summary: dict[str, Any], core: str) -> dict[str, Any]:
    return next(row for row in summary["by_core"] if row["core"] == core)


def _seeds(summary: dict[str, Any], core: str, measure: str) -> list[float]:
    point = next(p for p in summary["points"] if p["core"] == core)
    return [v for v in point["per_seed"][measure] if v is not None and np.isfinite(v)]


def _budget_label(steps: int) -> str:
    return f"{steps / 1e6:.2f}M"


def table_markdown(summaries: list[dict[str, Any]]) -> str:
    """Per measure: a row per core, a column per budget (IQM [95%], verdicts), then each core
    minus the reference core per budget."""
    budgets = [_budget_label(s["env_steps_per_run"]) for s in summaries]
    cores = [row["core"] for row in summaries[0]["by_core"]]
    reference = summaries[0].get("reference_core", "gru")
    head = "| {} | " + " | ".join(budgets) + " |\n|---|" + "---|" * len(budgets) + "\n"
    lines = [
        f"{summaries[0]['sweep']}: IQM over {summaries[0]['seeds_per_point']} seeds "
        f"[95% bootstrap] by training budget (env steps per run)\n"
    ]
    for measure, title, _, spec, _ in PANELS:
        lines.append(head.format(title))
        for core in cores:
            cells = []
            for summary in summaries:
                row = _row(summary, core)
                cell = Interval.format(_interval(row["iqm"][measure]), spec)
                if measure == "likelihood_difference":
                    cell += f" {row['verdict']}"
                cells.append(cell)
            lines.append(f"| {core} | " + " | ".join(cells) + " |\n")
        for core in cores:
            if core == reference:
                continue
            cells = [
                Interval.format(
                    _interval(_row(s, core)["minus_reference"][measure]), "+" + spec[-3:]
                )
                for s in summaries
            ]
            lines.append(f"| {core} - {reference} | " + " | ".join(cells) + " |\n")
        lines.append("\n")
    return "".join(lines)


def plot(summaries: list[dict[str, Any]], out: str | Path) -> list[Path]:
    """``<out>.{png,pdf}`` (a panel per measure against the budget) and ``<out>.md``."""
    from metarl.plotting import agg_pyplot, save_figure

    plt = agg_pyplot()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    steps = np.array([s["env_steps_per_run"] for s in summaries], np.float64)
    cores = [row["core"] for row in summaries[0]["by_core"]]
    # Cores side by side at each budget (a log axis: a constant factor apart).
    offsets = 1.06 ** (np.arange(len(cores)) - (len(cores) - 1) / 2)
    fig, axes = plt.subplots(
        1, len(PANELS), figsize=(5.2 * len(PANELS), 4.6), constrained_layout=True
    )
    for ax, (measure, title, ylabel, _, references) in zip(axes, PANELS, strict=True):
        for k, core in enumerate(cores):
            color = CORE_COLORS.get(core, f"C{k}")
            xs = steps * offsets[k]
            for x, summary in zip(xs, summaries, strict=True):
                seeds = _seeds(summary, core, measure)
                ax.scatter([x] * len(seeds), seeds, color=color, alpha=0.3, s=10, lw=0)
            est = [_interval(_row(s, core)["iqm"][measure]) for s in summaries]
            values = np.array([e.value for e in est])
            err = np.array([[e.value - e.low, e.high - e.value] for e in est]).T
            ax.errorbar(
                xs, values, yerr=err, color=color, marker="o", capsize=3, lw=1.8, label=core
            )
        for name in references:
            value = summaries[-1]["references"].get(name, {}).get(measure)
            if value is not None and np.isfinite(value) and name in REFERENCE_STYLE:
                label, color = REFERENCE_STYLE[name]
                ax.axhline(value, color=color, ls="--", lw=1, label=label)
        if measure != "held_out_return":
            ax.axhline(0.0, color="0.3", lw=0.6)
        ax.set_xscale("log")
        ax.set_xticks(steps, [_budget_label(int(s)) for s in steps])
        ax.minorticks_off()
        ax.set_xlabel("training budget (env steps per run)")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_title(title, fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].legend(handles, labels, fontsize=8, loc="lower right")
    first = summaries[0]
    fig.suptitle(
        f"{first['sweep']}: {first['seeds_per_point']} training seeds per core and budget, "
        f"{first['episodes']} held-out episodes per seed (dots: seeds; bars: IQM, 95% bootstrap)",
        fontsize=11,
    )
    table = out.with_suffix(".md")
    table.write_text(table_markdown(summaries))
    return [*save_figure(fig, out.parent, out.name, ("png", "pdf")), table]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dirs", nargs="+", help="sweep directories of one sweep, any order")
    parser.add_argument("--out", required=True, help="figure path without suffix")
    args = parser.parse_args(argv)
    try:
        summaries = load_summaries(args.run_dirs)
    except BudgetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in plot(summaries, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
