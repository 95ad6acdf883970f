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

Budget: ``SWEEP_ENV_STEPS`` per run, shared by every core. rule_grid_default trains
52M env steps (13 min for one GRU seed); the CPU sweep is far shorter, so it
compares what each core learns early. ``architecture_rule_grid_pod`` is the
GPU/pod-sized sweep that would settle it.

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
SWEEP_ENV_STEPS = 3_010_560
"""Env steps per run: 196 PPO updates of 256 envs x 60 steps, 4 chunks of 49."""
SWEEP_UPDATES_PER_CHUNK = 49
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
