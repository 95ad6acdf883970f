"""What the rule-grid probes read off an episode: collections, choice sets, and two beliefs.

``evaluate_policy`` keeps rewards and actions, not the grid, so the rule-grid probes
play every agent under ``with_ground_truth(policy, read_rule_grid_state)`` (the env
state before acting: object grid, agent square, ruleset in force) and derive from it
(``rule_grid_history``), per step t and episode b:

* ``collected`` [T, B]: the type collected by step t's move (-1: none), computed from
  the grid and the action exactly as the env moves and collects;
* ``reward``, ``effect``, ``transform_to`` [T, B] of that collection: what the agent
  saw happen (reward in the ruleset's own unit, ``reward_scale`` divided out);
* ``present`` [T, B, K]: types with an object on the grid; ``distance`` [T, B, K]:
  Manhattan steps to the nearest object of each type (an object under the agent,
  left by a transform, is 2 steps away: off and back on);
* ``decision_step`` [T, B]: when the choice collected at t was made, the later of the
  trial start and the step after the previous collection.

Two beliefs about the type rewards, from the agent's own collections
(``observed_knowledge``), give each step's posterior-mean reward per type:

* ``learner_means``: Bayes over the prior's reward vectors (``reward_prior``: exact,
  with the ``require_positive`` fix-up); effects are drawn independently of rewards,
  so only rewards inform it;
* ``locator_means``: Bayes over the training pool's rulesets (uniform), matching
  every observed (reward, effect, transform target): the pool is what a locator
  recognises. Where no pool ruleset matches (a held-out ruleset betrays itself), it
  matches rewards only, and then falls back to the pool's average.

Both take an observed type's reward as known. A collection that contradicts an
earlier one (a drift changed the ruleset) restarts the evidence from it alone, the
simplest belief that survives a change it was not told about.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from metarl.probes.ground_truth import with_ground_truth
from metarl.probes.protocol import ProbeContext, hidden_states

UNDER_AGENT_DISTANCE = 2.0
"""An object under the agent (a transform leaves one) is collected by stepping off and back."""
_MATCH_TOLERANCE = 1e-4  # rewards are float32 copies of the same prior values


def read_rule_grid_state(env_state) -> dict:
    """What the rule-grid probes record before each action (batched ``RuleGridState``)."""
    return {
        "grid": env_state.grid,
        "row": env_state.agent_row,
        "col": env_state.agent_col,
        "rewards": env_state.ruleset.rewards,
        "effects": env_state.ruleset.effects,
        "transform_to": env_state.ruleset.transform_to,
    }


@dataclasses.dataclass(frozen=True)
class RuleGridHistory:
    """Per step and episode ([T, B, ...] numpy): see the module docstring."""

    collected: np.ndarray
    reward: np.ndarray
    effect: np.ndarray
    transform_to: np.ndarray
    present: np.ndarray
    distance: np.ndarray
    decision_step: np.ndarray
    trial: np.ndarray
    """[T, B] 0-based trial of each step."""
    ruleset_rewards: np.ndarray
    """[T, B, K] the ruleset's rewards in force at step t (own unit)."""

    @property
    def num_types(self) -> int:
        return self.present.shape[-1]


def collected_types(grid, row, col, actions, interior: int) -> np.ndarray:
    """[T, B] type collected by each move (-1: none): the env's move-and-collect rule."""
    from metarl.envs.rule_grid import DOWN, LEFT, RIGHT, UP

    actions = np.asarray(actions)
    d_row = (actions == DOWN).astype(int) - (actions == UP).astype(int)
    d_col = (actions == RIGHT).astype(int) - (actions == LEFT).astype(int)
    new_row = np.clip(row + d_row, 0, interior - 1)
    new_col = np.clip(col + d_col, 0, interior - 1)
    moved = (new_row != row) | (new_col != col)
    cell = new_row * interior + new_col
    content = np.take_along_axis(np.asarray(grid), cell[..., None], axis=-1)[..., 0].astype(int)
    return np.where(moved & (content > 0), content - 1, -1)


def _distances(grid, row, col, interior: int, num_types: int) -> np.ndarray:
    cells = np.arange(interior * interior)
    cell_row, cell_col = cells // interior, cells % interior
    steps = np.abs(cell_row - row[..., None]) + np.abs(cell_col - col[..., None])  # [T, B, C]
    steps = np.where(steps == 0, UNDER_AGENT_DISTANCE, steps).astype(np.float64)
    codes = np.arange(1, num_types + 1)
    holds = np.asarray(grid)[..., None] == codes  # [T, B, C, K]
    return np.where(holds, steps[..., None], np.inf).min(axis=-2)


def rule_grid_history(batch, params) -> RuleGridHistory:
    """The history of a batch played under ``with_ground_truth(..., read_rule_grid_state)``."""
    truth = {k: np.asarray(v) for k, v in batch.extras["ground_truth"].items()}
    interior, num_types = int(params.interior), int(params.num_object_types)
    row, col = truth["row"].astype(int), truth["col"].astype(int)
    collected = collected_types(truth["grid"], row, col, batch.actions, interior)
    hit = np.maximum(collected, 0)[..., None]
    took = collected >= 0

    def of_collected(table):
        return np.where(took, np.take_along_axis(table, hit, axis=-1)[..., 0], -1)

    num_steps = collected.shape[0]
    steps = np.arange(num_steps)[:, None]
    boundary = np.asarray(batch.info["trial_boundary"], bool)
    trial_start = np.concatenate([np.ones_like(boundary[:1]), boundary[:-1]], axis=0)
    after_collection = np.concatenate([np.zeros_like(took[:1]), took[:-1]], axis=0)
    starts = np.where(trial_start | after_collection, steps, 0)
    return RuleGridHistory(
        collected=collected,
        reward=np.where(took, np.asarray(batch.rewards, np.float64) / params.reward_scale, 0.0),
        effect=of_collected(truth["effects"]),
        transform_to=of_collected(truth["transform_to"]),
        present=(truth["grid"][..., None] == np.arange(1, num_types + 1)).any(axis=-2),
        distance=_distances(truth["grid"], row, col, interior, num_types),
        decision_step=np.maximum.accumulate(starts, axis=0),
        trial=np.cumsum(trial_start, axis=0) - 1,
        ruleset_rewards=truth["rewards"].astype(np.float64),
    )


# ------------------------------------------------------------------ what was observed


@dataclasses.dataclass(frozen=True)
class Knowledge:
    """What the agent had seen of each type before acting at step t ([T, B, K])."""

    known: np.ndarray
    value: np.ndarray
    effect: np.ndarray
    transform_to: np.ndarray


def observed_knowledge(collected, reward, effect, transform_to, num_types: int) -> Knowledge:
    """Each type's last observed (reward, effect, target) before step t, one episode per column.

    A collection contradicting what was seen of its type restarts the evidence from it
    (see the module docstring).
    """
    collected = np.asarray(collected)
    num_steps, batch = collected.shape
    rows = np.arange(batch)
    known = np.zeros((batch, num_types), bool)
    value = np.zeros((batch, num_types))
    seen_effect = np.full((batch, num_types), -1)
    seen_target = np.full((batch, num_types), -1)
    out = {name: [] for name in ("known", "value", "effect", "transform_to")}
    for t in range(num_steps):
        for name, array in zip(out, (known, value, seen_effect, seen_target), strict=True):
            out[name].append(array.copy())
        c = collected[t]
        took = c >= 0
        k = np.maximum(c, 0)
        differs = (
            (np.abs(value[rows, k] - reward[t]) > _MATCH_TOLERANCE)
            | (seen_effect[rows, k] != effect[t])
            | (seen_target[rows, k] != transform_to[t])
        )
        restart = took & known[rows, k] & differs
        known[restart] = False
        known[rows[took], k[took]] = True
        value[rows[took], k[took]] = reward[t][took]
        seen_effect[rows[took], k[took]] = effect[t][took]
        seen_target[rows[took], k[took]] = transform_to[t][took]
    return Knowledge(**{name: np.stack(arrays) for name, arrays in out.items()})


def history_knowledge(history: RuleGridHistory) -> Knowledge:
    return observed_knowledge(
        history.collected,
        history.reward,
        history.effect,
        history.transform_to,
        history.num_types,
    )


def tried_types(collected, num_types: int) -> np.ndarray:
    """[T, B, K] 1.0 for each type collected at least once before step t this episode."""
    hits = np.asarray(collected)[..., None] == np.arange(num_types)
    before = np.concatenate([np.zeros_like(hits[:1]), hits[:-1]], axis=0)
    return np.logical_or.accumulate(before, axis=0).astype(np.float64)


# ------------------------------------------------------------------ the two beliefs


def reward_prior(params) -> tuple[np.ndarray, np.ndarray]:
    """(vectors [M, K], probabilities [M]): the prior's reward vectors, exactly.

    The marginal over effects of the reference learner's enumerated prior
    (``metarl.evaluation.baselines.rule_grid_beliefs.ruleset_table``), so the probe and
    the learner agent share one enumeration. Effects are drawn independently of
    rewards, so only rewards inform this belief. A continuous or too large prior has
    no finite enumeration: ``ConfigError`` (a ValueError) naming the field.
    """
    from metarl.evaluation.baselines.rule_grid_beliefs import ruleset_table

    table = ruleset_table(params, owner="reward_prior")
    rewards = np.asarray(table.rewards, np.float64)
    vectors, inverse = np.unique(rewards, axis=0, return_inverse=True)
    probs = np.bincount(inverse.reshape(-1), weights=np.asarray(table.probs, np.float64))
    return vectors, probs / probs.sum()


def _posterior_means(consistent, weights, rewards, fallback) -> tuple[np.ndarray, np.ndarray]:
    """(means [T, B, K], any match [T, B]) over candidates with ``consistent`` [T, B, M]."""
    mass = consistent * weights
    total = mass.sum(-1, keepdims=True)
    means = (mass @ rewards) / np.where(total > 0, total, 1.0)
    matched = total[..., 0] > 0
    return np.where(matched[..., None], means, fallback), matched


def _matches(knowledge: Knowledge, candidate_values, extra=()) -> np.ndarray:
    """[T, B, M]: every observed type agrees with the candidate (rewards, then ``extra`` fields)."""
    agree = np.abs(knowledge.value[..., None, :] - candidate_values) <= _MATCH_TOLERANCE
    for observed, candidate in extra:
        agree &= observed[..., None, :] == candidate
    return np.all(agree | ~knowledge.known[..., None, :], axis=-1)


def learner_means(knowledge: Knowledge, vectors, weights) -> np.ndarray:
    """[T, B, K] posterior-mean reward per type under the prior over reward vectors."""
    prior_mean = weights @ vectors / weights.sum()
    means, _ = _posterior_means(_matches(knowledge, vectors), weights, vectors, prior_mean)
    return np.where(knowledge.known, knowledge.value, means)


def locator_means(knowledge: Knowledge, pool) -> np.ndarray:
    """[T, B, K] posterior-mean reward per type over the training pool's rulesets (uniform).

    ``pool``: (rewards, effects, transform_to), each [N, K].
    """
    rewards, effects, targets = (np.asarray(x) for x in pool)
    rewards = rewards.astype(np.float64)
    uniform = np.ones(len(rewards))
    extra = ((knowledge.effect, effects), (knowledge.transform_to, targets))
    loose, _ = _posterior_means(_matches(knowledge, rewards), uniform, rewards, rewards.mean(0))
    means, _ = _posterior_means(_matches(knowledge, rewards, extra), uniform, rewards, loose)
    return np.where(knowledge.known, knowledge.value, means)


def training_pool(train_params):
    """(rewards, effects, transform_to) [N, K] of the run's training pool; None: the prior."""
    pool = getattr(train_params, "task_pool", None)
    if pool is None:
        return None
    count = len(np.asarray(pool.rewards))
    if getattr(train_params, "num_active_tasks", None) is not None:
        count = int(train_params.num_active_tasks)
    return tuple(np.asarray(x)[:count] for x in (pool.rewards, pool.effects, pool.transform_to))


# ------------------------------------------------------------------ playing the agents


def rule_grid_references(ctx: ProbeContext, names, env=None, env_params=None) -> dict:
    """{name: Policy} of the family's references among ``names`` (those it has)."""
    from metarl.evaluation.baselines import random_policy
    from metarl.evaluation.families import ReferenceContext, family_spec

    env = ctx.env if env is None else env
    env_params = ctx.env_params if env_params is None else env_params
    context = ReferenceContext(env, env_params, ctx.train_params, tuple(names))
    refs = dict(family_spec(ctx.config.env.name).references(context))
    refs["random"] = random_policy(context.num_actions)
    return {name: refs[name] for name in names if name in refs}


def _checkpoint_with_ground_truth(agent):
    from metarl.evaluation.agent_policy import agent_policy

    return lambda params: with_ground_truth(agent_policy(agent, params), read_rule_grid_state)


def rule_grid_episodes(ctx: ProbeContext, names, env=None, env_params=None, tag: str = "probe"):
    """({name: EpisodeBatch}, seconds): agents played with the rule-grid ground truth recorded.

    'checkpoint' also records hidden states ([T, B, H] in ``extras['hidden']``) and
    observations. Each agent is played once per ``metarl probe`` call and ``tag`` (the
    condition: probe episodes, or another env), cached in ``ctx.cache``.
    """
    cache = ctx.cache.setdefault(f"rule_grid_batches/{tag}", {})
    makers = ctx.cache.setdefault("rule_grid_makers", {})
    env_params = ctx.env_params if env_params is None else env_params
    start = time.perf_counter()
    missing = [n for n in names if n not in cache]
    refs = rule_grid_references(ctx, [n for n in missing if n != "checkpoint"], env, env_params)
    for name in missing:
        if name == "checkpoint":
            if "checkpoint" not in makers:  # one maker object: the player compiles it once
                makers["checkpoint"] = _checkpoint_with_ground_truth(ctx.agent)
            batch = ctx.play(
                makers["checkpoint"],
                env_params,
                ctx.params,
                env=env,
                extras=True,
                observations=True,
            )
            hidden = hidden_states(batch.extras["hidden"])
            cache[name] = batch.replace(extras={**batch.extras, "hidden": hidden})
        elif name in refs:
            policy = with_ground_truth(refs[name], read_rule_grid_state)
            cache[name] = ctx.play(policy, env_params, env=env, extras=True)
    seconds = time.perf_counter() - start
    batches = {name: cache[name] for name in names if name in cache}
    if seconds > 0.05:
        ctx.log(f"  played {', '.join(batches)} with the rule grid's ground truth ({seconds:.1f}s)")
    return batches, seconds


def rule_grid_targets(history: RuleGridHistory, params) -> dict[str, np.ndarray]:
    """Decoding targets, each [T, B, K] and known before acting at step t.

    * ``reward_sign``: sign of each type's reward in the ruleset in force (what there is to
      find out);
    * ``tried``: 1 for each type collected before t this episode;
    * ``learner_posterior_mean``: the prior learner's posterior-mean reward per type given
      the collections so far (what an ideal learner knows; left out for a continuous prior).
    """
    targets = {
        "reward_sign": np.sign(history.ruleset_rewards),
        "tried": tried_types(history.collected, history.num_types),
    }
    try:
        prior = reward_prior(params)
    except ValueError:
        return targets
    targets["learner_posterior_mean"] = learner_means(history_knowledge(history), *prior)
    return targets
