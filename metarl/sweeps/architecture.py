"""The architecture analysis: does in-context learning after freeze need recurrence?

A sweep over the agent's core (``Axis("agent.core", ...)`` with each core's width
linked to it, ``architecture_sweep``): GRU, LSTM, transformer and the memoryless
MLP at matched parameter counts (``count_params``: every initialised parameter,
embedding and heads included), several training seeds each, on one experiment.
Each core is its own group (shapes differ), its seeds vmapped.

Every frozen seed is measured on held-out tasks and after a change it never saw
(``metarl.sweeps.architecture_families``: return, in-context improvement, a
per-part or per-trial curve, recovery, learner - locator likelihood). Per core:
IQM over its seeds with a 95% bootstrap interval (``metarl.sweeps.seeds``), the
likelihood verdict from that interval (``diversity.verdict_of``: the named model
must also beat a model-free floor, the memoryless floor on bandits and distance alone
on the rule grid, so neither a near-random nor a memoryless agent gets a verdict), and the difference from the GRU
(``REFERENCE_CORE``) with a 95% interval. The difference is *unpaired* over seeds:
seed i of two cores shares its key but not its initialisation (the shapes differ),
so pairing seeds would pair nothing; every core plays the same episodes, so the
evaluation noise is common to both.

``plot`` writes ``architecture.{png,pdf}`` (a panel per measure, cores as colours,
every seed faint, the IQM with its interval, references dashed) and the per-core
table ``architecture.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from metarl.interval import Interval
from metarl.sweeps import diversity
from metarl.sweeps.seeds import BOOTSTRAP_REPS, BOOTSTRAP_SEED, iqm_interval
from metarl.sweeps.spec import Axis, Sweep

EPISODES = 1024
EVAL_SEED = 0
FORMAT_VERSION = 1
REFERENCE_CORE = "gru"
FIGURE = "architecture"
CORE_AXIS = "agent.core"
CORE_COLORS = {"gru": "tab:blue", "lstm": "tab:purple", "transformer": "tab:orange", "mlp": "0.45"}


# --------------------------------------------------------------------------- the sweep
@dataclasses.dataclass(frozen=True)
class CoreSpec:
    """One core of the comparison and the width that matches its parameter count."""

    core: str
    hidden_size: int


def architecture_sweep(
    config,
    cores: Sequence[CoreSpec],
    *,
    name: str,
    seeds: int,
    env_steps: int,
    updates_per_chunk: int,
    analysis_options: dict | None = None,
    description: str = "",
) -> Sweep:
    """``config`` over ``cores`` (each with its own width), ``seeds`` vmapped training seeds each.

    The transformer's layers, heads and context are ``config.agent``'s (other cores ignore them).
    """
    run = dataclasses.replace(
        config.run,
        num_seeds=seeds,
        total_env_steps=env_steps,
        updates_per_chunk=updates_per_chunk,
        checkpoint_every_chunks=1,
    )
    axis = Axis(
        CORE_AXIS,
        tuple(c.core for c in cores),
        linked=(("agent.hidden_size", tuple(c.hidden_size for c in cores)),),
    )
    return Sweep(
        name=name,
        experiment=dataclasses.replace(config, run=run),
        axes=(axis,),
        analysis="metarl.sweeps.architecture",
        analysis_options=dict(analysis_options or {}),
        description=description
        or f"Architecture: {', '.join(c.core for c in cores)} x {seeds} training seeds.",
    )


def count_params(config) -> int:
    """Every parameter the agent of ``config`` initialises (embedding, core, heads)."""
    from metarl.training.build import build

    return agent_params(build(config).agent)


def agent_params(agent) -> int:
    shapes = jax.eval_shape(agent.init_params, jax.random.PRNGKey(0))
    return int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(shapes)))


def param_table(sweep: Sweep) -> list[dict[str, Any]]:
    """Per point: core, width, parameter count and its ratio to the reference core's."""
    from metarl.sweeps.spec import point_config

    rows = []
    for point in sweep.points():
        config = point_config(sweep, point)
        rows.append(
            {
                "core": config.agent.core,
                "hidden_size": config.agent.hidden_size,
                "params": count_params(config),
            }
        )
    reference = next((r for r in rows if r["core"] == REFERENCE_CORE), rows[0])["params"]
    for row in rows:
        row["ratio"] = row["params"] / reference
    return rows


# --------------------------------------------------------------------------- statistics
def _iqm(x: np.ndarray, axis=None):
    from scipy.stats import trim_mean

    # rliable's IQM (metrics.aggregate_iqm) is this 25% trimmed mean.
    return trim_mean(x, proportiontocut=0.25, axis=axis)


def iqm_difference(
    a, b, reps: int = BOOTSTRAP_REPS, seed: int = BOOTSTRAP_SEED, confidence: float = 0.95
) -> Interval:
    """IQM(a) - IQM(b) over two independent sets of runs, with a percentile bootstrap interval
    resampling each set's runs on its own (NaN runs dropped; no bounds with fewer than 2)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not a.size or not b.size:
        return Interval(float("nan"))
    value = float(_iqm(a) - _iqm(b))
    if a.size < 2 or b.size < 2:
        return Interval(value, level=confidence)
    rng = np.random.default_rng(seed)
    draws = _iqm(a[rng.integers(0, a.size, (reps, a.size))], axis=1) - _iqm(
        b[rng.integers(0, b.size, (reps, b.size))], axis=1
    )
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(draws, [tail, 100.0 - tail])
    return Interval(value, float(low), float(high), level=confidence)


def core_rows(
    points, measures, gains, configs, agents, reps: int = BOOTSTRAP_REPS, min_gain: float = 0.0
) -> list[dict[str, Any]]:
    """Per core: IQM intervals of every measure and curve point, the verdict, minus the GRU.

    One core's seeds are one stratum of ``seeds.iqm_interval`` (rliable's bootstrap).
    """
    cores = [c.agent.core for c in configs]
    ref = cores.index(REFERENCE_CORE) if REFERENCE_CORE in cores else 0

    def interval(values) -> Interval:
        return iqm_interval(np.asarray(values, np.float64)[:, None], reps=reps)

    rows = []
    for i, (point, config, agent) in enumerate(zip(points, configs, agents, strict=True)):
        seeds = point["per_seed"]
        iqm = {m: interval(seeds[m]) for m in measures}
        curve = np.asarray(point["curve"], np.float64)
        row = {
            "core": cores[i],
            "label": point["label"],
            "hidden_size": config.agent.hidden_size,
            "params": agent_params(agent),
            "runs": int(curve.shape[0]),
            "defined_runs": {
                m: int(np.isfinite(np.asarray(seeds[m], float)).sum()) for m in measures
            },
            "iqm": iqm,
            "curve_iqm": [interval(curve[:, x]) for x in range(curve.shape[1])],
            "verdict": diversity.verdict_of(
                iqm["likelihood_difference"], *(iqm[g] for g in gains or ()), min_gain=min_gain
            ),
            "minus_reference": None
            if i == ref
            else {m: iqm_difference(seeds[m], points[ref]["per_seed"][m], reps) for m in measures},
        }
        if config.agent.core == "transformer":
            agent_config = config.agent
            row["transformer"] = {
                "layers": agent_config.transformer_layers,
                "heads": agent_config.transformer_heads,
                "context": agent_config.transformer_context,
            }
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- evaluate
def evaluate(
    ctx, episodes: int = EPISODES, eval_seed: int = EVAL_SEED, bootstrap_reps: int = BOOTSTRAP_REPS
) -> dict[str, Any]:
    """Every core's seeds on held-out tasks and after drift; the sweep summary.

    ``bootstrap_reps``: resamples per interval (rliable evaluates the IQM in Python once
    per resample, about a second per interval on a loaded 2-core CPU; tiny test sweeps
    use fewer).
    """
    import time

    from metarl.evaluation.families import family_of
    from metarl.sweeps import architecture_families as families

    envs_seen = {repr((c.env.name, sorted(c.env.overrides.items()))) for c in ctx.configs}
    if len(envs_seen) != 1:  # every core must play the very same episodes
        raise ValueError("an architecture sweep's points must share one env config")
    family = family_of(ctx.configs[0].env.name)
    run = {"bandit": families.evaluate_bandit, "rule_grid": families.evaluate_rule_grid}.get(family)
    if run is None:
        raise ValueError(f"the architecture analysis has no measures for the {family} family")
    start = time.perf_counter()
    result = run(ctx, episodes, eval_seed)
    points = [
        {"label": label, "core": config.agent.core, **point}
        for label, config, point in zip(ctx.labels, ctx.configs, result.points, strict=True)
    ]
    rows = core_rows(
        points,
        result.measures,
        result.gains,
        ctx.configs,
        ctx.point_agents,
        bootstrap_reps,
        min_gain=result.min_gain,
    )
    config = ctx.configs[0]
    summary = {
        "format_version": FORMAT_VERSION,
        "sweep": ctx.sweep.name,
        "family": family,
        "env": {"name": config.env.name, "overrides": dict(config.env.overrides)},
        "algo": config.algo.name,
        "episodes": episodes,
        "eval_seed": eval_seed,
        "bootstrap_reps": bootstrap_reps,
        "seeds_per_point": config.run.num_seeds,
        "measures": list(result.measures),
        "curve": {"label": result.curve_label, "ticks": result.curve_ticks},
        "reference_core": REFERENCE_CORE,
        "points": points,
        "by_core": rows,
        "references": result.references,
        "notes": result.notes,
        "evaluation_s": time.perf_counter() - start,
    }
    summary["transition"] = headline(summary)  # the line ``metarl sweep`` prints
    return summary


def _as_interval(value: Any) -> Interval:
    return Interval.from_json(value) if isinstance(value, dict) else value


def headline(summary: dict[str, Any]) -> str:
    """One line: per core, its parameters and the IQM of return, improvement, recovery,
    learner - locator and the verdict."""
    parts = []
    for row in summary["by_core"]:
        iqm = {k: _as_interval(v) for k, v in row["iqm"].items()}
        parts.append(
            f"{row['core']} ({row['params']:,} params): return "
            f"{Interval.format(iqm['held_out_return'], '.2f')}, improvement "
            f"{Interval.format(iqm['held_out_improvement'], '+.3f')}, regained "
            f"{Interval.format(iqm['recovery_regained'], '.2f')}, learner - locator "
            f"{Interval.format(iqm['likelihood_difference'], '+.3f')} -> {row['verdict']}"
        )
    return f"per core, IQM over {summary['seeds_per_point']} seeds [95% bootstrap]: " + "; ".join(
        parts
    )


# --------------------------------------------------------------------------- figure, table
PANELS = (
    ("held_out_return", "held-out return", "total reward per episode"),
    ("held_out_improvement", "in-context improvement", "(late - early) / (oracle - random)"),
    ("curve", "learning curve after freeze", ""),
    ("recovery_regained", "recovery after drift", "share of pre-change margin back at the end"),
    ("likelihood_difference", "learner - locator", "log-likelihood per choice (nats)"),
)
REFERENCE_STYLE = {
    "thompson_sampling": ("Thompson sampling", "tab:green"),
    "task_locator": ("task locator", "tab:red"),
    "oracle": ("oracle (expected)", "black"),
    "oracle_planner": ("oracle planner", "black"),
    "ruleset_learner": ("ruleset learner", "tab:green"),
    "ruleset_locator": ("ruleset locator", "tab:red"),
    "memoryless_collector": ("memoryless collector", "tab:brown"),
    "random": ("random", "0.6"),
}


def _finite(value) -> bool:
    return value is not None and np.isfinite(value)


def _scalar_panel(ax, summary, measure: str) -> None:
    rows = summary["by_core"]
    for x, (row, point) in enumerate(zip(rows, summary["points"], strict=True)):
        color = CORE_COLORS.get(row["core"], f"C{x}")
        seeds = [v for v in point["per_seed"][measure] if _finite(v)]
        jitter = np.linspace(-0.15, 0.15, len(seeds)) if len(seeds) > 1 else np.zeros(len(seeds))
        ax.scatter(x + jitter, seeds, color=color, alpha=0.35, s=12, lw=0)
        est = _as_interval(row["iqm"][measure])
        if _finite(est.value):
            err = None
            if est.has_bounds:
                err = [[est.value - est.low], [est.high - est.value]]
            ax.errorbar(x, est.value, yerr=err, color=color, marker="o", capsize=4, lw=2)
    for name, ref in summary["references"].items():
        value = ref.get(measure)
        if name in REFERENCE_STYLE and _finite(value):
            label, color = REFERENCE_STYLE[name]
            ax.axhline(value, color=color, ls="--", lw=1, label=label)
    if measure in ("likelihood_difference", "held_out_improvement", "recovery_regained"):
        ax.axhline(0.0, color="0.3", lw=0.6)
    if measure == "likelihood_difference":  # the verdict also rests on the belief gains
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.12 * (high - low))  # room for the verdicts above the lines
        for x, row in enumerate(rows):
            ax.annotate(
                row["verdict"],
                (x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, -3),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=8,
            )
    ax.set_xticks(range(len(rows)), [f"{r['core']}\n{r['params'] / 1e3:.1f}k" for r in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4)


def _curve_panel(ax, summary) -> None:
    ticks = summary["curve"]["ticks"]
    xs = np.arange(len(ticks))
    for k, row in enumerate(summary["by_core"]):
        color = CORE_COLORS.get(row["core"], f"C{k}")
        est = [_as_interval(e) for e in row["curve_iqm"]]
        ax.plot(xs, [e.value for e in est], color=color, marker="o", lw=2, label=row["core"])
        ax.fill_between(xs, [e.low for e in est], [e.high for e in est], color=color, alpha=0.2)
    for name, ref in summary["references"].items():
        if name in REFERENCE_STYLE and "curve" in ref:
            label, color = REFERENCE_STYLE[name]
            ax.plot(xs, ref["curve"], color=color, ls="--", lw=1, label=label)
    ax.set_xticks(xs, ticks, fontsize=7, rotation=45 if len(ticks) > 5 else 0)
    ax.set_xlabel("pulls" if summary["family"] == "bandit" else "trial")


def plot(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """``<out>/architecture.{png,pdf}`` (five panels and the legend) and ``<out>/architecture.md``."""
    from metarl.plotting import agg_pyplot, save_figure

    plt = agg_pyplot()
    out_dir = Path(out_dir)
    fig, grid = plt.subplots(2, 3, figsize=(14, 8.5), constrained_layout=True)
    axes, legend_ax = grid.flat[: len(PANELS)], grid.flat[len(PANELS)]
    for ax, (measure, title, ylabel) in zip(axes, PANELS, strict=True):
        if measure == "curve":
            _curve_panel(ax, summary)
            ylabel = summary["curve"]["label"]
        else:
            _scalar_panel(ax, summary, measure)
            ax.set_xlabel("core (parameters)")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=9)
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    legend_ax.axis("off")
    legend_ax.legend(list(entries.values()), list(entries), loc="upper left", fontsize=9)
    notes = summary["notes"]
    legend_ax.text(
        0.0,
        0.02,
        "\n".join(
            [
                f"held-out: {notes['held_out']}",
                f"drift: {notes['drift']}",
                "locator: "
                + (
                    "stand-in pool of prior draws" if notes["stand_in_locator"] else "training pool"
                ),
                "dots: seeds; bars/bands: IQM, 95% bootstrap over seeds",
                "verdicts: named only where that belief also adds to "
                + FLOORS.get(summary["family"], "its floor").split(" (")[0],
            ]
        ),
        transform=legend_ax.transAxes,
        fontsize=8,
        va="bottom",
        wrap=True,
    )
    steps = summary.get("env_steps_per_run", 0)
    fig.suptitle(
        f"Architecture ({summary['family'].replace('_', ' ')}): {summary['seeds_per_point']} "
        f"training seeds per core, {steps:,} env steps each, {summary['episodes']} held-out "
        "episodes per seed",
        fontsize=11,
    )
    table = out_dir / f"{FIGURE}.md"
    table.write_text(table_markdown(summary))
    return [*save_figure(fig, out_dir, FIGURE, ("png", "pdf")), table]


def _cell(value: Any, spec: str) -> str:
    est = _as_interval(value)
    if est is None or not _finite(est.value):
        return "n/a"
    return Interval.format(est, spec)


TABLE_COLUMNS = (
    ("held_out_return", "held-out return", ".2f"),
    ("held_out_improvement", "in-context improvement", "+.3f"),
    ("recovery_regained", "recovery (share regained)", ".2f"),
    ("drift_return", "return under drift", ".2f"),
    ("likelihood_difference", "learner - locator (nats/choice)", "+.3f"),
    ("learner_belief_gain", "learner adds to floor (nats/choice)", "+.4f"),
    ("locator_belief_gain", "locator adds to floor (nats/choice)", "+.4f"),
)
FLOORS = {
    "bandit": "the memoryless floor (next choice from previous action, win, tenth of the episode)",
    "rule_grid": "distance alone",
}


def table_markdown(summary: dict[str, Any]) -> str:
    """Per core: parameters, IQM [95%] of each measure, verdict; then each core minus the GRU."""
    names = [title for _, title, _ in TABLE_COLUMNS]
    header = "| core | params | width | runs | " + " | ".join(names) + " | verdict |\n"
    header += "|---" * (len(names) + 5) + "|\n"
    lines, diffs = [], []
    for row in summary["by_core"]:
        defined = row.get("defined_runs", {})
        cells = [
            _cell(row["iqm"].get(m), spec)
            # Seeds where a measure is undefined (no pre-change margin) are left out: say so.
            + (
                f" ({defined[m]}/{row['runs']} seeds)"
                if defined.get(m, row["runs"]) < row["runs"]
                else ""
            )
            for m, _, spec in TABLE_COLUMNS
        ]
        lines.append(
            f"| {row['core']} | {row['params']:,} | {row['hidden_size']} | {row['runs']} | "
            + " | ".join(cells)
            + f" | {row['verdict']} |"
        )
        if row["minus_reference"]:
            cells = [
                _cell(row["minus_reference"].get(m), "+" + spec.lstrip("+"))
                for m, _, spec in TABLE_COLUMNS
            ]
            diffs.append(
                f"| {row['core']} - {summary['reference_core']} | " + " | ".join(cells) + " |"
            )
    refs = []
    for name, ref in summary["references"].items():
        cells = [f"{ref[m]:{spec}}" if _finite(ref.get(m)) else "-" for m, _, spec in TABLE_COLUMNS]
        refs.append(f"| {name} | " + " | ".join(cells) + " |")
    diff_header = "| difference | " + " | ".join(names) + " |\n" + "|---" * (len(names) + 1) + "|\n"
    ref_header = "| reference | " + " | ".join(names) + " |\n" + "|---" * (len(names) + 1) + "|\n"
    return (
        header
        + "\n".join(lines)
        + "\n\n"
        + diff_header
        + "\n".join(diffs)
        + "\n\n"
        + ref_header
        + "\n".join(refs)
        + f"\n\n{summary.get('env_steps_per_run', 0):,} env steps per run, "
        f"{summary['episodes']} held-out episodes per seed; IQM over seeds with 95% bootstrap "
        "intervals; differences unpaired over seeds (two-sample bootstrap of the IQMs). "
        "The verdict names a belief only where the learner - locator interval excludes 0 and "
        f"that belief adds to {FLOORS.get(summary['family'], 'its floor')} (its interval "
        "above 0; bandits since 2026-12-03: above 0.001).\n"
    )
