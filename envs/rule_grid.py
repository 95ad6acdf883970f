"""Rule gridworld: collect objects whose rewards and effects follow a hidden ruleset.

Inspired by XLand-MiniGrid, cut down for speed. The world is a ``grid_size`` x
``grid_size`` square *including* its border wall, so the agent walks on the
``(grid_size - 2)**2`` interior cells (the default 9 x 9 has a 7 x 7 interior,
as in XLand-MiniGrid's 9 x 9). Objects of ``num_object_types`` types lie on the
interior, ``objects_per_type`` of each; the agent sees them by type.

The task is a *ruleset*: for every object type a reward and an effect on
collection (walking onto the object's cell collects it):

* ``disappear``: the object is removed;
* ``respawn``: the object reappears on a uniformly random empty cell;
* ``transform``: the object turns, in place, into another type (so it is under
  the agent; stepping off and back on collects the new type).

The agent never sees the ruleset; it must find it out from rewards. Staying
put (``allow_stay``) or bumping into the wall collects nothing.

Episodes are ``num_trials`` trials of exactly ``trial_length`` steps (a trial
never ends early, so every episode has the same length and per-trial curves
line up). At every trial start the objects are re-placed and the agent
re-spawned; the ruleset is kept unless a drift model changes it.
``info["trial_boundary"]`` is True on the step whose returned observation is
the first of a new trial.

Drift (per step, shared models in ``drift.py``): ``change_point`` redraws the
ruleset from the episode's task source (pool or prior); ``reversal`` mirrors every
reward in the prior's reward range (r -> low + high - r: a sign flip for the
default symmetric set), swapping good and bad types; ``random_walk`` walks the
rewards inside that range. Effects never drift.

Speed (a design goal: ~10x XLand-MiniGrid's step rate on CPU):

* placements are not sampled at run time: a bank of ``num_layouts`` placements
  (agent cell plus object grid) is drawn once at make time and lives in params,
  so a trial start is one gather;
* ``step`` folds gymnax's auto-reset into the trial change (see ``RuleGrid.auto_reset``),
  so a reset costs a ruleset draw, not a second placement and observation;
* the env's random choices come from ``key_words`` (a hash of the key) rather
  than JAX's threefry, whose CPU lowering is a rolled loop as slow as the step;
* respawning picks the rank-th empty cell by popcounts, not a cumsum or a sort.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces
from metarl.envs import distributions
from metarl.envs.base import MetaEnv
from metarl.envs.drift import DriftParams, apply_drift_uniform, uniforms_needed
from metarl.envs.key_hash import key_words
from metarl.envs.rule_grid_config import (
    OBS_FORMATS,
    VIEWS,
    RuleGridConfig,
    check_config,
    count_rulesets,
)
from metarl.envs.rule_grid_tasks import (
    DISAPPEAR,
    EFFECTS,
    RESPAWN,
    TRANSFORM,
    Ruleset,
    decode_uniform,
    decode_with_count,
    make_layouts,
    prior_radices,
    ruleset_from_digits,
    sample_prior,
    words_needed,
)

# Re-exported: the rule grid's public names, wherever they are defined.
__all__ = [
    "ACTION_NAMES",
    "DISAPPEAR",
    "DOWN",
    "EFFECTS",
    "LEFT",
    "OBS_FORMATS",
    "RESPAWN",
    "RIGHT",
    "STAY",
    "TRANSFORM",
    "UP",
    "VIEWS",
    "RuleGrid",
    "RuleGridConfig",
    "RuleGridParams",
    "RuleGridState",
    "Ruleset",
    "build_rule_grid",
    "count_rulesets",
    "select_free_cell",
]

# Actions move the agent on the interior; 4 (stay) exists only with allow_stay.
UP, RIGHT, DOWN, LEFT, STAY = 0, 1, 2, 3, 4
ACTION_NAMES = ("up", "right", "down", "left", "stay")

# key_words streams: a step's own choices, its auto-reset's and its drift's come from one key.
_STEP_STREAM, _RESET_STREAM, _DRIFT_STREAM = 0, 1, 2
_UNIT_PER_WORD = 2.0**-24  # the top 24 bits of a word as a float32-exact uniform in [0, 1)


@struct.dataclass
class RuleGridState(environment.EnvState):
    time: jax.Array
    """Steps taken in the episode."""
    grid: jax.Array
    """[interior**2] int8, row-major over the interior: 0 empty, t + 1 an object of type t."""
    agent_row: jax.Array
    agent_col: jax.Array
    ruleset: Ruleset
    """The ruleset in force (drift may have moved it away from the drawn one)."""
    ruleset_id: jax.Array
    """Pool index of the last drawn ruleset (episode start or change-point); -1 for prior draws."""
    task_id: jax.Array
    """Pool index of the ruleset drawn at the episode start; -1 for prior draws."""


@struct.dataclass
class RuleGridParams(environment.EnvParams):
    layout_grid: jax.Array = None
    """[num_layouts, interior**2] int8: the bank of object placements a trial start picks from."""
    layout_row: jax.Array = None
    """[num_layouts] int32: agent spawn row of each placement."""
    layout_col: jax.Array = None
    """[num_layouts] int32: agent spawn column of each placement."""
    reward_values: jax.Array = None
    """[V] float32: discrete prior: the reward of each type is uniform over these values."""
    positive_reward_values: jax.Array = None
    """[P] float32: the positive entries of reward_values (require_positive draws from them)."""
    task_pool: Ruleset | None = None
    """Rulesets to draw from (leading axis = task); None draws from the prior every episode."""
    num_active_tasks: jax.Array | None = None
    """Padded pools (``pool_capacity``): episodes draw among the first this many tasks, a traced
    int32; None: all of ``task_pool`` (replace both together on padded params)."""
    drift: DriftParams = DriftParams()
    reward_low: float = -1.0
    """Lowest prior reward (continuous prior bound; the random walk's lower reflecting bound)."""
    reward_high: float = 1.0
    """Highest prior reward (continuous prior bound; the random walk's upper reflecting bound)."""
    reward_scale: float = 1.0
    """Multiplies every reward (an out-of-distribution knob for evaluation)."""
    max_steps_in_episode: int = struct.field(pytree_node=False, default=100)
    trial_length: int = struct.field(pytree_node=False, default=25)
    grid_size: int = struct.field(pytree_node=False, default=9)
    num_object_types: int = struct.field(pytree_node=False, default=3)
    objects_per_type: int = struct.field(pytree_node=False, default=3)
    view: str = struct.field(pytree_node=False, default="egocentric")
    view_size: int = struct.field(pytree_node=False, default=5)
    obs_format: str = struct.field(pytree_node=False, default="grid")
    allow_stay: bool = struct.field(pytree_node=False, default=False)
    continuous_rewards: bool = struct.field(pytree_node=False, default=False)
    require_positive: bool = struct.field(pytree_node=False, default=True)
    effects: tuple[int, ...] = struct.field(
        pytree_node=False, default=(DISAPPEAR, RESPAWN, TRANSFORM)
    )
    """Effect codes the prior draws from (static: it fixes the sampler)."""

    @property
    def interior(self) -> int:
        return self.grid_size - 2


def select_free_cell(free: jax.Array, word: jax.Array) -> jax.Array:
    """Index of the (word % count)-th True entry of ``free`` [cells] (count >= 1 True).

    With ``word`` uniform on [0, W) the pick is uniform over the free cells up to a
    relative bias of count / W. No cumsum: XLA on CPU lowers it to a reduce-window
    ~50x slower than this. Pack the mask into uint32 words, pick the word by
    popcount, then binary-search the bit inside it with five popcounts.
    """
    cells = free.shape[0]
    packed, counts = [], []
    for start in range(0, cells, 32):
        chunk = free[start : start + 32].astype(jnp.uint32)
        shifts = jnp.arange(chunk.shape[0], dtype=jnp.uint32)
        packed.append(jnp.sum(chunk << shifts, dtype=jnp.uint32))  # disjoint bits: the sum is an OR
        counts.append(jax.lax.population_count(packed[-1]).astype(jnp.int32))
    total = sum(counts[1:], counts[0])
    rank = (word % jnp.maximum(total, 1).astype(jnp.uint32)).astype(jnp.int32)
    chosen, before, base, seen = packed[0], jnp.int32(0), jnp.int32(0), counts[0]
    for i in range(1, len(packed)):
        later = rank >= seen
        chosen = jnp.where(later, packed[i], chosen)
        before = jnp.where(later, seen, before)
        base = jnp.where(later, 32 * i, base)
        seen = seen + counts[i]
    remaining = rank - before
    position = jnp.int32(0)
    for width in (16, 8, 4, 2, 1):
        low = jax.lax.population_count(chosen & jnp.uint32((1 << width) - 1)).astype(jnp.int32)
        up = remaining >= low
        remaining = jnp.where(up, remaining - low, remaining)
        chosen = jnp.where(up, chosen >> width, chosen)
        position = jnp.where(up, position + width, position)
    return base + position


class RuleGrid(MetaEnv[RuleGridState, RuleGridParams]):
    """Gridworld whose object rewards and effects follow a hidden, per-episode ruleset.

    Its static fields (grid size, view, allow_stay, ...) live in its params only; the
    env keeps the config its default params are built from.
    """

    def __init__(self, config: RuleGridConfig | None = None):
        super().__init__()
        self._config = config if config is not None else RuleGridConfig()
        self._default_params: RuleGridParams | None = None

    @property
    def name(self) -> str:
        return "RuleGrid-metarl"

    @property
    def num_actions(self) -> int:
        return self.action_space().n

    @property
    def default_params(self) -> RuleGridParams:
        # Built lazily (the layout bank costs a moment) and cached: gymnax calls this
        # whenever params=None.
        if self._default_params is None:
            self._default_params = _build_params(self._config, "RuleGrid")
        return self._default_params

    # Task operations used by the shared distributions and drift models.
    def sample_prior(self, key: jax.Array, params: RuleGridParams) -> Ruleset:
        return sample_prior(key, params)

    def _draw_fast(self, key: jax.Array, params: RuleGridParams, with_layout: bool):
        """(ruleset, pool index or -1, layout index or None) from ``key_words``.

        Same distribution as ``distributions.draw_task`` (uniform over the pool, or a
        prior draw) without its threefry calls: every step draws one (auto-reset).
        """
        radices = [params.layout_grid.shape[0]] if with_layout else []
        pool = params.task_pool
        if pool is None:
            radices += prior_radices(params)
            digits = decode_uniform(key_words(key, words_needed(radices), _RESET_STREAM), radices)
            layout = digits.pop(0) if with_layout else None
            return ruleset_from_digits(digits, params), jnp.int32(-1), layout
        capacity = distributions.pool_size(pool)
        words = key_words(key, words_needed(radices + [capacity]), _RESET_STREAM)
        if params.num_active_tasks is None:
            digits = decode_uniform(words, radices + [capacity])
        else:
            digits = decode_with_count(words, radices, params.num_active_tasks, capacity)
        layout = digits.pop(0) if with_layout else None
        task_id = digits[0]
        return jax.tree.map(lambda leaf: leaf[task_id], pool), task_id, layout

    def reset_env(self, key: jax.Array, params: RuleGridParams):
        ruleset, task_id, layout = self._draw_fast(key, params, with_layout=True)
        state = RuleGridState(
            time=jnp.int32(0),
            grid=params.layout_grid[layout],
            agent_row=params.layout_row[layout],
            agent_col=params.layout_col[layout],
            ruleset=ruleset,
            ruleset_id=task_id,
            task_id=task_id,
        )
        return self.get_obs(state, params), state

    def _drift(self, key: jax.Array, state: RuleGridState, fresh, params: RuleGridParams):
        """(ruleset, ruleset_id, event) after one step of the drift models.

        ``fresh`` (ruleset, id) is the change-point's redraw; it is shared with the
        auto-reset draw, which is sound because the two are never both kept (an
        episode ends by time, and then the reset replaces the ruleset anyway).
        """
        span = params.reward_high - params.reward_low
        words = key_words(
            key, max(1, uniforms_needed(params.drift, params.num_object_types)), _DRIFT_STREAM
        )
        uniforms = (words >> 8).astype(jnp.float32) * _UNIT_PER_WORD
        (ruleset, ruleset_id), event = apply_drift_uniform(
            uniforms,
            (state.ruleset, state.ruleset_id),
            state.time,
            params.drift,
            # The shared walk moves values in [0, 1]: walk the rewards rescaled from the
            # prior's reward range, so they stay inside it.
            walk_leaf=lambda rules: (rules[0].rewards - params.reward_low) / span,
            with_walked_leaf=lambda rules, unit: (
                rules[0].replace(rewards=params.reward_low + span * unit),
                rules[1],
            ),
            fresh_task=fresh,
            # Mirror in the prior's range: good types become bad and rewards stay in range.
            reverse=lambda rules: (
                rules[0].replace(rewards=params.reward_low + params.reward_high - rules[0].rewards),
                rules[1],
            ),
        )
        return ruleset, ruleset_id, event

    def step_and_draw(
        self, key: jax.Array, state: RuleGridState, action: jax.Array, params: RuleGridParams
    ):
        """(next state, reward, info, fresh (ruleset, id)) of one step, before any reset."""
        n = params.interior
        num_layouts = params.layout_grid.shape[0]
        # One word gives both choices: layout = w % L, respawn from w // L (relative bias
        # <= L * cells / 2**32: 5e-5 at the defaults, 8e-4 at most for a 7x7 interior).
        word = key_words(key, 1, _STEP_STREAM)[0]
        layout = (word % jnp.uint32(num_layouts)).astype(jnp.int32)
        respawn_word = word // jnp.uint32(num_layouts)
        cells = jnp.arange(n * n, dtype=jnp.int32)
        rules = state.ruleset

        # Move; the wall (the interior's edge) stops the agent.
        action = jnp.asarray(action, jnp.int32)
        d_row = (action == DOWN).astype(jnp.int32) - (action == UP).astype(jnp.int32)
        d_col = (action == RIGHT).astype(jnp.int32) - (action == LEFT).astype(jnp.int32)
        row = jnp.clip(state.agent_row + d_row, 0, n - 1)
        col = jnp.clip(state.agent_col + d_col, 0, n - 1)
        moved = (row != state.agent_row) | (col != state.agent_col)
        cell = row * n + col
        here = cells == cell
        content = state.grid[cell]

        # Collect whatever was on the cell entered.
        collected = moved & (content > 0)
        collected_type = jnp.where(collected, content.astype(jnp.int32) - 1, -1)
        type_hot = jnp.arange(params.num_object_types, dtype=jnp.int32) == collected_type
        reward = jnp.sum(jnp.where(type_hot, rules.rewards, 0.0))
        effect = jnp.sum(jnp.where(type_hot, rules.effects, 0))
        transformed = collected & (effect == TRANSFORM)
        left_behind = jnp.where(
            transformed,
            jnp.sum(jnp.where(type_hot, rules.transform_to, 0)) + 1,
            jnp.where(collected, 0, content.astype(jnp.int32)),
        ).astype(jnp.int8)
        grid = jnp.where(here, left_behind, state.grid)

        # Respawn on a uniformly random empty cell other than the agent's (one always
        # exists: validation leaves a cell beyond the objects and the agent).
        free = (grid == 0) & jnp.logical_not(here)
        respawn_cell = select_free_cell(free, respawn_word)
        respawned = collected & (effect == RESPAWN)
        grid = jnp.where(
            respawned & (cells == respawn_cell), (collected_type + 1).astype(jnp.int8), grid
        )

        # A new trial re-places the objects and the agent from the layout bank.
        time = state.time + 1
        trial_boundary = time % params.trial_length == 0
        grid = jnp.where(trial_boundary, params.layout_grid[layout], grid)
        row = jnp.where(trial_boundary, params.layout_row[layout], row)
        col = jnp.where(trial_boundary, params.layout_col[layout], col)

        fresh_ruleset, fresh_id, _ = self._draw_fast(key, params, with_layout=False)
        if params.drift.active:
            next_rules, ruleset_id, event = self._drift(
                key, state, (fresh_ruleset, fresh_id), params
            )
            change_point, reversal = event.change_point, event.reversal
        else:
            next_rules, ruleset_id = rules, state.ruleset_id
            change_point = reversal = jnp.zeros((), bool)

        next_state = RuleGridState(
            time=time,
            grid=grid,
            agent_row=row,
            agent_col=col,
            ruleset=next_rules,
            ruleset_id=ruleset_id,
            task_id=state.task_id,
        )
        info = {
            "trial_boundary": trial_boundary,
            "trial": state.time // params.trial_length,
            "task_id": state.task_id,
            "ruleset_id": state.ruleset_id,
            "collected_type": collected_type,
            "ruleset_rewards": params.reward_scale * rules.rewards,
            "ruleset_effects": rules.effects,
            "ruleset_transform_to": rules.transform_to,
            "change_point": change_point,
            "reversal": reversal,
            "drift_event": change_point | reversal,
        }
        return next_state, params.reward_scale * reward, info, (fresh_ruleset, fresh_id)

    def auto_reset(
        self, done: jax.Array, fresh, stepped: RuleGridState, params: RuleGridParams
    ) -> RuleGridState:
        """gymnax's auto-reset folded into the trial change.

        Every episode end is a trial end (episodes are num_trials whole trials and never
        terminate early), and a trial end already re-places the objects and the agent
        from a fresh random layout, which is all ``reset_env`` would do besides drawing
        a ruleset and zeroing the clock. So the reset only swaps in the step's fresh
        ruleset draw, and the observation is the step's own rather than a second one
        selected per env: same outputs and distribution as gymnax's ``step``, cheaper
        under vmap on CPU (CHANGELOG).
        """
        ruleset, task_id = fresh
        return stepped.replace(
            time=jnp.where(done, 0, stepped.time),
            ruleset=jax.tree.map(lambda a, b: jnp.where(done, a, b), ruleset, stepped.ruleset),
            ruleset_id=jnp.where(done, task_id, stepped.ruleset_id),
            task_id=jnp.where(done, task_id, stepped.task_id),
        )

    def final_observation(
        self, stepped: RuleGridState, obs: jax.Array, params: RuleGridParams
    ) -> jax.Array:
        """The returned observation: it shows the next placement (as on every trial change),
        not the finished episode's last one, since the reset keeps the stepped grid."""
        return obs

    def get_obs(self, state: RuleGridState, params: RuleGridParams, key=None) -> jax.Array:
        """One-hot channels: egocentric [k, k, types + wall]; full [n, n, types + agent]."""
        n, t = params.interior, params.num_object_types
        if params.view == "egocentric":
            # Surround the interior with enough wall (code t + 1, the last channel) that
            # the window is a plain slice, much cheaper on CPU than gathering its cells.
            half = params.view_size // 2
            walled = jnp.pad(state.grid.reshape(n, n), half, constant_values=t + 1)
            window = jax.lax.dynamic_slice(
                walled, (state.agent_row, state.agent_col), (params.view_size,) * 2
            )
            obs = window[..., None] == jnp.arange(1, t + 2, dtype=jnp.int8)
        else:
            grid = state.grid.reshape(n, n)
            types = grid[..., None] == jnp.arange(1, t + 1, dtype=jnp.int8)
            agent = (jnp.arange(n)[:, None] == state.agent_row) & (
                jnp.arange(n)[None, :] == state.agent_col
            )
            obs = jnp.concatenate([types, agent[..., None]], axis=-1)
        obs = obs.astype(jnp.float32)
        return obs.reshape(-1) if params.obs_format == "flat" else obs

    def action_space(self, params: RuleGridParams | None = None) -> spaces.Discrete:
        params = self.default_params if params is None else params
        return spaces.Discrete(5 if params.allow_stay else 4)

    def observation_space(self, params: RuleGridParams) -> spaces.Box:
        side = params.view_size if params.view == "egocentric" else params.interior
        shape = (side, side, params.num_object_types + 1)
        if params.obs_format == "flat":
            shape = (int(np.prod(shape)),)
        return spaces.Box(0.0, 1.0, shape, jnp.float32)

    def state_space(self, params: RuleGridParams) -> spaces.Dict:
        n, t = params.interior, params.num_object_types
        return spaces.Dict(
            {
                "time": spaces.Discrete(params.max_steps_in_episode + 1),
                "grid": spaces.Box(0, t, (n * n,), jnp.int8),
                "agent_row": spaces.Discrete(n),
                "agent_col": spaces.Discrete(n),
            }
        )


def _build_params(config: RuleGridConfig, owner: str) -> RuleGridParams:
    """Validate ``config``, draw the placement bank and the split's ruleset pool."""
    checked = check_config(config, owner)
    layout_grid, layout_row, layout_col = make_layouts(
        config.grid_size - 2,
        config.num_object_types,
        config.objects_per_type,
        config.num_layouts,
        config.layout_seed,
    )
    positive = tuple(v for v in checked.reward_values if v > 0.0) or checked.reward_values
    params = RuleGridParams(
        layout_grid=jnp.asarray(layout_grid),
        layout_row=jnp.asarray(layout_row),
        layout_col=jnp.asarray(layout_col),
        reward_values=jnp.asarray(checked.reward_values, jnp.float32),
        positive_reward_values=jnp.asarray(positive, jnp.float32),
        drift=checked.drift,
        reward_low=checked.reward_low,
        reward_high=checked.reward_high,
        reward_scale=float(config.reward_scale),
        max_steps_in_episode=config.trial_length * config.num_trials,
        trial_length=config.trial_length,
        grid_size=config.grid_size,
        num_object_types=config.num_object_types,
        objects_per_type=config.objects_per_type,
        view=config.view,
        view_size=config.view_size,
        obs_format=config.obs_format,
        allow_stay=config.allow_stay,
        continuous_rewards=checked.continuous,
        require_positive=config.require_positive,
        effects=tuple(EFFECTS.index(e) for e in config.effects),
    )
    pool, num_active = distributions.pool_from_prior(
        lambda k: sample_prior(k, params), checked.source
    )
    return params.replace(task_pool=pool, num_active_tasks=num_active)


def build_rule_grid(config: RuleGridConfig, owner: str) -> tuple[RuleGrid, RuleGridParams]:
    env = RuleGrid(config)
    env._default_params = _build_params(config, owner)
    return env, env._default_params
