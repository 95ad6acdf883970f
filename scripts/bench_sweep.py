"""Sweep throughput: a 6-point x 3-seed task-diversity sweep, vmapped vs point after point.

The task-diversity sweep's N = 1, 4, 16, 64, 256, inf (one pool seed) x 3 training
seeds, at a small budget, trained two ways in the same process:

* ``vmapped``: as ``metarl sweep`` trains it (``metarl.sweeps.groups``): the five
  finite N x 3 seeds are ONE compiled program (15 members, pools padded to 256
  tasks, the active count traced), N = inf a second (3 members);
* ``sequential``: one ``Trainer`` per point (its 3 seeds vmapped as in any run),
  one compile per point, points one after another: what a sweep had to do while
  the trainer closed over its task pool.

Compile time (``.lower().compile()``) is reported apart from run time; run time is
the median of ``--repeats`` timed passes over the same chunks (one chunk of
``--updates`` updates per program), the two ways interleaved so machine load
mostly cancels in the ratio.

    python scripts/bench_sweep.py [--updates 20] [--repeats 3]
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
from metarl.experiments import load_experiment_module  # noqa: E402
from metarl.sweeps.groups import GroupTrainer, plan_groups  # noqa: E402
from metarl.sweeps.spec import point_config  # noqa: E402
from metarl.training import make_trainer  # noqa: E402


def sweep_configs(updates: int):
    sweep = load_experiment_module("task_diversity").SWEEP
    run = sweep.experiment.run
    steps = updates * run.num_envs * run.rollout_length
    base = dataclasses.replace(
        sweep.experiment,
        run=dataclasses.replace(run, total_env_steps=steps, updates_per_chunk=updates),
    )
    sweep = dataclasses.replace(sweep, experiment=base)
    points = [p for p in sweep.points() if p.value("env.overrides.task_seed") == 0]
    return [point_config(sweep, p) for p in points]


def compiled_program(trainer, init):
    """(run() -> one chunk, blocking; env steps per run; compile seconds)."""
    state = init()
    jax.block_until_ready(state)
    start = time.perf_counter()
    compiled = trainer.lower_chunk(state).compile()
    compile_s = time.perf_counter() - start
    box = {"state": state}

    def run():
        box["state"], metrics = compiled(box["state"], trainer.env_params)
        jax.block_until_ready((box["state"], metrics))

    run()  # warm-up
    cfg = trainer.config.run
    return run, trainer.steps_per_update * cfg.updates_per_chunk * cfg.num_seeds, compile_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=20, help="updates per timed chunk")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    configs = sweep_configs(args.updates)
    print(f"uptime: {os.getloadavg()}; devices: {jax.devices()}")
    ways = {"vmapped": [], "sequential": []}
    for group in plan_groups(configs):
        trainer = GroupTrainer(group)
        ways["vmapped"].append(compiled_program(trainer, lambda t=trainer: t.init(None)))
    for config in configs:
        trainer = make_trainer(config)
        ways["sequential"].append(
            compiled_program(
                trainer, lambda t=trainer, c=config: t.init(jax.random.key(c.run.seed))
            )
        )
    times = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, programs in ways.items():
            start = time.perf_counter()
            for run, _, _ in programs:
                run()
            times[name].append(time.perf_counter() - start)
    steps = {name: sum(p[1] for p in programs) for name, programs in ways.items()}
    print(
        f"6 points x 3 seeds, {args.updates} updates of "
        f"{configs[0].run.num_envs} envs x {configs[0].run.rollout_length} steps per run "
        f"({steps['vmapped']:,} env steps per pass)"
    )
    print("| way | programs | compile s | run s (median) | env steps/s |")
    print("|---|---|---|---|---|")
    for name, programs in ways.items():
        run_s = statistics.median(times[name])
        compile_s = sum(p[2] for p in programs)
        print(
            f"| {name} | {len(programs)} | {compile_s:.1f} | {run_s:.2f} | "
            f"{steps[name] / run_s / 1e3:.0f}k |"
        )
    ratio = statistics.median(
        s / v for s, v in zip(times["sequential"], times["vmapped"], strict=True)
    )
    compile_ratio = sum(p[2] for p in ways["sequential"]) / sum(p[2] for p in ways["vmapped"])
    print(
        f"run time: vmapped is {ratio:.2f}x the sequential speed; compile: {compile_ratio:.2f}x less"
    )


if __name__ == "__main__":
    main()
