"""Paired quality check of a trained bandit run against Thompson sampling.

Restores a run's latest (or given) checkpoint, then plays N fresh episodes from
the prior with the frozen agent (sampled actions), Thompson sampling and a random
agent, all on the same task draws and the same reward draws, and prints mean
total reward with 95% intervals and the paired agent - Thompson difference.

    python scripts/check_bandit_quality.py runs/NAME [--episodes 5000] [--step STEP] [--seed-index 0]

``metarl eval runs/NAME`` does this and more (every reference agent, curves,
bootstrap intervals, suites, plots); this script stays as the quick check whose
numbers the README quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

import metarl  # noqa: E402,F401
from metarl import envs  # noqa: E402
from metarl.evaluation import evaluate_policy, mean_interval, paired_difference  # noqa: E402
from metarl.evaluation.agent_policy import agent_policy  # noqa: E402
from metarl.evaluation.baselines import random_policy, thompson_sampling  # noqa: E402
from metarl.evaluation.run_eval import load_frozen_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir")
    parser.add_argument("--episodes", type=int, default=5000)
    parser.add_argument(
        "--step", type=int, default=None, help="checkpoint update (default: latest)"
    )
    parser.add_argument("--seed-index", type=int, default=0, help="which training seed's params")
    parser.add_argument("--eval-seed", type=int, default=12345)
    args = parser.parse_args()

    # The same restore as `metarl eval` (refuses a checkpoint whose config differs from the run's).
    frozen = load_frozen_run(args.run_dir, args.step if args.step is not None else "latest")
    config, agent, step = frozen.config, frozen.agent, frozen.step
    params = jax.tree.map(lambda leaf: leaf[args.seed_index], frozen.params)

    env, env_params = envs.make(config.env.name, **config.env.overrides)
    horizon = env_params.max_steps_in_episode
    num_arms = env.num_actions
    key = jax.random.PRNGKey(args.eval_seed)
    results = {}
    for name, policy in [
        ("agent", agent_policy(agent, params)),
        ("thompson", thompson_sampling(num_arms)),
        ("random", random_policy(num_arms)),
    ]:
        start = time.perf_counter()
        episodes = jax.jit(
            lambda key, policy=policy: evaluate_policy(
                policy, env, env_params, key, args.episodes, horizon
            )
        )(key)
        results[name] = jax.device_get(episodes.returns)
        mean, half = mean_interval(results[name])
        print(
            f"{name:9s} mean total reward {mean:7.2f} +- {half:.2f}  ({time.perf_counter() - start:.1f}s)"
        )
    diff, half = paired_difference(results["agent"], results["thompson"])
    print(
        f"paired agent - thompson: {diff:+.2f} +- {half:.2f} (95%, {args.episodes} shared episodes)"
    )
    print(json.dumps({"checkpoint_update": step, "agent_minus_thompson": diff, "interval": half}))


if __name__ == "__main__":
    main()
