"""Measure of volatility reproductions: the volatility probe on every frozen training seed.

For one trained setting, runs ``metarl probe --probe volatility`` (``metarl.probes.
volatility``: a Rescorla-Wagner rate fitted to the choices in a stable and a volatile
version of the bandit, same episodes, beside fixed-rate and fixed-hazard references)
once per training seed, and collects per seed:

* ``difference``: the checkpoint's fitted rate, volatile - stable;
* ``excess_over_fixed``: the checkpoint's difference minus the *largest* fixed
  reference's (the fixed-hazard Bayesians and the fixed-rate learner: a higher rate
  when volatile is necessary, not sufficient; see the probe's docstring).

Returned (JSON-ready): ``difference`` and ``excess_over_fixed`` with intervals over
training seeds (Student t; with one seed the probe's own paired episode bootstrap,
and ``interval_unit`` says so), ``table`` (volatile - stable per agent: the
checkpoint's over seeds, each reference's from the probe's bootstrap; references
do not depend on the seed index), ``checkpoint_minus`` (the checkpoint's excess over
each reference, over seeds), the probe's verdict per seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metarl.interval import Interval
from metarl.reproduce.context import SettingContext
from metarl.reproduce.spec import CHECKPOINT

EPISODES = 256
PROBE_SEED = 0
PROBE = "volatility"


def check_options(options: dict[str, Any]) -> None:
    from metarl.errors import ConfigError
    from metarl.probes.run_probes import MIN_EPISODES

    episodes = int(options.get("episodes", EPISODES))
    if episodes < MIN_EPISODES:
        raise ConfigError(
            f"measure: field 'measure.episodes' = {episodes} is out of range; "
            f"allowed: at least {MIN_EPISODES}"
        )


def _over_seeds(values: list[float], fallback: Interval) -> tuple[Interval, str]:
    from metarl.evaluation.statistics import seed_interval

    if len(values) < 2:
        return fallback, "episodes only (the probe's paired bootstrap; ONE training seed)"
    mean, low, high = seed_interval(values)
    return Interval(mean, low, high), f"training seeds (Student t over {len(values)} seeds)"


def measure(
    context: SettingContext, episodes: int = EPISODES, probe_seed: int = PROBE_SEED
) -> dict[str, Any]:
    """Probe every training seed; the seed-level summary (module docstring)."""
    from metarl.probes.run_probes import SUMMARY_FILE, probe_run
    from metarl.reporting import read_json
    from metarl.runner.run_dir import RunDir

    num_seeds = RunDir(context.run_dir).read_config().run.num_seeds
    per_seed: list[dict[str, Any]] = []
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
        per_seed.append(read_json(directory / SUMMARY_FILE))
    results = [s["results"] for s in per_seed]
    fixed = results[0]["fixed_references"]
    agents = results[0]["agents"]
    differences = [r["agents"]["checkpoint"]["difference"] for r in results]
    excess_by_ref = {
        name: [r["agents"][name]["checkpoint_difference_minus_this"] for r in results]
        for name in agents
        if name != "checkpoint"
    }
    # Per seed: the excess over the hardest fixed reference (the one it beats by least).
    hardest = [
        min((excess_by_ref[name][i] for name in fixed), key=lambda e: e["value"])
        for i in range(num_seeds)
    ]
    difference, unit = _over_seeds(
        [d["value"] for d in differences], Interval.from_json(differences[0])
    )
    excess, _ = _over_seeds([h["value"] for h in hardest], Interval.from_json(hardest[0]))
    table = {CHECKPOINT: difference}
    table.update({name: row["difference"] for name, row in agents.items() if name != "checkpoint"})
    minus = {
        name: _over_seeds([e["value"] for e in values], Interval.from_json(values[0]))[0]
        for name, values in excess_by_ref.items()
    }
    return {
        "episodes": episodes,
        "probe_seed": probe_seed,
        "num_seeds": num_seeds,
        "conditions": results[0]["conditions"],
        "fixed_references": fixed,
        "difference": difference,
        "excess_over_fixed": excess,
        "interval_unit": unit,
        "table": table,
        "checkpoint_minus": minus,
        "per_seed": {
            "difference": [d["value"] for d in differences],
            "excess_over_fixed": [h["value"] for h in hardest],
            "verdict": [s["verdict"]["label"] for s in per_seed],
        },
        "checkpoint_update": per_seed[0]["checkpoint"]["update"],
        "mean_reward": {
            "stable": float(
                np.mean([r["agents"]["checkpoint"]["mean_reward_stable"] for r in results])
            ),
            "volatile": float(
                np.mean([r["agents"]["checkpoint"]["mean_reward_volatile"] for r in results])
            ),
        },
    }
