"""Where an A2C update's time goes, per core: acting, the loss's forward and backward, the rest.

For the default experiment (experiments/bandit_default.py: 256 envs x 20-step rollouts)
with the GRU and with the transformer (``--cores``), each part is compiled on its own
and run over ``--updates`` consecutive updates inside one ``lax.scan`` (one seed):

* ``act``: the rollout alone (``collect``: acting and env steps, no gradient), each
  rollout starting where the last one ended, so episodes and the transformer's cache
  fill as in training;
* ``loss forward`` / ``loss forward+backward``: the A2C loss the trainer differentiates
  (the GRU's replay of its recorded gates, the transformer's of its recorded activations) on
  ``--updates`` different stored rollouts (distinct inputs, so XLA cannot hoist the
  work out of the loop);
* ``act + gradient``: both in one program, as the trainer runs them;
* ``trainer update``: the trainer's compiled chunk (optimizer step, metrics, seeds axis).

Milliseconds per update, medians of ``--repeats`` timings; run it on a quiet machine
(``uptime`` is printed). The issue-13 goal is the transformer's whole update within
3x the GRU's (scripts/bench_train.py measures that ratio end to end).

    python scripts/bench_update_parts.py [--updates 20] [--repeats 5] [--cores gru transformer]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import metarl  # noqa: E402,F401  (CPU XLA flags)
from metarl.training import make_trainer  # noqa: E402
from metarl.training.a2c import make_a2c_replay_loss  # noqa: E402
from metarl.training.rollout import collect  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.bandit_default import CONFIG  # noqa: E402

ENTROPY, GAMMA = 0.01, 0.9


def _median_ms(function, args, repeats: int, updates: int) -> float:
    jax.block_until_ready(function(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function(*args))
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times)) / updates


def parts(core: str, updates: int, repeats: int) -> dict[str, float]:
    config = dataclasses.replace(CONFIG, agent=dataclasses.replace(CONFIG.agent, core=core))
    config = dataclasses.replace(
        config, run=dataclasses.replace(config.run, updates_per_chunk=updates)
    )
    trainer = make_trainer(config)
    state = trainer.init(jax.random.PRNGKey(0))
    one = jax.tree.map(lambda leaf: leaf[0], state)
    agent, env, env_params = trainer.agent, trainer.env, trainer.env_params
    length = config.run.rollout_length
    loss = make_a2c_replay_loss(agent, config)

    def act(seed_state, key):
        return collect(
            agent, env, env_params, seed_state.params, seed_state, key, length, False,
            record_core=agent.supports_replay,
        )  # fmt: skip

    def gradient(params, rollout):
        grads = jax.grad(lambda p: loss(p, rollout, ENTROPY, GAMMA)[0])(params)
        return sum(jnp.sum(leaf) for leaf in jax.tree.leaves(grads))

    keys = jax.random.split(jax.random.PRNGKey(1), updates)
    acting = jax.jit(lambda s, k: jax.lax.scan(lambda c, k: (act(c, k)[0], None), s, k)[0])
    # Warm the episodes and cache up, then store `updates` distinct rollouts.
    warm, rollouts = jax.jit(lambda s, k: jax.lax.scan(act, s, k))(one, keys)
    forward = jax.jit(
        lambda p, rs: jax.lax.scan(lambda c, r: (c + loss(p, r, ENTROPY, GAMMA)[0], None), 0.0, rs)[
            0
        ]
    )
    backward = jax.jit(
        lambda p, rs: jax.lax.scan(lambda c, r: (c + gradient(p, r), None), 0.0, rs)[0]
    )

    def act_and_gradient(seed_state, key):
        next_state, rollout = act(seed_state, key)
        return next_state, gradient(seed_state.params, rollout)

    # Both outputs returned: a gradient nobody reads would be compiled away.
    both = jax.jit(lambda s, k: jax.lax.scan(act_and_gradient, s, k))
    chunk = trainer.lower_chunk(state).compile()
    return {
        "act": _median_ms(acting, (warm, keys), repeats, updates),
        "loss forward": _median_ms(forward, (warm.params, rollouts), repeats, updates),
        "loss forward+backward": _median_ms(backward, (warm.params, rollouts), repeats, updates),
        "act + gradient": _median_ms(both, (warm, keys), repeats, updates),
        "trainer update": _median_ms(chunk, (state, env_params), repeats, updates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cores", nargs="+", default=["gru", "transformer"])
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    table = {core: parts(core, args.updates, args.repeats) for core in args.cores}
    names = list(next(iter(table.values())))
    print(f"\nms per update (256 envs x 20 steps), median of {args.repeats}:")
    print(f"{'part':24s}" + "".join(f"{core:>14s}" for core in args.cores))
    for name in names:
        print(f"{name:24s}" + "".join(f"{table[core][name]:14.2f}" for core in args.cores))
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
