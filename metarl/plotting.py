"""Figures from run-directory files only (never a checkpoint): PNG + PDF with matplotlib (Agg).

* ``plot_eval_dir(run/eval/<suite>)``: the learning-after-freeze figure of one
  suite from its ``summary.json`` and ``curves.npz``: reward per step (or per
  trial) with 95% bootstrap bands, P(optimal action), cumulative regret, recovery
  after a drift event or steps per trial (mazes), and total reward per agent with
  intervals; the checkpoint, its references, random and the oracle overlaid.
* ``plot_training(run)``: episode return and regret over training from ``metrics.jsonl``.
* ``plot_run(run)``: both, for every suite evaluated so far.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

FIGURE_NAME = "learning_curves"
TRAINING_FIGURE = "training"
CHECKPOINT = "checkpoint"
ORACLE = "oracle"
MIN_EPISODES_PER_POINT = 20
MIN_FRACTION_PER_POINT = 0.1
"""A curve point is drawn only if at least this many / this fraction of episodes reach it."""
RANDOM = "random"
CHECKPOINT_COLOR = "#1f4e9c"
# tab10 without its blue (the checkpoint) and grey (random), then a few darker extras.
REFERENCE_COLORS = [
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#843c39",
]


def agg_pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, same pixels everywhere
    import matplotlib.pyplot as plt

    return plt


def MaxNLocator(**kwargs):  # noqa: N802 - matplotlib's class, imported late with the backend
    from matplotlib.ticker import MaxNLocator as locator

    return locator(**kwargs)


def _agents_in_order(summary: dict) -> list[str]:
    """Checkpoint first, then references, then random; the oracle is drawn apart."""
    names = [n for n in summary["agents"] if n != ORACLE and not n.startswith(f"{CHECKPOINT}_seed")]
    references = [n for n in names if n not in (CHECKPOINT, RANDOM)]
    return [CHECKPOINT, *references, RANDOM]


def _style(name: str, references: list[str]) -> dict:
    if name == CHECKPOINT:
        return {"color": CHECKPOINT_COLOR, "lw": 2.2, "zorder": 5, "label": "checkpoint (frozen)"}
    if name == RANDOM:
        return {"color": "0.55", "lw": 1.3, "zorder": 2, "label": "random"}
    if name == ORACLE:
        return {"color": "black", "lw": 1.3, "ls": "--", "zorder": 4, "label": "oracle (expected)"}
    color = REFERENCE_COLORS[references.index(name) % len(REFERENCE_COLORS)]
    return {"color": color, "lw": 1.4, "zorder": 3, "label": name.replace("_", " ")}


def _band(ax, x, curves, key: str, name: str, references: list[str]) -> bool:
    if f"{name}/{key}/mean" not in curves:
        return False
    style = _style(name, references)
    mean = curves[f"{name}/{key}/mean"]
    low, high = curves[f"{name}/{key}/low"], curves[f"{name}/{key}/high"]
    counts = curves.get(f"{name}/{key}/episodes")
    if counts is not None and counts.max() > 0:
        # Points few episodes reach (late maze trials) are noise and survivorship: hide them.
        sparse = counts < max(MIN_EPISODES_PER_POINT, MIN_FRACTION_PER_POINT * counts.max())
        mean, low, high = (np.where(sparse, np.nan, a) for a in (mean, low, high))
    ax.plot(x[: len(mean)], mean, **style)
    ax.fill_between(
        x[: len(mean)], low, high, color=style["color"], alpha=0.2, lw=0, zorder=style["zorder"] - 1
    )
    return True


def _mark_change(ax, summary: dict, unit: str) -> None:
    """A dotted line between the last point before a scheduled change and the first after."""
    if unit == "step":
        change = summary["suite"].get("change_step")
    else:
        change = summary["curve"].get("change_point_index")
    if change is None:
        return
    # Point p (0-based) is drawn at x = p + 1; the change follows point `change`.
    ax.axvline(change + 1.5, color="0.3", lw=0.9, ls=":", zorder=1)
    ax.text(
        change + 1.5,
        0.98,
        " change",
        transform=ax.get_xaxis_transform(),
        va="top",
        ha="left",
        fontsize=8,
        color="0.3",
    )


def _seed_lines(ax, x, curves, key: str) -> None:
    index = 0
    while f"{CHECKPOINT}_seed{index}/{key}/mean" in curves:
        mean = curves[f"{CHECKPOINT}_seed{index}/{key}/mean"]
        counts = curves.get(f"{CHECKPOINT}_seed{index}/{key}/episodes")
        if counts is not None and counts.max() > 0:
            mean = np.where(
                counts < max(MIN_EPISODES_PER_POINT, MIN_FRACTION_PER_POINT * counts.max()),
                np.nan,
                mean,
            )
        ax.plot(x[: len(mean)], mean, color=CHECKPOINT_COLOR, lw=0.7, alpha=0.45, zorder=4)
        index += 1


def _curve_panel(
    ax, summary, curves, key, names, references, unit, ylabel, title, oracle=False
) -> None:
    points = len(curves[f"{CHECKPOINT}/{key}/mean"])
    x = np.arange(1, points + 1)
    for name in reversed(names):
        _band(ax, x, curves, key, name, references)
    _seed_lines(ax, x, curves, key)
    if oracle:
        _band(ax, x, curves, key, ORACLE, references)
    ax.set_xlabel(f"{unit} within episode (1 = first)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(1, max(points, 2))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if unit in ("step", summary["curve"]["unit"]):  # maze trial counts have no fixed change point
        _mark_change(ax, summary, unit)
    ax.grid(alpha=0.25)


def _recovery_panel(ax, summary, curves, names, references) -> None:
    info = summary["recovery"]
    before = info["window_before"]
    points = len(curves[f"{CHECKPOINT}/recovery/mean"])
    x = np.arange(points) - before
    for name in reversed(names):
        _band(ax, x, curves, "recovery", name, references)
    ax.axvline(-0.5, color="0.3", lw=0.9, ls=":")
    recovery = summary["agents"][CHECKPOINT].get("recovery") or {}
    pre, baseline = recovery.get("pre_change"), recovery.get("pre_change_baseline")
    status = recovery.get("status")
    unit = summary["curve"]["unit"]
    if pre is not None and baseline is not None and status != "no margin over baseline":
        # The target against random's pre-change level (exact when random's level is flat).
        target = baseline + info["threshold"] * (pre - baseline)
        ax.axhline(target, color=CHECKPOINT_COLOR, lw=0.8, ls="--", alpha=0.7)
    steps = recovery.get("steps")
    if steps is not None:
        high = recovery.get("high")
        interval = f" [{recovery.get('low'):g}, {'>window' if high is None else f'{high:g}'}]"
        text = f"checkpoint regains 90% of its margin over random (dashed) in {steps:g}{interval} {unit}s"
    elif status == "no margin over baseline":
        text = "checkpoint: no pre-change margin over random to regain"
    else:
        text = "checkpoint: 90% of its margin over random (dashed) not regained"
    measure = {
        "optimal_action": "P(optimal action)",
        "expected_reward": "expected reward per step",
    }.get(info["measure"], "reward per step")
    if summary["curve"]["unit"] == "trial":
        measure += " (trial mean)"
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    unit = summary["curve"]["unit"]
    ax.set_xlabel(f"{unit}s since the change (0 = first changed {unit})")
    ax.set_ylabel(measure)
    ax.set_title(
        f"recovery after a drift event ({recovery.get('episodes_with_event', '?')} episodes)\n{text}",
        fontsize=9,
    )
    ax.grid(alpha=0.25)


def _totals_panel(ax, summary, names, references) -> None:
    rows = list(names)
    if ORACLE in summary["agents"]:
        rows.append(ORACLE)
    for row, name in enumerate(rows):
        entry = summary["agents"][name]
        total = entry.get("total_reward") or entry.get("total_expected_reward")
        style = _style(name, references)
        mean, low, high = _interval_parts(total)
        if name == ORACLE:
            ax.barh(row, mean, color="white", edgecolor="black", hatch="//", lw=0.8, height=0.7)
        else:
            ax.barh(row, mean, color=style["color"], alpha=0.85, height=0.7)
        if low is not None and high is not None:
            # A percentile interval may (rarely) sit beside its point estimate.
            xerr = [[max(mean - low, 0.0)], [max(high - mean, 0.0)]]
            ax.errorbar(mean, row, xerr=xerr, color="black", capsize=3, lw=1)
        # Written past the interval's end, so the value never sits on the error bar.
        end = mean if high is None else max(mean, high)
        ax.text(end, row, f"  {mean:.2f}", va="center", ha="left", fontsize=8)
    ax.set_yticks(range(len(rows)), [_style(n, references)["label"] for n in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("total reward per episode (mean, 95% CI)")
    ax.set_title("episode total", fontsize=10)
    totals = [
        summary["agents"][n].get("total_reward") or summary["agents"][n]["total_expected_reward"]
        for n in rows
    ]
    ends = [v for t in totals for v in _interval_parts(t) if v is not None]
    low, high = min(0.0, min(ends)), max(0.0, max(ends))
    pad = 0.2 * max(high - low, 1e-9)  # room for the value labels
    ax.set_xlim(low - (pad if low < 0 else 0.0), high + pad)
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.grid(alpha=0.25, axis="x")


def _interval_parts(entry: dict) -> tuple[float | None, float | None, float | None]:
    """(value, low, high) of a summary's interval, ``{"value", "low", "high"}`` (None: unknown)."""
    return entry.get("value"), entry.get("low"), entry.get("high")


def _format_interval(entry: dict | None, digits: int = 2, signed: bool = False) -> str:
    if not entry or entry.get("value") is None:
        return "n/a"
    sign = "+" if signed else ""
    value, low, high = _interval_parts(entry)
    text = f"{value:{sign}.{digits}f}"
    if low is not None and high is not None:
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def _numbers_panel(ax, summary: dict) -> None:
    """The checkpoint's headline numbers, as text (95% intervals over episodes)."""
    ax.set_visible(True)
    ax.axis("off")
    agents = summary["agents"]
    mine = agents[CHECKPOINT]
    lines = [f"checkpoint, update {summary['checkpoint']['update']} (95% CI over episodes)", ""]
    lines.append(f"total reward           {_format_interval(mine.get('total_reward'))}")
    if ORACLE in agents:
        lines.append(
            f"oracle (expected)      {_format_interval(agents[ORACLE].get('total_expected_reward'))}"
        )
    if RANDOM in agents:
        lines.append(
            f"random                 {_format_interval(agents[RANDOM].get('total_reward'))}"
        )
    best = max(
        (
            n
            for n in agents
            if n not in (CHECKPOINT, ORACLE, RANDOM) and not n.startswith(f"{CHECKPOINT}_seed")
        ),
        key=lambda n: agents[n]["total_reward"]["value"],
        default=None,
    )
    if best is not None:
        lines.append(
            f"minus {best.replace('_', ' ')[:16]:16s} {_format_interval(agents[best].get('checkpoint_minus_this'), signed=True)}"
        )
    lines.append(f"in-context improvement {_format_interval(mine.get('in_context_improvement'))}")
    lines.append(f"area / oracle's area   {_format_interval(mine.get('area_fraction_of_oracle'))}")
    if "total_regret" in mine:
        lines.append(f"total regret           {_format_interval(mine.get('total_regret'))}")
    if "optimal_action_rate" in mine:
        lines.append(
            f"P(optimal), last 10%   {_format_interval(mine.get('late_optimal_action_rate'))}"
        )
    seeds = mine.get("over_training_seeds", {}).get("total_reward")
    if seeds and seeds.get("seeds", 1) > 1:
        lines.append(f"total over {seeds['seeds']} seeds (t)  {_format_interval(seeds)}")
    ax.text(
        0.0,
        0.95,
        "\n".join(lines),
        transform=ax.transAxes,
        va="top",
        ha="left",
        fontsize=8.5,
        family="monospace",
    )


def _eval_panels(summary: dict, curves: dict) -> list[str]:
    """The panels an eval figure has, in order (the curves the suite's summary holds)."""
    # Fixed multi-step trials (two-step, rule grid) are plotted per trial: per step,
    # the curves would zigzag between the stages of each trial.
    panels = ["trial_reward"] if summary["curve"]["unit"] == "trial" else ["reward"]
    for name in ("optimal_action", "cumulative_regret", "trial_length"):
        if f"{CHECKPOINT}/{name}/mean" in curves:
            panels.append(name)
    if f"{CHECKPOINT}/recovery/mean" in curves and summary.get("recovery"):
        panels.append("recovery")
    panels.append("totals")
    return panels


def _curve_panel_labels(panel: str, unit: str) -> tuple[str, str, str, bool]:
    """(x unit, y label, title, draw the oracle) of one curve panel of an eval figure."""
    trial_mean = " (trial mean)" if unit == "trial" else ""
    return {
        "reward": ("step", "mean reward per step", "reward per step (learning after freeze)", True),
        "trial_reward": (
            "trial",
            "mean reward per trial",
            "reward per trial (learning after freeze)",
            True,
        ),
        "optimal_action": (
            unit,
            "P(optimal action)",
            "probability of the optimal action" + trial_mean,
            False,
        ),
        "cumulative_regret": (
            "step",
            "cumulative regret (reward units)",
            "cumulative regret (expected)",
            False,
        ),
        "trial_length": (
            "trial",
            "steps to finish the trial",
            "steps per completed trial (episodes that complete it)",
            False,
        ),
    }[panel]


def _eval_legend(legend_ax, handles, labels, names: list[str], references: list[str]) -> None:
    order = [_style(n, references)["label"] for n in [*names, ORACLE]]
    pairs = sorted(
        zip(labels, handles, strict=True), key=lambda p: order.index(p[0]) if p[0] in order else 99
    )
    legend_ax.set_visible(True)
    legend_ax.axis("off")
    legend_ax.legend(
        [h for _, h in pairs],
        [lab for lab, _ in pairs],
        loc="center",
        fontsize=9,
        frameon=False,
        title="agents (bands: 95% bootstrap CI)",
        title_fontsize=9,
    )


def _eval_title(summary: dict) -> str:
    checkpoint = summary["checkpoint"]
    suite = summary["suite"]
    return (
        f"{summary['run']['name']} ({summary['run']['experiment']}, {summary['env']['name']}): suite '{suite['name']}', "
        f"checkpoint update {checkpoint['update']} ({checkpoint['requested']}, {checkpoint['num_seeds']} seed(s), "
        f"{checkpoint['actions']} actions)\n{suite['description']}; {summary['episodes']} episodes, "
        f"eval seed {summary['seed']}"
    )


def plot_eval_dir(directory: str | Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Draw ``learning_curves.{png,pdf}`` in an eval suite directory from its files."""
    plt = agg_pyplot()
    directory = Path(directory)
    summary = json.loads((directory / "summary.json").read_text())
    with np.load(directory / "curves.npz") as data:
        curves = {k: data[k] for k in data.files}
    names = _agents_in_order(summary)
    references = [n for n in names if n not in (CHECKPOINT, RANDOM)]
    unit = summary["curve"]["unit"]
    panels = _eval_panels(summary, curves)

    columns = 3
    rows = math.ceil((len(panels) + 1) / columns)  # + 1: a slot for the legend
    fig, axes = plt.subplots(
        rows, columns, figsize=(5.0 * columns, 3.8 * rows + 0.6), layout="constrained"
    )
    axes = np.atleast_1d(axes).ravel()
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    legend_ax = axes[len(panels)]
    if len(axes) > len(panels) + 1:  # a free slot: the checkpoint's key numbers
        _numbers_panel(axes[len(panels) + 1], summary)
    for ax, panel in zip(axes, panels, strict=False):
        if panel == "recovery":
            _recovery_panel(ax, summary, curves, names, references)
        elif panel == "totals":
            _totals_panel(ax, summary, names, references)
        else:
            x_unit, ylabel, title, oracle = _curve_panel_labels(panel, unit)
            _curve_panel(
                ax, summary, curves, panel, names, references, x_unit, ylabel, title, oracle=oracle
            )
            if panel in ("reward", "trial_reward"):  # the first panel: every agent drawn
                handles, labels = ax.get_legend_handles_labels()
            if panel == "optimal_action":
                ax.set_ylim(0, 1.02)
    _eval_legend(legend_ax, handles, labels, names, references)
    fig.suptitle(_eval_title(summary), fontsize=10)
    return save_figure(fig, directory, FIGURE_NAME, formats)


def save_figure(fig, directory: Path, name: str, formats: tuple[str, ...]) -> list[Path]:
    """Write ``directory/name.<fmt>`` for each format, close ``fig``; the paths written.

    No creation dates or software versions go into the files, so the same inputs
    give the same bytes.
    """
    fixed_metadata = {
        "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
        "png": {"Software": None},
    }
    written = []
    for fmt in formats:
        path = Path(directory) / f"{name}.{fmt}"
        fig.savefig(path, dpi=110, metadata=fixed_metadata.get(fmt, {}))
        written.append(path)
    agg_pyplot().close(fig)
    return written


def plot_training(run_dir: str | Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """``<run>/plots/training.{png,pdf}``: episode return (and regret) per seed over env steps."""
    run_dir = Path(run_dir)
    metrics_path = run_dir / "metrics.jsonl"
    if not metrics_path.is_file():
        return []
    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    if not records:
        return []
    plt = agg_pyplot()
    steps = np.array([r["env_steps"] for r in records], np.float64)
    keys = [
        k
        for k in ("mean_episode_return", "mean_regret_per_step", "entropy")
        if records[0].get(k) is not None
    ]
    labels = {
        "mean_episode_return": "mean episode return",
        "mean_regret_per_step": "regret per step (reward units)",
        "entropy": "policy entropy (nats)",
    }
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.4), constrained_layout=True)
    for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
        per_seed = np.array(
            [
                [np.nan if v is None else v for v in r.get(f"{key}_per_seed", [r[key]])]
                for r in records
            ],
            np.float64,
        )
        if per_seed.shape[1] > 1:
            for seed in range(per_seed.shape[1]):
                ax.plot(steps, per_seed[:, seed], lw=0.8, alpha=0.5, color=CHECKPOINT_COLOR)
        ax.plot(steps, np.nanmean(per_seed, axis=1), lw=2, color=CHECKPOINT_COLOR)
        ax.set_xlabel("env steps per seed")
        ax.set_ylabel(labels[key])
        ax.grid(alpha=0.25)
    seeds = per_seed.shape[1]
    detail = f"{seeds} seeds; thin: per seed, thick: mean" if seeds > 1 else "1 seed"
    fig.suptitle(f"{run_dir.name}: training ({detail}; one point per logged chunk)", fontsize=10)
    out_dir = run_dir / "plots"
    out_dir.mkdir(exist_ok=True)
    return save_figure(fig, out_dir, TRAINING_FIGURE, formats)


def eval_dirs(run_dir: str | Path) -> list[Path]:
    """Every ``<run>/eval/<suite>/`` holding a summary.json and curves.npz."""
    root = Path(run_dir) / "eval"
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if (p / "summary.json").is_file() and (p / "curves.npz").is_file()
    )


def plot_run(run_dir: str | Path, suites: list[str] | None = None) -> list[Path]:
    """Plot training and every evaluated suite (or only ``suites``) of a run dir."""
    written = plot_training(run_dir)
    for directory in eval_dirs(run_dir):
        if suites is None or directory.name in suites:
            written.extend(plot_eval_dir(directory))
    return written
