"""What every diversity-sweep analysis shares: per-point params, the per-N table, the figure.

A diversity sweep (``task_diversity`` on bandits, ``rule_grid_diversity`` on the
rule grid) trains seeds on finite pools of N tasks and on the prior (N = inf), for
several pool seeds. Its analysis module measures each seed (how depends on the
family) into a point record::

    {"label", "num_tasks" (int or "inf"), "task_seed", "per_seed": {measure: [S]},
     "references": {name: float}}

and this module turns the records into the per-N rows (IQM over pool seeds x
training seeds with a stratified bootstrap interval, ``metarl.sweeps.seeds``), the
seed-level verdict and its text, and the panel figure with N on a log axis and inf
placed one step right of the largest pool.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from metarl.interval import Interval
from metarl.sweeps.groups import num_tasks_of
from metarl.sweeps.seeds import iqm_interval, seed_verdict

VERDICT_MEASURE = "likelihood_difference"
"""The measure whose seed-level interval gives the verdict: learner - locator log-likelihood."""
NOT_AVAILABLE = "not available"
OUTSIDE = "outside"
"""``plot_panels(legend_loc=OUTSIDE)``: one legend of every panel's entries below the figure."""


# --------------------------------------------------------------------------- params
def stack(trees: list[Any]) -> Any:
    """Trees of one structure stacked on a new leading axis (host numpy leaves)."""
    return jax.tree.map(lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *trees)


def env_params(configs, **extra) -> list[Any]:
    """Each config's env params with ``extra`` overrides (e.g. ``split="held_out"``)."""
    from metarl import envs

    return [envs.make(c.env.name, **{**c.env.overrides, **extra})[1] for c in configs]


def training_params(ctx) -> list[Any]:
    """Each point's training env params exactly as its group trained them (pools padded)."""
    by_point: list[Any] = [None] * len(ctx.configs)
    for group in ctx.groups:
        for config, index in zip(group.point_configs, group.point_indices, strict=True):
            by_point[index] = env_params([group.member_config(config)])[0]
    return by_point


def by_structure(params_list: Sequence[Any]) -> list[list[int]]:
    """Indices of ``params_list`` grouped by tree structure, first appearance first.

    Params of one structure (every finite pool padded to the group's capacity, or the
    prior) stack into one ``points=True`` play: one compile and one call per bucket.
    """
    buckets: dict[Any, list[int]] = {}
    for i, params in enumerate(params_list):
        buckets.setdefault(jax.tree.structure(params), []).append(i)
    return list(buckets.values())


def largest_pool_index(configs, index: int) -> int | None:
    """Index of the largest finite pool with point ``index``'s pool seed (None if none;
    the first such point when several have that size)."""
    seed = configs[index].env.overrides.get("task_seed")
    finite = [
        (num_tasks_of(c), -k)
        for k, c in enumerate(configs)
        if num_tasks_of(c) is not None and c.env.overrides.get("task_seed") == seed
    ]
    return -max(finite)[1] if finite else None


def largest_pool_config(configs, index: int):
    """The config of the largest finite pool with point ``index``'s pool seed (None if none)."""
    k = largest_pool_index(configs, index)
    return None if k is None else configs[k]


def num_tasks_label(config) -> int | str:
    n = num_tasks_of(config)
    return "inf" if n is None else int(n)


# --------------------------------------------------------------------------- per-N table
def aggregate(
    points: list[dict[str, Any]],
    measures: Sequence[str],
    verdict_measure: str = VERDICT_MEASURE,
    gain_measures: tuple[str, str] | None = None,
    min_gain: float = 0.0,
) -> list[dict[str, Any]]:
    """Per N: IQM over (pool seeds x training seeds), stratified by pool seed; the verdict.

    ``gain_measures`` (learner's, locator's): per-seed gains of each belief over a
    belief-free model; a verdict then also needs the named belief's gain above
    ``min_gain`` (``verdict_of``).
    """
    order: list[Any] = []
    for p in points:
        if p["num_tasks"] not in order:
            order.append(p["num_tasks"])
    rows = []
    for n in order:
        mine = [p for p in points if p["num_tasks"] == n]
        iqm = {
            name: iqm_interval(
                np.stack([np.asarray(p["per_seed"][name], np.float64) for p in mine], axis=1)
            )
            for name in measures
        }
        references = {
            key: float(np.mean([p["references"][key] for p in mine if key in p["references"]]))
            for key in mine[0]["references"]
        }
        rows.append(
            {
                "num_tasks": n,
                "pool_seeds": [p["task_seed"] for p in mine],
                "runs": sum(len(p["per_seed"][measures[0]]) for p in mine),
                "iqm": iqm,
                "references": references,
                "verdict": verdict_of(
                    iqm[verdict_measure],
                    *(iqm[g] for g in gain_measures or ()),
                    min_gain=min_gain,
                ),
                "stand_in_locator": n == "inf",
            }
        )
    return rows


def verdict_of(
    interval: Interval,
    learner_gain: Interval | None = None,
    locator_gain: Interval | None = None,
    min_gain: float = 0.0,
) -> str:
    """'learner' above 0, 'locator' below, 'undecided' across it; 'not available' without a value
    (no likelihood was measured: no locator pool, or no probe for the family).

    With the beliefs' gains over a belief-free model, the named belief must also beat it
    (its gain's interval above ``min_gain``): an agent blind to rewards fits both beliefs
    equally badly, and a difference of rounding size must not name it.
    """
    if not math.isfinite(interval.value):
        return NOT_AVAILABLE
    verdict = seed_verdict(interval, "learner", "locator")
    gain = {"learner": learner_gain, "locator": locator_gain}.get(verdict)
    if gain is not None and not gain.above(min_gain):
        return "undecided"
    return verdict


def transition_text(rows: list[dict[str, Any]], verdict_measure: str = VERDICT_MEASURE) -> str:
    """One line: every N's seed-level verdict and the interval it rests on."""
    parts = [
        f"N={r['num_tasks']}: {r['verdict']} {Interval.format(r['iqm'][verdict_measure], '+.3f')}"
        + (" (stand-in locator)" if r["stand_in_locator"] else "")
        for r in rows
    ]
    return (
        "seed-level verdict (IQM of learner - locator per choice, 95% stratified bootstrap): "
        + "; ".join(parts)
    )


def clean_transition(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the verdicts switch once, from 'locator' to 'learner', as N grows.

    Clean: every N up to some N_a is 'locator', every N from the next one N_b on is
    'learner', and both sides are non-empty (the transition lies between N_a and
    N_b). Anything else (an 'undecided' N, a single verdict throughout, a switch
    back) is not a clean transition at this budget.
    """
    verdicts = [r["verdict"] for r in rows]
    for cut in range(1, len(rows)):
        if all(v == "locator" for v in verdicts[:cut]) and all(
            v == "learner" for v in verdicts[cut:]
        ):
            low, high = rows[cut - 1]["num_tasks"], rows[cut]["num_tasks"]
            return {
                "clean": True,
                "between": [low, high],
                "text": f"clean transition: locator up to N={low}, learner from N={high} on",
            }
    counts = {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}
    return {
        "clean": False,
        "between": None,
        "text": "no clean locator -> learner transition at this budget (verdicts: "
        + ", ".join(f"{v} x{c}" for v, c in counts.items())
        + ")",
    }


# --------------------------------------------------------------------------- figure
@dataclasses.dataclass(frozen=True)
class Panel:
    """One panel of a diversity figure: a per-seed measure over N."""

    measure: str
    title: str
    ylabel: str
    references: tuple[str, ...] = ()
    """Keys of the rows' ``references`` drawn as dashed lines (styled by the figure's styles)."""
    zero_line: bool = False
    """Draw y = 0 (measures whose sign is the question)."""


def x_positions(labels: list[Any]) -> np.ndarray:
    """log2(N) for finite N; inf one step right of the largest."""
    finite = [math.log2(n) for n in labels if n != "inf"]
    right = (max(finite) if finite else 0.0) + 2.0
    return np.array([right if n == "inf" else math.log2(n) for n in labels])


def _as_interval(value: Any) -> Interval:
    return Interval.from_json(value) if isinstance(value, dict) else value


def _draw_panel(ax, summary: dict[str, Any], panel: Panel, xs, x_of, styles, legend: str | None):
    rows = summary["by_num_tasks"]
    runs: dict[tuple[Any, int], list[tuple[float, float]]] = {}
    for point in summary["points"]:
        for s, value in enumerate(point["per_seed"][panel.measure]):
            if value is not None and np.isfinite(value):
                runs.setdefault((point["task_seed"], s), []).append(
                    (x_of[str(point["num_tasks"])], value)
                )
    for k, line in enumerate(runs.values()):
        line.sort()
        ax.plot(
            *zip(*line, strict=True),
            color="tab:blue",
            alpha=0.25,
            lw=0.8,
            marker=".",
            label="each run (pool seed x training seed)" if k == 0 else None,
        )
    iqm = [_as_interval(r["iqm"][panel.measure]) for r in rows]
    ax.plot(
        xs, [e.value for e in iqm], color="tab:blue", lw=2, marker="o", label="agent IQM, 95% CI"
    )
    ax.fill_between(xs, [e.low for e in iqm], [e.high for e in iqm], color="tab:blue", alpha=0.2)
    for ref in panel.references:
        name, color = styles[ref]
        ys = [r["references"].get(ref, np.nan) for r in rows]
        ax.plot(xs, ys, color=color, ls="--", lw=1.2, label=name)
    if panel.zero_line:
        ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_title(panel.title, fontsize=10)
    ax.set_ylabel(panel.ylabel, fontsize=9)
    if legend and legend != OUTSIDE:  # one legend: the same styles in every panel
        ax.legend(fontsize=7, loc=legend)


def plot_panels(
    summary: dict[str, Any],
    out_dir: Path,
    panels: Sequence[Panel],
    styles: dict[str, tuple[str, str]],
    *,
    stem: str,
    title: str,
    xlabel: str,
    legend_loc: str = "lower right",
) -> list[Path]:
    """``<out>/<stem>.{png,pdf}``: one panel per measure, every run faint, the IQM with its band."""
    from metarl.plotting import agg_pyplot, save_figure

    plt = agg_pyplot()
    labels = [r["num_tasks"] for r in summary["by_num_tasks"]]
    xs = x_positions(labels)
    x_of = dict(zip([str(n) for n in labels], xs, strict=True))
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(4.2 * len(panels), 3.8 + (0.8 if legend_loc == OUTSIDE else 0.0)),
        constrained_layout=True,
    )
    for index, (ax, panel) in enumerate(zip(np.atleast_1d(axes), panels, strict=True)):
        _draw_panel(ax, summary, panel, xs, x_of, styles, legend_loc if index == 0 else None)
        ax.set_xticks(xs, [str(n) for n in labels])
        ax.set_xlabel(xlabel)
    if legend_loc == OUTSIDE:
        # Every panel's entries once, below the panels: many references would hide the data.
        entries: dict[str, Any] = {}
        for ax in np.atleast_1d(axes):
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                entries.setdefault(label, handle)
        fig.legend(
            list(entries.values()),
            list(entries),
            loc="outside lower center",
            ncol=min(len(entries), 4),
            fontsize=8,
        )
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, Path(out_dir), stem, ("png", "pdf"))
