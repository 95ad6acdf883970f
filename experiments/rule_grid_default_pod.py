"""rule_grid_default_pod: rule_grid_default at the batch and budget of one GPU or a pod slice.

The same env, agent and PPO settings as ``rule_grid_default`` (read from that file,
so the two cannot drift apart), with 8 training seeds vmapped in one program,
4096 envs per seed and 1B env steps per seed. Not run in this repository's CI or
on its 2-core CPU (at ~85k env steps/s there it would take ~26 hours); the CPU
experiment's docstring and the README say what the CPU budget measured.
"""

import dataclasses
from pathlib import Path

from metarl.experiments import load_experiment

_DEFAULT = load_experiment(str(Path(__file__).with_name("rule_grid_default.py")))

CONFIG = dataclasses.replace(
    _DEFAULT,
    name="rule_grid_default_pod",
    description=(
        "rule_grid_default at GPU/pod scale: 8 seeds x 4096 envs, 1B env steps per seed "
        "(same env, agent and PPO settings)."
    ),
    run=dataclasses.replace(
        _DEFAULT.run,
        num_envs=4096,
        total_env_steps=1_000_000_000,
        num_seeds=8,
        updates_per_chunk=100,
        checkpoint_every_chunks=5,
    ),
)
