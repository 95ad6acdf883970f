"""Drift models shared by every family: how a task changes inside an episode.

A family says how *its* task is walked, redrawn and reversed; this module decides
when, with what noise, and reports what happened so ``info`` can carry it.

* ``random_walk``: Gaussian walk of the task's probabilities, with per-step
  volatility sigma, either on logits or on the bounded interval with reflection.
* ``change_point``: with hazard h per step, redraw the task from the episode's
  task source (the prior, or the finite pool: then a change-point moves between
  memorised tasks, which is what task-location experiments need).
* ``reversal``: swap the task's good and bad options at scheduled steps, every
  ``reversal_period`` steps, and/or at random with ``reversal_hazard`` per step
  (the two-step task's "good side swaps with probability 0.025 per trial").

Kinds combine (e.g. a random walk with occasional change-points); they apply in
the order walk, change-point, reversal.

Family configs inherit ``DriftConfig`` (change-points and reversals: any task) or
``WalkDriftConfig`` (plus the random walk: tasks with probabilities to walk) and
build their ``DriftParams`` with ``drift_params``, the one validation path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from metarl.errors import ConfigError, check_choice, check_range

DRIFT_KINDS = ("random_walk", "change_point", "reversal")
WALK_SPACES = ("logit", "bounded")
_LOGIT_EPS = 1e-6


@struct.dataclass
class DriftParams:
    """How the task changes within an episode. Traced fields can be vmapped in a sweep."""

    volatility: float = 0.0
    """random_walk: standard deviation of the per-step Gaussian increment."""
    hazard: float = 0.0
    """change_point: probability per step of redrawing the task."""
    reversal_hazard: float = 0.0
    """reversal: probability per step of a reversal at a random time (besides the schedule)."""
    walk_low: float = 0.0
    """random_walk (bounded): lower reflecting bound of walked probabilities."""
    walk_high: float = 1.0
    """random_walk (bounded): upper reflecting bound of walked probabilities."""
    kinds: tuple[str, ...] = struct.field(pytree_node=False, default=())
    """Which drift models are on; () means none. Static: it changes the program."""
    walk_space: str = struct.field(pytree_node=False, default="logit")
    """random_walk: 'logit' (walk logit((p-low)/(high-low))) or 'bounded' (reflect at bounds)."""
    reversal_steps: tuple[int, ...] = struct.field(pytree_node=False, default=())
    """reversal: the steps (0-based, within an episode) after which the task reverses."""
    reversal_period: int = struct.field(pytree_node=False, default=0)
    """reversal: also reverse every this many steps (0 = only at reversal_steps)."""

    @property
    def active(self) -> bool:
        return len(self.kinds) > 0


def make_drift(
    kinds: tuple[str, ...] | list[str] | str = (),
    *,
    volatility: float = 0.0,
    hazard: float = 0.0,
    walk_space: str = "logit",
    walk_low: float = 0.0,
    walk_high: float = 1.0,
    reversal_steps: tuple[int, ...] = (),
    reversal_period: int = 0,
    reversal_hazard: float = 0.0,
    owner: str = "drift",
    allowed_kinds: tuple[str, ...] = DRIFT_KINDS,
) -> DriftParams:
    """Validated ``DriftParams``. ``kinds`` may be 'none', one kind, or a '+'-joined list.

    ``allowed_kinds`` are the kinds the family can apply (a maze goal cannot walk).
    """
    if isinstance(kinds, str):
        kinds = () if kinds in ("", "none") else tuple(kinds.split("+"))
    elif not isinstance(kinds, (tuple, list)):
        raise ConfigError(
            f"{owner}: field 'drift' = {kinds!r} must be a string such as "
            f"{'+'.join(allowed_kinds[:2])!r}"
        )
    kinds = tuple(kinds)
    for kind in kinds:
        check_choice(owner, "drift", kind, ("none",) + tuple(allowed_kinds))
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"{owner}: field 'drift' = {'+'.join(kinds)!r} repeats a kind")
    check_choice(owner, "walk_space", walk_space, WALK_SPACES)
    check_range(owner, "volatility", volatility, 0.0)
    check_range(owner, "hazard", hazard, 0.0, 1.0)
    check_range(owner, "walk_low", walk_low, 0.0, 1.0)
    check_range(owner, "walk_high", walk_high, 0.0, 1.0)
    if walk_low >= walk_high:
        raise ConfigError(
            f"{owner}: field 'walk_low' = {walk_low} must be below walk_high = {walk_high}"
        )
    check_range(owner, "reversal_period", reversal_period, 0, integer=True)
    check_range(owner, "reversal_hazard", reversal_hazard, 0.0, 1.0)
    for step in reversal_steps:
        check_range(owner, "reversal_steps", step, 0, integer=True)
    if "random_walk" in kinds and volatility == 0.0:
        raise ConfigError(
            f"{owner}: field 'volatility' must be > 0 when drift includes 'random_walk'"
        )
    if "change_point" in kinds and hazard == 0.0:
        raise ConfigError(f"{owner}: field 'hazard' must be > 0 when drift includes 'change_point'")
    if (
        "reversal" in kinds
        and not reversal_steps
        and reversal_period == 0
        and reversal_hazard == 0.0
    ):
        raise ConfigError(
            f"{owner}: drift 'reversal' needs 'reversal_steps' (e.g. (50,)), 'reversal_period' > 0 "
            "or 'reversal_hazard' > 0"
        )
    return DriftParams(
        volatility=float(volatility),
        hazard=float(hazard),
        walk_low=float(walk_low),
        walk_high=float(walk_high),
        kinds=kinds,
        walk_space=walk_space,
        reversal_steps=tuple(int(s) for s in reversal_steps),
        reversal_period=int(reversal_period),
        reversal_hazard=float(reversal_hazard),
    )


@dataclasses.dataclass(frozen=True)
class DriftConfig:
    """Config fields of the drift models every task supports: change-points and reversals."""

    drift: str = "none"
    """'none', or '+'-joined kinds from the family's ``drift_kinds``."""
    hazard: float = 0.0
    """change_point: probability per step of redrawing the task."""
    reversal_steps: tuple[int, ...] = ()
    """reversal: steps (0-based within the episode) after which the task reverses."""
    reversal_period: int = 0
    """reversal: also reverse every this many steps (0 = only at reversal_steps)."""
    reversal_hazard: float = 0.0
    """reversal: probability per step of a reversal at a random time."""

    drift_kinds: ClassVar[tuple[str, ...]] = ("change_point", "reversal")
    """The drift kinds this family's task can undergo."""

    def walk_fields(self) -> dict[str, Any]:
        """The random-walk fields ``make_drift`` takes (none here)."""
        return {}

    def drift_params(self, owner: str, **walk: Any) -> DriftParams:
        """Validated ``DriftParams``; ``walk`` adds family fields such as walk bounds."""
        return make_drift(
            self.drift,
            hazard=self.hazard,
            reversal_steps=tuple(self.reversal_steps),
            reversal_period=self.reversal_period,
            reversal_hazard=self.reversal_hazard,
            owner=owner,
            allowed_kinds=self.drift_kinds,
            **self.walk_fields(),
            **walk,
        )


@dataclasses.dataclass(frozen=True)
class WalkDriftConfig(DriftConfig):
    """``DriftConfig`` plus the random walk, for tasks made of probabilities."""

    volatility: float = 0.0
    """random_walk: standard deviation of the per-step Gaussian increment."""
    walk_space: str = "logit"
    """random_walk: 'logit' (walk logit((p-low)/(high-low))) or 'bounded' (reflect at bounds)."""

    drift_kinds: ClassVar[tuple[str, ...]] = DRIFT_KINDS

    def walk_fields(self) -> dict[str, Any]:
        return {"volatility": self.volatility, "walk_space": self.walk_space}


@struct.dataclass
class DriftEvent:
    """What the drift models did at one step (ground truth for ``info``)."""

    change_point: jax.Array
    reversal: jax.Array

    @property
    def any(self) -> jax.Array:
        return jnp.logical_or(self.change_point, self.reversal)


def random_walk(key: jax.Array, probabilities: jax.Array, drift: DriftParams) -> jax.Array:
    """One step of the Gaussian walk of probabilities in [walk_low, walk_high]."""
    noise = jax.random.normal(key, probabilities.shape, probabilities.dtype)
    return walk_with_noise(noise, probabilities, drift)


def walk_with_noise(noise: jax.Array, probabilities: jax.Array, drift: DriftParams) -> jax.Array:
    """``random_walk`` given standard-normal ``noise`` of the probabilities' shape."""
    noise = drift.volatility * noise
    low, high = drift.walk_low, drift.walk_high
    span = high - low
    if drift.walk_space == "logit":
        unit = jnp.clip((probabilities - low) / span, _LOGIT_EPS, 1.0 - _LOGIT_EPS)
        # sigmoid(logit(u) + x) == u / (u + (1 - u) * exp(-x)): one exp instead of log + exp.
        return low + span * unit / (unit + (1.0 - unit) * jnp.exp(-noise))
    # Reflect at both bounds: fold the line onto [0, 2*span) and mirror the top half.
    folded = jnp.mod(probabilities + noise - low, 2.0 * span)
    return low + jnp.where(folded > span, 2.0 * span - folded, folded)


def standard_normal_from_uniform(uniforms: jax.Array) -> jax.Array:
    """Inverse-CDF normals, the transform jax.random.normal itself uses (erf_inv)."""
    centred = jnp.clip(2.0 * uniforms - 1.0, -1.0 + 1e-7, 1.0 - 1e-7)
    return jnp.sqrt(2.0).astype(uniforms.dtype) * jax.lax.erf_inv(centred)


def uniforms_needed(drift: DriftParams, walk_size: int) -> int:
    """How many U(0,1) draws ``apply_drift_uniform`` consumes per step."""
    count = 0
    if "random_walk" in drift.kinds:
        count += walk_size
    if "change_point" in drift.kinds:
        count += 1
    if "reversal" in drift.kinds:
        count += 1  # random-time reversals (reversal_hazard is traced, so always drawn)
    return count


def reversal_due(step: jax.Array, drift: DriftParams) -> jax.Array:
    """Whether the task reverses after ``step`` (0-based within the episode)."""
    due = jnp.zeros((), bool)
    for scheduled in drift.reversal_steps:
        due = jnp.logical_or(due, step == scheduled)
    if drift.reversal_period > 0:
        due = jnp.logical_or(due, (step + 1) % drift.reversal_period == 0)
    return due


def apply_drift(
    key: jax.Array,
    task: Any,
    step: jax.Array,
    drift: DriftParams,
    *,
    walk: Callable[[jax.Array, Any, DriftParams], Any] | None = None,
    redraw: Callable[[jax.Array], Any] | None = None,
    reverse: Callable[[Any], Any] | None = None,
) -> tuple[Any, DriftEvent]:
    """Advance ``task`` by one step of every drift model in ``drift.kinds``.

    ``walk(key, task, drift)``, ``redraw(key)`` and ``reverse(task)`` are the family's
    task operations; only the ones the active kinds need are required.
    """
    no_event = jnp.zeros((), bool)
    if not drift.active:
        return task, DriftEvent(change_point=no_event, reversal=no_event)
    walk_key, hazard_key, redraw_key, reversal_key = jax.random.split(key, 4)
    if "random_walk" in drift.kinds:
        task = walk(walk_key, task, drift)
    changed = no_event
    if "change_point" in drift.kinds:
        changed = jax.random.uniform(hazard_key) < drift.hazard
        fresh = redraw(redraw_key)
        task = jax.tree.map(lambda new, old: jnp.where(changed, new, old), fresh, task)
    reversed_now = no_event
    if "reversal" in drift.kinds:
        reversed_now = reversal_due(step, drift)
        random_reversal = jax.random.uniform(reversal_key) < drift.reversal_hazard
        reversed_now = jnp.logical_or(reversed_now, random_reversal)
        flipped = reverse(task)
        task = jax.tree.map(lambda new, old: jnp.where(reversed_now, new, old), flipped, task)
    return task, DriftEvent(change_point=changed, reversal=reversed_now)


def apply_drift_uniform(
    uniforms: jax.Array,
    task: Any,
    step: jax.Array,
    drift: DriftParams,
    *,
    walk_leaf: Callable[[Any], jax.Array] | None = None,
    with_walked_leaf: Callable[[Any, jax.Array], Any] | None = None,
    fresh_task: Any = None,
    reverse: Callable[[Any], Any] | None = None,
) -> tuple[Any, DriftEvent]:
    """``apply_drift`` from pre-drawn uniforms: the hot path of the fastest families.

    ``uniforms`` has ``uniforms_needed(drift, walk_leaf(task).size)`` entries;
    ``fresh_task`` is the redraw a change-point would switch to (a family can share
    it with its reset draw: the two are never both kept). Generating every random
    number of a step in one call is what makes a bandit step cheaper than
    splitting keys per drift model.
    """
    no_event = jnp.zeros((), bool)
    if not drift.active:
        return task, DriftEvent(change_point=no_event, reversal=no_event)
    used = 0
    if "random_walk" in drift.kinds:
        leaf = walk_leaf(task)
        size = leaf.size
        noise = standard_normal_from_uniform(uniforms[used : used + size])
        task = with_walked_leaf(task, walk_with_noise(noise.reshape(leaf.shape), leaf, drift))
        used += size
    changed = no_event
    if "change_point" in drift.kinds:
        changed = uniforms[used] < drift.hazard
        used += 1
        task = jax.tree.map(lambda new, old: jnp.where(changed, new, old), fresh_task, task)
    reversed_now = no_event
    if "reversal" in drift.kinds:
        reversed_now = reversal_due(step, drift)
        reversed_now = jnp.logical_or(reversed_now, uniforms[used] < drift.reversal_hazard)
        used += 1
        flipped = reverse(task)
        task = jax.tree.map(lambda new, old: jnp.where(reversed_now, new, old), flipped, task)
    return task, DriftEvent(change_point=changed, reversal=reversed_now)
