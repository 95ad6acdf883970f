"""The two-step task (Daw et al. 2011; the meta-RL version of Wang et al. 2016/2018).

Each trial is two env steps. At the first-stage state the agent picks a1 in {0, 1};
with probability ``common_prob`` it lands in second-stage state a1 (a *common*
transition), otherwise in the other one (*rare*). There it picks a2 and is rewarded
with a Bernoulli draw. An episode is ``num_trials`` trials, so ``2 * num_trials``
steps; ``info["trial_boundary"]`` is true on every second step.

The task is the [2 states, 2 actions] table of reward probabilities:

* ``wang``: each second-stage state has one probability, whichever a2 is taken;
  one state is good (``reward_high``) and one bad (``reward_low``). The good side
  swaps with probability ``swap_prob`` per trial (the shared drift's ``reversal``
  kind with ``reversal_hazard``).
* ``daw``: every (state, action) has its own probability, drawn U(walk_low, walk_high)
  and walked once per trial by a Gaussian of sd ``volatility`` reflected at the
  bounds (the shared drift's ``random_walk`` with ``walk_space='bounded'``).

Drift is applied only on trial-ending steps and is given the trial index as its
step, so hazards are per trial. Whether a model-based agent exploits the
transition structure shows in the stay probabilities (stay = same a1 as the
previous trial) split by rewarded x common/rare, which ``info`` carries.

``info`` has the same keys and dtypes on both steps of a trial:
``trial_boundary`` (true on the second step), ``trial``, ``stage`` (1 or 2),
``task_id`` (pool index, -1 for a prior draw; drift does not change it),
``first_stage_action``, ``transition_common`` and ``second_stage_state`` (this
trial's, set from the first step on), ``rewarded``, ``reward_probs`` (the true
[2, 2] table in force at this step, before its drift), ``optimal_action`` (stage 1:
the a1 of highest expected reward, i.e. whose common transition leads to the better
state; stage 2: the best a2 in the reached state; ties go to 0, so always 0 at a wang
second stage), and ``regret``, ``expected_reward``, ``optimal_expected_reward``,
booked on the trial's second step and 0 on its first. ``regret`` is decision regret:
``max Q1 - Q1(a1)`` plus ``V(s2) - p(s2, a2)``, with Q1 the expected reward of a1
followed by the best a2 and V(s) = max_a p(s, a); it is never negative, and a
lucky rare transition does not lower it. ``change_point``, ``reversal`` and
``drift_event`` report the drift applied at this step (only ever on second steps).

Task pools. The daw task space is continuous, so the shared
``distributions.build_task_pools`` draws N distinct tasks and a disjoint held-out
set. The wang task space has exactly two tasks (left good, right good), so its
pools are the two orientations dealt out in a ``task_seed`` order: ``num_tasks``
may be 1 or 2 (or infinite), the held-out set is by default the orientations not in
the training pool, and asking for more distinct tasks than exist is a ConfigError.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces
from metarl.envs import distributions
from metarl.envs.distributions import TaskSourceConfig
from metarl.envs.drift import DriftParams, apply_drift, make_drift, random_walk

from metarl.errors import ConfigError, check_choice, check_range

VARIANTS = ("wang", "daw")
NUM_STATES = 3  # first stage, second stage A, second stage B
NUM_WANG_TASKS = 2  # which second-stage state is the good one
DEFAULT_DAW_HELD_OUT = 1024
DEFAULT_SWAP_PROB = {"wang": 0.025, "daw": 0.0}
DEFAULT_VOLATILITY = {"wang": 0.0, "daw": 0.025}


@struct.dataclass
class TwoStepTask:
    reward_probs: jax.Array
    """[2, 2] float32: P(reward) for (second-stage state, second-stage action)."""


@struct.dataclass
class TwoStepState(environment.EnvState):
    time: jax.Array
    task: TwoStepTask
    task_id: jax.Array
    first_stage_action: jax.Array
    """This trial's a1 (-1 before the first step of an episode)."""
    transition_common: jax.Array
    """Whether this trial's transition was the common one."""
    second_stage_state: jax.Array
    """0 or 1: which second-stage state this trial reached (-1 before the first step)."""


@struct.dataclass
class TwoStepParams(environment.EnvParams):
    task_pool: TwoStepTask | None = None
    """Tasks to draw from (leading axis = task); None draws from the prior every episode."""
    num_active_tasks: jax.Array | None = None
    """Padded pools (``pool_capacity``): episodes draw among the first this many tasks, a traced
    int32; None: all of ``task_pool`` (replace both together on padded params)."""
    drift: DriftParams = DriftParams()
    common_prob: float = 0.8
    """Probability that a1 leads to second-stage state a1 (else to the other one)."""
    reward_high: float = 0.9
    """wang: reward probability of the good second-stage state."""
    reward_low: float = 0.1
    """wang: reward probability of the bad second-stage state."""
    prob_low: float = 0.25
    """daw: lower end of the uniform prior on each reward probability."""
    prob_high: float = 0.75
    """daw: upper end of the uniform prior on each reward probability."""
    max_steps_in_episode: int = struct.field(pytree_node=False, default=200)
    variant: str = struct.field(pytree_node=False, default="wang")


class TwoStep(environment.Environment[TwoStepState, TwoStepParams]):
    """Two-step task: two env steps per trial, Bernoulli reward at the second stage."""

    def __init__(self, variant: str = "wang"):
        super().__init__()
        self._variant = variant

    @property
    def name(self) -> str:
        return "TwoStep-metarl"

    @property
    def num_actions(self) -> int:
        return 2

    @property
    def default_params(self) -> TwoStepParams:
        return TwoStepParams(variant=self._variant)

    # Task operations used by the shared distributions and drift models.
    @staticmethod
    def wang_task(good_state: jax.Array, params: TwoStepParams) -> TwoStepTask:
        """The wang task whose good second-stage state is ``good_state`` (0 or 1)."""
        per_state = jnp.where(jnp.arange(2) == good_state, params.reward_high, params.reward_low)
        # Both second-stage actions share their state's probability: a2 does not matter.
        return TwoStepTask(
            reward_probs=jnp.repeat(per_state[:, None], 2, axis=1).astype(jnp.float32)
        )

    def sample_prior(self, key: jax.Array, params: TwoStepParams) -> TwoStepTask:
        if params.variant == "wang":
            return self.wang_task(jax.random.bernoulli(key).astype(jnp.int32), params)
        probs = jax.random.uniform(key, (2, 2), minval=params.prob_low, maxval=params.prob_high)
        return TwoStepTask(reward_probs=probs.astype(jnp.float32))

    @staticmethod
    def _walk(key: jax.Array, task: TwoStepTask, drift: DriftParams) -> TwoStepTask:
        return TwoStepTask(reward_probs=random_walk(key, task.reward_probs, drift))

    @staticmethod
    def _reverse(task: TwoStepTask) -> TwoStepTask:
        # The good side swaps: the two second-stage states exchange their probabilities.
        return TwoStepTask(reward_probs=task.reward_probs[::-1])

    def _draw(self, key: jax.Array, params: TwoStepParams):
        return distributions.draw_task(
            key, params.task_pool, lambda k: self.sample_prior(k, params), params.num_active_tasks
        )

    def reset_env(self, key: jax.Array, params: TwoStepParams):
        task, task_id = self._draw(key, params)
        state = TwoStepState(
            time=jnp.int32(0),
            task=task,
            task_id=task_id,
            first_stage_action=jnp.int32(-1),
            transition_common=jnp.zeros((), bool),
            second_stage_state=jnp.int32(-1),
        )
        return self.get_obs(state, params), state

    def step_env(
        self, key: jax.Array, state: TwoStepState, action: jax.Array, params: TwoStepParams
    ):
        uniform_key, drift_key = jax.random.split(key)
        # One draw for the transition and the reward: each threefry call costs.
        transition_u, reward_u = jax.random.uniform(uniform_key, (2,))
        action = jnp.asarray(action, jnp.int32)
        first_stage = state.time % 2 == 0
        trial = state.time // 2
        probs = state.task.reward_probs

        # Both stages are computed and selected, so one program serves every step under vmap.
        common_now = transition_u < params.common_prob
        first_stage_action = jnp.where(first_stage, action, state.first_stage_action)
        transition_common = jnp.where(first_stage, common_now, state.transition_common)
        second_stage_state = jnp.where(
            first_stage, jnp.where(common_now, action, 1 - action), state.second_stage_state
        )
        chosen_prob = probs[second_stage_state, action]
        rewarded = jnp.logical_and(~first_stage, reward_u < chosen_prob)

        # Values under the true task, assuming the best second-stage action is taken.
        state_value = probs.max(axis=1)
        first_stage_value = (
            params.common_prob * state_value + (1.0 - params.common_prob) * state_value[::-1]
        )
        best_value = first_stage_value.max()
        optimal_action = jnp.where(
            first_stage,
            jnp.argmax(first_stage_value),
            jnp.argmax(probs[second_stage_state]),
        ).astype(jnp.int32)
        # Decision regret, not luck: a rare transition to the better state is not negative regret.
        regret = (best_value - first_stage_value[first_stage_action]) + (
            state_value[second_stage_state] - chosen_prob
        )

        drifted, event = apply_drift(
            drift_key,
            state.task,
            trial,
            params.drift,
            walk=self._walk,
            redraw=lambda k: self._draw(k, params)[0],
            reverse=self._reverse,
        )
        task = jax.tree.map(lambda old, new: jnp.where(first_stage, old, new), state.task, drifted)
        change_point = jnp.logical_and(~first_stage, event.change_point)
        reversal = jnp.logical_and(~first_stage, event.reversal)

        next_state = TwoStepState(
            time=state.time + 1,
            task=task,
            task_id=state.task_id,
            first_stage_action=first_stage_action,
            transition_common=transition_common,
            second_stage_state=second_stage_state,
        )
        zero = jnp.float32(0.0)
        info = {
            "trial_boundary": ~first_stage,
            "trial": trial.astype(jnp.int32),
            "stage": jnp.where(first_stage, 1, 2).astype(jnp.int32),
            "task_id": state.task_id,
            "first_stage_action": first_stage_action,
            "transition_common": transition_common,
            "second_stage_state": second_stage_state,
            "rewarded": rewarded,
            "reward_probs": probs,
            "optimal_action": optimal_action,
            # The trial's outcome is booked on its end step; the first-stage step books 0.
            "expected_reward": jnp.where(first_stage, zero, chosen_prob),
            "optimal_expected_reward": jnp.where(first_stage, zero, best_value),
            "regret": jnp.where(first_stage, zero, regret).astype(jnp.float32),
            "change_point": change_point,
            "reversal": reversal,
            "drift_event": jnp.logical_or(change_point, reversal),
        }
        terminated = jnp.zeros((), bool)
        reward = rewarded.astype(jnp.float32)
        return self.get_obs(next_state, params), next_state, reward, terminated, info

    def get_obs(self, state: TwoStepState, params: TwoStepParams, key=None) -> jax.Array:
        at_first_stage = state.time % 2 == 0
        current = jnp.where(at_first_stage, 0, 1 + state.second_stage_state)
        return jax.nn.one_hot(current, NUM_STATES, dtype=jnp.float32)

    def is_terminated(self, state: TwoStepState, params: TwoStepParams) -> jax.Array:
        return jnp.zeros((), bool)

    def action_space(self, params: TwoStepParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(2)

    def observation_space(self, params: TwoStepParams) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (NUM_STATES,), jnp.float32)

    def state_space(self, params: TwoStepParams) -> spaces.Dict:
        return spaces.Dict(
            {
                "time": spaces.Discrete(params.max_steps_in_episode + 1),
                "reward_probs": spaces.Box(0.0, 1.0, (2, 2), jnp.float32),
            }
        )


@dataclasses.dataclass(frozen=True)
class TwoStepKnobs:
    """The two-step task's own config fields; ``TwoStepConfig`` adds the task source after them."""

    variant: str = "wang"
    """'wang' (one probability per state, good side swaps) or 'daw' (4 walking probabilities)."""
    num_trials: int = 100
    """Trials per episode; an episode is 2 * num_trials env steps."""
    common_prob: float = 0.8
    """Probability of the common transition, in [0.5, 1] (Daw et al. 2011 used 0.7)."""
    reward_high: float = 0.9
    """wang: reward probability of the good second-stage state."""
    reward_low: float = 0.1
    """wang: reward probability of the bad second-stage state (below reward_high)."""
    swap_prob: float | None = None
    """Per-trial probability that the two second-stage states swap probabilities; None: wang 0.025, daw 0."""
    volatility: float | None = None
    """daw: sd of the per-trial Gaussian walk of each probability; None: 0.025 (wang: must be 0)."""
    walk_low: float = 0.25
    """daw: lower reflecting bound of the walk and of the uniform prior."""
    walk_high: float = 0.75
    """daw: upper reflecting bound of the walk and of the uniform prior."""


# The last base's fields come first, so listings of allowed fields start with the family's own.
# No DriftConfig: the variant fixes the drift kinds (swap_prob and volatility above).
@dataclasses.dataclass(frozen=True)
class TwoStepConfig(TaskSourceConfig, TwoStepKnobs):
    """User-facing knobs of the two-step task (the keyword overrides ``make`` accepts)."""

    held_out_size: int | None = None
    """Held-out tasks (disjoint from the pool); None: daw 1024, wang the orientations not in the pool."""

    held_out_size_optional: ClassVar[bool] = True


def _wang_task_pools(
    env: TwoStep, params: TwoStepParams, num_tasks: int | None, task_seed: int, held_out_size: int
):
    """Deal the two wang orientations into a training pool and a disjoint held-out pool.

    Rejection sampling of distinct tasks cannot work on a two-point prior, so the
    orientations are enumerated and ordered by ``task_seed`` instead.
    """
    order = jax.random.permutation(jax.random.PRNGKey(task_seed), NUM_WANG_TASKS)
    tasks = jax.vmap(lambda good: env.wang_task(good, params))(order)
    train_count = 0 if num_tasks is None else num_tasks
    train_pool = None
    if num_tasks is not None:
        train_pool = jax.tree.map(lambda leaf: leaf[:train_count], tasks)
    held_out_pool = None
    if held_out_size > 0:
        held_out_pool = jax.tree.map(
            lambda leaf: leaf[train_count : train_count + held_out_size], tasks
        )
    return train_pool, held_out_pool


def build_two_step(config: TwoStepConfig, owner: str) -> tuple[TwoStep, TwoStepParams]:
    check_choice(owner, "variant", config.variant, VARIANTS)
    check_range(owner, "num_trials", config.num_trials, 1, integer=True)
    check_range(owner, "common_prob", config.common_prob, 0.5, 1.0)
    check_range(owner, "reward_high", config.reward_high, 0.0, 1.0)
    check_range(owner, "reward_low", config.reward_low, 0.0, 1.0)
    if config.reward_low >= config.reward_high:
        raise ConfigError(
            f"{owner}: field 'reward_low' = {config.reward_low} must be below reward_high = {config.reward_high}"
        )
    swap_prob = DEFAULT_SWAP_PROB[config.variant] if config.swap_prob is None else config.swap_prob
    check_range(owner, "swap_prob", swap_prob, 0.0, 1.0)
    volatility = (
        DEFAULT_VOLATILITY[config.variant] if config.volatility is None else config.volatility
    )
    check_range(owner, "volatility", volatility, 0.0)
    if config.variant == "wang" and volatility != 0.0:
        raise ConfigError(
            f"{owner}: field 'volatility' = {volatility!r} is not allowed for variant 'wang' "
            "(its probabilities are fixed up to swaps); allowed: 0 or None, or use variant 'daw'"
        )
    source = config.task_source(owner)
    num_tasks = source.num_tasks
    kinds = []
    if volatility > 0.0:
        kinds.append("random_walk")
    if swap_prob > 0.0:
        kinds.append("reversal")
    drift = make_drift(
        tuple(kinds),
        volatility=volatility,
        walk_space="bounded",
        walk_low=config.walk_low,
        walk_high=config.walk_high,
        reversal_hazard=swap_prob,
        owner=owner,
    )
    env = TwoStep(variant=config.variant)
    params = TwoStepParams(
        drift=drift,
        common_prob=float(config.common_prob),
        reward_high=float(config.reward_high),
        reward_low=float(config.reward_low),
        prob_low=float(config.walk_low),
        prob_high=float(config.walk_high),
        max_steps_in_episode=2 * config.num_trials,
        variant=config.variant,
    )

    if config.variant == "wang":
        held_out_size = distributions.check_finite_split(
            owner,
            num_tasks,
            config.held_out_size,
            config.split,
            NUM_WANG_TASKS,
            "tasks of variant 'wang' (left good, right good)",
        )
        train_pool, held_out_pool = _wang_task_pools(
            env, params, num_tasks, config.task_seed, held_out_size
        )
    elif num_tasks is None and config.split == "train":
        # Fresh prior draws use no pool; building the unused held-out set would cost a
        # compile and a thousand draws on every make().
        train_pool, held_out_pool = None, None
    else:
        held_out_size = (
            DEFAULT_DAW_HELD_OUT if config.held_out_size is None else config.held_out_size
        )
        train_pool, held_out_pool = distributions.build_task_pools(
            lambda k: env.sample_prior(k, params), num_tasks, config.task_seed, held_out_size
        )
    pool, num_active = source.finish(
        distributions.select_pool(train_pool, held_out_pool, config.split)
    )
    return env, params.replace(task_pool=pool, num_active_tasks=num_active)
