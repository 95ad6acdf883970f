"""Tiny architecture sweeps for the tests: every core at a few units, 2 seeds, a few updates.

A plain module (not a test file), so an experiment file written by a test can load it by
path. The rule grid reuses ``tiny_sweeps.TINY_RULE_GRID_ENV`` (a 3x3 interior, 12 rulesets).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

from metarl.config import EnvConfig
from metarl.experiments import load_experiment_module
from metarl.sweeps.architecture import CoreSpec, architecture_sweep

TINY_EPISODES = 32
TINY_BOOTSTRAP = 200
"""Resamples per interval: rliable's per-resample Python loop is most of a tiny sweep's
analysis time at the default 1000."""
TINY_CORES = (
    CoreSpec("gru", 8),
    CoreSpec("lstm", 6),
    CoreSpec("mlp", 12),
    CoreSpec("transformer", 8),
)


def _tiny_sweeps():
    spec = importlib.util.spec_from_file_location(
        "metarl_tests_tiny_sweeps_for_architecture", Path(__file__).with_name("tiny_sweeps.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cores(names):
    return TINY_CORES if names is None else tuple(c for c in TINY_CORES if c.core in names)


def tiny_architecture_bandit(cores=None):
    """architecture_bandit on 3 arms x 10 pulls: 8 envs x 5 steps, 10 updates, 2 seeds
    (``cores``: the names to keep, default every one)."""
    base = load_experiment_module("architecture_bandit").CONFIG
    config = dataclasses.replace(
        base,
        name="tiny_architecture_bandit",
        env=EnvConfig(name=base.env.name, overrides={"num_arms": 3, "horizon": 10}),
        agent=dataclasses.replace(base.agent, transformer_context=10),
        run=dataclasses.replace(base.run, num_envs=8, rollout_length=5),
    )
    return architecture_sweep(
        config,
        _cores(cores),
        name="tiny_architecture_bandit",
        seeds=2,
        env_steps=400,
        updates_per_chunk=5,
        analysis_options={"episodes": TINY_EPISODES, "bootstrap_reps": TINY_BOOTSTRAP},
    )


def tiny_architecture_rule_grid(cores=None):
    """architecture_rule_grid on the tiny grid (pool of 3, 4 held-out rulesets), 2 seeds."""
    base = load_experiment_module("architecture_rule_grid").CONFIG
    env = {**_tiny_sweeps().TINY_RULE_GRID_ENV, "num_tasks": 3, "task_seed": 0}
    config = dataclasses.replace(
        base,
        name="tiny_architecture_rule_grid",
        env=EnvConfig(name=base.env.name, overrides=env),
        agent=dataclasses.replace(base.agent, embed_size=8, transformer_context=10),
        algo=dataclasses.replace(base.algo, update_epochs=1, num_minibatches=1),
        run=dataclasses.replace(base.run, num_envs=8, rollout_length=10),
    )
    return architecture_sweep(
        config,
        _cores(cores),
        name="tiny_architecture_rule_grid",
        seeds=2,
        env_steps=800,
        updates_per_chunk=5,
        analysis_options={"episodes": TINY_EPISODES, "bootstrap_reps": TINY_BOOTSTRAP},
    )
