"""architecture_bandit_pod: the bandit architecture comparison at bandit_default's full budget.

``metarl sweep architecture_bandit_pod --out DIR``: the same cores, widths, parameter
counts, env, A2C settings and analysis as ``architecture_bandit`` (built by the same
``architecture_sweep`` from that file's ``CONFIG`` and ``CORES``, so the two cannot
drift apart), sized to settle what the CPU budget cannot:

* 150M env steps per run (bandit_default's budget, where the GRU beats Thompson
  sampling by +2.5; 29,600 updates of 256 x 20 in 74 chunks of 400: 151.6M as trained,
  the batch and schedules bandit_default was tuned at);
* 10 training seeds per core (seed-level intervals about 30% narrower than 5 seeds');
* 4096 held-out episodes per seed.

40 runs in four programs (one per core), 6.1G env steps. Not run on this repository's
2-core CPU: at the GRU's ~550k and the transformer's ~55k env steps/s there it would
take about 9 days, nearly all of it the transformer.
"""

import dataclasses
from pathlib import Path

from metarl.experiments import load_experiment_module
from metarl.sweeps.architecture import architecture_sweep

_CPU = load_experiment_module(str(Path(__file__).with_name("architecture_bandit.py")))

POD_SEEDS = 10
POD_ENV_STEPS = 150_000_000
POD_UPDATES_PER_CHUNK = 400
POD_EPISODES = 4096

CONFIG = dataclasses.replace(
    _CPU.CONFIG,
    name="architecture_bandit_pod",
    description=(
        "Architecture sweep point at GPU/pod scale (the GRU; run all with metarl sweep "
        "architecture_bandit_pod): 150M env steps per run, 10 seeds per core."
    ),
    run=dataclasses.replace(_CPU.CONFIG.run, total_env_steps=POD_ENV_STEPS),
)

SWEEP = architecture_sweep(
    CONFIG,
    _CPU.CORES,
    name="architecture_bandit_pod",
    seeds=POD_SEEDS,
    env_steps=POD_ENV_STEPS,
    updates_per_chunk=POD_UPDATES_PER_CHUNK,
    analysis_options={"episodes": POD_EPISODES},
)
"""40 runs in four vmapped programs (one per core)."""
