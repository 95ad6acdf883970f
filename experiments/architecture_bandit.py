"""architecture_bandit: does in-context learning after freeze need recurrence? (bandits)

``metarl sweep architecture_bandit --out DIR`` trains bandit_default's agent (RL^2,
A2C, 5-armed Bernoulli bandits, 100 pulls, arm means ~ U(0,1) drawn fresh every
episode; its env, A2C settings and schedules read from that file) with four memory
cores at matched parameter counts, ``SWEEP_SEEDS`` training seeds each, then
freezes every seed and measures it (``metarl.sweeps.architecture``):

| core | width | parameters (all, heads included) | vs GRU |
|---|---|---|---|
| GRU | 64 | 14,598 | 1 |
| LSTM | 56 | 14,902 | +2.1% |
| MLP (no memory: the control) | 114 | 14,826 | +1.6% |
| transformer (1 layer, 2 heads, context 100) | 40 | 13,926 | -4.6% |

(``metarl.sweeps.architecture.count_params`` over the initialised params; the test
checks the match within 10%.) Widths were chosen as the nearest to the GRU's count;
the transformer's context is the whole episode (100 pulls), so it can attend to
everything a recurrent core could remember, and one layer suffices here: every
RL^2 input carries its own action and reward, so per-arm statistics are one
attention read away.

Question: with the weights frozen, which cores keep improving within an episode on
fresh tasks, recover when the arms reverse, and act like a Bayes learner rather
than a locator of memorised tasks? The MLP sees only the previous action and
reward and the step's fraction of the episode, so whatever it gains within an
episode is not in-context learning.

Measured per seed, on 1024 fresh prior draws (every core and reference on the
same episodes): held-out return, in-context improvement, reward per pull in
tenths of the episode, recovery after the ``drift`` suite's reversal of the arm
means after pull 49 (share of the pre-change P(optimal action) margin over random
regained in the last 10 pulls), and the learner - locator log-likelihood per
choice. bandit_default trains on the prior, which has no pool to locate, so the
locator searches a labelled stand-in pool of 256 prior draws (as task_diversity's
N = inf). Per core: IQM over the seeds with a 95% bootstrap interval, the verdict,
and the difference from the GRU.

Budget: ``SWEEP_ENV_STEPS`` per run, shared by every core (the transformer is about
7x slower per env step than the GRU on this CPU; giving it fewer steps would confound
architecture with budget). ``python scripts/bench_architecture.py architecture_bandit``
(2026-12-02, 2-core CPU shared with other jobs, load average 7.5-9; 5 seeds vmapped,
20-update chunks, median of 3, compile apart):

| core | params | compile s | env steps/s (5 seeds together) |
|---|---|---|---|
| GRU | 14,598 | 11.8 | 212k |
| LSTM | 14,902 | 14.8 | 195k |
| MLP | 14,826 | 12.2 | 211k |
| transformer | 13,926 | 20.6 | 29k |

At those rates one env step of every core's 5 seeds costs 243 us, so 4.6M env steps
per run train in about 19 minutes, plus about 5 minutes of compiles and evaluation
(an estimate): about 24 minutes. On a quiet machine (the GRU alone ran at 550-650k
env steps/s) it is about 2.8x faster, and ``--set run.total_env_steps=10240000``
(bandit_default's ~20M halved, task_diversity's budget) fits the same time.
bandit_default trains 150M env steps, so either compares what each core learns
early. Measured 2026-12-03 on the quiet machine: ``--set run.total_env_steps=20480000``
took 24 min 32 s (GRU 549k, LSTM 430k, MLP 485k, transformer 129k env steps/s over
the 5 seeds), and ``--set run.total_env_steps=40960000`` 63 min 35 s (tests ran
beside it). The ranking changes with the budget (README, Architecture):
``python -m metarl.sweeps.architecture_budget DIR... --out FIG`` draws runs at
several budgets side by side. ``architecture_bandit_pod`` is the sweep at
bandit_default's full budget with more seeds.

``CONFIG`` is one point (the GRU, one seed), so ``metarl train architecture_bandit``
trains it alone.
"""

import dataclasses
from pathlib import Path

from metarl.experiments import load_experiment
from metarl.sweeps.architecture import CoreSpec, architecture_sweep

_DEFAULT = load_experiment(str(Path(__file__).with_name("bandit_default.py")))

CORES = (
    CoreSpec("gru", 64),
    CoreSpec("lstm", 56),
    CoreSpec("mlp", 114),
    CoreSpec("transformer", 40),
)
"""The cores in training order (the slow transformer last, so a killed sweep has the rest)."""
PARAMS = {"gru": 14_598, "lstm": 14_902, "mlp": 14_826, "transformer": 13_926}
"""Parameter counts as stated in the docstring (checked against the initialised params)."""
TRANSFORMER = {"transformer_layers": 1, "transformer_heads": 2, "transformer_context": 100}
SWEEP_SEEDS = 5
"""Training seeds per core (vmapped; the unit of every interval)."""
SWEEP_ENV_STEPS = 4_608_000
"""Env steps per run: 900 updates of 256 envs x 20 steps, 9 chunks of 100 (see Budget)."""
SWEEP_UPDATES_PER_CHUNK = 100
"""A checkpoint after each chunk (0.5M env steps per seed) is what a killed sweep resumes from;
100 also divides the 2000 updates of 10.24M env steps, so neither budget overshoots."""

CONFIG = dataclasses.replace(
    _DEFAULT,
    name="architecture_bandit",
    description=(
        "Architecture sweep point (the GRU of gru, lstm, mlp, transformer at ~14.6k parameters; "
        "run all with metarl sweep architecture_bandit): does in-context learning after freeze "
        "on bandit_default need recurrence?"
    ),
    agent=dataclasses.replace(_DEFAULT.agent, core="gru", hidden_size=64, **TRANSFORMER),
    run=dataclasses.replace(_DEFAULT.run, total_env_steps=SWEEP_ENV_STEPS),
)

SWEEP = architecture_sweep(
    CONFIG,
    CORES,
    name="architecture_bandit",
    seeds=SWEEP_SEEDS,
    env_steps=SWEEP_ENV_STEPS,
    updates_per_chunk=SWEEP_UPDATES_PER_CHUNK,
    description=(
        f"Architecture on bandit_default: gru, lstm, mlp, transformer at matched parameters x "
        f"{SWEEP_SEEDS} training seeds."
    ),
)
"""``metarl sweep architecture_bandit --out DIR``: four groups (one per core), seeds vmapped."""
