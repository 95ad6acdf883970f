"""Measure of two-step reproductions: the two-step probe on every frozen training seed.

For one trained setting, runs ``metarl probe --probe two_step`` (``metarl.probes.
two_step``) once per training seed on the same ``episodes`` episodes (the probe's key
is its ``seed``, shared by every training seed): stay probabilities after rewarded /
unrewarded x common / rare trials (episode-clustered), the Daw stay regression (its
reward x transition coefficient is the model-based index), the Daw hybrid model
fitted to the seed's own choices, and the probe's verdict from fitted models: the
seed is 'model-based' only when its fitted w lies above the w of its own fitted
model-free model, simulated, and its index above that model's prediction interval
(``two_step_verdict.fitted_verdict``). Each seed's probe summary is kept as
``two_step_seed<i>.json`` beside ``measured.json``.

Returned (JSON-ready): ``per_seed`` (verdict, model-based index and its interval,
the fitted model-free model's prediction interval for it, stay interaction, w, the
four stay probabilities), ``stay_mean`` (each condition's stay probability, mean over
seeds with a Student t interval over seeds), ``table`` (model-based index: the
checkpoint's mean over seeds, the simulated references' from the probe), the counts
of each verdict. ``plot`` draws the stay-probability bars (mean over seeds, 95%
interval over seeds, each seed a dot) beside the per-seed indices.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from metarl.interval import Interval
from metarl.reproduce.context import SettingContext
from metarl.reproduce.spec import CHECKPOINT

EPISODES = 300
PROBE_SEED = 0
PROBE = "two_step"
MODEL_BASED = "model-based"
CONDITIONS = ("rewarded_common", "rewarded_rare", "unrewarded_common", "unrewarded_rare")
REFERENCES = ("model_based",)
"""Simulated agents shown beside the checkpoint (with the strongest model-free one)."""
SEED_FILE = "two_step_seed{index}.json"


def check_options(options: dict[str, Any]) -> None:
    """Refuse bad measure options before anything trains (ConfigError naming the field)."""
    from metarl.errors import ConfigError
    from metarl.probes.run_probes import MIN_EPISODES

    for name, low in (("episodes", MIN_EPISODES), ("probe_seed", 0)):
        value = int(options.get(name, low))
        if value < low:
            raise ConfigError(
                f"measure: field 'measure.{name}' = {value} is out of range; allowed: at least {low}"
            )


def over_seeds(values) -> Interval:
    """Mean of per-seed ``values`` with a Student t 95% interval over seeds (none with one)."""
    from metarl.evaluation.statistics import seed_interval

    values = [float(v) for v in values]
    if len(values) < 2:
        return Interval(values[0], None, None)
    return Interval(*seed_interval(values))


def seed_row(summary: dict[str, Any]) -> dict[str, Any]:
    """One seed's numbers from its two-step probe summary."""
    results = summary["results"]
    agent = results["agents"][CHECKPOINT]
    detail = results["verdict_detail"]
    return {
        "verdict": summary["verdict"]["label"],
        "model_based_index": agent["model_based_index"],
        "fitted_model_free_index": detail["simulated_index"],
        "stay_interaction": agent["stay_interaction"],
        "w": results["fit"]["w"],
        "stay": {c: agent["stay"][c]["value"] for c in CONDITIONS},
    }


def summarize(per_seed: list[dict[str, Any]], reference_summary: dict[str, Any]) -> dict[str, Any]:
    """The setting's summary from per-seed rows (``seed_row``) and one probe summary's
    simulated references (the same for every seed: same probe key)."""
    from metarl.probes.two_step import strongest_model_free

    results = reference_summary["results"]
    agents = results["agents"]
    strongest = strongest_model_free(agents, results["model_free_references"])
    verdicts = [row["verdict"] for row in per_seed]
    index = over_seeds([row["model_based_index"]["value"] for row in per_seed])
    table = {CHECKPOINT: index}
    table.update({name: agents[name]["model_based_index"] for name in (*REFERENCES, strongest)})
    return {
        "num_seeds": len(per_seed),
        "verdicts": verdicts,
        "model_based_seeds": verdicts.count(MODEL_BASED),
        "verdict_counts": {label: verdicts.count(label) for label in sorted(set(verdicts))},
        "per_seed": per_seed,
        "stay_mean": {c: over_seeds([row["stay"][c] for row in per_seed]) for c in CONDITIONS},
        "stay_interaction": over_seeds([row["stay_interaction"]["value"] for row in per_seed]),
        "reference_stay": {
            name: {c: agents[name]["stay"][c] for c in CONDITIONS}
            for name in (*REFERENCES, strongest)
        },
        "strongest_model_free": strongest,
        "table": table,
        "table_units": {
            name: "episodes (the probe's clustered interval)" for name in (*REFERENCES, strongest)
        },
        "interval_unit": "training seeds (Student t over the per-seed indices)",
    }


def measure(
    context: SettingContext, episodes: int = EPISODES, probe_seed: int = PROBE_SEED
) -> dict[str, Any]:
    """Probe every training seed; the seed-level summary (module docstring)."""
    from metarl.probes.run_probes import SUMMARY_FILE, probe_run
    from metarl.reporting import read_json
    from metarl.runner.run_dir import RunDir

    num_seeds = RunDir(context.run_dir).read_config().run.num_seeds
    summaries = []
    for index in range(num_seeds):
        (directory,) = probe_run(
            context.run_dir,
            probes=PROBE,
            num_episodes=episodes,
            seed=probe_seed,
            seed_index=index,
            plot=False,
            log=context.log,
        )
        # The probe writes one directory per run: keep each seed's summary before the next.
        kept = context.directory / SEED_FILE.format(index=index)
        shutil.copyfile(Path(directory) / SUMMARY_FILE, kept)
        summaries.append(read_json(kept))
    summary = summarize([seed_row(s) for s in summaries], summaries[0])
    summary.update(
        episodes=episodes,
        probe_seed=probe_seed,
        checkpoint_update=summaries[0]["checkpoint"]["update"],
        probe_s=[s["timing"].get("probe_total_s") for s in summaries],
    )
    return summary


# ------------------------------------------------------------------ figure
def _draw_bars(ax, summary: dict[str, Any]) -> None:
    """Mean stay probability per condition over seeds (95% interval over seeds), seeds as dots."""
    from metarl.plotting import CHECKPOINT_COLOR

    x = np.array([0.0, 0.8, 2.0, 2.8])  # common / rare beside each other, per outcome
    colors = [CHECKPOINT_COLOR, "#e8a33d"] * 2
    means = [Interval.from_json(summary["stay_mean"][c]) for c in CONDITIONS]
    values = np.array([m.value for m in means])
    ax.bar(x, values, width=0.7, color=colors, edgecolor="black", lw=0.6)
    if all(m.has_bounds for m in means):
        errors = np.array([[m.value - m.low for m in means], [m.high - m.value for m in means]])
        ax.errorbar(x, values, yerr=errors, fmt="none", color="black", capsize=4, lw=1.2)
    spread = np.linspace(-0.18, 0.18, max(summary["num_seeds"], 1))
    for offset, row in zip(spread, summary["per_seed"], strict=False):
        marker = "o" if row["verdict"] == MODEL_BASED else "x"
        ax.plot(x + offset, [row["stay"][c] for c in CONDITIONS], marker, color="black", ms=3.5)
    ax.set_xticks([0.4, 2.4], ["previous trial rewarded", "previous trial unrewarded"])
    ax.set_ylabel("P(repeat first-stage choice)")
    ax.set_ylim(0.0, 1.22)  # a band above the bars (which reach 1) for the legend
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.grid(axis="y", alpha=0.3)
    handles = [
        ax.bar([0], [0], color=CHECKPOINT_COLOR, label="common transition"),
        ax.bar([0], [0], color="#e8a33d", label="rare transition"),
    ]
    ax.legend(handles=handles, fontsize=8, loc="upper center", ncol=2)
    ax.set_title(
        f"stay probabilities, mean over {summary['num_seeds']} seeds (95% interval over seeds;"
        "\ndots: seeds, o model-based verdict, x other)",
        fontsize=9,
    )


def _draw_indices(ax, summary: dict[str, Any]) -> None:
    """Per seed: the model-based index (95% CI) beside its fitted model-free prediction interval."""
    from metarl.plotting import CHECKPOINT_COLOR

    for seed, row in enumerate(summary["per_seed"]):
        index = Interval.from_json(row["model_based_index"])
        bound = Interval.from_json(row["fitted_model_free_index"])
        if bound.has_bounds:
            ax.plot([seed + 0.15] * 2, [bound.low, bound.high], color="#6f6f6f", lw=4, alpha=0.6)
        error = None
        if index.has_bounds:
            error = [[index.value - index.low], [index.high - index.value]]
        color = CHECKPOINT_COLOR if row["verdict"] == MODEL_BASED else "#b03030"
        ax.errorbar(seed - 0.1, index.value, yerr=error, fmt="o", color=color, capsize=3)
    ax.set_xticks(range(summary["num_seeds"]))
    ax.set_xlabel("training seed")
    ax.set_ylabel("model-based index (reward x transition coefficient)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(
        f"model-based in {summary['model_based_seeds']} of {summary['num_seeds']} seeds\n"
        "(blue/red: the seed's index and verdict; grey: its fitted model-free prediction)",
        fontsize=9,
    )


def plot(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``<out>/reproduction.{png,pdf}``: per setting, the stay bars and the per-seed indices."""
    import textwrap

    from metarl.plotting import agg_pyplot, save_figure
    from metarl.reproduce.report import FIGURE

    plt = agg_pyplot()
    settings = report["settings"]
    fig, axes = plt.subplots(
        len(settings), 2, figsize=(12, 4.6 * len(settings) + 0.8), squeeze=False
    )
    for row, setting in enumerate(settings):
        summary = report["measured"].get(setting["name"])
        if not summary:
            continue
        _draw_bars(axes[row, 0], summary)
        _draw_indices(axes[row, 1], summary)
        axes[row, 0].text(0.0, 1.16, setting["label"], transform=axes[row, 0].transAxes)
    source = textwrap.fill(report["source"], 110)
    fig.suptitle(
        f"{report['reproduction']} ({report['variant']}): {report['status']}\n{source}", fontsize=9
    )
    fig.tight_layout()
    return save_figure(fig, Path(out_dir), FIGURE, ("png", "pdf"))
