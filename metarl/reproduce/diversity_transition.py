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
  give: the transition point's interval over seeds.
"""

from __future__ import annotations

import math
from typing import Any

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
        "interval_unit": UNIT,
        "table_units": {f"N={r['num_tasks']}": UNIT for r in rows},
        "stand_in_locator_at_inf": any(r["stand_in_locator"] for r in rows),
    }
