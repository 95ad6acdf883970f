"""Bandit reference agents of known mechanism, on the one policy protocol.

Every agent here is a batch-vectorised, jit-able ``FunctionalPolicy`` that reads only
what a trained agent may see (``prev_action``, ``prev_reward``, ``episode_start``),
forgets everything at an episode start, and exposes ``extras["action_values"]``
[B, k]: the per-arm value it acts on (posterior mean, UCB index, Q-value, a
locator's expected mean; zeros for agents with none), so probes can read beliefs.

Mechanisms, from no learning to Bayes-optimal learning:

* ``random_policy``: uniform arms (no learning).
* ``win_stay_lose_shift``: repeats a rewarded arm, else switches at random (a
  one-step memory heuristic: a pure control).
* ``q_learning``: tabular Q-learning / Rescorla-Wagner on arm values, with
  epsilon-greedy or softmax choice (``tune_q_learning`` grid-searches its constants).
* ``bayes_learner_greedy`` (alias ``greedy``), ``epsilon_greedy``: act on the Beta
  posterior means (the Bayes learner's beliefs) without directed exploration.
* ``ucb1``: optimism in the face of uncertainty (``tune_ucb1`` grid-searches its
  constant, as RL^2 did).
* ``thompson_sampling``: posterior sampling (its regret per step goes to zero).
* ``gittins`` (``baselines/gittins.py``) and ``bayes_optimal``
  (``baselines/bayes_dp.py``): (near-)Bayes-optimal finite-horizon exploration.
* ``task_locator``: exact Bayes over a *finite memorised* task set; it only
  recognises which training task it is in, so it cannot learn a new task.

``bandit_references(num_arms, horizon, training_task_means=None, reward_type)`` returns
every applicable one by a stable name.

The count-based agents keep ``BetaCounts`` (``metarl.evaluation.beliefs``):
``successes`` is the reward sum and ``successes + failures`` the pull count, which
stays right for Gaussian rewards too (failures accumulate ``1 - r``). Rewards are
assumed unscaled (``reward_scale = 1``): a scaled Bernoulli reward is not a count.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from metarl.evaluation.baselines.bayes_dp import MAX_DP_STATES, bayes_optimal, dp_num_states
from metarl.evaluation.baselines.common import argmax_random_ties
from metarl.evaluation.baselines.gittins import gittins
from metarl.evaluation.beliefs import (
    BetaCounts,
    beta_posterior_mean,
    empty_beta_counts,
    task_posterior_expected_means,
    uniform_task_log_posterior,
    update_beta_counts,
    update_task_log_posterior,
)
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs


def _uniform_arm(key: jax.Array, batch: int, num_arms: int) -> jax.Array:
    return jax.random.randint(key, (batch,), 0, num_arms, dtype=jnp.int32)


def random_policy(num_actions: int) -> FunctionalPolicy:
    """Uniformly random actions (no memory; ``action_values`` are zeros)."""

    def act(carry, inputs: PolicyInputs, key: jax.Array):
        batch = inputs.prev_action.shape[0]
        action = _uniform_arm(key, batch, num_actions)
        return carry, action, {"action_values": jnp.zeros((batch, num_actions), jnp.float32)}

    return FunctionalPolicy(
        init_carry_fn=lambda batch: jnp.zeros((batch,)), act_fn=act, num_actions=num_actions
    )


def thompson_sampling(
    num_arms: int, prior_a: float = 1.0, prior_b: float = 1.0
) -> FunctionalPolicy:
    """Thompson sampling on Beta(prior_a + successes, prior_b + failures) per arm.

    Plays the arm whose posterior sample is largest; ``action_values`` (and
    ``posterior_mean``) are the posterior means [B, k].
    """

    def init_carry(batch: int) -> BetaCounts:
        return empty_beta_counts(batch, num_arms)

    def act(counts: BetaCounts, inputs: PolicyInputs, key: jax.Array):
        counts = update_beta_counts(
            counts, inputs.prev_action, inputs.prev_reward, inputs.episode_start
        )
        samples = jax.random.beta(key, prior_a + counts.successes, prior_b + counts.failures)
        action = jnp.argmax(samples, axis=-1).astype(jnp.int32)
        posterior_mean = beta_posterior_mean(counts, prior_a, prior_b)
        return counts, action, {"posterior_mean": posterior_mean, "action_values": posterior_mean}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


# RL^2 (Duan et al. 2016, Sec. 3.1) runs UCB1 and epsilon-greedy on statistics
# "initialised with exactly one success and one failure, which corresponds to a
# Beta(1, 1) prior", writes UCB1's index as mean + c sqrt(2 log t / T_i), and
# grid-searches c and epsilon separately for every (n, k) without publishing the
# values. Our defaults come from the same kind of search at k=5, n=100 on the uniform
# prior (4000 training episodes, seed FIT_SEED, paired across the grid):
# * UCB1 (RL^2 variant): exploration 0.30 (= sqrt(2) c, c ~ 0.21) gave 78.50, best of
#   0.00..0.70 step 0.05 (0.25: 78.47; 0.40: 77.93). Auer's variant (each arm once
#   first, no pseudo-counts) peaks lower, 77.60 at 0.30. ``bandit_references`` refits
#   the constant per (k, H) unless told not to (``tune_ucb1``).
# * epsilon-greedy: the search prefers epsilon -> 0 (0: 75.95, 0.01: 75.89, 0.05:
#   75.46, 0.1: ~75.0), i.e. it collapses onto greedy. To keep a distinct
#   undirected-exploration reference we fix epsilon = 0.05 (it also lands on RL^2's
#   epsilon-greedy column, 75.4); ``greedy`` is the epsilon = 0 optimum.
RL2_PSEUDO_COUNTS = 1.0
UCB1_EXPLORATION = 0.3
EPSILON_GREEDY_EPSILON = 0.05


def ucb1(
    num_arms: int, exploration: float = UCB1_EXPLORATION, pseudo_counts: float = RL2_PSEUDO_COUNTS
) -> FunctionalPolicy:
    """UCB1: play argmax_i mean_i + exploration * sqrt(ln t / n_i).

    ``pseudo_counts`` = m > 0 is RL^2's variant (Duan et al. 2016): every arm starts
    with m successes and m failures (m = 1 is the Beta(1, 1) prior), so
    ``mean_i = (m + S_i) / (2m + N_i)``, ``n_i = 2m + N_i`` and ``t = sum_i n_i``.
    ``pseudo_counts = 0`` is Auer et al. (2002)'s UCB1: each arm is tried once first
    (unpulled arms have an infinite index), then ``t`` is the number of pulls so far.
    RL^2 writes the bonus as ``c sqrt(2 ln t / n_i)``: ``exploration = sqrt(2) c``.
    ``action_values`` is the index [B, k] (1e6 standing for infinity).
    """

    def init_carry(batch: int) -> BetaCounts:
        return empty_beta_counts(batch, num_arms)

    def act(counts: BetaCounts, inputs: PolicyInputs, key: jax.Array):
        counts = update_beta_counts(
            counts, inputs.prev_action, inputs.prev_reward, inputs.episode_start
        )
        pulls = pseudo_counts * 2.0 + counts.successes + counts.failures
        mean = (pseudo_counts + counts.successes) / jnp.maximum(pulls, 1e-9)
        total = jnp.maximum(pulls.sum(-1, keepdims=True), 1.0)
        bonus = exploration * jnp.sqrt(jnp.log(total) / jnp.maximum(pulls, 1e-9))
        index = jnp.where(pulls > 0, mean + bonus, 1e6)
        action = argmax_random_ties(index, key)
        return counts, action, {"action_values": index}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


def epsilon_greedy(
    num_arms: int,
    epsilon: float = EPSILON_GREEDY_EPSILON,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
) -> FunctionalPolicy:
    """With probability ``epsilon`` a uniform arm, else the highest Beta posterior mean.

    The posterior mean under Beta(1, 1) is RL^2's "empirical mean initialised with
    one success and one failure". Ties are broken uniformly. ``action_values`` are
    the posterior means [B, k].
    """

    def init_carry(batch: int) -> BetaCounts:
        return empty_beta_counts(batch, num_arms)

    def act(counts: BetaCounts, inputs: PolicyInputs, key: jax.Array):
        counts = update_beta_counts(
            counts, inputs.prev_action, inputs.prev_reward, inputs.episode_start
        )
        posterior_mean = beta_posterior_mean(counts, prior_a, prior_b)
        greedy_key, explore_key, coin_key = jax.random.split(key, 3)
        batch = posterior_mean.shape[0]
        greedy_action = argmax_random_ties(posterior_mean, greedy_key)
        explore = jax.random.uniform(coin_key, (batch,)) < epsilon
        action = jnp.where(explore, _uniform_arm(explore_key, batch, num_arms), greedy_action)
        return counts, action, {"action_values": posterior_mean}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


def bayes_learner_greedy(
    num_arms: int, prior_a: float = 1.0, prior_b: float = 1.0
) -> FunctionalPolicy:
    """The Bayes learner acting greedily: the arm with the highest Beta posterior mean.

    Exact beliefs over the continuous prior, no exploration beyond tie-breaking
    (RL^2's "Greedy", epsilon = 0). ``action_values`` are the posterior means.
    """
    return epsilon_greedy(num_arms, 0.0, prior_a, prior_b)


greedy = bayes_learner_greedy


def win_stay_lose_shift(num_arms: int, win_threshold: float = 0.5) -> FunctionalPolicy:
    """Repeat the last arm after a reward above ``win_threshold``, else switch to a
    uniformly random *other* arm; a uniform arm at an episode start.

    A pure control: one step of memory, no value estimate (``action_values`` zeros).
    """

    def act(carry, inputs: PolicyInputs, key: jax.Array):
        batch = inputs.prev_action.shape[0]
        start_key, shift_key = jax.random.split(key)
        # A uniform draw among the k - 1 other arms: skip over the previous arm.
        offset = jax.random.randint(shift_key, (batch,), 1, num_arms, dtype=jnp.int32)
        shifted = (inputs.prev_action + offset) % num_arms
        won = inputs.prev_reward > win_threshold
        action = jnp.where(won, inputs.prev_action, shifted)
        no_history = inputs.episode_start | (inputs.prev_action < 0)
        action = jnp.where(no_history, _uniform_arm(start_key, batch, num_arms), action).astype(
            jnp.int32
        )
        return carry, action, {"action_values": jnp.zeros((batch, num_arms), jnp.float32)}

    return FunctionalPolicy(
        init_carry_fn=lambda batch: jnp.zeros((batch,)), act_fn=act, num_actions=num_arms
    )


def q_learning(
    num_arms: int,
    learning_rate: float | jax.Array,
    epsilon: float | jax.Array | None = None,
    inverse_temperature: float | jax.Array | None = None,
    initial_value: float = 0.5,
) -> FunctionalPolicy:
    """Tabular Q-learning (Rescorla-Wagner) on arm values, reset every episode.

    ``Q[a_prev] += learning_rate * (r_prev - Q[a_prev])`` from ``initial_value`` (0.5:
    the prior mean of a U(0, 1) arm). Choice is softmax(``inverse_temperature`` * Q)
    if that is given, else epsilon-greedy with ``epsilon``; give exactly one. The
    constants may be traced arrays (``tune_q_learning`` vmaps over a grid of them).
    ``action_values`` are the Q-values [B, k].
    """
    if (epsilon is None) == (inverse_temperature is None):
        raise ValueError("q_learning: give exactly one of epsilon or inverse_temperature")

    def init_carry(batch: int) -> jax.Array:
        return jnp.full((batch, num_arms), initial_value, jnp.float32)

    def act(q_values: jax.Array, inputs: PolicyInputs, key: jax.Array):
        pulled = jax.nn.one_hot(inputs.prev_action, num_arms) * (inputs.prev_action >= 0)[:, None]
        q_values = q_values + learning_rate * pulled * (inputs.prev_reward[:, None] - q_values)
        q_values = jnp.where(inputs.episode_start[:, None], initial_value, q_values)
        batch = q_values.shape[0]
        if inverse_temperature is not None:
            action = jax.random.categorical(key, inverse_temperature * q_values).astype(jnp.int32)
        else:
            greedy_key, explore_key, coin_key = jax.random.split(key, 3)
            explore = jax.random.uniform(coin_key, (batch,)) < epsilon
            action = jnp.where(
                explore,
                _uniform_arm(explore_key, batch, num_arms),
                argmax_random_ties(q_values, greedy_key),
            )
        return q_values, action, {"action_values": q_values}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


@struct.dataclass
class TaskLocatorCarry:
    log_posterior: jax.Array
    """[B, N] log posterior over the memorised training tasks."""


def task_locator(
    task_means,
    mode: str = "greedy",
    reward_type: str = "bernoulli",
    reward_noise: float = 1.0,
) -> FunctionalPolicy:
    """Exact Bayes over a *finite* set of memorised tasks ``task_means`` [N, k].

    Keeps the posterior over which training task this episode is (uniform prior,
    ``update_task_log_posterior``). ``mode="greedy"`` plays the arm with the highest
    posterior-expected mean; ``mode="sampling"`` draws a task from the posterior and
    plays its best arm (Thompson sampling over the N tasks). It only *locates*
    memorised tasks: on a new task it locks onto the nearest memorised one and its
    regret per step does not go to zero. ``action_values`` are the posterior-expected
    means [B, k]; ``task_posterior`` [B, N] the posterior itself.
    """
    if mode not in ("greedy", "sampling"):
        raise ValueError(f"task_locator: mode must be 'greedy' or 'sampling', got {mode!r}")
    task_means = jnp.asarray(task_means, jnp.float32)
    num_tasks, num_arms = task_means.shape
    best_arm_of_task = jnp.argmax(task_means, axis=-1).astype(jnp.int32)

    def init_carry(batch: int) -> TaskLocatorCarry:
        return TaskLocatorCarry(log_posterior=uniform_task_log_posterior(batch, num_tasks))

    def act(carry: TaskLocatorCarry, inputs: PolicyInputs, key: jax.Array):
        log_posterior = update_task_log_posterior(
            carry.log_posterior,
            task_means,
            inputs.prev_action,
            inputs.prev_reward,
            inputs.episode_start,
            reward_type,
            reward_noise,
        )
        expected_means = task_posterior_expected_means(log_posterior, task_means)
        if mode == "greedy":
            action = argmax_random_ties(expected_means, key)
        else:
            action = best_arm_of_task[jax.random.categorical(key, log_posterior)]
        extras = {"action_values": expected_means, "task_posterior": jnp.exp(log_posterior)}
        return TaskLocatorCarry(log_posterior=log_posterior), action, extras

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


# --------------------------------------------------------------------------------------
# Grid search of reference constants on training episodes (RL^2 tuned its baselines so).

FIT_SEED = 12345
"""Key of the training episodes the constants are fitted on (not an evaluation key)."""


def _training_env(
    num_arms: int,
    horizon: int,
    training_task_means,
    reward_type: str,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
):
    """The env the constants are fitted on: the training pool if given, else the prior
    (uniform, or Beta(prior_a, prior_b) when that is not Beta(1, 1))."""
    import metarl.envs as menvs
    from metarl.envs.bandit import BanditTask

    prior = (
        {}
        if (prior_a, prior_b) == (1.0, 1.0)
        else {"prior": "beta", "prior_a": prior_a, "prior_b": prior_b}
    )
    env, params = menvs.make(
        "bandit-bernoulli-v0" if reward_type == "bernoulli" else "bandit-gaussian-v0",
        num_arms=num_arms,
        horizon=horizon,
        **prior,
    )
    if training_task_means is not None:
        params = params.replace(
            task_pool=BanditTask(means=jnp.asarray(training_task_means, jnp.float32))
        )
    return env, params


def grid_search_returns(
    make_policy: Callable[..., FunctionalPolicy],
    grid: dict[str, Sequence[float]],
    env,
    env_params,
    horizon: int,
    num_episodes: int = 1024,
    seed: int = FIT_SEED,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Mean return of ``make_policy(**point)`` at every point of the Cartesian ``grid``.

    All points face the same episodes (one key: paired comparison). Returns
    ``(points, mean_returns)``: ``points[name]`` [G] and ``mean_returns`` [G].
    """
    from metarl.evaluation.rollout import evaluate_policy

    names = list(grid)
    mesh = np.meshgrid(*[np.asarray(grid[n], np.float64) for n in names], indexing="ij")
    points = {n: m.reshape(-1) for n, m in zip(names, mesh, strict=True)}
    key = jax.random.PRNGKey(seed)

    def mean_return(*values):
        policy = make_policy(**dict(zip(names, values, strict=True)))
        return evaluate_policy(policy, env, env_params, key, num_episodes, horizon).returns.mean()

    returns = jax.jit(jax.vmap(mean_return))(*[jnp.asarray(points[n], jnp.float32) for n in names])
    return points, np.asarray(returns)


@struct.dataclass
class QLearningFit:
    learning_rate: float
    inverse_temperature: float
    mean_return: float
    """Mean return per episode on the training episodes at the chosen constants."""


QLEARNING_LEARNING_RATES = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
QLEARNING_INVERSE_TEMPERATURES = (5.0, 10.0, 20.0, 50.0, 100.0, 200.0)
UCB1_EXPLORATIONS = tuple(np.round(np.arange(0.0, 0.75, 0.05), 2))
# The grid search at k=5, n=100 on the prior (4000 episodes, 8 x 8 grid up to
# inverse temperature 1000) peaks at learning rate 0.2 with inverse temperature >= 100
# (77.85-77.88: nearly greedy choice; the 0.5 initial values make unpulled arms
# look as good as an average arm, which does the exploring).
QLEARNING_DEFAULT = (0.2, 100.0)
"""(learning rate, inverse temperature) used when constants are not fitted."""


def tune_q_learning(
    num_arms: int,
    horizon: int,
    training_task_means=None,
    reward_type: str = "bernoulli",
    learning_rates: Sequence[float] = QLEARNING_LEARNING_RATES,
    inverse_temperatures: Sequence[float] = QLEARNING_INVERSE_TEMPERATURES,
    num_episodes: int = 1024,
    seed: int = FIT_SEED,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
) -> QLearningFit:
    """Grid-search softmax Q-learning's (learning rate, inverse temperature).

    Maximises the mean return over ``num_episodes`` training episodes drawn with the
    fixed ``seed`` (the training pool ``training_task_means`` [N, k] if given, else the
    Beta(prior_a, prior_b) prior), all grid points on the same episodes. Q-values start
    at the prior mean.
    """
    env, params = _training_env(
        num_arms, horizon, training_task_means, reward_type, prior_a, prior_b
    )
    points, returns = grid_search_returns(
        lambda learning_rate, inverse_temperature: q_learning(
            num_arms,
            learning_rate,
            inverse_temperature=inverse_temperature,
            initial_value=prior_a / (prior_a + prior_b),
        ),
        {"learning_rate": learning_rates, "inverse_temperature": inverse_temperatures},
        env,
        params,
        horizon,
        num_episodes,
        seed,
    )
    best = int(np.argmax(returns))
    return QLearningFit(
        learning_rate=float(points["learning_rate"][best]),
        inverse_temperature=float(points["inverse_temperature"][best]),
        mean_return=float(returns[best]),
    )


def tune_ucb1(
    num_arms: int,
    horizon: int,
    training_task_means=None,
    reward_type: str = "bernoulli",
    explorations: Sequence[float] = UCB1_EXPLORATIONS,
    num_episodes: int = 1024,
    seed: int = FIT_SEED,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
) -> tuple[float, float]:
    """Grid-search UCB1's (RL^2 variant) exploration constant as ``tune_q_learning`` does.

    Returns ``(exploration, mean_return)`` at the best grid point.
    """
    env, params = _training_env(
        num_arms, horizon, training_task_means, reward_type, prior_a, prior_b
    )
    points, returns = grid_search_returns(
        lambda exploration: ucb1(num_arms, exploration),
        {"exploration": explorations},
        env,
        params,
        horizon,
        num_episodes,
        seed,
    )
    best = int(np.argmax(returns))
    return float(points["exploration"][best]), float(returns[best])


# --------------------------------------------------------------------------------------

MAX_GITTINS_HORIZON = 150
"""Longest horizon ``bandit_references`` builds a Gittins table for (H=100: ~2 s,
H=150: ~8 s and ~300 MB while building)."""
TRAINING_DISCOUNT_GITTINS = "gittins_at_training_discount"
"""The Gittins index at the discount the checkpoint was trained with: the best player of
the discounted objective the agent maximised (``bandit_references``' ``training_discount``)."""


def bandit_references(
    num_arms: int,
    horizon: int,
    training_task_means=None,
    reward_type: str = "bernoulli",
    *,
    fit_constants: bool = True,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    reward_noise: float = 1.0,
    training_discount: float | None = None,
) -> dict[str, FunctionalPolicy]:
    """Every applicable bandit reference agent, by stable name.

    Bernoulli: ``random``, ``thompson_sampling``, ``ucb1``, ``epsilon_greedy``,
    ``greedy``, ``gittins``, ``bayes_optimal`` (only when its DP is small enough),
    ``q_learning``, ``win_stay_lose_shift``, and ``task_locator`` when
    ``training_task_means`` [N, k] is given, and ``gittins_at_training_discount`` when
    ``training_discount`` < 1 is given (the index at that discount: what an agent trained
    to maximise reward discounted by it would play at best, scored like every other agent
    on the undiscounted total). ``gittins`` is left out above
    ``MAX_GITTINS_HORIZON`` pulls (its table costs O(H^3) time, O(H^2) memory per
    lambda). Gaussian rewards (standard deviation ``reward_noise``, used by the task
    locator's likelihood) drop the agents whose beliefs are Beta (Thompson, Gittins,
    Bayes DP); UCB1 and the greedy agents then act on empirical means shrunk toward
    the 0.5 of their pseudo-counts.

    ``fit_constants`` grid-searches UCB1's exploration constant and Q-learning's
    (learning rate, inverse temperature) on 1024 training episodes of this setting
    (``tune_ucb1``, ``tune_q_learning``: the training pool if given, else the prior;
    a fixed seed; cached per setting, a few seconds the first time), as RL^2 tuned
    its baselines per setting; otherwise the documented k=5, n=100 defaults are used.
    epsilon-greedy keeps epsilon = 0.05 (see ``EPSILON_GREEDY_EPSILON``).

    ``prior_a``, ``prior_b``: the independent Beta prior of the arm means, which the
    Bayesian agents (Thompson, greedy, epsilon-greedy, Gittins, Bayes DP) assume and
    the fits draw from. UCB1 keeps RL^2's one-success-one-failure pseudo-counts. For the
    'dependent' prior (two arms p, 1 - p) none of these is Bayes-optimal.
    """
    refs: dict[str, FunctionalPolicy] = {"random": random_policy(num_arms)}
    if reward_type == "bernoulli":
        refs["thompson_sampling"] = thompson_sampling(num_arms, prior_a, prior_b)
    exploration = UCB1_EXPLORATION
    learning_rate, inverse_temperature = QLEARNING_DEFAULT
    if fit_constants:
        setting = (
            num_arms,
            horizon,
            _hashable_means(training_task_means),
            reward_type,
            float(prior_a),
            float(prior_b),
        )
        exploration = _cached_ucb1_fit(*setting)[0]
        fit = _cached_q_learning_fit(*setting)
        learning_rate, inverse_temperature = fit.learning_rate, fit.inverse_temperature
    refs["ucb1"] = ucb1(num_arms, exploration)
    refs["epsilon_greedy"] = epsilon_greedy(num_arms, EPSILON_GREEDY_EPSILON, prior_a, prior_b)
    refs["greedy"] = bayes_learner_greedy(num_arms, prior_a, prior_b)
    if reward_type == "bernoulli":
        if horizon <= MAX_GITTINS_HORIZON:
            refs["gittins"] = gittins(num_arms, horizon, prior_a, prior_b)
            if training_discount is not None and training_discount < 1.0:
                refs[TRAINING_DISCOUNT_GITTINS] = gittins(
                    num_arms, horizon, prior_a, prior_b, discount=training_discount
                )
        if dp_num_states(num_arms, horizon) <= MAX_DP_STATES:
            refs["bayes_optimal"] = bayes_optimal(num_arms, horizon, prior_a, prior_b)
    refs["q_learning"] = q_learning(
        num_arms,
        learning_rate,
        inverse_temperature=inverse_temperature,
        initial_value=prior_a / (prior_a + prior_b),
    )
    refs["win_stay_lose_shift"] = win_stay_lose_shift(num_arms)
    if training_task_means is not None:
        refs["task_locator"] = task_locator(
            training_task_means, "greedy", reward_type, reward_noise
        )
    return refs


def _hashable_means(task_means):
    if task_means is None:
        return None
    means = np.asarray(task_means, np.float32)
    return means.shape, means.tobytes()


def _means_from_hashable(hashable_means):
    if hashable_means is None:
        return None
    shape, raw = hashable_means
    return np.frombuffer(raw, np.float32).reshape(shape)


@functools.lru_cache(maxsize=32)
def _cached_q_learning_fit(
    num_arms, horizon, hashable_means, reward_type, prior_a, prior_b
) -> QLearningFit:
    means = _means_from_hashable(hashable_means)
    return tune_q_learning(num_arms, horizon, means, reward_type, prior_a=prior_a, prior_b=prior_b)


@functools.lru_cache(maxsize=32)
def _cached_ucb1_fit(
    num_arms, horizon, hashable_means, reward_type, prior_a, prior_b
) -> tuple[float, float]:
    means = _means_from_hashable(hashable_means)
    return tune_ucb1(num_arms, horizon, means, reward_type, prior_a=prior_a, prior_b=prior_b)
