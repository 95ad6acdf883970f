"""architecture_rule_grid_pod: the rule-grid architecture comparison at the budget of a GPU or pod.

``metarl sweep architecture_rule_grid_pod --out DIR``: the same cores, widths,
parameter counts, env, PPO settings and analysis as ``architecture_rule_grid``
(built by the same ``architecture_sweep`` from that file's ``CONFIG`` and ``CORES``),
sized to settle what the CPU budget cannot:

* 200M env steps per run (4x rule_grid_default's 52M, where the GRU reached a third
  of the way from the memoryless collector to the ruleset learner; 3255 updates of
  1024 envs x 60 steps in 15 chunks of 217: exactly 199,987,200);
* 1024 envs per run (4x the CPU batch, as rule_grid_diversity_pod);
* 8 training seeds per core;
* 2048 held-out episodes per seed.

32 runs in four programs (one per core), 6.4G env steps. Not run on this repository's
2-core CPU (weeks: the transformer alone runs at a few thousand env steps/s there).
"""

import dataclasses
from pathlib import Path

from metarl.experiments import load_experiment_module
from metarl.sweeps.architecture import architecture_sweep

_CPU = load_experiment_module(str(Path(__file__).with_name("architecture_rule_grid.py")))

POD_SEEDS = 8
POD_ENV_STEPS = 200_000_000
POD_NUM_ENVS = 1024
POD_UPDATES_PER_CHUNK = 217
"""200M env steps are 3255 updates of 1024 x 60 = 15 chunks of 217, with no overshoot."""
POD_EPISODES = 2048

CONFIG = dataclasses.replace(
    _CPU.CONFIG,
    name="architecture_rule_grid_pod",
    description=(
        "Architecture sweep point at GPU/pod scale (the GRU; run all with metarl sweep "
        "architecture_rule_grid_pod): 1024 envs, 200M env steps per run, 8 seeds per core."
    ),
    run=dataclasses.replace(
        _CPU.CONFIG.run,
        num_envs=POD_NUM_ENVS,
        total_env_steps=POD_ENV_STEPS,
        updates_per_chunk=POD_UPDATES_PER_CHUNK,
    ),
)

SWEEP = architecture_sweep(
    CONFIG,
    _CPU.CORES,
    name="architecture_rule_grid_pod",
    seeds=POD_SEEDS,
    env_steps=POD_ENV_STEPS,
    updates_per_chunk=POD_UPDATES_PER_CHUNK,
    analysis_options={"episodes": POD_EPISODES},
)
"""32 runs in four vmapped programs (one per core)."""
