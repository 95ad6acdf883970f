"""task_diversity_transition: from locating memorised tasks to learning in context, as N grows.

Finding: meta-trained sequence models memorise a small set of training tasks and
become general in-context learners once the tasks are many enough (Kirsch et al.
2022, "General-purpose in-context learning by meta-learning transformers", the
memorisation -> generalisation transition in the number of tasks; Raventos et al.
2023, "Pretraining task diversity and the emergence of non-Bayesian in-context
learning for regression", a task-diversity threshold). Both are published as
figures with a qualitative transition; neither is about RL bandits, so
``PUBLISHED`` records the direction only, and this asks it of an RL^2 agent.

``metarl reproduce task_diversity_transition --out DIR`` runs ``metarl sweep
task_diversity`` (``experiments/task_diversity.py``: 5-armed Bernoulli bandits, 100
pulls, a training pool of N tasks for N = 1, 4, 16, 64, 256 and inf) with 5 training
seeds and 3 pool seeds per N (90 runs; all finite N in one vmapped program, inf in
another) at ``ENV_STEPS`` per run, then reads the sweep's per-N seed-level verdicts
(learner - locator log-likelihood of held-out choices, IQM over the 15 runs with a
stratified bootstrap; ``metarl.reproduce.diversity_transition``).

Claims (rules fixed before running):

* ``locator_to_learner``: the verdicts, N ascending, are 'locator' up to some N_a and
  'learner' from the next N_b on, both non-empty, and N_b is finite: reproduced (the
  transition lies in [N_a, N_b], the bracket the seed-level intervals give). The same
  with N_b = inf, where the locator is a stand-in (the N = 256 pool): partly; or
  locators then learners in that order with 'undecided' Ns between or around them:
  partly. No learner, no locator, or a learner below a locator: not_reproduced.
* ``memorisation_falls``: the memorisation advantage ((agent - Thompson) on training
  tasks minus the same on held-out tasks) at N = 1 lies above its value at the largest
  finite N with disjoint intervals: reproduced; lower at the largest N but the
  intervals overlap: partly; not lower: not_reproduced.
"""

import dataclasses
from pathlib import Path

from metarl.experiments import load_experiment_module
from metarl.interval import Interval
from metarl.reproduce import (
    NOT_REPRODUCED,
    PARTLY,
    REPRODUCED,
    Claim,
    ClaimResult,
    Published,
    Reproduction,
    Setting,
)
from metarl.sweeps import Axis

_DIVERSITY = load_experiment_module(str(Path(__file__).resolve().parents[1] / "task_diversity.py"))

SETTING = "diversity"
SEEDS = 5
POOL_SEEDS = (0, 1, 2)
ENV_STEPS = 8_000_000
"""Per run (90 runs: 720M env steps). The sweep's own default is 10M with 36 runs; 8M keeps
the 90 runs near the 30-minute CPU budget."""


def locator_to_learner(measured: dict) -> ClaimResult:
    summary = measured[SETTING]
    pairs = list(zip(summary["num_tasks"], summary["verdicts"], strict=True))
    shown = ", ".join(f"N={n}: {v}" for n, v in pairs)
    transition = summary["transition"]
    estimate = summary["crossing"]["n_estimate"]
    where = f"; IQM crosses 0 near N={estimate:.3g}" if estimate is not None else ""
    if transition["clean"]:
        low, high = transition["between"]
        text = f"{shown}: locator up to N={low}, learner from N={high} on{where}"
        if high == "inf":
            return ClaimResult(PARTLY, text + " (only at inf, against the stand-in locator)")
        return ClaimResult(REPRODUCED, text)
    decided = [v for _, v in pairs if v in ("locator", "learner")]
    ordered = decided == sorted(decided, key=lambda v: v == "learner")
    if ordered and "locator" in decided and "learner" in decided:
        return ClaimResult(PARTLY, f"{shown}: locators then learners, with undecided Ns{where}")
    return ClaimResult(NOT_REPRODUCED, f"{shown}: no locator -> learner order")


def memorisation_falls(measured: dict) -> ClaimResult:
    summary = measured[SETTING]
    finite = [n for n in summary["num_tasks"] if n != "inf"]
    first = Interval.from_json(summary["memorisation_advantage"][f"N={finite[0]}"])
    last = Interval.from_json(summary["memorisation_advantage"][f"N={finite[-1]}"])
    text = (
        f"memorisation advantage N={finite[0]}: {first.format('+.2f')}, "
        f"N={finite[-1]}: {last.format('+.2f')}"
    )
    if first.has_bounds and last.has_bounds and first.low > last.high:
        return ClaimResult(REPRODUCED, text + ": falls, intervals disjoint")
    if last.value < first.value:
        return ClaimResult(PARTLY, text + ": lower, intervals overlap (or missing)")
    return ClaimResult(NOT_REPRODUCED, text + ": not lower")


def diversity_sweep(seeds: int, pool_seeds, env_steps: int, **run_changes):
    base = _DIVERSITY.SWEEP
    return dataclasses.replace(
        base,
        name="task_diversity_transition",
        experiment=dataclasses.replace(
            base.experiment,
            run=dataclasses.replace(
                base.experiment.run, num_seeds=seeds, total_env_steps=env_steps, **run_changes
            ),
        ),
        axes=(
            base.axes[0],
            Axis("env.overrides.task_seed", tuple(pool_seeds)),
        ),
    )


REPRODUCTION = Reproduction(
    name="task_diversity_transition",
    question=(
        "As the number N of training bandit tasks grows, does the RL^2 agent's behaviour on "
        "held-out tasks move from a task locator's (recognise a memorised task) to an "
        "in-context learner's, and where?"
    ),
    source="Kirsch et al. 2022, General-purpose in-context learning by meta-learning "
    "transformers (memorisation -> generalisation in the number of tasks); Raventos et al. "
    "2023, Pretraining task diversity and the emergence of non-Bayesian in-context learning",
    settings=(
        Setting(
            SETTING,
            "5 arms, 100 pulls, N = 1 ... inf",
            sweep=diversity_sweep(SEEDS, POOL_SEEDS, ENV_STEPS),
        ),
    ),
    published=(
        Published(SETTING, "N=1", "locator (memorises)", "qualitative"),
        Published(SETTING, "N=inf", "learner (generalises)", "qualitative"),
    ),
    claims=(
        Claim(
            "locator_to_learner",
            "seed-level verdicts locator up to N_a, learner from a finite N_b on (reproduced); "
            "only at inf, or with undecided Ns in order (partly); else not_reproduced",
            locator_to_learner,
            setting=SETTING,
        ),
        Claim(
            "memorisation_falls",
            "memorisation advantage at N=1 above the largest finite N's, intervals disjoint "
            "(reproduced); lower but overlapping (partly); else not_reproduced",
            memorisation_falls,
            setting=SETTING,
        ),
    ),
    measure="metarl.reproduce.diversity_transition",
    budget=(
        f"6 N x {len(POOL_SEEDS)} pool seeds x {SEEDS} seeds = 90 runs of {ENV_STEPS / 1e6:g}M "
        "env steps (720M in all; finite N in one vmapped program): about 25 min on a quiet "
        "2-core CPU at ~0.5M env steps/s, plus about 5 min of evaluation"
    ),
    value_label="learner - locator log-likelihood per choice (IQM)",
    notes=(
        "At N = inf there is no training pool: the locator there is the N = 256 pool of the "
        "same pool seed (a labelled stand-in), so a transition seen only at inf is partly.",
    ),
)

POD = dataclasses.replace(
    REPRODUCTION,
    variant="pod",
    settings=(
        Setting(
            SETTING,
            REPRODUCTION.settings[0].label,
            sweep=diversity_sweep(
                10, (0, 1, 2, 3, 4), 100_000_000, num_envs=1024, updates_per_chunk=500
            ),
        ),
    ),
    budget=(
        "GPU/pod: 6 N x 5 pool seeds x 10 seeds = 300 runs of 100M env steps, 1024 envs each "
        "(30B env steps); not measured here (about 25 min at an assumed 20M env steps/s)"
    ),
)
