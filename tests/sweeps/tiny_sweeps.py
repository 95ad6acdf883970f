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


TINY_RULE_GRID_EPISODES = 32
TINY_RULE_GRID_ENV = {
    # A 3x3 interior with one object of each of two types, two 5-step trials: 12 rulesets
    # (3 reward vectors with a positive entry x 2 effects per type), enough for a pool of
    # 3 and 4 held-out rulesets disjoint from it.
    "grid_size": 5,
    "num_object_types": 2,
    "objects_per_type": 1,
    "view_size": 3,
    "trial_length": 5,
    "num_trials": 2,
    "reward_values": (-1.0, 1.0),
    "effects": ("disappear", "respawn"),
    "drift": "change_point",
    "hazard": 0.004,
    "held_out_size": 4,
    "num_layouts": 64,
}


def tiny_rule_grid_sweep(num_tasks=(1, 3, None), total_env_steps=800) -> Sweep:
    """The ruleset-diversity sweep of ``experiments/rule_grid_diversity.py`` on a tiny grid:
    N in ``num_tasks`` x pool seeds 0, 1 x 2 training seeds, 8 envs x one 10-step episode
    per update, 2 chunks of 5 updates."""
    from metarl.experiments import load_experiment_module

    experiment = load_experiment_module("rule_grid_diversity")
    base = experiment.CONFIG
    config = dataclasses.replace(
        base,
        name="tiny_rule_grid_sweep",
        env=EnvConfig(name=base.env.name, overrides={**TINY_RULE_GRID_ENV, "num_tasks": 3}),
        agent=dataclasses.replace(base.agent, hidden_size=8, embed_size=8),
        algo=dataclasses.replace(base.algo, update_epochs=1, num_minibatches=1),
        run=dataclasses.replace(base.run, num_envs=8, rollout_length=10),
    )
    return experiment.diversity_sweep(
        config,
        name="tiny_rule_grid_sweep",
        num_tasks=num_tasks,
        seeds=2,
        env_steps=total_env_steps,
        updates_per_chunk=5,
        analysis_options={"episodes": TINY_RULE_GRID_EPISODES},
    )
