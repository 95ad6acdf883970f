"""Measure of task-diversity reproductions: the sweep's per-N verdicts as a transition.

A sweep setting (``metarl sweep task_diversity`` with more seeds and pool seeds) has
already evaluated every frozen run (``metarl.sweeps.task_diversity``): per N, the
IQM over (pool seeds x training seeds) of the learner - locator log-likelihood per
choice, with its stratified-bootstrap interval, and the seed-level verdict (learner
above 0, locator below, else undecided). This module reads that summary:

* ``table``: per N, the likelihood difference (IQM, interval over seeds);
* ``verdicts``: per N, in sweep order (N ascending, inf last);
* ``transition``: ``metarl.sweeps.diversity.clean_transition`` (locator up to N_a,
  learner from N_b on), and ``crossing``: where the IQM crosses 0, interpolated in
  log N between the last N below 0 and the first above it (inf stands one log step
  past the largest finite N), with the bracket [N_a, N_b] the seed-level verdicts
  give: the transition point's interval over seeds;
* ``noise``: per N, why one run's verdict can differ from the N's (the issue's
  "one seed per N flips back and forth": pool, seed or probe?). From the runs'
  likelihood differences ``x[pool, seed]``: ``pool_sd`` (between pool seeds, the
  one-way random-effects component: variance of the pool means minus the
  within-pool variance / seeds, floored at 0), ``seed_sd`` (between training seeds
  of one pool), ``probe_sd`` (one run's episode-level standard error, from the
  pooled-seeds interval times sqrt(seeds): every seed of a pool plays the same
  episodes, so this is a rough scale, not a component of the same variance),
  ``flip_fraction`` (runs whose sign differs from the N's IQM: the chance that a
  one-run sweep reads the opposite verdict at that N) and ``largest`` (the largest
  of the three).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from metarl.reproduce.context import SettingContext

MEASURE = "likelihood_difference"
UNIT = "runs (IQM over pool seeds x training seeds, stratified bootstrap)"


def _log_n(n: Any, finite: list[int]) -> float:
    if n == "inf":
        return math.log(max(finite)) + math.log(4.0)  # one x4 step past the largest pool
    return math.log(float(n))


def crossing(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the IQM likelihood difference first goes from below 0 to above it, in N."""
    finite = [r["num_tasks"] for r in rows if r["num_tasks"] != "inf"] or [1]
    values = [r["iqm"][MEASURE]["value"] for r in rows]
    for i in range(len(rows) - 1):
        a, b = values[i], values[i + 1]
        if a is not None and b is not None and a < 0.0 <= b:
            xa, xb = _log_n(rows[i]["num_tasks"], finite), _log_n(rows[i + 1]["num_tasks"], finite)
            x = xa + (0.0 - a) / (b - a) * (xb - xa)
            return {
                "between": [rows[i]["num_tasks"], rows[i + 1]["num_tasks"]],
                "n_estimate": math.exp(x),
            }
    return {"between": None, "n_estimate": None}


Z_95 = 1.959963984540054
SOURCES = ("pool_sd", "seed_sd", "probe_sd")


def noise_sources(points: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per N (``"N=<n>"``): the spread of one run's likelihood difference by source (module doc)."""
    out = {}
    for row in rows:
        mine = [p for p in points if p["num_tasks"] == row["num_tasks"]]
        runs = np.array([p["per_seed"][MEASURE] for p in mine], np.float64)  # [pools, seeds]
        if runs.ndim != 2 or runs.shape[1] < 2 or not np.isfinite(runs).all():
            continue
        pools, seeds = runs.shape
        within = float(runs.var(axis=1, ddof=1).mean())
        between = float(runs.mean(axis=1).var(ddof=1)) - within / seeds if pools > 1 else 0.0
        probe = [
            (
                p["likelihood_pooled_seeds"]["difference"]["high"]
                - p["likelihood_pooled_seeds"]["difference"]["low"]
            )
            / (2 * Z_95)
            * math.sqrt(seeds)
            for p in mine
            if p.get("likelihood_pooled_seeds")
        ]
        center = row["iqm"][MEASURE]["value"]
        spread = {
            "pool_sd": math.sqrt(max(between, 0.0)),
            "seed_sd": math.sqrt(within),
            "probe_sd": float(np.mean(probe)) if probe else float("nan"),
        }
        out[f"N={row['num_tasks']}"] = {
            **spread,
            "iqm": center,
            "runs": int(runs.size),
            "flip_fraction": float(np.mean(np.sign(runs) != np.sign(center))),
            "largest": max(SOURCES, key=lambda k: -1.0 if math.isnan(spread[k]) else spread[k]),
        }
    return out


def measure(context: SettingContext) -> dict[str, Any]:
    """The transition summary of the sweep setting (module docstring)."""
    from metarl.sweeps.diversity import clean_transition

    summary = context.sweep_summary
    rows = summary["by_num_tasks"]
    return {
        "seeds_per_point": summary["seeds_per_point"],
        "pool_seeds": rows[0]["pool_seeds"],
        "episodes": summary["episodes"],
        "env_steps_per_run": summary["env_steps_per_run"],
        "num_tasks": [r["num_tasks"] for r in rows],
        "verdicts": [r["verdict"] for r in rows],
        "table": {f"N={r['num_tasks']}": r["iqm"][MEASURE] for r in rows},
        "transition": clean_transition(rows),
        "crossing": crossing(rows),
        "memorisation_advantage": {
            f"N={r['num_tasks']}": r["iqm"]["memorisation_advantage"] for r in rows
        },
        "noise": noise_sources(summary["points"], rows),
        "interval_unit": UNIT,
        "table_units": {f"N={r['num_tasks']}": UNIT for r in rows},
        "stand_in_locator_at_inf": any(r["stand_in_locator"] for r in rows),
    }


def markdown(report: dict[str, Any]) -> list[str]:
    """report.md's section on where one run's verdict comes from (``noise``, module doc)."""
    lines = [
        "## Why one run per N can flip: spread of one run's likelihood difference, by source",
        "",
        "| N | IQM | runs | between pools (sd) | between seeds (sd) | probe, one run (se) "
        "| runs of the other sign | largest |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for setting in report["measured"].values():
        for n, row in setting.get("noise", {}).items():
            lines.append(
                f"| {n} | {row['iqm']:+.3f} | {row['runs']} | {row['pool_sd']:.3f} | "
                f"{row['seed_sd']:.3f} | {row['probe_sd']:.3f} | {row['flip_fraction']:.0%} | "
                f"{row['largest'].removesuffix('_sd')} |"
            )
    lines += [
        "",
        "Pools: the one-way random-effects component between pool seeds; seeds: the spread "
        "between training seeds of one pool; probe: one run's standard error over its held-out "
        "episodes (the pooled-seeds interval x sqrt(seeds), a rough scale: seeds share episodes).",
    ]
    return lines


_SOURCE_STYLE = {"pool_sd": ("between pools", "#d98c1f"), "seed_sd": ("between seeds", "#1f4e9c"),
                 "probe_sd": ("probe (one run's s.e.)", "0.55")}  # fmt: skip


def plot(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``reproduction.{png,pdf}``: the likelihood difference per N with its interval over runs
    and seed-level verdict (left); the spread of one run's value by source per N (right)."""
    import textwrap

    from metarl.interval import Interval
    from metarl.plotting import CHECKPOINT_COLOR, agg_pyplot, save_figure
    from metarl.reproduce.report import FIGURE

    plt = agg_pyplot()
    summary = next(iter(report["measured"].values()))
    names = [f"N={n}" for n in summary["num_tasks"]]
    x = np.arange(len(names))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.0, 4.8), constrained_layout=True)
    for i, name in enumerate(names):
        value = Interval.from_json(summary["table"][name])
        error = (
            [[value.value - value.low], [value.high - value.value]] if value.has_bounds else None
        )
        left.errorbar(i, value.value, yerr=error, fmt="o", color=CHECKPOINT_COLOR, capsize=4)
    left.axhline(0.0, color="black", lw=0.8)
    # Values run from about -1.6 (N = 1) to +-0.02: log-like away from 0, linear near it.
    left.set_yscale("symlog", linthresh=0.1, linscale=1.5)
    low = min(Interval.from_json(summary["table"][n]).low for n in names)
    left.set_ylim(1.8 * min(low, -0.1), 0.15)
    left.set_ylabel("learner - locator log-likelihood per choice\n(IQM over runs, 95% interval)")
    left.set_title("verdict per N (over pool seeds x training seeds)", fontsize=10)
    noise = summary.get("noise", {})
    width = 0.26
    for j, (key, (label, color)) in enumerate(_SOURCE_STYLE.items()):
        values = [noise.get(name, {}).get(key, np.nan) for name in names]
        right.bar(x + (j - 1) * width, values, width, color=color, label=label)
    right.set_ylabel("spread of one run's value (sd, nats per choice)")
    right.set_title("where one run's value varies (% = runs of the other sign)", fontsize=10)
    right.legend(fontsize=8)
    left.set_xticks(x, [f"{n}\n{v}" for n, v in zip(names, summary["verdicts"], strict=True)])
    flips = [f"\n{noise[n]['flip_fraction']:.0%}" if n in noise else "" for n in names]
    right.set_xticks(x, [n + f for n, f in zip(names, flips, strict=True)])
    for ax in (left, right):
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        f"{report['reproduction']} ({report['variant']}): {report['status']}\n"
        + textwrap.fill(report["source"], 120),
        fontsize=9,
    )
    return save_figure(fig, Path(out_dir), FIGURE, ("png", "pdf"))
