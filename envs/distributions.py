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

Pools as vmap axes. A sweep vmaps training over pools of different N and seeds, so
their params must have one shape: ``pool_capacity = C`` pads the training pool to C
tasks (slots N..C-1 repeat the first N, so every slot is a valid task) and params
carry ``num_active_tasks = N`` as a traced int32 leaf; every family draws the task
index uniformly among the first ``num_active_tasks`` from the same random numbers
as the unpadded env, so a padded env's trajectories equal the unpadded ones bit for
bit. Without ``pool_capacity`` the leaf is None and the count is the pool's static
size, exactly as before. ``num_tasks=None`` (a fresh prior draw every episode) has
no pool at all: a different static structure, which cannot share a vmap with pools.

Every family config inherits ``TaskSourceConfig``, whose ``task_source`` validates
these fields once for all families.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from metarl.errors import ConfigError, check_choice, check_range

SPLITS = ("train", "held_out")
INFINITE = None  # num_tasks=None means a fresh prior draw every episode

# Streams folded into PRNGKey(task_seed); distinct so the two pools never share draws.
_TRAIN_STREAM = 0
_HELD_OUT_STREAM = 1
_MAX_DRAW_ROUNDS = 16


def pool_size(pool: Any) -> int:
    """Number of tasks in a pool (leading axis of every leaf)."""
    return int(jax.tree.leaves(pool)[0].shape[0])


def active_count(pool: Any, num_active: jax.Array | None) -> int | jax.Array:
    """How many leading tasks of ``pool`` episodes draw from.

    The pool's static size when ``num_active`` is None (an unpadded pool), else the
    traced count of a padded one.
    """
    return pool_size(pool) if num_active is None else num_active


def index_from_uniform(u: jax.Array, count: int | jax.Array) -> jax.Array:
    """Uniform index in [0, count) from u ~ U[0, 1): floor(u * count), clipped.

    ``count`` may be a Python int or a traced int32: both multiply in float32, so a
    padded pool's index equals the unpadded pool's bit for bit.
    """
    return jnp.minimum((u * count).astype(jnp.int32), count - 1)


def draw_task(
    key: jax.Array,
    pool: Any,
    sample_prior: Callable[[jax.Array], Any],
    num_active: jax.Array | None = None,
):
    """Draw an episode's task: uniformly from ``pool``, or from the prior if it is None.

    With ``num_active`` (a padded pool) the index is uniform over the first
    ``num_active`` tasks. Returns ``(task, task_id)``; ``task_id`` is the pool index,
    or -1 for a prior draw.
    """
    if pool is None:
        return sample_prior(key), jnp.int32(-1)
    count = active_count(pool, num_active)
    if num_active is None and count == 1:
        task_id = jnp.int32(0)
    else:
        # randint(key, 0, 1) is 0, so a traced count of 1 matches the static shortcut.
        task_id = jax.random.randint(key, (), 0, count, dtype=jnp.int32)
    return jax.tree.map(lambda leaf: leaf[task_id], pool), task_id


def pad_pool(pool: Any, capacity: int) -> Any:
    """``pool`` repeated cyclically to ``capacity`` tasks: slot i holds task i mod N.

    Padded slots are never drawn (the draw stops at the active count), but they are
    real tasks, so nothing computed from them (a gather, a ground-truth info field)
    can be NaN or out of range.
    """
    order = np.arange(capacity) % pool_size(pool)
    return jax.tree.map(lambda leaf: leaf[order], pool)


def active_task_pool(task_pool: Any, num_active: jax.Array | None) -> Any:
    """The tasks episodes draw from (host side): the pool without its padding.

    For readers of ``params.task_pool`` (references, probes) that need the N training
    tasks themselves, e.g. ``active_task_pool(params.task_pool, params.num_active_tasks)``.
    """
    if task_pool is None or num_active is None:
        return task_pool
    count = int(num_active)
    return jax.tree.map(lambda leaf: leaf[:count], task_pool)


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


def check_finite_split(
    owner: str,
    num_tasks: int | None,
    held_out_size: int | None,
    split: str,
    num_distinct: int,
    what: str,
) -> int:
    """The held-out size of a family with only ``num_distinct`` distinct tasks (``what``
    names them, e.g. "goals of a 9 x 9 room"), after checking that the training pool fits
    in them, that the held-out set fits beside it (None: all the rest) and that a held-out
    split has something to hold (ConfigError naming the field)."""
    if num_tasks is not None and num_tasks > num_distinct:
        raise ConfigError(
            f"{owner}: field 'num_tasks' = {num_tasks} is out of range: there are {num_distinct} "
            f"{what}; allowed: [1, {num_distinct}] or 'infinite'"
        )
    available = num_distinct - (num_tasks or 0)
    held_out = available if held_out_size is None else held_out_size
    if held_out > available:
        raise ConfigError(
            f"{owner}: field 'held_out_size' = {held_out} is out of range: only {available} of "
            f"the {num_distinct} {what} lie outside a training pool of num_tasks = {num_tasks}; "
            + (f"allowed: [1, {available}] or None" if available else "allowed: None")
        )
    if split == "held_out" and held_out == 0:
        raise ConfigError(
            f"{owner}: field 'split' = 'held_out' is not allowed with num_tasks = {num_tasks}: "
            f"the training pool holds all {num_distinct} {what}; allowed: 'train', or fewer "
            "num_tasks"
        )
    return held_out


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


@dataclasses.dataclass(frozen=True)
class TaskSource:
    """A validated task source (``TaskSourceConfig.task_source``); num_tasks parsed."""

    num_tasks: int | None
    task_seed: int
    held_out_size: int | None
    split: str
    pool_capacity: int | None

    @property
    def pads(self) -> bool:
        """Whether the split's pool is padded to ``pool_capacity`` (training pools only)."""
        return self.pool_capacity is not None and self.split == "train"

    def finish(self, pool: Any) -> tuple[Any, jax.Array | None]:
        """``(task_pool, num_active_tasks)`` for env params from the split's unpadded pool.

        With ``pool_capacity`` set, a training pool is padded to it and the count is a
        traced int32 leaf; a held-out pool keeps its size but also gets the leaf, so
        that params of every point of a sweep have one tree structure.
        """
        if self.pool_capacity is None or pool is None:
            return pool, None
        count = pool_size(pool)
        if self.pads:
            pool = pad_pool(pool, self.pool_capacity)
        return pool, jnp.int32(count)


@dataclasses.dataclass(frozen=True)
class TaskSourceConfig:
    """Where episodes' tasks come from: the config fields every family shares.

    Family configs inherit these (so the flat override names are the same in every
    family) and call ``task_source`` to validate them.
    """

    num_tasks: int | str | None = None
    """Training pool size N; None ('inf', 'infinite') draws fresh from the prior each episode."""
    task_seed: int = 0
    """Seed of the training and held-out pools."""
    held_out_size: int | None = 1024
    """Number of held-out tasks (disjoint from the training pool)."""
    split: str = "train"
    """Which tasks episodes use: 'train' (pool or prior) or 'held_out'."""
    pool_capacity: int | None = None
    """Pad the training pool to this many tasks (>= num_tasks; None: exactly num_tasks), with
    the active count as a traced leaf, so pools of different N share one shape (a vmap axis)."""

    held_out_size_optional: ClassVar[bool] = False
    """Whether held_out_size may be None (then the family picks it)."""

    def task_source(self, owner: str) -> TaskSource:
        """The validated task source; a ConfigError names the first bad field."""
        num_tasks = parse_num_tasks(self.num_tasks)
        check_range(owner, "task_seed", self.task_seed, 0, integer=True)
        if self.held_out_size is not None or not self.held_out_size_optional:
            check_range(owner, "held_out_size", self.held_out_size, 1, integer=True)
        check_choice(owner, "split", self.split, SPLITS)
        if self.pool_capacity is not None:
            if num_tasks is None:
                raise ConfigError(
                    f"{owner}: field 'pool_capacity' = {self.pool_capacity!r} needs a finite "
                    "num_tasks (it pads the training pool); allowed with num_tasks = 'infinite': None"
                )
            check_range(owner, "pool_capacity", self.pool_capacity, num_tasks, integer=True)
        return TaskSource(
            num_tasks=num_tasks,
            task_seed=self.task_seed,
            held_out_size=self.held_out_size,
            split=self.split,
            pool_capacity=self.pool_capacity,
        )


def pool_from_prior(
    sample_prior: Callable[[jax.Array], Any], source: TaskSource
) -> tuple[Any, jax.Array | None]:
    """``(task_pool, num_active_tasks)`` of ``source``'s split, drawn from the prior."""
    pool = pool_for_split(
        sample_prior, source.num_tasks, source.task_seed, source.held_out_size, source.split
    )
    return source.finish(pool)


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
