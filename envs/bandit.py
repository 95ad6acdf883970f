"""Multi-armed bandits: k arms, Bernoulli or Gaussian rewards, H pulls per episode.

The task is the vector of arm means, drawn at episode start from the prior (or a
finite pool) and kept for the whole episode unless a drift model moves it. Every
pull is one trial, so an episode of H pulls is H trials of the same task.

Block-wise volatility (Behrens et al. 2007; Wang et al. 2018): with ``block_hazards``
set, an episode is cut into blocks of ``block_length`` pulls (default: the whole
episode), each block's type drawn uniformly from ``block_hazards`` at its start,
independently of the others; within a block the arms reverse (``means[::-1]``, the
better of two arms becomes the worse) with that block's hazard per pull, after any
drift. An agent is never told the block: it must infer volatility from what it sees.
``info["block"]`` (index into ``block_hazards``) and ``info["block_hazard"]`` give
the block in force at the pull, and ``info["reversal"]`` also reports block
reversals. The hazards and block length are traced, so a sweep can vary them; with
``block_hazards`` empty (the default) nothing of this exists: the same random
numbers are drawn, and the state and ``info`` have the same leaves, as without it.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces
from metarl.envs import distributions
from metarl.envs.base import MetaEnv
from metarl.envs.distributions import TaskSourceConfig
from metarl.envs.drift import (
    DriftParams,
    WalkDriftConfig,
    apply_drift_uniform,
    standard_normal_from_uniform,
    uniforms_needed,
)
from metarl.envs.key_hash import key_uniforms

from metarl.errors import ConfigError, check_choice, check_range

REWARD_TYPES = ("bernoulli", "gaussian")
PRIORS = ("uniform", "beta", "dependent")


@struct.dataclass
class BanditTask:
    means: jax.Array
    """[num_arms] float32: success probability (Bernoulli) or mean reward (Gaussian)."""


@struct.dataclass
class BanditState(environment.EnvState):
    time: jax.Array
    task: BanditTask
    task_id: jax.Array
    block: jax.Array | None = None
    """Block-wise volatility: int32 index of the current block's hazard; None when off (so the
    state of an env without blocks, and its checkpoints, keep their leaves)."""


@struct.dataclass
class BanditParams(environment.EnvParams):
    task_pool: BanditTask | None = None
    """Tasks to draw from (leading axis = task); None draws from the prior every episode."""
    num_active_tasks: jax.Array | None = None
    """Padded pools (``pool_capacity``): episodes draw among the first this many tasks, a traced
    int32; None: all of ``task_pool`` (replace both together on padded params)."""
    drift: DriftParams = DriftParams()
    prior_a: float = 1.0
    """Beta prior: first shape parameter."""
    prior_b: float = 1.0
    """Beta prior: second shape parameter."""
    reward_noise: float = 1.0
    """Gaussian rewards: standard deviation around the arm mean."""
    reward_scale: float = 1.0
    """Multiplies every reward (an out-of-distribution knob for evaluation)."""
    block_hazards: jax.Array | None = None
    """Block-wise volatility: [num_block_types] float32 per-pull reversal hazard of each block
    type; None: no blocks (set together with ``block_length``)."""
    block_length: jax.Array | None = None
    """Block-wise volatility: int32 pulls per block (the episode length: one block per episode)."""
    max_steps_in_episode: int = struct.field(pytree_node=False, default=100)
    num_arms: int = struct.field(pytree_node=False, default=2)
    reward_type: str = struct.field(pytree_node=False, default="bernoulli")
    prior: str = struct.field(pytree_node=False, default="uniform")


class Bandit(MetaEnv[BanditState, BanditParams]):
    """k-armed bandit meta-RL environment (one pull per trial)."""

    def __init__(self, num_arms: int = 2):
        super().__init__()
        self._num_arms = num_arms

    @property
    def name(self) -> str:
        return "Bandit-metarl"

    @property
    def num_actions(self) -> int:
        return self._num_arms

    @property
    def default_params(self) -> BanditParams:
        return BanditParams(num_arms=self._num_arms)

    # Task operations used by the shared distributions and drift models.
    def sample_prior(self, key: jax.Array, params: BanditParams) -> BanditTask:
        k = params.num_arms
        if params.prior == "uniform":
            means = jax.random.uniform(key, (k,))
        elif params.prior == "beta":
            means = jax.random.beta(key, params.prior_a, params.prior_b, (k,))
        else:  # dependent: two arms with means p and 1 - p (Wang et al. 2018)
            p = jax.random.uniform(key)
            means = jnp.stack([p, 1.0 - p])
        return BanditTask(means=means.astype(jnp.float32))

    @staticmethod
    def _reverse(task: BanditTask) -> BanditTask:
        return BanditTask(means=task.means[::-1])

    @staticmethod
    def _task_uniforms(params: BanditParams) -> int:
        if params.task_pool is not None:
            return 1
        return {"uniform": params.num_arms, "dependent": 1, "beta": 0}[params.prior]

    @staticmethod
    def _block_uniforms(params: BanditParams) -> int:
        """Per pull: the block reversal and the next block's type (0 without blocks)."""
        return 0 if params.block_hazards is None else 2

    @staticmethod
    def _reset_uniforms(params: BanditParams) -> int:
        """The task's uniforms, then the first block's type (only with blocks)."""
        return Bandit._task_uniforms(params) + int(params.block_hazards is not None)

    @staticmethod
    def _block_type(uniform: jax.Array, params: BanditParams) -> jax.Array:
        return distributions.index_from_uniform(uniform, params.block_hazards.shape[0])

    def _fresh_state(self, uniforms: jax.Array, key: jax.Array, params: BanditParams):
        """An episode's first state from ``_reset_uniforms(params)`` uniforms (Beta: ``key``)."""
        task, task_id = self._draw_from_uniforms(uniforms, key, params)
        block = None
        if params.block_hazards is not None:
            block = self._block_type(uniforms[self._task_uniforms(params)], params)
        return BanditState(time=jnp.int32(0), task=task, task_id=task_id, block=block)

    def _draw_from_uniforms(self, uniforms: jax.Array, key: jax.Array, params: BanditParams):
        """(task, task_id) from ``_task_uniforms(params)`` uniforms (the Beta prior uses ``key``)."""
        pool = params.task_pool
        if pool is not None:
            count = distributions.active_count(pool, params.num_active_tasks)
            task_id = distributions.index_from_uniform(uniforms[0], count)
            return jax.tree.map(lambda leaf: leaf[task_id], pool), task_id
        if params.prior == "uniform":
            means = uniforms[: params.num_arms]
        elif params.prior == "dependent":
            means = jnp.stack([uniforms[0], 1.0 - uniforms[0]])
        else:
            return self.sample_prior(jax.random.fold_in(key, 1), params), jnp.int32(-1)
        return BanditTask(means=means.astype(jnp.float32)), jnp.int32(-1)

    def reset_env(self, key: jax.Array, params: BanditParams):
        state = self._fresh_state(key_uniforms(key, self._reset_uniforms(params)), key, params)
        return self.get_obs(state, params), state

    def _block_step(self, uniforms: jax.Array, task: BanditTask, state: BanditState, params):
        """(task, next block, reversed) of one pull's block volatility, from its 2 uniforms.

        The reversal uses the hazard of the block in force at this pull; a new block's
        type is drawn when the next pull starts one (an episode's first block comes
        from the reset draw instead).
        """
        reversed_now = uniforms[0] < params.block_hazards[state.block]
        task = jax.tree.map(
            lambda new, old: jnp.where(reversed_now, new, old), self._reverse(task), task
        )
        starts_block = (state.time + 1) % params.block_length == 0
        block = jnp.where(starts_block, self._block_type(uniforms[1], params), state.block)
        return task, block.astype(jnp.int32), reversed_now

    def _transition(self, uniforms, fresh_task, state: BanditState, action, params: BanditParams):
        means = state.task.means
        chosen_mean = means[action]
        if params.reward_type == "bernoulli":
            reward = (uniforms[0] < chosen_mean).astype(jnp.float32)
        else:
            noise = standard_normal_from_uniform(uniforms[0])
            reward = chosen_mean + params.reward_noise * noise
        best_mean = jnp.max(means)
        task, event = apply_drift_uniform(
            uniforms[1:],
            state.task,
            state.time,
            params.drift,
            walk_leaf=lambda task: task.means,
            with_walked_leaf=lambda task, means: BanditTask(means=means),
            fresh_task=fresh_task,
            reverse=self._reverse,
        )
        reversal, block, block_info = event.reversal, None, {}
        if params.block_hazards is not None:
            used = 1 + uniforms_needed(params.drift, params.num_arms)
            task, block, block_reversal = self._block_step(
                uniforms[used : used + 2], task, state, params
            )
            reversal = jnp.logical_or(reversal, block_reversal)
            block_info = {
                "block": state.block,
                "block_hazard": params.block_hazards[state.block],
            }
        next_state = BanditState(time=state.time + 1, task=task, task_id=state.task_id, block=block)
        info = {
            "trial_boundary": jnp.ones((), bool),
            "trial": state.time,
            "task_id": state.task_id,
            "arm_means": means,
            "optimal_action": jnp.argmax(means).astype(jnp.int32),
            "expected_reward": params.reward_scale * chosen_mean,
            "optimal_expected_reward": params.reward_scale * best_mean,
            "regret": params.reward_scale * (best_mean - chosen_mean),
            "change_point": event.change_point,
            "reversal": reversal,
            "drift_event": jnp.logical_or(event.change_point, reversal),
            **block_info,
        }
        return next_state, params.reward_scale * reward, info

    def step_and_draw(
        self, key: jax.Array, state: BanditState, action: jax.Array, params: BanditParams
    ):
        """One pull, its drift and the auto-reset task from a single draw of hashed key words.

        ``metarl.envs.key_hash``: threefry is a rolled loop on CPU that would cost as
        much as the rest of the step. The change-point redraw and the reset task are the
        same draw, which is sound because only one of them is ever kept (an episode ends
        by time, never by chance).
        """
        step_size = (
            1 + uniforms_needed(params.drift, params.num_arms) + self._block_uniforms(params)
        )
        uniforms = key_uniforms(key, step_size + self._reset_uniforms(params))
        fresh = self._fresh_state(uniforms[step_size:], key, params)
        stepped, reward, info = self._transition(uniforms, fresh.task, state, action, params)
        return stepped, reward, info, fresh

    def get_obs(self, state: BanditState, params: BanditParams, key=None) -> jax.Array:
        # The bandit has no observation of its own; the fraction of the episode elapsed
        # lets an agent plan for the remaining horizon (the RL^2 wrapper adds the rest).
        return (state.time / params.max_steps_in_episode).astype(jnp.float32)[None]

    def action_space(self, params: BanditParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(self._num_arms if params is None else params.num_arms)

    def observation_space(self, params: BanditParams) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (1,), jnp.float32)

    def state_space(self, params: BanditParams) -> spaces.Dict:
        return spaces.Dict(
            {
                "time": spaces.Discrete(params.max_steps_in_episode + 1),
                "means": spaces.Box(0.0, 1.0, (params.num_arms,), jnp.float32),
            }
        )


@dataclasses.dataclass(frozen=True)
class BanditKnobs:
    """The bandit's own config fields; ``BanditConfig`` adds the shared ones after them."""

    num_arms: int = 2
    """Number of arms k."""
    horizon: int = 100
    """Pulls per episode H."""
    reward_type: str = "bernoulli"
    """'bernoulli' or 'gaussian'."""
    prior: str = "uniform"
    """Arm means ~ 'uniform' U(0,1), 'beta' Beta(prior_a, prior_b), or 'dependent' (2 arms: p, 1-p)."""
    prior_a: float = 1.0
    prior_b: float = 1.0
    reward_noise: float = 1.0
    """Gaussian rewards: reward standard deviation."""
    reward_scale: float = 1.0
    block_hazards: tuple[float, ...] = ()
    """Block-wise volatility: per-pull reversal hazard of each block type, e.g. (0.0, 0.05) for
    stable and volatile blocks; every block's type is drawn uniformly from these. () = off."""
    block_length: int | None = None
    """Block-wise volatility: pulls per block, in [1, horizon]; None: one block per episode."""


# The last base's fields come first, so listings of allowed fields start with the family's own.
@dataclasses.dataclass(frozen=True)
class BanditConfig(WalkDriftConfig, TaskSourceConfig, BanditKnobs):
    """User-facing knobs of a bandit (the keyword overrides ``make`` accepts)."""

    walk_low: float = 0.0
    """random_walk (bounded): lower reflecting bound of the walked arm means."""
    walk_high: float = 1.0
    """random_walk (bounded): upper reflecting bound of the walked arm means."""


def _block_params(config: BanditConfig, owner: str) -> tuple[jax.Array | None, jax.Array | None]:
    """(block_hazards, block_length) as traced arrays, or (None, None) when blocks are off."""
    hazards = config.block_hazards
    if not isinstance(hazards, (tuple, list)):
        raise ConfigError(
            f"{owner}: field 'block_hazards' = {hazards!r} must be a tuple of hazards in "
            "[0.0, 1.0], e.g. (0.0, 0.05); allowed: () to turn blocks off"
        )
    for index, hazard in enumerate(hazards):
        check_range(owner, f"block_hazards[{index}]", hazard, 0.0, 1.0)
    if not hazards:
        if config.block_length is not None:
            raise ConfigError(
                f"{owner}: field 'block_length' = {config.block_length!r} needs block_hazards "
                "(e.g. (0.0, 0.05)); allowed without them: None"
            )
        return None, None
    length = config.horizon if config.block_length is None else config.block_length
    check_range(owner, "block_length", length, 1, config.horizon, integer=True)
    return jnp.asarray(hazards, jnp.float32), jnp.int32(length)


def build_bandit(config: BanditConfig, owner: str) -> tuple[Bandit, BanditParams]:
    check_range(owner, "num_arms", config.num_arms, 2, integer=True)
    check_range(owner, "horizon", config.horizon, 1, integer=True)
    check_choice(owner, "reward_type", config.reward_type, REWARD_TYPES)
    check_choice(owner, "prior", config.prior, PRIORS)
    if config.prior == "dependent" and config.num_arms != 2:
        raise ConfigError(
            f"{owner}: field 'prior' = 'dependent' needs num_arms = 2, got {config.num_arms}"
        )
    check_range(owner, "prior_a", config.prior_a, 0.0, low_inclusive=False)
    check_range(owner, "prior_b", config.prior_b, 0.0, low_inclusive=False)
    check_range(owner, "reward_noise", config.reward_noise, 0.0)
    check_range(owner, "reward_scale", config.reward_scale)
    source = config.task_source(owner)
    drift = config.drift_params(owner, walk_low=config.walk_low, walk_high=config.walk_high)
    block_hazards, block_length = _block_params(config, owner)
    env = Bandit(num_arms=config.num_arms)
    params = BanditParams(
        drift=drift,
        block_hazards=block_hazards,
        block_length=block_length,
        prior_a=float(config.prior_a),
        prior_b=float(config.prior_b),
        reward_noise=float(config.reward_noise),
        reward_scale=float(config.reward_scale),
        max_steps_in_episode=config.horizon,
        num_arms=config.num_arms,
        reward_type=config.reward_type,
        prior=config.prior,
    )
    pool, num_active = distributions.pool_from_prior(lambda k: env.sample_prior(k, params), source)
    return env, params.replace(task_pool=pool, num_active_tasks=num_active)
