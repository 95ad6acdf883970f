"""task_diversity: does the agent locate memorised tasks or learn in context, as N grows?

``metarl sweep task_diversity --out DIR`` trains the same RL^2 GRU agent with A2C
on 5-armed Bernoulli bandits (100 pulls, arm means ~ U(0,1)) from a finite
training pool of N tasks, for every N in ``SWEEP_NUM_TASKS`` (1, 4, 16, 64, 256,
and infinitely many: a fresh prior draw every episode), on two pools per N
(``task_seed`` 0 and 1) and three training seeds per pool: 36 runs. All finite N x
pool seed x seed train as ONE vmapped program (pools padded to 256 tasks with the
number of active tasks as traced data, ``metarl.sweeps.groups``); N = inf, which
has no pool, is a second program. Each frozen seed then plays its pool seed's
held-out tasks (disjoint from its training pool) beside Thompson sampling (a
general learner), the random policy and the task locator over its N training tasks
(exact Bayes over memorised tasks: it can only recognise them), and its own
training tasks beside Thompson sampling (``metarl.sweeps.task_diversity``).

Question: where, in N, does the agent stop behaving like a task locator (recognise
which training task this is, play its best arm) and start behaving like a general
in-context learner (act on what this episode's rewards say about each arm)? This is
the memorisation -> generalisation transition that Kirsch et al. (2022, "General-
purpose in-context learning by meta-learning transformers") and Raventos et al.
(2023, "Pretraining task diversity and the emergence of non-Bayesian in-context
learning for regression") found as task diversity grows, asked of an RL agent.

Measured per seed: held-out return, held-out in-context improvement ((last 10% -
first 10% of the reward curve) / (oracle - random)), memorisation advantage ((agent
- Thompson) on training tasks minus the same on held-out tasks), and the
cross-validated per-choice log-likelihood of the held-out choices, Bayes learner -
locator (``metarl.probes.likelihood``; N = inf uses the N = 256 pool of the same
pool seed as a labelled stand-in). Per N: IQM over the 6 runs with a 95%
stratified bootstrap interval (strata: pool seeds; rliable), and a seed-level
verdict: learner when the likelihood difference's interval lies above 0, locator
below.

Expected: a locator at small N (negative likelihood difference, large memorisation
advantage), a learner at large N; with 5 arms a locator over a few hundred tasks
plays much like a learner, so the likelihood comparison loses power at the large-N
end. Measured results: README "Task-diversity sweep".

``CONFIG`` is one point of the sweep (N = 16, one seed, 20M env steps), so ``metarl
train task_diversity`` trains it alone; ``SWEEP`` runs the whole sweep at
``SWEEP_ENV_STEPS`` per run. Hyperparameters are bandit_default's tuned A2C
settings (gamma 0.9, entropy 0.05 annealed to 0, lr 3e-3 linear, 256 envs x
20-step rollouts).
"""

import dataclasses
from pathlib import Path

from metarl.config import EnvConfig
from metarl.experiments import load_experiment
from metarl.sweeps import Axis, Sweep

# The agent and A2C hyperparameters are bandit_default's tuned ones, read from that
# file so the sweep and the default experiment cannot drift apart.
_DEFAULT = load_experiment(str(Path(__file__).with_name("bandit_default.py")))

SWEEP_NUM_TASKS = (1, 4, 16, 64, 256, None)
"""Training-pool sizes N the sweep trains, in order; None is infinitely many tasks."""

CONFIG = dataclasses.replace(
    _DEFAULT,
    name="task_diversity",
    description=(
        "Task-diversity sweep point (N=16 of 1, 4, 16, 64, 256, inf; run all with "
        "metarl sweep task_diversity): as the number N of training bandit tasks grows, "
        "does the RL^2 agent switch from locating memorised tasks to learning in context "
        "(held-out in-context improvement, likelihood of learner vs locator)?"
    ),
    env=EnvConfig(
        name="bandit-bernoulli-v0",
        overrides={"num_arms": 5, "horizon": 100, "num_tasks": 16, "task_seed": 0},
    ),
    # 20M env steps = 3906 updates of 256 x 20, run as 10 chunks of 400 (20.5M);
    # a checkpoint every 2 chunks (about 4M env steps) is what a killed sweep resumes from.
    run=dataclasses.replace(_DEFAULT.run, total_env_steps=20_000_000, checkpoint_every_chunks=2),
)

SWEEP_SEEDS = 3
"""Training seeds per point (vmapped; seeds are the unit for claims about training)."""
SWEEP_POOL_SEEDS = (0, 1)
"""Pool seeds (``task_seed``): each N is trained on two different pools of N tasks."""
SWEEP_ENV_STEPS = 10_000_000
"""Env steps per run in the sweep (36 runs; bandit_default needed about 20M to reach Thompson
sampling on the prior, so this is a small budget: about 15 minutes on a quiet 2-core CPU)."""

SWEEP = Sweep(
    name="task_diversity",
    experiment=dataclasses.replace(
        CONFIG,
        run=dataclasses.replace(
            CONFIG.run,
            num_seeds=SWEEP_SEEDS,
            total_env_steps=SWEEP_ENV_STEPS,
            checkpoint_every_chunks=1,
        ),
    ),
    axes=(
        Axis("env.overrides.num_tasks", SWEEP_NUM_TASKS),
        Axis("env.overrides.task_seed", SWEEP_POOL_SEEDS),
    ),
    analysis="metarl.sweeps.task_diversity",
    description="Task diversity: N = 1 ... inf training tasks x 2 pool seeds x 3 training seeds.",
)
"""``metarl sweep task_diversity --out DIR``: every finite N x pool seed x seed is one
vmapped program (30 runs), N = inf another (6 runs)."""
