"""rule_grid_diversity_pod: the ruleset-diversity sweep at the batch and budget of a GPU or pod.

``metarl sweep rule_grid_diversity_pod --out DIR``: the same question, env, agent,
PPO settings and analysis as ``rule_grid_diversity`` (built by that file's
``diversity_sweep``, so the two cannot drift apart), sized to find the transition
the CPU budget cannot reach:

* 200M env steps per run (rule_grid_default reached a return of 7.7 after 20M on
  the prior; 10x that lets small pools be memorised and the prior learned);
* 1024 envs per run (4x the CPU batch; 3255 updates of 1024 x 60 in 15 chunks of
  217: exactly 199,987,200 env steps);
* 8 training seeds x 3 pool seeds per N (24 runs per N: seed-level intervals about
  half as wide as the CPU sweep's 6 runs);
* N = 1, 4, 16, 64, 256, 512 and all 1216: 512 adds a point between the largest
  CPU pool and the prior (512 + 256 held-out still fits in the 1216 rulesets).

168 runs: the 144 finite-N runs are one vmapped program (pools padded to 512), the
24 prior runs another. Not run on this repository's 2-core CPU (34G env steps: about
110 hours at ~85k env steps/s).
"""

import dataclasses
from pathlib import Path

from metarl.experiments import load_experiment_module

_CPU = load_experiment_module(str(Path(__file__).with_name("rule_grid_diversity.py")))

POD_NUM_TASKS = (1, 4, 16, 64, 256, 512, None)
POD_POOL_SEEDS = (0, 1, 2)
POD_SEEDS = 8
POD_ENV_STEPS = 200_000_000
POD_NUM_ENVS = 1024
POD_UPDATES_PER_CHUNK = 217
"""200M env steps are 3255 updates of 1024 x 60 = 15 chunks of 217, with no overshoot."""
POD_EPISODES = 2048
"""Held-out episodes per seed in the analysis (4x the CPU sweep's: cheap next to training)."""

CONFIG = dataclasses.replace(
    _CPU.CONFIG,
    name="rule_grid_diversity_pod",
    description=(
        "Ruleset-diversity sweep point at GPU/pod scale (N=16; run all with metarl sweep "
        "rule_grid_diversity_pod): 1024 envs, 200M env steps per run."
    ),
    run=dataclasses.replace(
        _CPU.CONFIG.run,
        num_envs=POD_NUM_ENVS,
        total_env_steps=POD_ENV_STEPS,
        updates_per_chunk=POD_UPDATES_PER_CHUNK,
    ),
)

SWEEP = _CPU.diversity_sweep(
    CONFIG,
    name="rule_grid_diversity_pod",
    num_tasks=POD_NUM_TASKS,
    pool_seeds=POD_POOL_SEEDS,
    seeds=POD_SEEDS,
    env_steps=POD_ENV_STEPS,
    updates_per_chunk=POD_UPDATES_PER_CHUNK,
    analysis_options={"episodes": POD_EPISODES},
)
"""168 runs in two vmapped programs (finite pools, the prior)."""
