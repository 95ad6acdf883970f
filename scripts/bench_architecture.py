"""Training speed of every core of an architecture sweep, at the sweep's own settings.

Each core's group (its seeds vmapped, the sweep's envs, rollout and algorithm) is
compiled for a chunk of ``--updates`` updates, run once to warm up, then timed
``--repeats`` times, the cores interleaved so machine load falls on all of them
alike. Prints core, parameters, compile seconds and env steps per second (all
seeds together), and the wall time the sweep's training would take at those rates.

    python scripts/bench_architecture.py architecture_bandit [--updates 20] [--repeats 3]
    python scripts/bench_architecture.py architecture_rule_grid --updates 4
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

import metarl  # noqa: E402,F401  (XLA flags before JAX compiles anything)
from metarl.runner.train_loop import total_updates  # noqa: E402
from metarl.sweeps.architecture import count_params  # noqa: E402
from metarl.sweeps.groups import GroupTrainer, plan_groups  # noqa: E402
from metarl.sweeps.run_sweep import load_sweep  # noqa: E402
from metarl.sweeps.spec import point_config  # noqa: E402


def timed_chunk(group):
    """(run() -> one chunk, blocking; env steps per chunk, all members; compile seconds)."""
    trainer = GroupTrainer(group)
    state = trainer.init(None)
    jax.block_until_ready(state)
    start = time.perf_counter()
    compiled = trainer.lower_chunk(state).compile()
    compile_s = time.perf_counter() - start
    box = {"state": state}

    def run():
        box["state"], metrics = compiled(box["state"], trainer.env_params)
        jax.block_until_ready((box["state"], metrics))

    run()  # warm-up
    run_config = trainer.config.run
    steps = trainer.steps_per_update * run_config.updates_per_chunk * run_config.num_seeds
    return run, steps, compile_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", help="experiment name exporting an architecture SWEEP")
    parser.add_argument("--updates", type=int, default=20, help="updates per timed chunk")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sweep = load_sweep(args.sweep)
    full = [point_config(sweep, p) for p in sweep.points()]
    run = dataclasses.replace(sweep.experiment.run, updates_per_chunk=args.updates)
    timed = dataclasses.replace(sweep, experiment=dataclasses.replace(sweep.experiment, run=run))
    configs = [point_config(timed, p) for p in timed.points()]
    print(f"load average {os.getloadavg()}; devices {jax.devices()}")
    programs = [timed_chunk(group) for group in plan_groups(configs)]
    times: list[list[float]] = [[] for _ in programs]
    for _ in range(args.repeats):
        for k, (chunk, _, _) in enumerate(programs):
            start = time.perf_counter()
            chunk()
            times[k].append(time.perf_counter() - start)
    seeds = run.num_seeds
    print(
        f"{args.sweep}: {seeds} seeds x {run.num_envs} envs x {run.rollout_length} steps, "
        f"{args.updates} updates per timed chunk, median of {args.repeats}"
    )
    print("| core | width | params | compile s | env steps/s (all seeds) | per seed | sweep s |")
    print("|---|---|---|---|---|---|---|")
    total = 0.0
    for config, full_config, (_, steps, compile_s), spent in zip(
        configs, full, programs, times, strict=True
    ):
        rate = steps / statistics.median(spent)
        sweep_steps = total_updates(full_config) * run.num_envs * run.rollout_length * seeds
        total += sweep_steps / rate
        print(
            f"| {config.agent.core} | {config.agent.hidden_size} | {count_params(config):,} | "
            f"{compile_s:.1f} | {rate / 1e3:.1f}k | {rate / seeds / 1e3:.1f}k | "
            f"{sweep_steps / rate:.0f} |"
        )
    print(f"training the whole sweep at these rates: {total / 60:.1f} min (compiles apart)")


if __name__ == "__main__":
    main()
