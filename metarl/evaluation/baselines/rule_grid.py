"""Rule-gridworld reference agents: an oracle, Bayes learners over rulesets, a collector.

Every agent moves with one BFS planner (``bfs_plan``): it walks a shortest path over
the open interior to the nearest object worth collecting (value > 0), treating
objects of negative value as walls; see ``bfs_plan`` for ties, an object under the
agent, and what it does when nothing is worth collecting. A type's value
(``type_worth``) is its reward, plus its transform target's reward where it
transforms into a positive type (collecting it leaves that object under the agent,
two steps from being collected in turn); one level only. Respawn needs no term: the
planner re-plans on every step from the grid it sees, and a respawned object simply
shows up there.

What each reads (privileged = from ``PolicyInputs.privileged_state``, the env state
before acting):

* ``oracle_planner`` (privileged: ``grid``, ``agent_row``, ``agent_col`` and the
  ruleset in force, ``ruleset.rewards``, ``ruleset.effects``, ``ruleset.transform_to``):
  plans with the true values. The ceiling.
* ``ruleset_learner`` (privileged: ``grid``, ``agent_row``, ``agent_col`` only; never
  the ruleset): exact Bayes over every ruleset of the prior (``ruleset_table``), with
  the prior's probabilities. It learns from collections: the previous action entered
  a cell holding type t (the previous step's grid and square are kept in its carry),
  the reward is ``prev_reward / reward_scale`` (it is told the unit, as the bandit
  references are), and the effect is what the grid shows after the step (no effect
  on the step that starts a trial: the grid was re-placed). Drift model: exact
  forward filtering of a change-point model (``rule_grid_beliefs.filter_step``),
  hazard h per step: the env's change-point (plus random-reversal) hazard where its
  drift has one, else ``DEFAULT_HAZARD``, so evidence against everything it believed
  (a reversal) restarts it from the prior conditioned on that evidence. Acts by
  posterior sampling (PSRL): one ruleset sampled at every trial start and whenever a
  collection contradicts the sample, and planned for. It keeps what it learned across
  trials and forgets at an episode start. A ruleset outside the table is beyond it:
  a reversal can mirror a ruleset into one with no positive type (``require_positive``
  never draws one), and there each collection that contradicts every entry still
  standing restarts the filter, forgetting the earlier evidence.
* ``ruleset_locator`` (privileged: as the learner): the same agent over the
  *training* pool (uniform over its active entries) with a soft likelihood: each
  field an entry gets wrong multiplies its weight by ``LOCATOR_EPSILON``, so on a
  held-out ruleset it commits to the memorised entries with the fewest mismatches.
  Trained on the infinite prior (no pool), the locator *is* the learner.
* ``memoryless_collector`` (privileged: ``grid``, ``agent_row``, ``agent_col``):
  walks to the nearest object of any type; no memory, no learning.

Extras: every agent exposes ``target_type`` [B] (the type its path leads to, -1
when wandering); the learner and locator also ``posterior_mean_rewards`` [B, T] and
``tried`` [B, T] (types collected so far this episode).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

from metarl.envs.rule_grid import TRANSFORM
from metarl.evaluation.baselines.common import argmax_random_ties
from metarl.evaluation.baselines.rule_grid_beliefs import (
    RulesetTable,
    filter_step,
    observe_collection,
    pool_table,
    ruleset_table,
)
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs

DEFAULT_HAZARD = 1e-3
"""The learner's per-step change probability where the env has no change points: small
enough that it rarely samples against what it has seen, and any value > 0 lets it
restart after evidence that contradicts everything it believed (a reversal)."""
LOCATOR_EPSILON = 1e-3
"""Likelihood factor per mismatched field (reward, effect) for the locator: a
memorised ruleset wrong about one thing is a thousand times less likely, not ruled out."""

# Moves of actions 0-3 (up, right, down, left) as (row, column) steps, as the env moves.
_MOVES = jnp.asarray([[-1, 0], [0, 1], [1, 0], [0, -1]], jnp.int32)
_NUM_MOVES = 4


def type_worth(rewards: jax.Array, effects: jax.Array, transform_to: jax.Array) -> jax.Array:
    """[B, T] what collecting each type is worth: its reward, plus its transform target's
    reward when positive (the target is left under the agent, collectable in two steps)."""
    target_reward = jnp.take_along_axis(rewards, transform_to, axis=-1)
    bonus = jnp.where(effects == TRANSFORM, jnp.maximum(target_reward, 0.0), 0.0)
    return rewards + bonus


def distance_maps(codes: jax.Array, values: jax.Array) -> jax.Array:
    """[B, T, n, n] int32 steps from each cell to the nearest object of each type worth
    collecting (``n * n``: none reachable, or the type is not worth it).

    ``codes`` [B, n, n] (0 empty, t + 1 type t); objects of negative value are walls.
    Multi-source BFS as distance relaxation, one step per iteration, until nothing
    changes (at most n * n iterations: no shortest path is longer).
    """
    batch, n, _ = codes.shape
    far = n * n
    types = jnp.arange(values.shape[1], dtype=codes.dtype) + 1
    value_here = jnp.take_along_axis(
        values, jnp.maximum(codes - 1, 0).reshape(batch, -1), axis=1
    ).reshape(codes.shape)
    blocked = ((codes > 0) & (value_here < 0))[:, None]
    targets = (codes[:, None] == types[None, :, None, None]) & (values > 0)[:, :, None, None]
    start = jnp.where(targets, 0, far).astype(jnp.int32)

    def relax(state):
        dist, _, count = state
        padded = jnp.pad(dist, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=far)
        nearest = jnp.minimum(
            jnp.minimum(padded[..., :-2, 1:-1], padded[..., 2:, 1:-1]),
            jnp.minimum(padded[..., 1:-1, :-2], padded[..., 1:-1, 2:]),
        )
        new = jnp.where(blocked, far, jnp.minimum(dist, jnp.minimum(nearest + 1, far)))
        return new, jnp.any(new != dist), count + 1

    dist, _, _ = jax.lax.while_loop(
        lambda state: state[1] & (state[2] < far), relax, (start, jnp.array(True), 0)
    )
    return dist


def bfs_plan(
    grid: jax.Array, row: jax.Array, col: jax.Array, values: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(action [B], target type [B]): the first step of a shortest path to the nearest
    object worth collecting (``values`` [B, T] > 0) on ``grid`` [B, n * n].

    A move into the wall never shortens the path, so it is never chosen toward a target.
    An object worth collecting under the agent (a transform left it) is at distance 0,
    so the agent steps off to come back. Equal paths are chosen between at random.
    With nothing worth collecting in reach, it moves to a random neighbour that holds
    no object of negative value (the target type is then -1).
    """
    batch = grid.shape[0]
    n = round(grid.shape[1] ** 0.5)
    codes = grid.astype(jnp.int32).reshape(batch, n, n)
    dist = distance_maps(codes, values)
    far = n * n
    step_row = row[:, None] + _MOVES[None, :, 0]
    step_col = col[:, None] + _MOVES[None, :, 1]
    inside = (step_row >= 0) & (step_row < n) & (step_col >= 0) & (step_col < n)
    step_row, step_col = jnp.clip(step_row, 0, n - 1), jnp.clip(step_col, 0, n - 1)
    rows = jnp.arange(batch)[:, None]
    per_type = dist[rows, :, step_row, step_col]  # [B, moves, T]
    steps = jnp.where(inside, per_type.min(-1), far)
    reachable = jnp.any(steps < far, axis=-1)

    plan_key, wander_key = jax.random.split(key)
    toward = argmax_random_ties(-steps.astype(jnp.float32), plan_key)
    neighbour = codes[rows, step_row, step_col]
    neighbour_value = jnp.take_along_axis(values, jnp.maximum(neighbour - 1, 0), axis=1)
    safe = inside & ((neighbour == 0) | (neighbour_value >= 0))
    allowed = jnp.where(jnp.any(safe, -1, keepdims=True), safe, True)
    wander = jax.random.categorical(wander_key, jnp.where(allowed, 0.0, -jnp.inf))
    action = jnp.where(reachable, toward, wander).astype(jnp.int32)
    chosen = per_type[jnp.arange(batch), action]  # [B, T]
    target = jnp.where(reachable, jnp.argmin(chosen, -1), -1).astype(jnp.int32)
    return action, target


def _reset_where(episode_start: jax.Array, fresh, state):
    return jax.tree.map(
        lambda f, s: jnp.where(episode_start.reshape((-1,) + (1,) * (s.ndim - 1)), f, s),
        fresh,
        state,
    )


def _planning_policy(params, values_of) -> FunctionalPolicy:
    """A memoryless agent: plans every step for ``values_of(env_state) -> [B, T]``."""

    def act(carry, inputs: PolicyInputs, key: jax.Array):
        state = inputs.privileged_state
        values = values_of(state)
        action, target = bfs_plan(state.grid, state.agent_row, state.agent_col, values, key)
        return carry, action, {"target_type": target}

    return FunctionalPolicy(
        init_carry_fn=lambda batch: jnp.zeros((batch,), jnp.int32),
        act_fn=act,
        num_actions=5 if params.allow_stay else 4,
    )


def oracle_planner(params) -> FunctionalPolicy:
    """Told the ruleset in force: plans with its true values (reads ``state.ruleset``)."""
    return _planning_policy(
        params,
        lambda state: type_worth(
            state.ruleset.rewards, state.ruleset.effects, state.ruleset.transform_to
        ),
    )


def memoryless_collector(params) -> FunctionalPolicy:
    """Walks to the nearest object of any type; no memory, no learning."""
    t = params.num_object_types
    return _planning_policy(params, lambda state: jnp.ones((state.grid.shape[0], t), jnp.float32))


@struct.dataclass
class BeliefState:
    log_weights: jax.Array
    """[B, R] log posterior over the table's rulesets (for the ruleset in force now)."""
    sample: jax.Array
    """[B] int32 the table entry the agent is acting for (posterior sample)."""
    tried: jax.Array
    """[B, T] bool types collected so far this episode."""
    prev_grid: jax.Array
    """[B, cells] int8 the grid the previous action was taken on."""
    prev_row: jax.Array
    """[B] int32 the agent's row before the previous action."""
    prev_col: jax.Array
    """[B] int32 the agent's column before the previous action."""
    step: jax.Array
    """[B] int32 actions taken so far this episode."""


def _belief_step(carry: BeliefState, inputs: PolicyInputs, context, key: jax.Array):
    """(carry, sample-resampling key used) after the evidence of the previous action."""
    table, hazard, log_epsilon, params = context
    state = inputs.privileged_state
    trial_start = carry.step % params.trial_length == 0
    seen = observe_collection(
        (carry.prev_grid, carry.prev_row, carry.prev_col),
        (state.grid, state.agent_row, state.agent_col),
        inputs.prev_action,
        inputs.prev_reward / params.reward_scale,
        carry.step > 0,
        trial_start,
        params.interior,
    )
    log_weights, wrong = filter_step(carry.log_weights, table, seen, hazard, log_epsilon)
    contradicted = seen.collected & (jnp.take_along_axis(wrong, carry.sample[:, None], 1)[:, 0] > 0)
    fresh = jax.random.categorical(key, log_weights).astype(jnp.int32)
    types = jnp.arange(params.num_object_types)
    return carry.replace(
        log_weights=log_weights,
        sample=jnp.where(trial_start | contradicted, fresh, carry.sample),
        tried=carry.tried | (seen.collected[:, None] & (types == seen.type[:, None])),
        prev_grid=state.grid,
        prev_row=state.agent_row,
        prev_col=state.agent_col,
        step=carry.step + 1,
    )


def _bayes_agent(params, table: RulesetTable, hazard, log_epsilon) -> FunctionalPolicy:
    """Posterior sampling over ``table`` with a change-point filter (module docstring)."""
    cells = params.interior**2
    context = (table, hazard, log_epsilon, params)

    def init_carry(batch: int) -> BeliefState:
        return BeliefState(
            log_weights=jnp.broadcast_to(table.log_prior, (batch, table.size)),
            sample=jnp.zeros((batch,), jnp.int32),
            tried=jnp.zeros((batch, params.num_object_types), bool),
            prev_grid=jnp.zeros((batch, cells), jnp.int8),
            prev_row=jnp.zeros((batch,), jnp.int32),
            prev_col=jnp.zeros((batch,), jnp.int32),
            step=jnp.zeros((batch,), jnp.int32),
        )

    def act(carry: BeliefState, inputs: PolicyInputs, key: jax.Array):
        carry = _reset_where(inputs.episode_start, init_carry(inputs.prev_action.shape[0]), carry)
        sample_key, plan_key = jax.random.split(key)
        carry = _belief_step(carry, inputs, context, sample_key)
        values = type_worth(
            table.rewards[carry.sample],
            table.effects[carry.sample],
            table.transform_to[carry.sample],
        )
        state = inputs.privileged_state
        action, target = bfs_plan(state.grid, state.agent_row, state.agent_col, values, plan_key)
        extras = {
            "posterior_mean_rewards": jax.nn.softmax(carry.log_weights, -1) @ table.rewards,
            "tried": carry.tried,
            "target_type": target,
        }
        return carry, action, extras

    return FunctionalPolicy(
        init_carry_fn=init_carry, act_fn=act, num_actions=5 if params.allow_stay else 4
    )


def learner_hazard(params) -> jax.Array | float:
    """Per-step change probability: the env's change-point hazard plus its random-reversal
    hazard where its drift has them, else ``DEFAULT_HAZARD`` (also where they are 0)."""
    kinds = params.drift.kinds
    if "change_point" not in kinds and "reversal" not in kinds:
        return DEFAULT_HAZARD
    hazard = jnp.float32(0.0)
    if "change_point" in kinds:
        hazard = hazard + params.drift.hazard
    if "reversal" in kinds:
        # A reversal is no redraw from the prior, but it is a change the filter must follow.
        hazard = hazard + params.drift.reversal_hazard
    return jnp.where(hazard > 0, hazard, DEFAULT_HAZARD)


def ruleset_learner(params, hazard=None) -> FunctionalPolicy:
    """Bayes over every ruleset of the prior of ``params``; PSRL (module docstring).

    ``hazard`` (per step) defaults to ``learner_hazard(params)``. Raises ``ConfigError``
    for a continuous prior (see ``ruleset_table``).
    """
    hazard = learner_hazard(params) if hazard is None else hazard
    return _bayes_agent(params, ruleset_table(params, "ruleset_learner"), hazard, None)


def ruleset_locator(params, train_params, hazard=None) -> FunctionalPolicy:
    """Bayes over the training pool of ``train_params`` (uniform), soft likelihood.

    Plays the env of ``params``. With no training pool (the infinite prior) this is
    ``ruleset_learner(params, hazard)``: every ruleset of the prior was in training.
    """
    pool = getattr(train_params, "task_pool", None)
    if pool is None:
        return ruleset_learner(params, hazard)
    hazard = learner_hazard(params) if hazard is None else hazard
    table = pool_table(pool, train_params.num_active_tasks)
    return _bayes_agent(params, table, hazard, math.log(LOCATOR_EPSILON))


def rule_grid_references(env_params, train_env_params) -> dict[str, FunctionalPolicy]:
    """``oracle_planner``, ``ruleset_learner``, ``ruleset_locator``, ``memoryless_collector``
    for the suite env ``env_params`` (the locator memorised ``train_env_params``'s pool).

    A continuous prior (``reward_range``) has no ruleset table: only the oracle and the
    collector are returned. Works on traced params (built inside a compiled program).
    """
    refs = {"oracle_planner": oracle_planner(env_params)}
    if not env_params.continuous_rewards:
        refs["ruleset_learner"] = ruleset_learner(env_params)
        refs["ruleset_locator"] = ruleset_locator(env_params, train_env_params)
    refs["memoryless_collector"] = memoryless_collector(env_params)
    return refs
