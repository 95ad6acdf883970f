"""End-to-end training throughput: env steps/s of whole updates, compile time apart.

Cases (one seed, 128-step rollouts, at 64 and 512 envs):

* the default experiment (experiments/bandit_default.py: A2C, GRU 64, 5-armed bandit);
* PPO with a 128-unit GRU (128-unit embedding), 4 epochs x 4 minibatches, on a 2-armed
  100-pull bandit, against a reference single-file JAX PPO-GRU measured on this 2-core
  CPU (19.5k env steps/s at 64 envs, 26.8k at 512); the table prints ours/reference.

Each case compiles one chunk (``.lower().compile()``, timed apart), runs it once to
warm up, then reports the best of ``--repeats`` timed chunks.

    python scripts/bench_train.py [--updates 4] [--repeats 3] [--envs 64 512] [--only ppo]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

import metarl  # noqa: E402,F401  (CPU XLA flags)
from metarl.config import AgentConfig, AlgoConfig, EnvConfig, ExperimentConfig, RunConfig  # noqa: E402
from metarl.training import make_trainer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.bandit_default import CONFIG as DEFAULT_CONFIG  # noqa: E402

ROLLOUT_LENGTH = 128
# Reference single-file JAX PPO-GRU (hidden 128, 4 epochs x 4 minibatches, 2-armed
# 100-pull bandit), measured on this 2-core CPU: env steps/s by number of envs.
REFERENCE_PPO_STEPS_PER_S = {64: 19_500, 512: 26_800}


def default_case(num_envs: int, updates: int) -> ExperimentConfig:
    run = dataclasses.replace(
        DEFAULT_CONFIG.run,
        num_envs=num_envs,
        rollout_length=ROLLOUT_LENGTH,
        updates_per_chunk=updates,
    )
    return dataclasses.replace(DEFAULT_CONFIG, run=run)


def ppo_case(num_envs: int, updates: int) -> ExperimentConfig:
    return ExperimentConfig(
        name="bench_ppo_gru128",
        env=EnvConfig(name="bandit-bernoulli-v0", overrides={"num_arms": 2, "horizon": 100}),
        agent=AgentConfig(core="gru", hidden_size=128, embed_size=128),
        algo=AlgoConfig(
            name="ppo", update_epochs=4, num_minibatches=4, gamma=0.99, gae_lambda=0.95
        ),
        run=RunConfig(num_envs=num_envs, rollout_length=ROLLOUT_LENGTH, updates_per_chunk=updates),
    )


def measure(config: ExperimentConfig, repeats: int) -> tuple[float, float]:
    """(env steps per second, compile seconds) of one config's train chunk."""
    trainer = make_trainer(config)
    state = trainer.init(jax.random.PRNGKey(0))
    jax.block_until_ready(state)
    start = time.perf_counter()
    compiled = trainer.lower_chunk(state).compile()
    compile_s = time.perf_counter() - start
    state, _ = compiled(state)  # warm-up
    jax.block_until_ready(state)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        state, metrics = compiled(state)
        jax.block_until_ready((state, metrics))
        best = min(best, time.perf_counter() - start)
    steps = trainer.steps_per_update * config.run.updates_per_chunk * config.run.num_seeds
    return steps / best, compile_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--updates", type=int, default=4, help="updates per timed chunk")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--envs", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--only", default="", help="substring filter on the case label")
    args = parser.parse_args()
    print(
        f"device: {jax.devices()[0].device_kind} x{jax.device_count()}, {os.cpu_count()} CPU cores, "
        f"rollout {ROLLOUT_LENGTH}, {args.updates} updates per chunk, best of {args.repeats}"
    )
    print(f"{'case':44s} {'envs':>5s} {'steps/s':>10s} {'ref':>8s} {'ratio':>6s} {'compile s':>9s}")
    cases = [
        ("default: a2c gru64 k=5 (bandit_default)", default_case, None),
        ("ppo gru128 4x4 k=2 vs single-file PPO-GRU", ppo_case, REFERENCE_PPO_STEPS_PER_S),
    ]
    for label, make_config, reference in cases:
        if args.only and args.only not in label:
            continue
        for num_envs in args.envs:
            rate, compile_s = measure(make_config(num_envs, args.updates), args.repeats)
            ref = (reference or {}).get(num_envs)
            ref_text = f"{ref:8,d}" if ref else f"{'-':>8s}"
            ratio = f"{rate / ref:6.2f}" if ref else f"{'-':>6s}"
            print(
                f"{label:44s} {num_envs:5d} {rate:10,.0f} {ref_text} {ratio} {compile_s:9.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
