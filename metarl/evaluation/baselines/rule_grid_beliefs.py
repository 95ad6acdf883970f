"""Beliefs over rule-grid rulesets: the tables the Bayes agents reason over, and their filter.

* ``ruleset_table(params)``: every distinct ruleset a *discrete* prior can draw, with
  its exact prior probability under uniform digits (the env's own digits are uniform
  up to a relative 2.5e-4, ``rule_grid_tasks._RADIX_CAP``). It enumerates every digit
  combination of ``prior_radices`` and maps it through the env's ``ruleset_from_digits``
  itself, so the table cannot drift from the sampler; duplicates (a transform target
  that is ignored, the ``require_positive`` fix-up) are merged and their
  probabilities added, which is what makes the table non-uniform.
* ``pool_table(task_pool, num_active_tasks)``: a finite pool, uniform over its active
  entries (padding has probability 0).

Both work on concrete params and inside a compiled program on traced ones (a sweep
builds its references from traced params): every shape comes from static fields.

The filter (``filter_step``) is exact forward filtering of a change-point model: the
ruleset in force is redrawn from the table's prior with probability ``hazard`` per
step, and a collection is evidence about the collected type's reward and effect
(``observe_collection``). A hard likelihood keeps only rulesets that match; a soft one
multiplies by ``epsilon`` per mismatched field, so a ruleset nobody memorised still
leaves the nearest entries (fewest mismatches) on top.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from metarl.envs.rule_grid import TRANSFORM
from metarl.envs.rule_grid_tasks import prior_radices, ruleset_from_digits
from metarl.errors import ConfigError

MAX_RULESETS = 50_000
"""Largest prior ``ruleset_table`` enumerates (distinct rulesets: each is a column of
every Bayes step, so the agents' cost grows with it)."""
MAX_PRIOR_DRAWS = 1 << 21
"""Largest number of digit combinations enumerated to build a table."""
REWARD_TOLERANCE = 1e-4
"""A reward matches a table entry within this (relative) distance: rewards are float32
copies of the prior's values, rescaled by ``reward_scale`` and back."""
_KEY_LIMIT = 1 << 31  # canonical ruleset keys are int32


@struct.dataclass
class RulesetTable:
    """Rulesets and their prior, one row per ruleset (R rows)."""

    rewards: jax.Array
    """[R, T] float32 reward of each type, in the prior's own unit."""
    effects: jax.Array
    """[R, T] int32 effect codes."""
    transform_to: jax.Array
    """[R, T] int32 transform targets (the type itself when the effect is not transform)."""
    log_prior: jax.Array
    """[R] float32 log prior probability (-inf: padding, never drawn)."""

    @property
    def size(self) -> int:
        return int(self.log_prior.shape[0])

    @property
    def probs(self) -> jax.Array:
        return jnp.exp(self.log_prior)


def num_prior_rulesets(params) -> int:
    """Distinct rulesets of a discrete prior with distinct reward values (static shapes only).

    The same count as ``rule_grid_config.count_rulesets``, from params: reward vectors
    with no positive entry are never drawn under ``require_positive``.
    """
    t = params.num_object_types
    values = params.reward_values.shape[0]
    vectors = values**t
    if params.require_positive:
        vectors -= (values - params.positive_reward_values.shape[0]) ** t
    per_type = len(params.effects)
    if t > 1 and TRANSFORM in params.effects:
        per_type += t - 2
    return vectors * per_type**t


def _check_enumerable(params, owner: str) -> None:
    """Raise a ConfigError naming the field that makes the prior impossible to enumerate."""
    if params.continuous_rewards:
        raise ConfigError(
            f"{owner}: field 'reward_range' is set: continuous rewards have no finite ruleset "
            "table (use reward_values)"
        )
    radices = prior_radices(params)
    draws, count = math.prod(radices), num_prior_rulesets(params)
    key_space = (params.reward_values.shape[0] * 3 * params.num_object_types) ** (
        params.num_object_types
    )
    if draws > MAX_PRIOR_DRAWS or count > MAX_RULESETS or key_space >= _KEY_LIMIT:
        raise ConfigError(
            f"{owner}: field 'num_object_types' = {params.num_object_types}: the prior has "
            f"{count} rulesets ({draws} digit combinations), more than the {MAX_RULESETS} "
            f"({MAX_PRIOR_DRAWS}) a ruleset table holds; use fewer object types, reward_values "
            "or effects"
        )


def _all_digits(radices: list[int]) -> np.ndarray:
    """[prod(radices), len(radices)] int32: every digit combination, mixed radix."""
    index = np.arange(math.prod(radices), dtype=np.int64)
    columns = []
    for radix in radices:
        columns.append(index % radix)
        index //= radix
    return np.stack(columns, axis=1).astype(np.int32)


def _canonical_keys(rulesets, params) -> jax.Array:
    """[N] int32: one key per distinct ruleset (equal rulesets, equal keys)."""
    t = params.num_object_types
    # The first index holding the reward: equal values (a repeated reward_value) share it.
    value_index = jnp.argmax(
        params.reward_values[None, None, :] == rulesets.rewards[..., None], axis=-1
    )
    per_type = (value_index * 3 + rulesets.effects) * t + rulesets.transform_to
    radix = params.reward_values.shape[0] * 3 * t
    weights = jnp.asarray([radix**i for i in range(t)], jnp.int32)
    return jnp.sum(per_type.astype(jnp.int32) * weights, axis=-1)


@jax.jit
def _enumerated_table(params) -> tuple[RulesetTable, jax.Array]:
    """(table with ``num_prior_rulesets`` rows, [rows] draws landing on each row).

    Jitted: eagerly, the vmap and the unique would dispatch op by op (seconds).
    """
    radices = prior_radices(params)
    digits = jnp.asarray(_all_digits(radices))
    drawn = jax.vmap(lambda row: ruleset_from_digits(list(row), params))(digits)
    keys = _canonical_keys(drawn, params)
    size = num_prior_rulesets(params)
    _, first, inverse = jnp.unique(
        keys, size=size, fill_value=keys[0], return_index=True, return_inverse=True
    )
    counts = jax.ops.segment_sum(jnp.ones_like(keys), inverse.reshape(-1), num_segments=size)
    table = RulesetTable(
        rewards=drawn.rewards[first],
        effects=drawn.effects[first],
        transform_to=drawn.transform_to[first],
        log_prior=jnp.log(counts.astype(jnp.float32) / keys.shape[0]),
    )
    return table, counts


def ruleset_table(params, owner: str = "ruleset_table") -> RulesetTable:
    """Every distinct ruleset the (discrete) prior of ``params`` draws, with its probability.

    Raises ``ConfigError`` for a continuous prior (``reward_range``) or one larger than
    ``MAX_RULESETS``. The table has ``num_prior_rulesets(params)`` rows (= ``count_rulesets``
    of the config); repeated reward values merge rows, and the spare rows then get
    probability 0 (concrete params: they are dropped).
    """
    _check_enumerable(params, owner)
    table, counts = _enumerated_table(params)
    if isinstance(counts, jax.core.Tracer):
        return table
    keep = np.flatnonzero(np.asarray(counts) > 0)
    return jax.tree.map(lambda leaf: leaf[keep], table) if len(keep) < table.size else table


def pool_table(task_pool, num_active_tasks=None) -> RulesetTable:
    """A finite pool (``params.task_pool``) as a table, uniform over its active entries.

    ``num_active_tasks`` (a padded pool's count, possibly traced) leaves the padding at
    probability 0; None: every entry is active.
    """
    capacity = task_pool.rewards.shape[0]
    count = capacity if num_active_tasks is None else num_active_tasks
    active = jnp.arange(capacity) < count
    log_prior = jnp.where(active, -jnp.log(jnp.asarray(count, jnp.float32)), -jnp.inf)
    return RulesetTable(
        rewards=task_pool.rewards.astype(jnp.float32),
        effects=task_pool.effects.astype(jnp.int32),
        transform_to=task_pool.transform_to.astype(jnp.int32),
        log_prior=log_prior,
    )


# ------------------------------------------------------------------ evidence


@struct.dataclass
class Collection:
    """What one step showed about the ruleset ([B] each)."""

    collected: jax.Array
    """bool: the previous action entered a cell holding an object."""
    type: jax.Array
    """int32: its type (0 when nothing was collected)."""
    reward: jax.Array
    """float32: the reward it paid, in the prior's unit."""
    effect_seen: jax.Array
    """bool: the effect is observable (collected, and no trial start re-placed the grid)."""
    effect: jax.Array
    """int32: the effect seen (meaningful where effect_seen)."""
    transform_to: jax.Array
    """int32: the type left under the agent by a transform (meaningful for TRANSFORM)."""


def observe_collection(
    before, after, prev_action, reward, valid, trial_start, interior: int
) -> Collection:
    """The collection (if any) the previous action made, read off two env states.

    ``before`` and ``after`` are (grid [B, cells], row [B], col [B]) before and after
    the previous action; ``valid`` [B] is False where there was no previous action.
    The effect is read from ``after`` unless ``trial_start`` (the grid was re-placed):
    an object under the agent is a transform into its type; otherwise the collected
    type's count tells a respawn (unchanged: it reappeared elsewhere) from a
    disappearance (one fewer).
    """
    # The env's own move: up, right, down, left; the wall (interior edge) stops it.
    action = jnp.asarray(prev_action, jnp.int32)
    grid, row, col = before
    d_row = (action == 2).astype(jnp.int32) - (action == 0).astype(jnp.int32)
    d_col = (action == 1).astype(jnp.int32) - (action == 3).astype(jnp.int32)
    new_row = jnp.clip(row + d_row, 0, interior - 1)
    new_col = jnp.clip(col + d_col, 0, interior - 1)
    moved = (new_row != row) | (new_col != col)
    content = jnp.take_along_axis(grid, (new_row * interior + new_col)[:, None], axis=1)[:, 0]
    collected = valid & moved & (content > 0)
    kind = jnp.maximum(content.astype(jnp.int32) - 1, 0)

    grid_after, row_after, col_after = after
    under = jnp.take_along_axis(grid_after, (row_after * interior + col_after)[:, None], axis=1)
    under = under[:, 0].astype(jnp.int32)
    code = (kind + 1).astype(grid.dtype)[:, None]
    same_count = jnp.sum(grid == code, axis=1) == jnp.sum(grid_after == code, axis=1)
    effect = jnp.where(under > 0, TRANSFORM, jnp.where(same_count, 1, 0))  # 1 respawn, 0 disappear
    return Collection(
        collected=collected,
        type=kind,
        reward=reward,
        effect_seen=collected & jnp.logical_not(trial_start),
        effect=effect.astype(jnp.int32),
        transform_to=jnp.maximum(under - 1, 0),
    )


def mismatches(table: RulesetTable, seen: Collection) -> jax.Array:
    """[B, R] int32: fields of ``seen`` (reward, effect) each table entry contradicts."""
    rewards = table.rewards.T[seen.type]  # [B, R]
    effects = table.effects.T[seen.type]
    targets = table.transform_to.T[seen.type]
    tolerance = REWARD_TOLERANCE * (1.0 + jnp.abs(seen.reward))[:, None]
    reward_wrong = jnp.abs(rewards - seen.reward[:, None]) > tolerance
    effect_wrong = (effects != seen.effect[:, None]) | (
        (seen.effect[:, None] == TRANSFORM) & (targets != seen.transform_to[:, None])
    )
    effect_wrong = effect_wrong & seen.effect_seen[:, None]
    return reward_wrong.astype(jnp.int32) + effect_wrong.astype(jnp.int32)


def filter_step(
    log_w: jax.Array,
    table: RulesetTable,
    seen: Collection,
    hazard,
    log_epsilon: float | None,
) -> tuple[jax.Array, jax.Array]:
    """(log weights [B, R] for the next step, mismatches [B, R] of this step's evidence).

    Condition on ``seen`` (rows that collected nothing are unchanged), then let the
    ruleset change with probability ``hazard`` (the next step's ruleset is a fresh
    prior draw). ``log_epsilon`` None is the hard likelihood (entries that mismatch are
    ruled out; evidence no entry explains, e.g. a reward off the prior's values, is
    ignored rather than ruling out everything); else each mismatch adds ``log_epsilon``.
    Because the change term keeps every entry's weight above 0, evidence that
    contradicts every surviving entry restarts from the prior conditioned on it.
    """
    wrong = mismatches(table, seen)
    if log_epsilon is None:
        log_lik = jnp.where(wrong > 0, -jnp.inf, 0.0)
    else:
        log_lik = log_epsilon * wrong.astype(jnp.float32)
    conditioned = log_w + log_lik
    explained = jnp.any(conditioned > -jnp.inf, axis=-1, keepdims=True)
    update = seen.collected[:, None] & explained
    log_w = jnp.where(update, conditioned, log_w)
    log_w = log_w - jax.nn.logsumexp(log_w, axis=-1, keepdims=True)
    hazard = jnp.asarray(hazard, jnp.float32)
    log_w = jnp.logaddexp(jnp.log1p(-hazard) + log_w, jnp.log(hazard) + table.log_prior)
    return log_w, wrong
