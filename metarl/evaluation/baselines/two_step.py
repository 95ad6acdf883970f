"""Two-step task reference agents: model-based, model-free TD, win-stay-lose-shift.

All three read only ``PolicyInputs`` (never ``info`` or the env state). The RL^2
observation of the two-step task is ``[state one-hot (3), previous action one-hot
(2), previous reward, new-trial flag]``: state 0 is the first stage, states 1 and
2 the second-stage states 0 and 1. At a second-stage step ``prev_action`` is this
trial's first-stage action a1; at a first-stage step ``prev_action`` and
``prev_reward`` are the previous trial's a2 and reward (-1 and 0 at an episode
start), so every agent learns from a trial at the first step of the next one.

* **Model-based** (``model_based``; Daw et al. 2011's MB learner): learns second-stage
  values ``Q2[s, a2] += lr * (r - Q2[s, a2])`` and plans first-stage values through
  the known transition model, ``Q1[a] = p * max Q2[a] + (1 - p) * max Q2[1 - a]``
  with p the common-transition probability; softmax choice at both stages.
* **Model-free** (``model_free``; SARSA(lambda), Daw et al. 2011's MF learner): the
  same Q2 learning, and cached first-stage values updated by temporal differences,
  ``Q1[a1] += lr * (Q2[s, a2] - Q1[a1]) + lr * lambda * (r - Q2[s, a2])``; it never
  uses the transition structure.
* **Win-stay-lose-shift** (``win_stay_lose_shift``): repeats the previous a1 after a
  rewarded trial, switches after an unrewarded one (each with probability
  ``1 - noise``); a2 is uniform.

``hybrid`` is the shared machinery: Daw's hybrid with model-based weight ``w``
(``Q1 = w Q1_MB + (1 - w) Q1_MF``), an optional perseveration bonus on repeating
a1, and inverse temperature ``beta``. Extras expose ``q_first`` [B, 2] (the values
the first-stage choice used) and ``q_second`` [B, 2, 2].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs

NUM_ACTIONS = 2


@struct.dataclass
class TwoStepAgentState:
    q_first_mf: jax.Array
    """[B, 2] cached (model-free) first-stage values."""
    q_second: jax.Array
    """[B, 2, 2] second-stage values by (state, action)."""
    first_action: jax.Array
    """[B] int32 the current (or, at a first-stage step, the previous) trial's a1; -1 before any."""
    second_state: jax.Array
    """[B] int32 the current (or previous) trial's second-stage state; -1 before any."""


def read_stage(observation: jax.Array) -> tuple[jax.Array, jax.Array]:
    """RL^2 obs [B, D] -> (at_second_stage [B] bool, second-stage state [B] int32, 0 at stage 1)."""
    at_second = observation[:, 0] < 0.5
    second_state = jnp.argmax(observation[:, 1:3], axis=-1).astype(jnp.int32)
    return at_second, jnp.where(at_second, second_state, 0)


def _initial_state(batch: int, initial_value: float) -> TwoStepAgentState:
    return TwoStepAgentState(
        q_first_mf=jnp.full((batch, 2), initial_value, jnp.float32),
        q_second=jnp.full((batch, 2, 2), initial_value, jnp.float32),
        first_action=jnp.full((batch,), -1, jnp.int32),
        second_state=jnp.full((batch,), -1, jnp.int32),
    )


def _learn_from_previous_trial(
    state: TwoStepAgentState, inputs: PolicyInputs, learning_rate: float, trace_decay: float
) -> TwoStepAgentState:
    """Daw et al. (2011) SARSA(lambda) updates for the trial that just ended, per row.

    Applied at a first-stage step whose ``prev_action`` (a2) is valid; rows at an
    episode start or at a second-stage step are left unchanged.
    """
    batch = jnp.arange(state.q_first_mf.shape[0])
    a1 = jnp.clip(state.first_action, 0, 1)
    s2 = jnp.clip(state.second_state, 0, 1)
    a2 = jnp.clip(inputs.prev_action, 0, 1)
    reward = inputs.prev_reward
    q2_old = state.q_second[batch, s2, a2]
    q1_old = state.q_first_mf[batch, a1]
    delta_first = q2_old - q1_old
    delta_second = reward - q2_old
    q1_new = q1_old + learning_rate * (delta_first + trace_decay * delta_second)
    q2_new = q2_old + learning_rate * delta_second
    at_second, _ = read_stage(inputs.observation)
    valid = (
        (~at_second) & (inputs.prev_action >= 0) & (state.first_action >= 0) & ~inputs.episode_start
    )
    return state.replace(
        q_first_mf=state.q_first_mf.at[batch, a1].set(jnp.where(valid, q1_new, q1_old)),
        q_second=state.q_second.at[batch, s2, a2].set(jnp.where(valid, q2_new, q2_old)),
    )


def hybrid(
    model_based_weight: float,
    learning_rate: float = 0.5,
    beta: float = 5.0,
    trace_decay: float = 1.0,
    common_prob: float = 0.8,
    perseveration: float = 0.0,
    initial_value: float = 0.5,
    second_stage_beta: float | None = None,
) -> FunctionalPolicy:
    """Daw et al. (2011) hybrid learner: ``Q1 = w Q1_MB + (1 - w) Q1_MF`` (w = ``model_based_weight``).

    ``learning_rate`` is alpha for both stages, ``trace_decay`` is lambda (how much of
    the second-stage reward prediction error reaches Q1_MF), ``beta`` the inverse
    temperature of both softmax choices, ``perseveration`` a bonus on the logit of
    repeating the previous a1, ``common_prob`` the transition model the MB part plans with.
    ``second_stage_beta`` (None: ``beta``) is the second-stage inverse temperature
    alone, as in Daw et al.'s model, whose fits the probe simulates.
    """
    beta_second = beta if second_stage_beta is None else second_stage_beta

    def init_carry(batch: int) -> TwoStepAgentState:
        return _initial_state(batch, initial_value)

    def act(state: TwoStepAgentState, inputs: PolicyInputs, key: jax.Array):
        batch = inputs.observation.shape[0]
        fresh = _initial_state(batch, initial_value)
        state = jax.tree.map(
            lambda f, s: jnp.where(inputs.episode_start.reshape((-1,) + (1,) * (s.ndim - 1)), f, s),
            fresh,
            state,
        )
        state = _learn_from_previous_trial(state, inputs, learning_rate, trace_decay)
        at_second, second_state = read_stage(inputs.observation)

        best_second = state.q_second.max(axis=-1)  # [B, 2] value of each second-stage state
        q_first_mb = common_prob * best_second + (1.0 - common_prob) * best_second[:, ::-1]
        q_first = model_based_weight * q_first_mb + (1.0 - model_based_weight) * state.q_first_mf
        repeat = (
            jax.nn.one_hot(state.first_action, NUM_ACTIONS) * (state.first_action >= 0)[:, None]
        )
        first_logits = beta * q_first + perseveration * repeat
        second_logits = beta_second * state.q_second[jnp.arange(batch), second_state]
        logits = jnp.where(at_second[:, None], second_logits, first_logits)
        action = jax.random.categorical(key, logits).astype(jnp.int32)

        # At a second-stage step, remember this trial's a1 (prev_action) and state.
        state = state.replace(
            first_action=jnp.where(at_second, inputs.prev_action, state.first_action),
            second_state=jnp.where(at_second, second_state, state.second_state),
        )
        return state, action, {"q_first": q_first, "q_second": state.q_second}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=NUM_ACTIONS)


def model_based(
    learning_rate: float = 0.5, beta: float = 5.0, common_prob: float = 0.8
) -> FunctionalPolicy:
    """Plans Q1 through the known transition model from learned Q2 (hybrid with w = 1)."""
    return hybrid(1.0, learning_rate=learning_rate, beta=beta, common_prob=common_prob)


def model_free(
    learning_rate: float = 0.5, beta: float = 5.0, trace_decay: float = 1.0
) -> FunctionalPolicy:
    """SARSA(lambda) on cached first-stage values; ignores the transition model (hybrid with w = 0)."""
    return hybrid(0.0, learning_rate=learning_rate, beta=beta, trace_decay=trace_decay)


@struct.dataclass
class WinStayState:
    first_action: jax.Array
    """[B] int32 the current (or previous) trial's a1; -1 before any."""


def win_stay_lose_shift(noise: float = 0.05) -> FunctionalPolicy:
    """Repeat the previous a1 after a reward, switch after none; a random a1 with prob ``noise``.

    The first trial of an episode and every second-stage choice are uniform.
    """

    def init_carry(batch: int) -> WinStayState:
        return WinStayState(first_action=jnp.full((batch,), -1, jnp.int32))

    def act(state: WinStayState, inputs: PolicyInputs, key: jax.Array):
        batch = inputs.observation.shape[0]
        noise_key, random_key = jax.random.split(key)
        previous = jnp.where(inputs.episode_start, -1, state.first_action)
        at_second, _ = read_stage(inputs.observation)
        random_action = jax.random.randint(random_key, (batch,), 0, NUM_ACTIONS, dtype=jnp.int32)
        rule = jnp.where(inputs.prev_reward > 0, previous, 1 - previous)
        follow_rule = (
            (previous >= 0) & ~at_second & (jax.random.uniform(noise_key, (batch,)) >= noise)
        )
        action = jnp.where(follow_rule, rule, random_action).astype(jnp.int32)
        state = WinStayState(first_action=jnp.where(at_second, inputs.prev_action, previous))
        return state, action, {}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=NUM_ACTIONS)


def two_step_references(
    env_params=None,
    learning_rate: float = 0.5,
    beta: float = 5.0,
    model_free_learning_rates: tuple[float, ...] = (),
    wsls_noise: float = 0.05,
) -> dict[str, FunctionalPolicy]:
    """Reference agents for the two-step task, by name.

    ``env_params`` (a ``TwoStepParams``) supplies the model-based agent's transition
    model (its ``common_prob``; 0.8 when None). Names: ``model_based``, ``model_free``
    (SARSA(1) with ``learning_rate``), ``win_stay_lose_shift``, and one
    ``model_free_lr{lr}`` per extra learning rate in ``model_free_learning_rates``.
    """
    common_prob = 0.8 if env_params is None else float(env_params.common_prob)
    references = {
        "model_based": model_based(learning_rate=learning_rate, beta=beta, common_prob=common_prob),
        "model_free": model_free(learning_rate=learning_rate, beta=beta),
        "win_stay_lose_shift": win_stay_lose_shift(noise=wsls_noise),
    }
    for rate in model_free_learning_rates:
        references[f"model_free_lr{rate:g}"] = model_free(learning_rate=rate, beta=beta)
    return references
