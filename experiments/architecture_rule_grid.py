"""architecture_rule_grid: does in-context learning after freeze need recurrence? (rule grid)

``metarl sweep architecture_rule_grid --out DIR`` trains rule_grid_default's agent
(RL^2, PPO, the 7 x 7 rule grid with 3 object types, 4 trials of 15 steps,
change-point drift, 512 of the 1216 rulesets; env, PPO settings and schedules read
from that file) with four memory cores at matched parameter counts,
``SWEEP_SEEDS`` training seeds each, then freezes every seed and measures it
(``metarl.sweeps.architecture``):

| core | width | parameters (all: 64-wide embedding and heads included) | vs GRU |
|---|---|---|---|
| GRU | 128 | 81,989 | 1 |
| LSTM | 108 | 82,129 | +0.2% |
| MLP (no memory: the control) | 240 | 81,493 | -0.6% |
| transformer (2 layers, 4 heads, context 60) | 64 | 78,405 | -4.4% |

(``metarl.sweeps.architecture.count_params``; the test checks the match within
10%.) The transformer's context is the whole episode (60 steps). It has two layers
where the bandit's has one: here a step's input shows the reward of the previous
step but not which object type earned it (that was in the view a step earlier), so
tying rewards to types takes one attention read to fetch the previous view and a
second to gather over the episode. One layer at matched parameters would be 92 wide.

Question: with the weights frozen, which cores raise their return from trial to
trial on rulesets they never saw, recover when every reward is mirrored
mid-episode, and act like a ruleset learner rather than a locator of the 512
memorised rulesets?

Measured per seed, on 256 held-out rulesets disjoint from the pool (every core and
reference on the same episodes): held-out return, per-trial improvement (last -
first trial over the oracle planner's - random's per-trial return), return per
trial, recovery after every reward is mirrored at the end of trial 2 (the
``recovery`` probe's condition: the share of the pre-change margin over random,
as a fraction of the oracle planner's, back in trial 4), and the learner - locator
log-likelihood per collection choice (the ``rule_likelihood`` probe's model over
the 512 training rulesets), a belief named only where it also beats distance alone.
Per core: IQM over seeds with a 95% bootstrap interval, the verdict, the difference
from the GRU. README "Rule gridworld": with 512 of 1216 rulesets in the pool the
two beliefs hardly part, so expect `undecided` likelihood verdicts at any budget.

Budget: ``SWEEP_ENV_STEPS`` per run, shared by every core.
``python scripts/bench_architecture.py architecture_rule_grid --updates 4``
(2026-12-02, 2-core CPU shared with other jobs, load average 7-10; 3 seeds vmapped,
median of 3, compile apart):

| core | params | compile s | env steps/s (3 seeds together) |
|---|---|---|---|
| GRU | 81,989 | 14.5 | 33.6k |
| LSTM | 82,129 | 13.9 | 26.6k |
| MLP | 81,493 | 13.9 | 28.0k |
| transformer | 78,405 | 23.3 | 11.4k |

At those rates one env step of every core's 3 seeds costs 572 us, so 1.84M env steps
per run train in about 17.5 minutes; compiles and the evaluation (512 episodes per
seed on both conditions, references and likelihood fits) took 7.5 minutes at the same
load (measured on 1-update groups): about 25 minutes. A quiet machine is about 2.5x
faster (the GRU alone ran at 85k env steps/s), and ``--set
run.total_env_steps=3072000`` (200 updates, 5 chunks of 40; ruleset-diversity's budget)
fits there in about 17 minutes.
rule_grid_default trains 52M env steps, and at 3M the ruleset-diversity sweep's
agents were not yet past the memoryless collector, so this compares what each core
learns very early. ``architecture_rule_grid_pod`` is the GPU/pod-sized sweep that
would settle it.

``CONFIG`` is one point (the GRU, one seed), so ``metarl train architecture_rule_grid``
trains it alone.
"""

import dataclasses
from pathlib import Path

from metarl.experiments import load_experiment
from metarl.sweeps.architecture import CoreSpec, architecture_sweep

_DEFAULT = load_experiment(str(Path(__file__).with_name("rule_grid_default.py")))

CORES = (
    CoreSpec("gru", 128),
    CoreSpec("lstm", 108),
    CoreSpec("mlp", 240),
    CoreSpec("transformer", 64),
)
"""The cores in training order (the slow transformer last, so a killed sweep has the rest)."""
PARAMS = {"gru": 81_989, "lstm": 82_129, "mlp": 81_493, "transformer": 78_405}
"""Parameter counts as stated in the docstring (checked against the initialised params)."""
TRANSFORMER = {"transformer_layers": 2, "transformer_heads": 4, "transformer_context": 60}
SWEEP_SEEDS = 3
"""Training seeds per core (vmapped; the unit of every interval)."""
SWEEP_ENV_STEPS = 1_843_200
"""Env steps per run: 120 PPO updates of 256 envs x 60 steps, 3 chunks of 40 (see Budget)."""
SWEEP_UPDATES_PER_CHUNK = 40
"""A checkpoint after each chunk is what a killed sweep resumes from; 40 also divides the
200 updates of 3,072,000 env steps (the quiet-machine budget)."""
EPISODES = 512
"""Held-out episodes per seed (as rule_grid_diversity: seeds, not episodes, bound the intervals)."""

CONFIG = dataclasses.replace(
    _DEFAULT,
    name="architecture_rule_grid",
    description=(
        "Architecture sweep point (the GRU of gru, lstm, mlp, transformer at ~82k parameters; "
        "run all with metarl sweep architecture_rule_grid): does in-context learning after "
        "freeze on rule_grid_default need recurrence?"
    ),
    agent=dataclasses.replace(_DEFAULT.agent, core="gru", hidden_size=128, **TRANSFORMER),
    run=dataclasses.replace(_DEFAULT.run, total_env_steps=SWEEP_ENV_STEPS),
)

SWEEP = architecture_sweep(
    CONFIG,
    CORES,
    name="architecture_rule_grid",
    seeds=SWEEP_SEEDS,
    env_steps=SWEEP_ENV_STEPS,
    updates_per_chunk=SWEEP_UPDATES_PER_CHUNK,
    analysis_options={"episodes": EPISODES},
    description=(
        f"Architecture on rule_grid_default: gru, lstm, mlp, transformer at matched parameters "
        f"x {SWEEP_SEEDS} training seeds."
    ),
)
"""``metarl sweep architecture_rule_grid --out DIR``: four groups (one per core), seeds vmapped."""
