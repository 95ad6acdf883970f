"""Environment throughput: env steps/s under jit(vmap) + lax.scan, compile time apart.

Each family runs 1000 steps with uniformly random actions and auto-reset on, at
batch 1024 and 8192, on the default JAX device; the references run the same loop
in the same process and the table prints our/reference ratios.

    python scripts/bench_envs.py [--steps 1000] [--batches 1024 8192] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import gymnax  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import metarl.envs as menvs  # noqa: E402

import metarl  # noqa: E402,F401  (CPU XLA flags)

# Published/measured reference not runnable here: xland-minigrid, 9x9 grid, one-rule rulesets.
XLAND_MINIGRID_9X9_STEPS_PER_S_AT_1024 = 0.42e6


def make_rollout(env, params, batch: int, steps: int):
    num_actions = env.action_space(params).n

    def rollout(key):
        reset_key, run_key = jax.random.split(key)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, batch), params
        )

        def one_step(carry, step_key):
            state, total = carry
            action_key, env_key = jax.random.split(step_key)
            actions = jax.random.randint(action_key, (batch,), 0, num_actions)
            obs, state, reward, _, _, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(env_key, batch), state, actions, params
            )
            # Consume the observation too, or XLA drops its computation and flatters the env.
            seen = sum(jnp.sum(leaf.astype(jnp.float32)) for leaf in jax.tree.leaves(obs))
            return (state, total + reward.sum() + seen), None

        (_, total), _ = jax.lax.scan(
            one_step, (state, jnp.float32(0.0)), jax.random.split(run_key, steps)
        )
        return total

    return rollout


def measure(env, params, batch: int, steps: int, repeats: int) -> tuple[float, float]:
    """(steps per second, compile seconds) for one env at one batch size."""
    rollout = jax.jit(make_rollout(env, params, batch, steps))
    key = jax.random.PRNGKey(0)
    start = time.perf_counter()
    compiled = rollout.lower(key).compile()
    compile_s = time.perf_counter() - start
    compiled(key).block_until_ready()  # warm-up
    best = float("inf")
    for repeat in range(repeats):
        start = time.perf_counter()
        compiled(jax.random.PRNGKey(repeat + 1)).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return batch * steps / best, compile_s


def cases():
    """(label, (env, params), reference label or None, reference (env, params) or None)."""
    yield (
        "bandit k=2, random_walk+change_point",
        menvs.make("bandit-restless-v0", num_arms=2),
        "gymnax BernoulliBandit-misc",
        gymnax.make("BernoulliBandit-misc"),
    )
    yield (
        "bandit k=5, random_walk+change_point",
        menvs.make("bandit-restless-v0", num_arms=5),
        None,
        None,
    )
    for name, label, ref_label, ref in EXTRA_CASES:
        yield label, menvs.make(name), ref_label, ref() if ref else None


# (registered name, label, reference label, reference factory or None).
EXTRA_CASES: list = [
    ("two-step-v0", "two-step (Wang), random reversals", None, None),
    ("two-step-daw-v0", "two-step (Daw), bounded random walk", None, None),
    (
        "maze-v0",
        "maze 11x11 (5x5 cells)",
        "gymnax MetaMaze-misc",
        lambda: gymnax.make("MetaMaze-misc"),
    ),
    (
        "maze-moving-goal-v0",
        "maze 11x11, goal change-points",
        "gymnax MetaMaze-misc",
        lambda: gymnax.make("MetaMaze-misc"),
    ),
    ("rule-grid-v0", "rule grid 9x9 egocentric, 3 types", "xland-minigrid", None),
    ("rule-grid-full-v0", "rule grid 9x9 full view, 3 types", "xland-minigrid", None),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batches", type=int, nargs="+", default=[1024, 8192])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="substring filter on the case label")
    args = parser.parse_args()
    print(f"device: {jax.devices()[0].device_kind}, {os.cpu_count()} CPU cores, steps={args.steps}")
    print(
        f"{'case':45s} {'batch':>6s} {'ours M/s':>9s} {'ref M/s':>8s} {'ratio':>6s} {'compile s':>9s}  reference"
    )
    for label, (env, params), ref_label, ref in cases():
        if args.only and args.only not in label:
            continue
        for batch in args.batches:
            ours, compile_s = measure(env, params, batch, args.steps, args.repeats)
            ref_rate, ratio, ref_text = float("nan"), float("nan"), ""
            if ref is not None:
                ref_rate, _ = measure(ref[0], ref[1], batch, args.steps, args.repeats)
                ratio, ref_text = ours / ref_rate, ref_label
            elif ref_label == "xland-minigrid":
                ref_rate = XLAND_MINIGRID_9X9_STEPS_PER_S_AT_1024
                ratio, ref_text = (
                    ours / ref_rate,
                    "xland-minigrid 9x9 1-rule (0.42M/s at 1024, measured elsewhere)",
                )
            print(
                f"{label:45s} {batch:6d} {ours / 1e6:9.2f} {ref_rate / 1e6:8.2f} {ratio:6.2f} {compile_s:9.2f}  {ref_text}",
                flush=True,
            )


if __name__ == "__main__":
    main()
