"""Task distributions shared by every family: the prior, finite pools, held-out sets.

A *task* is a family's pytree (arm means, reward probabilities, ruleset, maze and
goal). A family supplies ``sample_prior(key) -> task``; this module turns it into

* ``prior``: a fresh draw every episode (the "infinitely many tasks" end of a sweep);
* a finite training pool of exactly N distinct tasks drawn once with ``task_seed``;
* a held-out pool drawn from the same prior with a different stream and made
  disjoint from the training pool.

Pools are built once on the host (they are small) and then live in env params as
arrays with a leading task axis, so an episode's task is a cheap gather under
``jit``/``vmap`` and evaluation can fix, hold out or enumerate tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from metarl.errors import ConfigError

SPLITS = ("train", "held_out")
INFINITE = None  # num_tasks=None means a fresh prior draw every episode

# Streams folded into PRNGKey(task_seed); distinct so the two pools never share draws.
_TRAIN_STREAM = 0
_HELD_OUT_STREAM = 1
_MAX_DRAW_ROUNDS = 16


def pool_size(pool: Any) -> int:
    """Number of tasks in a pool (leading axis of every leaf)."""
    return int(jax.tree.leaves(pool)[0].shape[0])


def draw_task(key: jax.Array, pool: Any, sample_prior: Callable[[jax.Array], Any]):
    """Draw an episode's task: uniformly from ``pool``, or from the prior if it is None.

    Returns ``(task, task_id)``; ``task_id`` is the pool index, or -1 for a prior draw.
    """
    if pool is None:
        return sample_prior(key), jnp.int32(-1)
    n = pool_size(pool)
    if n == 1:
        task_id = jnp.int32(0)
    else:
        task_id = jax.random.randint(key, (), 0, n, dtype=jnp.int32)
    return jax.tree.map(lambda leaf: leaf[task_id], pool), task_id


def _task_fingerprints(tasks: Any) -> list[bytes]:
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(tasks)]
    n = leaves[0].shape[0]
    return [b"".join(leaf[i].tobytes() for leaf in leaves) for i in range(n)]


def _draw_distinct(
    sample_prior: Callable[[jax.Array], Any],
    key: jax.Array,
    count: int,
    exclude: set[bytes],
    what: str,
) -> Any:
    """``count`` distinct prior draws, none of them in ``exclude`` (host-side, once)."""
    # One fixed batch shape, so the sampler compiles once per call however many rounds it takes.
    sample_many = jax.jit(jax.vmap(sample_prior))
    kept: list[Any] = []
    seen = set(exclude)
    batch = max(2 * count, 256)
    for round_index in range(_MAX_DRAW_ROUNDS):
        # One device-to-host copy per round; indexing device arrays per task is slow.
        candidates = jax.tree.map(
            np.asarray, sample_many(jax.random.split(jax.random.fold_in(key, round_index), batch))
        )
        for i, fingerprint in enumerate(_task_fingerprints(candidates)):
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            kept.append(jax.tree.map(lambda leaf, i=i: leaf[i], candidates))
            if len(kept) == count:
                return jax.tree.map(lambda *leaves: jnp.asarray(np.stack(leaves)), *kept)
    raise ConfigError(
        f"could not draw {count} distinct {what} tasks from the prior (found {len(kept)}); "
        "the prior has too few distinct tasks for this num_tasks / held_out_size"
    )


def build_task_pools(
    sample_prior: Callable[[jax.Array], Any],
    num_tasks: int | None,
    task_seed: int,
    held_out_size: int,
) -> tuple[Any, Any]:
    """Training pool (None for infinitely many tasks) and a disjoint held-out pool."""
    root = jax.random.PRNGKey(task_seed)
    train_pool = None
    exclude: set[bytes] = set()
    if num_tasks is not None:
        train_pool = _draw_distinct(
            sample_prior, jax.random.fold_in(root, _TRAIN_STREAM), num_tasks, set(), "training"
        )
        exclude = set(_task_fingerprints(train_pool))
    held_out_pool = _draw_distinct(
        sample_prior, jax.random.fold_in(root, _HELD_OUT_STREAM), held_out_size, exclude, "held-out"
    )
    return train_pool, held_out_pool


def select_pool(train_pool: Any, held_out_pool: Any, split: str) -> Any:
    """The pool an env draws from for ``split`` ("train" or "held_out")."""
    if split == "train":
        return train_pool
    if split == "held_out":
        return held_out_pool
    raise ConfigError(f"field 'split' = {split!r} is not allowed; allowed values: {SPLITS}")


def pool_for_split(
    sample_prior: Callable[[jax.Array], Any],
    num_tasks: int | None,
    task_seed: int,
    held_out_size: int,
    split: str,
) -> Any:
    """The task pool an env of ``split`` draws from; builds only what that split needs.

    The training pool is the same whichever split asks (so a held-out env knows what
    to exclude), and the held-out pool is only drawn for held-out envs.
    """
    if split == "train":
        if num_tasks is None:
            return None
        root = jax.random.PRNGKey(task_seed)
        return _draw_distinct(
            sample_prior, jax.random.fold_in(root, _TRAIN_STREAM), num_tasks, set(), "training"
        )
    return select_pool(*build_task_pools(sample_prior, num_tasks, task_seed, held_out_size), split)


def parse_num_tasks(value: Any) -> int | None:
    """Accept an int >= 1, or None / "inf" / "infinite" for a fresh draw every episode."""
    if value is None or (isinstance(value, str) and value.lower() in ("inf", "infinite", "none")):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"field 'num_tasks' = {value!r} is not allowed; allowed values: an integer >= 1, "
            "or 'infinite' (None) for a fresh prior draw every episode"
        )
    return value
