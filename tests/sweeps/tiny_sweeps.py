"""A tiny sweep definition for the sweep tests (3 arms, 10 pulls, 8 envs, 2 seeds).

A plain module (not a test file), so an experiment file written by a test can load it
by path too.
"""

from __future__ import annotations

import dataclasses

from metarl.config import EnvConfig
from metarl.experiments import load_experiment
from metarl.sweeps import Axis, Sweep

TINY_EPISODES = 64


def tiny_sweep(num_tasks=(1, 3, None), task_seeds=(0, 1), total_env_steps=800) -> Sweep:
    base = load_experiment("bandit_default")
    config = dataclasses.replace(
        base,
        name="tiny_sweep",
        env=EnvConfig(
            name="bandit-bernoulli-v0",
            overrides={
                "num_arms": 3,
                "horizon": 10,
                "num_tasks": 3,
                "task_seed": 0,
                "held_out_size": 64,
            },
        ),
        agent=dataclasses.replace(base.agent, hidden_size=8),
        run=dataclasses.replace(
            base.run,
            num_envs=8,
            rollout_length=5,
            updates_per_chunk=10,
            checkpoint_every_chunks=1,
            total_env_steps=total_env_steps,
            num_seeds=2,
        ),
    )
    return Sweep(
        name="tiny_sweep",
        experiment=config,
        axes=(
            Axis("env.overrides.num_tasks", tuple(num_tasks)),
            Axis("env.overrides.task_seed", tuple(task_seeds)),
        ),
        analysis="metarl.sweeps.task_diversity",
        analysis_options={"episodes": TINY_EPISODES},
    )
