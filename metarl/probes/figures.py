"""Figures of probe results, from a probe directory's files only (PNG + PDF, matplotlib Agg).

``plot_probe_dir(run/probes/<probe>)`` reads ``summary.json`` (and ``arrays.npz``
where the probe wrote one) and draws ``<probe>.png`` and ``<probe>.pdf``: one
figure per probe, the checkpoint (dark blue, thick) beside the reference agents
of known mechanism, 95% intervals as error bars or bands (decoding draws the range
over episode splits, as its summary reports). A skipped probe has no figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from metarl.plotting import _CHECKPOINT_COLOR, _REFERENCE_COLORS, agg_pyplot, save_figure
from metarl.probes.run_probes import STRAIGHT_DETOUR

CHECKPOINT = "checkpoint"


def _color(name: str, order: list[str]) -> str:
    if name == CHECKPOINT:
        return _CHECKPOINT_COLOR
    others = [n for n in order if n != CHECKPOINT]
    return _REFERENCE_COLORS[others.index(name) % len(_REFERENCE_COLORS)]


def _label(name: str) -> str:
    return "checkpoint (frozen)" if name == CHECKPOINT else name.replace("_", " ")


def _error(value: float, low: float, high: float) -> np.ndarray:
    """[[below], [above]] for errorbar, zero where an end is missing."""
    below = 0.0 if low is None or not np.isfinite(low) else max(value - low, 0.0)
    above = 0.0 if high is None or not np.isfinite(high) else max(high - value, 0.0)
    return np.array([[below], [above]])


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _horizontal_intervals(ax, names, values, lows, highs, order, xlabel: str) -> None:
    """One row per agent: point and 95% interval; the checkpoint on top, a line at 0."""
    rows = np.arange(len(names))[::-1]
    for row, name, value, low, high in zip(rows, names, values, lows, highs, strict=True):
        value = _number(value)
        ax.errorbar(
            value,
            row,
            xerr=_error(value, _number(low), _number(high)),
            fmt="o",
            color=_color(name, order),
            ms=7 if name == CHECKPOINT else 5,
            capsize=3,
            lw=2 if name == CHECKPOINT else 1.2,
        )
    ax.set_yticks(rows)
    ax.set_yticklabels([_label(n) for n in names], fontsize=8)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.axvline(0.0, color="0.4", lw=0.8, ls=":")
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)


# ------------------------------------------------------------------ per probe


def _likelihood(fig, summary, arrays) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    _horizontal_intervals(
        left,
        order,
        [agents[n]["difference"] for n in order],
        [agents[n]["interval"][0] for n in order],
        [agents[n]["interval"][1] for n in order],
        order,
        "log-likelihood per choice, learner - locator (nats)\n(held out, cross-validated; 95% CI)",
    )
    for row, name in zip(np.arange(len(order))[::-1], order, strict=True):
        left.annotate(
            agents[name]["verdict"],
            (1.0, row),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    left.set_title("which model explains the choices better", fontsize=10)
    for name in order:
        curve = arrays.get(f"{name}/difference_by_step")
        if curve is not None:
            right.plot(
                np.arange(1, len(curve) + 1),
                curve,
                color=_color(name, order),
                lw=2.2 if name == CHECKPOINT else 1.3,
                label=_label(name),
            )
    right.axhline(0.0, color="0.4", lw=0.8, ls=":")
    right.set_xlabel("pull within the episode (step)")
    right.set_ylabel("learner - locator log-likelihood\n(nats, mean over episodes)")
    right.set_title("where the two models part (> 0: learner better)", fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3)


def _model_fit(fig, summary, arrays) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    models = summary["results"]["models"]
    models = [
        m for m in ("random", "wsls", "q_learning", "bayes_learner", "task_locator") if m in models
    ]
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    height = 0.8 / len(order)
    for j, name in enumerate(order):
        rows = {row["model"]: row for row in agents[name]["table"]}
        y = np.arange(len(models))[::-1] + 0.4 - (j + 0.5) * height
        values = [rows[m]["per_trial_likelihood"] if m in rows else np.nan for m in models]
        left.barh(
            y,
            values,
            height=height,
            color=_color(name, order),
            label=_label(name),
            edgecolor="black" if name == CHECKPOINT else "none",
            lw=0.8,
        )
        best = models.index(agents[name]["best_model"])
        left.plot(values[best] + 0.01, y[best], marker="*", color="black", ms=7, ls="none")
    left.set_yticks(np.arange(len(models))[::-1])
    left.set_yticklabels([m.replace("_", " ") for m in models])
    left.set_xlabel(
        "per-choice likelihood of the fitted model\n(geometric mean probability of each choice)"
    )
    left.set_title("choice models fitted to each agent (* lowest BIC)", fontsize=10)
    left.set_xlim(0, 1.05)
    left.grid(axis="x", alpha=0.3)
    left.legend(fontsize=7, loc="upper right")
    values, lows, highs = [], [], []
    for name in order:
        row = next(r for r in agents[name]["table"] if r["model"] == "q_learning")
        rate = row["params"]["learning_rate"]
        se = _number(row["standard_errors"].get("learning_rate"))
        values.append(rate)
        lows.append(rate - 1.96 * se if np.isfinite(se) else None)
        highs.append(rate + 1.96 * se if np.isfinite(se) else None)
    _horizontal_intervals(
        right,
        order,
        values,
        lows,
        highs,
        order,
        "Q-learning learning rate fitted to the choices\n(95% CI from the observed information)",
    )
    right.set_xlim(-0.02, 1.02)
    right.set_title("fitted Rescorla-Wagner rate", fontsize=10)


def _decoding(fig, summary, arrays) -> None:
    rows = summary["results"]["targets"]
    groups = {
        "r2": [r for r in rows if r["metric"] == "r2"],
        "accuracy": [r for r in rows if r["metric"] == "accuracy"],
    }
    groups = {k: v for k, v in groups.items() if v}
    axes = np.atleast_1d(
        fig.subplots(
            1, len(groups), gridspec_kw={"width_ratios": [len(v) + 0.6 for v in groups.values()]}
        )
    )
    series = [
        ("agent", "checkpoint hidden state", _CHECKPOINT_COLOR),
        ("control", "random network (same inputs)", _REFERENCE_COLORS[0]),
        ("time_only", "clock (step index only)", "0.6"),
        ("chance", "chance (majority class)", "0.85"),
    ]
    splits = rows[0]["splits"]
    for ax, (metric, targets) in zip(axes, groups.items(), strict=True):
        present = [s for s in series if any(s[0] in r for r in targets)]
        width = 0.8 / len(present)
        for j, (key, label, color) in enumerate(present):
            x = np.arange(len(targets)) - 0.4 + (j + 0.5) * width
            values = np.array([_number(r.get(key)) for r in targets])
            ranges = [r.get(f"{key}_range", [None, None]) for r in targets]
            errors = np.hstack(
                [
                    _error(v, _number(lo), _number(hi))
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
            mark = "above controls" if row["above_controls"] else "not above"
            ax.annotate(
                mark,
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
                np.nanmin([_number(r.get(k)) for k in ("agent", "control", "time_only")])
                for r in targets
            ),
        )
        ax.set_ylim(max(low - 0.05, -1.0), 1.12)
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(
            ("continuous targets (ridge)" if metric == "r2" else "categorical targets (logistic)")
            + f"; bars: range over {splits} splits",
            fontsize=9,
        )
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        handles.values(), handles.keys(), loc="outside lower center", ncol=len(handles), fontsize=8
    )


def _volatility(fig, summary, arrays) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    left, right = fig.subplots(1, 2)
    offsets = np.linspace(-0.15, 0.15, len(order))
    for offset, name in zip(offsets, order, strict=True):
        row = agents[name]
        values = [row["stable_learning_rate"], row["volatile_learning_rate"]]
        intervals = [row["stable_interval"], row["volatile_interval"]]
        x = np.array([0.0, 1.0]) + offset
        errors = np.hstack(
            [_error(v, lo, hi) for v, (lo, hi) in zip(values, intervals, strict=True)]
        )
        left.errorbar(
            x,
            values,
            yerr=errors,
            fmt="-o",
            color=_color(name, order),
            capsize=3,
            lw=2.2 if name == CHECKPOINT else 1.2,
            ms=6 if name == CHECKPOINT else 4,
            label=_label(name),
        )
    conditions = summary["results"]["conditions"]
    left.set_xticks([0, 1])
    left.set_xticklabels(
        [
            f"stable\n(hazard {conditions['stable_hazard']:g})",
            f"volatile\n(hazard {conditions['volatile_hazard']:g} per pull)",
        ]
    )
    left.set_xlim(-0.5, 1.5)
    left.set_ylabel("fitted Rescorla-Wagner learning rate\n(95% bootstrap CI)")
    left.set_title("learning rate fitted to the choices", fontsize=10)
    left.grid(axis="y", alpha=0.3)
    left.legend(fontsize=7)
    _horizontal_intervals(
        right,
        order,
        [agents[n]["difference"] for n in order],
        [agents[n]["difference_interval"][0] for n in order],
        [agents[n]["difference_interval"][1] for n in order],
        order,
        "learning rate, volatile - stable (95% paired bootstrap CI)",
    )
    right.set_title("fixed references show what no adaptation gives", fontsize=10)


def _thinking(fig, summary, arrays) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    left, right = fig.subplots(1, 2)
    for name in order:
        row = agents[name]
        ks = np.asarray(row["ks"])
        style = {
            "color": _color(name, order),
            "lw": 2.2 if name == CHECKPOINT else 1.3,
            "capsize": 3,
            "ms": 6 if name == CHECKPOINT else 4,
            "label": _label(name),
        }
        left.errorbar(ks, row["return_mean"], yerr=row["return_half_width"], fmt="-o", **style)
        right.errorbar(
            ks, row["return_gain"], yerr=row["return_gain_half_width"], fmt="-o", **style
        )
    for ax in (left, right):
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xticks(agents[order[0]]["ks"])
        ax.set_xticklabels([str(k) for k in agents[order[0]]["ks"]])
        ax.set_xlabel("thinking steps K (extra core steps before each action)")
        ax.grid(alpha=0.3)
    left.set_ylabel("return per episode (mean, 95% CI)")
    left.set_title("return per thinking budget", fontsize=10)
    right.axhline(0.0, color="0.4", lw=0.8, ls=":")
    right.set_ylabel("return gain over K = 0\n(paired, same episodes; 95% CI)")
    right.set_title("gain from thinking", fontsize=10)
    left.legend(fontsize=8)


def _two_step(fig, summary, arrays) -> None:
    results = summary["results"]
    agents = results["agents"]
    model_free = results["model_free_references"]
    # The model-free reference that looks most model-based is the bar to beat.
    strongest = max(
        model_free,
        key=lambda n: np.nan_to_num(_number(agents[n]["model_based_index"]["value"]), nan=-np.inf),
    )
    shown = [CHECKPOINT, "model_based", strongest]
    order = [CHECKPOINT, "model_based", *model_free]
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    conditions = results["conditions"]
    width = 0.8 / len(shown)
    for j, name in enumerate(shown):
        stay = agents[name]["stay"]
        x = np.arange(len(conditions)) - 0.4 + (j + 0.5) * width
        values = np.array([_number(stay[c]["value"]) for c in conditions])
        halves = np.array([_number(stay[c]["half_width"]) for c in conditions])
        label = _label(name) + (
            " (most model-based-looking model-free agent)" if name == strongest else ""
        )
        left.bar(
            x,
            values,
            width=width,
            color=_color(name, order),
            label=label,
            edgecolor="black" if name == CHECKPOINT else "none",
            lw=0.8,
        )
        left.errorbar(x, values, yerr=halves, fmt="none", color="black", capsize=2, lw=0.8)
    left.set_xticks(np.arange(len(conditions)))
    left.set_xticklabels([c.replace("_", "\n") for c in conditions])
    left.set_xlabel("previous trial: outcome and transition")
    left.set_ylabel("P(repeat first-stage choice)\n(95% CI, clustered by episode)")
    left.set_ylim(0, 1.3)
    left.set_yticks(np.linspace(0, 1, 6))
    left.grid(axis="y", alpha=0.3)
    left.legend(fontsize=8, loc="upper center", ncol=2)
    left.set_title("stay probabilities", fontsize=10)
    index = [agents[n]["model_based_index"] for n in order]
    _horizontal_intervals(
        right,
        order,
        [i["value"] for i in index],
        [i["value"] - i["half_width"] for i in index],
        [i["value"] + i["half_width"] for i in index],
        order,
        "model-based index: reward x transition\nlogistic coefficient (95% CI)",
    )
    right.set_title("vs simulated model-free agents", fontsize=10)


def _difficulty(fig, summary, arrays) -> None:
    agents = summary["results"]["agents"]
    order = list(agents)
    axes = fig.subplots(1, 3)
    panels = [
        (
            "shortest_path",
            "success",
            "P(goal within the budget)",
            "shortest path from the trial start (steps)",
        ),
        (
            "shortest_path",
            "steps_to_goal",
            "steps to goal, min(steps, budget)",
            "shortest path from the trial start (steps)",
        ),
        (
            "detour_ratio",
            "excess_ratio",
            "steps / shortest path (1 = optimal)",
            "detour ratio (shortest path / Manhattan distance)",
        ),
    ]
    for ax, (label, field, ylabel, xlabel) in zip(axes, panels, strict=True):
        edges = arrays[f"{label}/edges"]
        names = [
            "1 (straight)"
            if label == "detour_ratio" and hi <= STRAIGHT_DETOUR
            else f"(1, {hi:g})"
            if label == "detour_ratio" and lo == STRAIGHT_DETOUR
            else f"[{lo:g}, {hi:g})"
            if hi < 100
            else f">= {lo:g}"
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
        offsets = np.linspace(-0.15, 0.15, len(order))
        for offset, name in zip(offsets, order, strict=True):
            values = arrays[f"{name}/{label}/{field}/value"]
            halves = arrays[f"{name}/{label}/{field}/half_width"]
            ax.errorbar(
                np.arange(len(values)) + offset,
                values,
                yerr=halves,
                fmt="-o",
                color=_color(name, order),
                lw=2.2 if name == CHECKPOINT else 1.3,
                ms=5 if name == CHECKPOINT else 4,
                capsize=3,
                label=_label(name),
            )
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names, fontsize=8, rotation=20)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.02, 1.05)
    axes[0].legend(fontsize=8)
    budget = summary["results"]["budget"]
    axes[1].set_title(f"later trials, budget {budget} steps (95% CI by episode)", fontsize=10)


_FIGURES = {
    "likelihood": (_likelihood, (12, 4.6)),
    "model_fit": (_model_fit, (13, 5.2)),
    "decoding": (_decoding, (12, 4.8)),
    "volatility": (_volatility, (12, 4.8)),
    "thinking": (_thinking, (12, 4.6)),
    "two_step": (_two_step, (13, 5.4)),
    "difficulty": (_difficulty, (15, 4.8)),
}


def plot_probe_dir(directory: str | Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Draw ``<directory>/<probe>.{png,pdf}`` from its summary (and arrays); [] for a skipped probe."""
    directory = Path(directory)
    summary = json.loads((directory / "summary.json").read_text())
    if summary["status"] != "done":
        return []
    arrays = {}
    if (directory / "arrays.npz").is_file():
        with np.load(directory / "arrays.npz") as data:
            arrays = {k: data[k] for k in data.files}
    probe = summary["probe"]
    draw, size = _FIGURES[probe]
    plt = agg_pyplot()
    fig = plt.figure(figsize=size, layout="constrained")
    draw(fig, summary, arrays)
    checkpoint = summary["checkpoint"]
    verdict = summary["verdict"]
    fig.suptitle(
        f"{summary['run']['name']} ({summary['env']['name']}), update {checkpoint['update']}, training seed "
        f"{checkpoint['seed_index']}: probe '{probe}' -> {verdict['label']}\n"
        f"{summary['env']['probe_suite']} episodes ({summary['episodes']} per agent, probe seed {summary['seed']}): "
        f"{summary['env']['probe_suite_description']}",
        fontsize=10,
    )
    return save_figure(fig, directory, probe, formats)
