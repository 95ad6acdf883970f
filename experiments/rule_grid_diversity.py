"""rule_grid_diversity: does ruleset diversity pull a rule-grid agent toward general learning?

``metarl sweep rule_grid_diversity --out DIR`` trains rule_grid_default's RL^2 GRU
agent with PPO (same env, agent and PPO settings, read from that file) on a finite
training pool of N rulesets, for every N in ``SWEEP_NUM_TASKS`` (1, 4, 16, 64, 256,
and all of them: a fresh draw from the prior's 1216 rulesets every episode), on two
pools per N (``task_seed`` 0 and 1) and three training seeds per pool: 36 runs. All
finite N x pool seed x seed train as ONE vmapped program of 30 runs (pools padded to
256 rulesets, ``metarl.sweeps.groups``); N = inf, which has no pool, is a second
program of 6 runs.

Held-out rulesets: per pool seed, the 256 held-out rulesets of the N = 256 pool. The
pools of one pool seed are nested (N = 1, 4, 16, 64 are the first rulesets of the
N = 256 pool; the analysis checks it), so this one set is disjoint from every
training pool of its pool seed, and every N is scored on the same held-out
episodes. N = inf trained on the prior, which contains every ruleset: its held-out
rulesets are not unseen (the analysis labels that point).

Question: where, in N, does the agent stop locating memorised rulesets (recognise
which training ruleset this is from a few collections, then collect its good types)
and start learning in context (act on what this episode's collections say about
each type)? The bandit sweep ``task_diversity`` asks the same of 5-armed bandits.
Here the two beliefs part after the first collection on a held-out ruleset: the
learner knows that type's reward and keeps the prior over the others, while a
locator commits to the memorised rulesets closest to what it saw.

Measured per seed (``metarl.sweeps.rule_grid_diversity``): held-out return,
held-out per-trial improvement (last - first trial return over the oracle
planner's - random's per-trial gap), memorisation advantage ((agent - ruleset
learner) on training rulesets minus the same on held-out ones) and the
cross-validated log-likelihood per collection choice on held-out rulesets, ruleset
learner - ruleset locator beliefs (the ``rule_likelihood`` probe's choice model),
with each belief's gain over distance alone. Per N: IQM over the 6 runs with a 95%
stratified bootstrap interval (strata: pool seeds), and the seed-level verdict:
learner (locator) when the difference's interval lies above (below) 0 and the
named belief's gain interval above 0, else undecided. The same comparison on the
ruleset learner's and locator's own episodes shows, per N, whether it can tell the
two apart at all (the larger the pool, the more a locator over it acts like the
learner, so the comparison loses power toward N = 256).

Budget: ``SWEEP_ENV_STEPS`` = 3M env steps per run (196 PPO updates of 256 envs x
60 steps, 4 chunks of 49: 3,010,560 as trained), 108M in all; at about 85k env
steps/s total on a quiet 2-core CPU that is about 21 minutes of training, plus a
few minutes of evaluation: about 24 minutes in all (an estimate, not measured).
rule_grid_default needed about 20M env steps to reach a return of 7.7 (random 1.2),
so 3M is a small budget; expect no clean transition at it. ``rule_grid_diversity_pod``
is the GPU/pod-sized sweep that would test it (8 seeds x 3 pools, 200M env steps).

``CONFIG`` is one point of the sweep (N = 16, one seed, 20M env steps), so ``metarl
train rule_grid_diversity`` trains it alone.
"""

import dataclasses
from pathlib import Path

from metarl.config import EnvConfig
from metarl.experiments import load_experiment
from metarl.sweeps import Axis, Sweep

# The env, agent and PPO settings are rule_grid_default's, read from that file so the
# sweep and the default experiment cannot drift apart.
_DEFAULT = load_experiment(str(Path(__file__).with_name("rule_grid_default.py")))

SWEEP_NUM_TASKS = (1, 4, 16, 64, 256, None)
"""Training-pool sizes N, in order; None is every ruleset (a fresh prior draw each episode)."""
SWEEP_SEEDS = 3
"""Training seeds per point (vmapped; seeds are the unit for claims about training)."""
SWEEP_POOL_SEEDS = (0, 1)
"""Pool seeds (``task_seed``): each N is trained on two different pools of N rulesets."""
SWEEP_ENV_STEPS = 3_000_000
"""Env steps per run in the sweep: 36 runs, about 21 minutes of training at ~85k env
steps/s (see the module docstring)."""
SWEEP_UPDATES_PER_CHUNK = 49
"""3M env steps are 195 updates of 256 x 60; 4 chunks of 49 (196 updates) cover them
with the least overshoot, and a checkpoint after each chunk (about 5 minutes of the
30-run program) is what a killed sweep resumes from."""

CONFIG = dataclasses.replace(
    _DEFAULT,
    name="rule_grid_diversity",
    description=(
        "Ruleset-diversity sweep point (N=16 of 1, 4, 16, 64, 256, all; run all with "
        "metarl sweep rule_grid_diversity): as the number N of training rulesets grows, does "
        "the RL^2 agent switch from locating memorised rulesets to learning the ruleset in "
        "context (held-out per-trial improvement, likelihood of learner vs locator)?"
    ),
    env=EnvConfig(
        name=_DEFAULT.env.name,
        overrides={**_DEFAULT.env.overrides, "num_tasks": 16, "task_seed": 0},
    ),
    run=dataclasses.replace(_DEFAULT.run, total_env_steps=20_000_000, num_seeds=1),
)


def diversity_sweep(
    config=CONFIG,
    *,
    name: str = "rule_grid_diversity",
    num_tasks=SWEEP_NUM_TASKS,
    pool_seeds=SWEEP_POOL_SEEDS,
    seeds: int = SWEEP_SEEDS,
    env_steps: int = SWEEP_ENV_STEPS,
    updates_per_chunk: int = SWEEP_UPDATES_PER_CHUNK,
    analysis_options: dict | None = None,
) -> Sweep:
    """The sweep over ``num_tasks`` x ``pool_seeds`` of ``config`` (the pod variant reuses it)."""
    run = dataclasses.replace(
        config.run,
        num_seeds=seeds,
        total_env_steps=env_steps,
        updates_per_chunk=updates_per_chunk,
        checkpoint_every_chunks=1,
    )
    return Sweep(
        name=name,
        experiment=dataclasses.replace(config, run=run),
        axes=(
            Axis("env.overrides.num_tasks", tuple(num_tasks)),
            Axis("env.overrides.task_seed", tuple(pool_seeds)),
        ),
        analysis="metarl.sweeps.rule_grid_diversity",
        analysis_options=dict(analysis_options or {}),
        description=(
            f"Ruleset diversity: N = {', '.join('inf' if n is None else str(n) for n in num_tasks)}"
            f" training rulesets x {len(pool_seeds)} pool seeds x {seeds} training seeds."
        ),
    )


SWEEP = diversity_sweep()
"""``metarl sweep rule_grid_diversity --out DIR``: every finite N x pool seed x seed is one
vmapped program (30 runs), N = inf another (6 runs)."""
