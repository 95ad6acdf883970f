"""task_diversity: does the agent locate memorised tasks or learn in context, as N grows?

The task-diversity sweep (``scripts/sweep_task_diversity.py``) trains the same RL^2
GRU agent with A2C on 5-armed Bernoulli bandits (100 pulls, arm means ~ U(0,1))
from a finite training pool of N tasks, for every N in ``SWEEP_NUM_TASKS`` (1, 4,
16, 64, 256, and infinitely many: a fresh prior draw every episode), then freezes
each checkpoint and plays it on the same 1024 held-out arm-mean vectors (disjoint
from every training pool; the same episodes for every N) and on its own training
tasks, beside Thompson sampling (a general learner) and the task locator over the
N training tasks (exact Bayes over memorised tasks: it can only recognise them).

Question: where, in N, does the agent stop behaving like a task locator (recognise
which training task this is, play its best arm) and start behaving like a general
in-context learner (act on what this episode's rewards say about each arm)? This is
the memorisation -> generalisation transition that Kirsch et al. (2022, "General-
purpose in-context learning by meta-learning transformers") and Raventós et al.
(2023, "Pretraining task diversity and the emergence of non-Bayesian in-context
learning for regression") found as task diversity grows, asked of an RL agent.

Measured per N: held-out in-context improvement ((last 10% - first 10% of the
reward curve) / (oracle - random)), held-out return and regret, the gap between
training-task and held-out return, and the likelihood comparison of
``metarl.probes.likelihood.compare_learner_vs_locator`` (cross-validated per-choice
log-likelihood of the agent's held-out choices, Bayes learner - locator over its
N training tasks, 95% interval; N = inf has no training set, so the sweep uses the
N = 256 pool as a labelled stand-in).

Expected result: at N = 1 and 4 a locator (negative likelihood difference, held-out
improvement well below Thompson sampling, a large train - held-out return gap);
at N = 256 and infinitely many a learner (positive difference, held-out
improvement near Thompson sampling's, gap near Thompson sampling's own, which only
reflects how easy the training tasks happen to be). Somewhere in between the
verdict flips; with 5 arms a locator over a few hundred tasks already plays much
like a learner, so the likelihood comparison loses power at the large-N end.

Measured (2026-11-27, 20M env steps per N, one training seed, 2048 held-out
episodes; README "Task-diversity sweep"): the expectation holds at the ends and
the gradual measures move monotonically (held-out return 52.9, 64.6, 73.1, 72.6,
74.6, 75.3 against Thompson's 75.0; memorisation advantage 34.3, 17.5, 4.6, 3.0,
1.3, 0.4), but the likelihood verdict does not flip once: locator at N = 1, 4,
learner at 16 (+0.037 [+0.013, +0.061]), locator at 64 and 256 (-0.119, -0.014),
learner at inf against the 256-task stand-in (+0.031 [+0.023, +0.039]). A second
training seed at N = 16 and 64 gave the same two verdicts. Held-out in-context
improvement follows the locator's at every N (0.02 to 0.37), far below Thompson
sampling's 0.64, which explores early: at this budget it does not separate a
learner from a locator.

Hyperparameters are bandit_default's tuned A2C settings (gamma 0.9, entropy 0.05
annealed to 0, lr 3e-3 linear, 256 envs x 20-step rollouts) at a smaller budget:
20M env steps per N, 61-86 s each on the shared 2-core CPU (bandit_default reached
Thompson sampling's total reward at 20M steps on the infinite prior). ``CONFIG``
is one point of the sweep (N = 16), so ``metarl train task_diversity`` trains it
alone; the sweep script sets ``env.overrides.num_tasks`` for each N.
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
        "scripts/sweep_task_diversity.py): as the number N of training bandit tasks grows, "
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
SWEEP_ENV_STEPS = 5_000_000
"""Env steps per run in the sweep (36 runs): small enough for a CPU in minutes."""

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
