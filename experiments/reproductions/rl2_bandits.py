"""rl2_bandits: does a meta-trained recurrent agent explore Bernoulli bandits like Gittins?

Reproduces Duan et al. (2016), "RL^2: Fast reinforcement learning via slow
reinforcement learning", arXiv:1611.02779, Table 1 (multi-armed bandits): Bernoulli
arms with means ~ U(0, 1) drawn fresh every episode, n pulls, k arms; the trained
RL^2 agent's mean total reward per episode beside random, Gittins, Thompson sampling
(TS), optimistic TS (OTS), UCB1, epsilon-greedy and greedy. The paper's finding for
these settings: RL^2 is on par with Gittins (78.7 vs 78.3 at k=5, n=100; 83.5 vs
82.8 at k=10, n=100; 6.7 vs 6.6 at k=5, n=10) and above TS.

``metarl reproduce rl2_bandits --out DIR`` trains the RL^2 GRU agent of
``bandit_default`` (A2C, gamma 0.9, entropy 0.05 annealed to 0, lr 3e-3 linear, 256
envs x 20-step rollouts; its tuning is in that file) in each setting, 3 training
seeds vmapped in one program per setting, then plays every seed and every reference
on the same 10,000 fresh episodes (sampled actions; ``metarl.reproduce.bandit_table``).
Our references are ``metarl eval``'s: UCB1's constant is grid-searched per setting
as RL^2 did, epsilon-greedy uses epsilon 0.05 (it lands on RL^2's column), greedy is
the Beta(1, 1) posterior-mean player (epsilon 0: RL^2's "greedy" initialises its
means with one success and one failure, the same thing), Gittins is the
finite-horizon Gittins index; OTS is not implemented (its row shows the published
value only). At n=10 the exact Bayes-optimal player (a DP over posterior counts) is
played too: the ceiling no agent can beat in expectation.

Claims, with rules fixed here before running (``TOLERANCE_FRACTION`` of n is the
smallest gap we call a difference: 1.0 at n=100, 0.1 at n=10, the paper's rounding):

* ``matches_gittins[S]``: the paired checkpoint - Gittins difference (same episodes)
  has an interval over training seeds that includes 0 or lies above it, and reaches
  no lower than -tolerance (so "includes 0" cannot be bought by a wide interval):
  reproduced; an interval that reaches above -tolerance otherwise (within tolerance
  of Gittins but below it, or too wide to tell): partly; wholly below -tolerance:
  not_reproduced.
* ``beats_thompson[S]``: checkpoint - TS interval above 0: reproduced; including 0:
  partly; below 0: not_reproduced.
* ``gittins_as_published[S]``: our Gittins reference matches the paper's Gittins
  column (so the bar in ``matches_gittins`` is the paper's bar): the difference is
  within 1.96 combined standard errors (ours over 10,000 episodes, the paper's over
  1000 with the same spread) plus 0.05 for the published rounding: reproduced;
  within that plus tolerance: partly; further: not_reproduced.

Budget (CPU variant): see ``CPU_BUDGET``; the pod variant (``--variant pod``) is
RL^2's own scale (GRU 256, many more env steps, 5 seeds) with the discount rising
from 0.9 to RL^2's 0.99 (see ``POD``).

Expected at the CPU budget (written before the full run): bandit_default (1 seed,
150M env steps) sat 0.85 below Gittins at k=5 and, at k=10, earned 81.66 where our
Gittins earns 83.85 +- 0.22 (the pilot's 10,000 episodes); 120M env steps per seed
will not close that, so ``matches_gittins`` is likely partly at k=5 and not_reproduced
at k=10, and ``gittins_as_published`` partly at k=10 (our finite-horizon Gittins is
about 1 point above the paper's approximation: our bar is the higher one). The pod
variant is the budget sized to close the gap.
"""

import dataclasses
import functools
import math
from pathlib import Path

from metarl.config import EnvConfig
from metarl.experiments import load_experiment
from metarl.interval import Interval
from metarl.reproduce import (
    CHECKPOINT,
    NOT_REPRODUCED,
    PARTLY,
    REPRODUCED,
    Claim,
    ClaimResult,
    Published,
    Reproduction,
    Setting,
)

# bandit_default's tuned agent and A2C settings, read from that file so they cannot drift apart.
_DEFAULT = load_experiment(str(Path(__file__).resolve().parents[1] / "bandit_default.py"))

SETTINGS = {  # name: (label, arms k, pulls n)
    "k5_n100": ("k=5, n=100", 5, 100),
    "k10_n100": ("k=10, n=100", 10, 100),
    "k5_n10": ("k=5, n=10", 5, 10),
}
# RL^2 Table 1, columns Random, Gittins, TS, OTS, UCB1, epsilon-greedy, Greedy, RL^2; each a
# mean over 1000 episodes. The k=5 n=100 row is also in tests/evaluation/test_baselines_bandit.py;
# the issue quoted random/TS/UCB1/Gittins/RL^2 at k=5, TS/Gittins/RL^2 at k=10 and
# Gittins/RL^2 at n=10; the other cells were transcribed from the paper's table.
COLUMNS = (
    "random",
    "gittins",
    "thompson_sampling",
    "optimistic_thompson_sampling",
    "ucb1",
    "epsilon_greedy",
    "greedy",
    CHECKPOINT,
)
TABLE_1 = {
    "k5_n10": (5.0, 6.6, 5.7, 6.5, 6.7, 6.6, 6.6, 6.7),
    "k5_n100": (49.9, 78.3, 74.7, 77.9, 78.0, 75.4, 74.8, 78.7),
    "k10_n100": (49.9, 82.8, 76.7, 81.4, 80.6, 77.4, 77.1, 83.5),
}
PUBLISHED_EPISODES = 1000
"""Episodes behind each published mean (its standard error: spread / sqrt(1000))."""
PUBLISHED_ROUNDING = 0.05
"""Published means are rounded to 0.1."""
TOLERANCE_FRACTION = 0.01
"""The smallest gap in mean total reward we call a difference, as a fraction of n pulls."""
Z_95 = 1.959963984540054

PUBLISHED = tuple(
    Published(
        setting,
        agent,
        value,
        "RL^2 (the paper's trained agent)" if agent == CHECKPOINT else "",
    )
    for setting, row in TABLE_1.items()
    for agent, value in zip(COLUMNS, row, strict=True)
)


# ------------------------------------------------------------------ claim rules
def _tolerance(summary: dict) -> float:
    return TOLERANCE_FRACTION * float(summary["horizon"])


def matches_gittins(setting: str, measured: dict) -> ClaimResult:
    summary = measured[setting]
    diff = Interval.from_json(summary["checkpoint_minus"]["gittins"])
    tol = _tolerance(summary)
    text = f"checkpoint - Gittins {diff.format('+.2f')} over {summary['interval_unit']}; tolerance {tol:g}"
    if not diff.has_bounds:
        return ClaimResult(PARTLY, text + ": no interval, so no decision")
    if diff.high >= 0.0 and diff.low >= -tol:
        return ClaimResult(REPRODUCED, text + ": includes 0 or lies above it, within tolerance")
    if diff.high >= -tol:
        why = "below 0 but within tolerance" if diff.high < 0 else "too wide to tell"
        return ClaimResult(PARTLY, f"{text}: {why}")
    return ClaimResult(NOT_REPRODUCED, text + ": wholly below -tolerance")


def beats_thompson(setting: str, measured: dict) -> ClaimResult:
    summary = measured[setting]
    diff = Interval.from_json(summary["checkpoint_minus"]["thompson_sampling"])
    text = f"checkpoint - Thompson sampling {diff.format('+.2f')} over {summary['interval_unit']}"
    if diff.above(0.0):
        return ClaimResult(REPRODUCED, text + ": above 0")
    if diff.below(0.0):
        return ClaimResult(NOT_REPRODUCED, text + ": below 0")
    return ClaimResult(PARTLY, text + ": includes 0 (or has no interval)")


def gittins_as_published(setting: str, measured: dict) -> ClaimResult:
    summary = measured[setting]
    ours = Interval.from_json(summary["table"]["gittins"])
    published = dict(zip(COLUMNS, TABLE_1[setting], strict=True))["gittins"]
    se_ours = ours.half_width / Z_95
    se_published = summary["spread"]["gittins"] / math.sqrt(PUBLISHED_EPISODES)
    allowed = Z_95 * math.hypot(se_ours, se_published) + PUBLISHED_ROUNDING
    gap = ours.value - published
    text = (
        f"our Gittins {ours.format('.2f')} vs published {published:g}: {gap:+.2f}, "
        f"sampling allowance {allowed:.2f}"
    )
    if abs(gap) <= allowed:
        return ClaimResult(REPRODUCED, text + ": within it")
    if abs(gap) <= allowed + _tolerance(summary):
        return ClaimResult(PARTLY, text + f": within it plus tolerance {_tolerance(summary):g}")
    return ClaimResult(NOT_REPRODUCED, text + ": beyond it plus tolerance")


def claims_for(settings) -> tuple[Claim, ...]:
    out = []
    for name in settings:
        label = SETTINGS[name][0]
        out += [
            Claim(
                f"matches_gittins[{name}]",
                f"{label}: checkpoint - Gittins interval includes 0 or lies above it, low end "
                f">= -{TOLERANCE_FRACTION:g} n (reproduced); high end >= -{TOLERANCE_FRACTION:g} n "
                "(partly); else not_reproduced",
                functools.partial(matches_gittins, name),
                setting=name,
                agents=(CHECKPOINT, "gittins"),
            ),
            Claim(
                f"beats_thompson[{name}]",
                f"{label}: checkpoint - Thompson sampling interval above 0 (reproduced), "
                "including 0 (partly), below 0 (not_reproduced)",
                functools.partial(beats_thompson, name),
                setting=name,
                agents=(CHECKPOINT, "thompson_sampling"),
            ),
            Claim(
                f"gittins_as_published[{name}]",
                f"{label}: our Gittins minus the paper's within 1.96 combined s.e. + 0.05 "
                f"(reproduced), within that + {TOLERANCE_FRACTION:g} n (partly), else not_reproduced",
                functools.partial(gittins_as_published, name),
                setting=name,
                agents=("gittins",),
            ),
        ]
    return tuple(out)


# ------------------------------------------------------------------ settings
def setting_config(name: str, run, agent=None):
    """bandit_default with the setting's arms and pulls, ``run`` and optionally ``agent``."""
    _, arms, pulls = SETTINGS[name]
    return dataclasses.replace(
        _DEFAULT,
        name=f"rl2_bandits_{name}",
        description=f"RL^2 Table 1 setting {SETTINGS[name][0]} (metarl reproduce rl2_bandits)",
        env=EnvConfig(name="bandit-bernoulli-v0", overrides={"num_arms": arms, "horizon": pulls}),
        agent=agent or _DEFAULT.agent,
        run=run,
    )


CPU_SEEDS = 3
CPU_ENV_STEPS = {"k5_n100": 120_000_000, "k10_n100": 120_000_000, "k5_n10": 30_000_000}
"""Env steps per seed. n=10 episodes are 10x shorter and its policy simpler, so it gets a
quarter of the others' budget."""
CPU_BUDGET = (
    "3 training seeds vmapped per setting; 120M env steps per seed at n=100, 30M at n=10 "
    "(810M env steps in all): about 28 min on a quiet 2-core CPU at bandit_default's measured "
    "~0.55M env steps/s, plus about 2 min of evaluation (10,000 episodes per setting)"
)
"""The pilot (2026-12-02, 3 settings x 3 seeds x 6.1M env steps, the full 10,000-episode
evaluation; a 2-core machine shared with other jobs at load 9-12): the vmapped 3-seed program
ran 145-240k env steps/s wall clock while getting 40-80% of one core, about 0.37M env steps
per CPU-second; evaluation took 49-92 s per setting at that load."""


def _cpu_run(name: str):
    return dataclasses.replace(
        _DEFAULT.run,
        num_seeds=CPU_SEEDS,
        total_env_steps=CPU_ENV_STEPS[name],
        checkpoint_every_chunks=5,
    )


REPRODUCTION = Reproduction(
    name="rl2_bandits",
    question=(
        "Does an RL^2 recurrent agent meta-trained on Bernoulli bandits (arm means ~ U(0,1)) "
        "earn as much per episode as the Gittins index player, and more than Thompson "
        "sampling, at (k=5, n=100), (k=10, n=100) and (k=5, n=10)?"
    ),
    source="Duan et al. 2016, RL^2: Fast Reinforcement Learning via Slow Reinforcement "
    "Learning, arXiv:1611.02779, Table 1",
    settings=tuple(
        Setting(name, SETTINGS[name][0], config=setting_config(name, _cpu_run(name)))
        for name in SETTINGS
    ),
    published=PUBLISHED,
    claims=claims_for(SETTINGS),
    measure="metarl.reproduce.bandit_table",
    measure_options={"episodes": 10_000, "eval_seed": 20161102, "greedy": False},
    budget=CPU_BUDGET,
    value_label="mean total reward per episode",
    notes=(
        "Sampled actions (the trained stochastic policy, as trained); the references are "
        "metarl eval's (UCB1's constant grid-searched per setting, epsilon 0.05).",
        "optimistic_thompson_sampling (OTS) is not implemented: its row shows the published "
        "value only.",
        "Published means are over 1000 episodes; ours over 10,000 shared episodes.",
    ),
)

POD_SEEDS = 5
POD_ENV_STEPS = {"k5_n100": 2_000_000_000, "k10_n100": 2_000_000_000, "k5_n10": 500_000_000}

POD = REPRODUCTION.resized(
    budget=(
        "GPU/pod: GRU 256 (RL^2's size), 2048 envs x 20 steps per seed, 5 seeds vmapped, 2B env "
        "steps per seed at n=100 and 0.5B at n=10 (22.5B env steps in all), 100,000 evaluation "
        "episodes; not measured here: at an assumed 20M env steps/s on one accelerator, about "
        "20 min in all"
    ),
    run=lambda name: {
        "num_envs": 2048,
        "num_seeds": POD_SEEDS,
        "total_env_steps": POD_ENV_STEPS[name],
        "updates_per_chunk": 500,
        "checkpoint_every_chunks": 4,
    },
    agent={"hidden_size": 256},
    # A discount rising to 0.99: at 0.9 even a perfectly trained agent stays 1.11 below
    # Gittins at k=10 (the Gittins index at 0.9 earns that much less; the README's gap
    # section), beyond the 1.0 tolerance. At 0.99 that cost is 0.08 (k=10) and 0.06 (k=5).
    # Starting at 0.9 because a high discount from scratch collapsed onto one arm in the
    # CPU tuning; at the CPU budget the rise cost more than it gained (bandit_default's
    # docstring), which the pod budget is meant to outgrow. Not measured (no device).
    algo={"gamma_final": 0.99},
    measure_options={"episodes": 100_000, "eval_seed": 20161102, "greedy": False},
)
