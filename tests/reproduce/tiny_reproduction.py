"""A tiny rl2_bandits for the reproduction tests: the k=5, n=10 setting, 2 seeds, seconds.

A plain module (not a test file), so an experiment file written by a test can load it
by path too. The claims, published numbers and measure are rl2_bandits' own; only the
training run (8 envs x 5-step rollouts, 2 chunks of 10 updates, GRU 8) and the
evaluation (64 episodes, Thompson sampling and Gittins only) are shrunk.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from metarl.experiments import load_experiment_module
from metarl.reproduce import Setting

RL2_FILE = Path(__file__).resolve().parents[2] / "experiments" / "reproductions" / "rl2_bandits.py"
SETTING = "k5_n10"
EPISODES = 64


def rl2_module():
    return load_experiment_module(str(RL2_FILE))


def tiny_reproduction():
    module = rl2_module()
    base = module.REPRODUCTION
    run = dataclasses.replace(
        base.setting(SETTING).config.run,
        num_envs=8,
        rollout_length=5,
        updates_per_chunk=10,
        checkpoint_every_chunks=1,
        total_env_steps=800,
        num_seeds=2,
    )
    agent = dataclasses.replace(base.setting(SETTING).config.agent, hidden_size=8)
    config = module.setting_config(SETTING, run, agent=agent)
    return dataclasses.replace(
        base,
        name="tiny_rl2_bandits",
        settings=(Setting(SETTING, module.SETTINGS[SETTING][0], config=config),),
        published=tuple(p for p in base.published if p.setting == SETTING),
        claims=module.claims_for([SETTING]),
        measure_options={
            "episodes": EPISODES,
            "eval_seed": 0,
            "greedy": False,
            "references": ("thompson_sampling", "gittins"),
        },
        budget="tests: seconds",
    )
