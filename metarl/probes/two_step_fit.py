"""The Daw et al. (2011) hybrid model fitted to an agent's own two-step choices.

A regression index (the reward x transition coefficient of the stay regression)
grows with how deterministic an agent is, for model-free agents too (Akam et al.
2015), so a fixed grid of simulated model-free agents cannot say how large a
model-free agent's index may be. Fitting a model to the agent's choices can: it
measures the agent's own temperature and learning rate, and its model-based weight
``w`` directly.

The model (that of ``metarl.evaluation.baselines.two_step.hybrid``, so the library's
reference agents are inside it): second-stage values ``Q2[s, a2]`` and cached
first-stage values ``Q1_MF[a1]`` learn by SARSA(lambda) with one learning rate,
``Q1_MB[a] = p max Q2[a] + (1 - p) max Q2[1 - a]`` plans through the transition
model (p the env's common-transition probability), and

* first stage: ``P(a1) = softmax(beta_first * (w Q1_MB + (1 - w) Q1_MF) + perseveration * [a1 = previous a1])``;
* second stage: ``P(a2 | s2) = softmax(beta_second * Q2[s2])``;

values start at 0.5 in each episode. Parameters: ``PARAMETERS``. Restrictions:
``model_free`` (w = 0), ``model_based`` (w = 1; lambda then has no effect) and
``null`` (beta_first = 0: first-stage choices ignore every learned value; w and
lambda have no effect).

Beside it, the logistic regressions of choice the probe reads its indices from
(``fit_logistic``, ``lagged_choice_regression``) and the per-trial record they all
take (``TwoStepTrials``, ``trials_from_batch``).

Fitting is Fisher scoring with Levenberg-Marquardt damping on all fits at once
(one jit-compiled program: ``lax.scan`` over trials, episodes as the batch axis,
``vmap`` over fits), w, the learning rate and lambda boxed in [0, 1] (an active
set keeps a parameter on its bound), the inverse temperatures as logs. Each model
starts from ``STARTS`` and keeps its best; the profile likelihood of w refits the
other parameters at every ``PROFILE_W`` value and at w = 0 and 1 (the restrictions).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from metarl.evaluation.rollout import EpisodeBatch
from metarl.evaluation.statistics import Z_95
from metarl.interval import Interval

PARAMETERS = ("w", "learning_rate", "trace_decay", "beta_first", "beta_second", "perseveration")
W, RATE, TRACE, BETA_FIRST, BETA_SECOND, PERSEVERATION = range(len(PARAMETERS))
INITIAL_VALUE = 0.5  # the reference agents' initial values
# The fit's box (see ``natural``): beta in [1e-3, 3000] covers greedy agents.
LOW = np.array([0.0, 0.0, 0.0, np.log(1e-3), np.log(1e-3), -20.0])
HIGH = np.array([1.0, 1.0, 1.0, np.log(3000.0), np.log(3000.0), 20.0])
# (learning rate, beta) starting points: the likelihood is not concave in them, and slow
# learners with sharp choices look like fast learners with soft ones early in a fit.
STARTS = ((0.2, 2.0), (0.7, 2.0), (0.2, 20.0), (0.7, 20.0))
# The restrictions start from two of them only: the profile refits w = 0 and w = 1 from
# the hybrid's best as well, so each restriction has three starts in all.
RESTRICTED_STARTS = (STARTS[0], STARTS[3])
# Denser near the ends, where agents of the library's two mechanisms put w and where the
# verdict's simulated references (two_step_verdict.w_bounds) lie.
PROFILE_W = (0.05, 0.15, 0.3, 0.5, 0.7, 0.85, 0.95)
ITERATIONS = 60
TOLERANCE = 1e-3
UNROLL = 10

# name -> ({parameter: fixed value}, number of parameters that affect the likelihood)
MODELS = {
    "hybrid": ({}, 6),
    "model_free": ({W: 0.0}, 5),
    "model_based": ({W: 1.0, TRACE: 1.0}, 4),
    "null": ({W: 0.0, TRACE: 1.0, BETA_FIRST: 0.0}, 3),
}


# ------------------------------------------------------------------ data


@dataclasses.dataclass(frozen=True)
class TwoStepTrials:
    """Per-trial arrays ``[trial, column]`` (numpy)."""

    first_action: np.ndarray
    """int: a1 of each trial."""
    common: np.ndarray
    """bool: the trial's transition was the common one."""
    rewarded: np.ndarray
    """bool: the trial ended in reward."""
    episode_first: np.ndarray
    """bool: the trial is the first of its episode (no previous trial to stay with)."""
    second_action: np.ndarray | None = None
    """int: a2 of each trial (None when only first-stage choices were recorded)."""

    @property
    def second_state(self) -> np.ndarray:
        """int: the second-stage state reached (a1 after a common transition)."""
        return np.where(self.common, self.first_action, 1 - self.first_action)


def trials_from_batch(batch: EpisodeBatch) -> TwoStepTrials:
    """Extract the per-trial record of a two-step ``EpisodeBatch`` (arrays ``[step, column]``)."""
    actions = np.asarray(batch.actions)
    rewards = np.asarray(batch.rewards)
    if actions.shape[0] % 2:
        raise ValueError(f"two-step batches need an even number of steps, got {actions.shape[0]}")
    first_action = actions[0::2]
    rewarded = rewards[1::2] > 0
    info = batch.info
    if "transition_common" in info:
        common = np.asarray(info["transition_common"])[0::2].astype(bool)
        if "first_stage_action" in info:
            np.testing.assert_array_equal(
                np.asarray(info["first_stage_action"])[0::2], first_action
            )
    elif batch.observations is not None:
        # Second-stage observation: [first stage, state 0, state 1, ...] one-hot.
        second_obs = np.asarray(batch.observations)[1::2]
        if np.any(second_obs[..., 0] > 0.5):
            raise ValueError("odd steps are not second-stage steps: is this a two-step batch?")
        reached = np.argmax(second_obs[..., 1:3], axis=-1)
        common = reached == first_action
    else:
        raise ValueError(
            "the batch has neither info['transition_common'] nor observations: evaluate with "
            "record_observations=True (or record the two-step info keys)"
        )
    if "trial" in info:
        episode_first = np.asarray(info["trial"])[0::2] == 0
    else:
        episode_first = np.zeros(first_action.shape, bool)
        episode_first[0] = True
    return TwoStepTrials(
        first_action=first_action,
        common=common,
        rewarded=rewarded,
        episode_first=episode_first,
        second_action=actions[1::2],
    )


class ChoiceData(NamedTuple):
    """What the likelihood reads, jax arrays ``[trial, episode]``."""

    first_action: jax.Array
    second_state: jax.Array
    second_action: jax.Array
    reward: jax.Array
    start: jax.Array

    @classmethod
    def from_trials(cls, trials: TwoStepTrials) -> ChoiceData:
        if trials.second_action is None:
            raise ValueError("fitting the hybrid model needs the second-stage actions")
        return cls(
            first_action=jnp.asarray(trials.first_action, jnp.int32),
            second_state=jnp.asarray(trials.second_state, jnp.int32),
            second_action=jnp.asarray(trials.second_action, jnp.int32),
            reward=jnp.asarray(trials.rewarded, jnp.float32),
            start=jnp.asarray(trials.episode_first, bool),
        )


# ------------------------------------------------------------------ logistic regressions of choice

REGRESSORS = ("intercept", "reward", "transition", "reward_x_transition")
# A negligible ridge keeps the logistic fit finite when an agent is deterministic in some
# condition (complete separation); it moves any identified coefficient by far less than its SE.
RIDGE = 1e-4


def cluster_correction(num_clusters: int) -> float:
    return num_clusters / max(num_clusters - 1, 1)


def fit_logistic(design: np.ndarray, outcome: np.ndarray, clusters: np.ndarray, z: float = Z_95):
    """Logistic regression by Newton's method with cluster-robust (sandwich) intervals.

    design [N, P], outcome [N] in {0, 1}, clusters [N] int ids -> (coef [P], half-width [P]).
    The sandwich H^-1 (sum_c g_c g_c^T) H^-1 accounts for trials of one episode not
    being independent. A ridge of ``RIDGE`` (not on the intercept, column 0) keeps
    separated fits finite.
    """
    design = np.asarray(design, np.float64)
    outcome = np.asarray(outcome, np.float64)
    num_params = design.shape[1]
    penalty = np.full(num_params, RIDGE * len(outcome))
    penalty[0] = 0.0
    coef = np.zeros(num_params)
    for _ in range(100):
        prob = 1.0 / (1.0 + np.exp(-design @ coef))
        gradient = design.T @ (outcome - prob) - penalty * coef
        hessian = (design * (prob * (1 - prob))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        coef = coef + step
        if np.max(np.abs(step)) < 1e-10:
            break
    prob = 1.0 / (1.0 + np.exp(-design @ coef))
    hessian = (design * (prob * (1 - prob))[:, None]).T @ design + np.diag(penalty)
    per_row = design * (outcome - prob)[:, None]
    cluster_ids, inverse = np.unique(clusters, return_inverse=True)
    per_cluster = np.zeros((len(cluster_ids), num_params))
    np.add.at(per_cluster, inverse, per_row)
    meat = cluster_correction(len(cluster_ids)) * per_cluster.T @ per_cluster
    bread = np.linalg.inv(hessian)
    covariance = bread @ meat @ bread
    # Rounding can leave a tiny negative variance when a fit is (near) saturated.
    return coef, z * np.sqrt(np.maximum(np.diag(covariance), 0.0))


def lagged_choice_regression(
    trials: TwoStepTrials, lags: int = 3, z: float = Z_95
) -> dict[str, list[Interval]]:
    """logit P(a1_t = 1) = b0 + sum_k c_{t-k} (w_k + w_r,k r + w_t,k t + w_rt,k r t), k = 1..lags.

    c = +1 if a1 was 1 else -1, r and t coded as in ``stay_regression``; only trials
    with ``lags`` earlier trials in the same episode. With lags = 1 the weights
    match ``stay_regression`` up to the side bias b0. Returns, per REGRESSORS name
    ('intercept' = the choice-repetition weight w_k), a list over lags; 'side_bias' is b0.
    """
    first_action = trials.first_action
    num_trials, num_columns = first_action.shape
    # Index of each trial within its episode.
    position = np.zeros(first_action.shape, np.int64)
    for t in range(1, num_trials):  # host-side bookkeeping over at most a few hundred trials
        position[t] = np.where(trials.episode_first[t], 0, position[t - 1] + 1)
    rows = position[lags:] >= lags
    choice_code = np.where(first_action == 1, 1.0, -1.0)
    reward_code = np.where(trials.rewarded, 1.0, -1.0)
    transition_code = np.where(trials.common, 1.0, -1.0)
    columns = [np.ones(rows.sum())]
    for k in range(1, lags + 1):
        c = choice_code[lags - k : num_trials - k][rows]
        r = reward_code[lags - k : num_trials - k][rows]
        t = transition_code[lags - k : num_trials - k][rows]
        columns += [c, c * r, c * t, c * r * t]
    design = np.stack(columns, 1)
    outcome = (first_action[lags:] == 1)[rows]
    cluster = np.broadcast_to(np.arange(num_columns), rows.shape)[rows]
    coef, half = fit_logistic(design, outcome, cluster, z)
    result: dict[str, list[Interval]] = {
        "side_bias": [Interval.from_half_width(float(coef[0]), float(half[0]))]
    }
    for j, name in enumerate(REGRESSORS):
        result[name] = [
            Interval.from_half_width(float(coef[1 + 4 * k + j]), float(half[1 + 4 * k + j]))
            for k in range(lags)
        ]
    return result


# ------------------------------------------------------------------ the model


def choice_logits(params: jax.Array, data: ChoiceData, common_prob: float):
    """(first-stage, second-stage) log-odds of choosing action 1, each ``[trial, episode]``.

    ``params`` [6] in the natural scale, in ``PARAMETERS`` order. Trial t's values
    use the outcomes of trials before t only (the reference agents learn from a
    trial at the first step of the next one). Every value is its own [episode]
    vector and every choice a 0/1 mask: elementwise work only, no gathers or
    scatters, which are what a CPU spends its time on in a scan this small.
    """
    w, rate, trace, beta_first, beta_second, perseveration = (params[i] for i in range(6))
    planning = 2.0 * common_prob - 1.0  # Q1_MB[1] - Q1_MB[0] = planning * (V[1] - V[0])

    def step(carry, xs):
        # q_first[a] (2) then q_second[s, a] (4, state-major), each [episode].
        values, previous = carry
        a1, s2, a2, reward, start = xs
        values = tuple(jnp.where(start, INITIAL_VALUE, v) for v in values)
        previous = jnp.where(start, 0.0, previous)
        first_0, first_1, q00, q01, q10, q11 = values
        model_based = planning * (jnp.maximum(q10, q11) - jnp.maximum(q00, q01))
        net = w * model_based + (1.0 - w) * (first_1 - first_0)
        first_logit = beta_first * net + perseveration * previous
        reached_0 = q00 + s2 * (q10 - q00)
        reached_1 = q01 + s2 * (q11 - q01)
        second_logit = beta_second * (reached_1 - reached_0)
        chosen_second = reached_0 + a2 * (reached_1 - reached_0)
        chosen_first = first_0 + a1 * (first_1 - first_0)
        second_error = reward - chosen_second
        first_update = rate * (chosen_second - chosen_first + trace * second_error)
        second_update = rate * second_error
        masks = ((1 - s2) * (1 - a2), (1 - s2) * a2, s2 * (1 - a2), s2 * a2)
        values = (
            first_0 + first_update * (1 - a1),
            first_1 + first_update * a1,
            *(q + second_update * m for q, m in zip((q00, q01, q10, q11), masks, strict=True)),
        )
        # +1 when this a1 was 1, -1 when it was 0: the next trial's perseveration term.
        return (values, 2.0 * a1 - 1.0), (first_logit, second_logit)

    batch = data.first_action.shape[1]
    initial = (
        tuple(jnp.full((batch,), INITIAL_VALUE, jnp.float32) for _ in range(6)),
        jnp.zeros((batch,), jnp.float32),
    )
    as_float = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    xs = (
        as_float(data.first_action),
        as_float(data.second_state),
        as_float(data.second_action),
        as_float(data.reward),
        jnp.asarray(data.start, bool),
    )
    _, (first, second) = jax.lax.scan(step, initial, xs)
    return first, second


def _signs(data: ChoiceData) -> jax.Array:
    """[2, trial, episode] +1 where action 1 was chosen, -1 where action 0 was."""
    return jnp.stack([data.first_action, data.second_action]) * 2.0 - 1.0


def log_likelihood(params, data: ChoiceData, common_prob: float) -> jax.Array:
    """[2] summed log-probability of the (first-stage, second-stage) choices under ``params``."""
    logits = jnp.stack(choice_logits(jnp.asarray(params, jnp.float32), data, common_prob))
    return jax.nn.log_sigmoid(_signs(data) * logits).sum(axis=(1, 2))


def natural(u: jax.Array, fixed: jax.Array, free: jax.Array) -> jax.Array:
    """Fit coordinates [6] -> natural [6]; fixed parameters take their ``fixed`` value.

    w, the learning rate and lambda are their own coordinates, boxed in [0, 1] (a
    sigmoid would make a fit crawl towards the boundaries where the library's agents
    sit: w = 0 or 1, lambda = 1); the inverse temperatures are fitted as logs.
    """
    mapped = jnp.concatenate([u[:3], jnp.exp(u[3:5]), u[5:]])
    return jnp.where(free, mapped, fixed)


def coordinates(params: np.ndarray) -> np.ndarray:
    """Natural [..., 6] -> fit coordinates, clipped to the fit's box."""
    params = np.asarray(params, np.float64)
    betas = np.log(np.maximum(params[..., 3:5], 1e-6))
    return np.clip(np.concatenate([params[..., :3], betas, params[..., 5:]], -1), LOW, HIGH)


def _score(u, fixed, free, data: ChoiceData, common_prob: float):
    """(negative log-likelihood, its gradient [6], Fisher information [6, 6]) at ``u``.

    Fisher scoring: for a logistic choice the expected Hessian is
    sum p (1 - p) J J^T with J the logit's Jacobian, never indefinite (unlike the
    Hessian far from the optimum), and the forward-mode Jacobian costs six tangents
    of one pass with no reverse sweep through the scan.
    """

    def logits(u):
        value = jnp.stack(choice_logits(natural(u, fixed, free), data, common_prob))
        return value, value

    jacobian, value = jax.jacfwd(logits, has_aux=True)(u)
    signs = _signs(data)
    nll = -jax.nn.log_sigmoid(signs * value).sum()
    chosen = (signs + 1.0) / 2.0
    prob = jax.nn.sigmoid(value)
    gradient = -jnp.einsum("stb,stbi->i", chosen - prob, jacobian)
    weighted = jacobian * (prob * (1.0 - prob))[..., None]
    fisher = jnp.einsum("stbi,stbj->ij", weighted, jacobian)
    free_outer = free[:, None] & free[None, :]
    return nll, jnp.where(free, gradient, 0.0), jnp.where(free_outer, fisher, 0.0)


def _fit_one(u, fixed, free, data: ChoiceData, common_prob: float, max_iterations: int):
    """Levenberg-Marquardt on Fisher scoring from ``u``: (u, negative log-likelihood).

    Stops when a step gains under ``TOLERANCE`` nats (float32 sums of ~10^4 choices
    resolve no finer) or the damping has grown past any useful step.
    """
    low, high = jnp.asarray(LOW, jnp.float32), jnp.asarray(HIGH, jnp.float32)

    def iteration(state):
        count, _, u, nll, gradient, fisher, damping = state
        # Active set: a parameter on its bound whose gradient pushes it outwards stays
        # there for this step, like a fixed one (identity row, zero step).
        pinned = ((u <= low) & (gradient > 0)) | ((u >= high) & (gradient < 0))
        moving = free & ~pinned
        diagonal = jnp.diag(fisher)
        # The Marquardt term scales with each parameter's own curvature.
        marquardt = damping * (diagonal + 1e-6 * diagonal.mean() + 1e-9)
        system = jnp.where(moving[:, None] & moving[None, :], fisher, 0.0)
        system = system + jnp.diag(jnp.where(moving, marquardt, 1.0))
        step = jnp.linalg.solve(system, jnp.where(moving, gradient, 0.0))
        proposal = jnp.clip(u - step, low, high)
        new_nll, new_gradient, new_fisher = _score(proposal, fixed, free, data, common_prob)
        better = jnp.isfinite(new_nll) & (new_nll < nll)
        # Converged: a step gained under TOLERANCE, or the (nearly undamped) quadratic model
        # predicts no more than that from here; or no step helps at any damping.
        predicted = 0.5 * jnp.dot(gradient, step)
        done = (
            (better & (nll - new_nll < TOLERANCE))
            | ((damping < 1e-1) & (predicted < TOLERANCE))
            | (damping > 1e6)
        )
        keep = lambda a, b: jnp.where(better, a, b)  # noqa: E731
        return (
            count + 1,
            done,
            keep(proposal, u),
            keep(new_nll, nll),
            keep(new_gradient, gradient),
            keep(new_fisher, fisher),
            jnp.where(better, damping * 0.3, damping * 5.0),
        )

    def going(state):
        return (state[0] < max_iterations) & ~state[1]

    first = _score(u, fixed, free, data, common_prob)
    state = (0, jnp.zeros((), bool), u, *first, jnp.float32(1e-2))
    _, _, u, nll, *_ = jax.lax.while_loop(going, iteration, state)
    return u, nll


@functools.partial(jax.jit, static_argnames=("max_iterations",))
def fit_batch(u, fixed, free, data: ChoiceData, common_prob, max_iterations: int = ITERATIONS):
    """Fit every row of ``u`` / ``fixed`` / ``free`` [P, 6] at once: (natural [P, 6], nll [P])."""
    u, nll = jax.vmap(_fit_one, in_axes=(0, 0, 0, None, None, None))(
        u, fixed, free, data, common_prob, max_iterations
    )
    return jax.vmap(natural)(u, fixed, free), nll


@functools.partial(jax.jit, static_argnames=("max_iterations",))
def fit_each(u, fixed, free, data: ChoiceData, common_prob, max_iterations: int = ITERATIONS):
    """``fit_batch`` with a data set per row: every array of ``data`` has a leading [P] axis.

    One program fits many simulated data sets at once (the parametric bootstrap of w).
    """
    u, nll = jax.vmap(_fit_one, in_axes=(0, 0, 0, 0, None, None))(
        u, fixed, free, data, common_prob, max_iterations
    )
    return jax.vmap(natural)(u, fixed, free), nll


def hybrid_w_estimates(
    datasets: list[TwoStepTrials], truth: dict[str, float], common_prob: float
) -> np.ndarray:
    """[S] the hybrid's maximum-likelihood w on each data set simulated from ``truth``.

    Each data set is fitted from the generating parameters with w = 0 and with w = 1
    (lambda 1 there, where it has no effect), and keeps the better fit: the truth is
    the natural start for data it generated, and the two ends of w reach either basin
    of the likelihood, so a model-free data set that a model-based w fits better is
    found (what the bound built from these estimates must not miss).
    """
    start = np.array([truth[name] for name in PARAMETERS])
    rows, sets = [], []
    for index in range(len(datasets)):
        for w in (0.0, 1.0):
            rows.append(({}, np.where(np.arange(len(PARAMETERS)) == W, w, start)))
            sets.append(index)
    stacked = [ChoiceData.from_trials(trials) for trials in datasets]
    data = jax.tree.map(lambda *arrays: jnp.stack(arrays)[np.asarray(sets)], *stacked)
    params, nll = fit_each(*_problems(rows), data, jnp.float32(common_prob))
    params, nll = np.asarray(params, np.float64), np.asarray(nll, np.float64)
    best = np.argmin(nll.reshape(len(datasets), 2), axis=1)
    return params.reshape(len(datasets), 2, -1)[np.arange(len(datasets)), best, W]


# ------------------------------------------------------------------ fitting the models


@dataclasses.dataclass(frozen=True)
class ModelFit:
    params: dict[str, float]
    """Every parameter (natural scale), the fixed ones at their fixed value."""
    log_likelihood: float
    num_params: int
    """Parameters that change the likelihood (a fixed w = 1 makes lambda one that cannot)."""
    bic: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class TwoStepFit:
    """The hybrid model and its restrictions fitted to one agent's choices."""

    models: dict[str, ModelFit]
    """``MODELS`` names -> fit; 'hybrid' holds the best fit found over every w."""
    w: Interval
    """Model-based weight: the hybrid's estimate, profile-likelihood interval."""
    profile_w: np.ndarray
    profile_statistic: np.ndarray
    """2 (max log-likelihood - profile log-likelihood) at each ``profile_w``."""
    likelihood_ratio: dict[str, float]
    """Restriction name -> 2 (hybrid log-likelihood - restriction's)."""
    critical: dict[str, float]
    """Restriction name -> the chi-square critical value its likelihood ratio is judged by."""
    num_choices: int

    def prefers_hybrid_over(self, restriction: str) -> bool:
        return self.likelihood_ratio[restriction] > self.critical[restriction]

    def as_dict(self) -> dict:
        return {
            "models": {name: fit.as_dict() for name, fit in self.models.items()},
            "w": self.w,
            "profile_w": [float(x) for x in self.profile_w],
            "profile_statistic": [float(x) for x in self.profile_statistic],
            "likelihood_ratio": dict(self.likelihood_ratio),
            "critical": dict(self.critical),
            "num_choices": self.num_choices,
        }


def _problems(rows: list[tuple[dict[int, float], np.ndarray]]):
    """[(fixed {index: value}, initial natural [6])] -> (u, fixed, free) arrays [P, 6]."""
    fixed = np.zeros((len(rows), len(PARAMETERS)), np.float32)
    free = np.ones((len(rows), len(PARAMETERS)), bool)
    initial = np.zeros((len(rows), len(PARAMETERS)))
    for i, (pinned, start) in enumerate(rows):
        initial[i] = start
        for index, value in pinned.items():
            fixed[i, index], free[i, index] = value, False
    u = coordinates(initial).astype(np.float32)
    return jnp.asarray(u), jnp.asarray(fixed), jnp.asarray(free)


def _solve(rows, data: ChoiceData, common_prob: float) -> tuple[np.ndarray, np.ndarray]:
    params, nll = fit_batch(*_problems(rows), data, jnp.float32(common_prob))
    return np.asarray(params, np.float64), np.asarray(nll, np.float64)


def _best(params: np.ndarray, nll: np.ndarray, rows: slice) -> tuple[np.ndarray, float]:
    i = rows.start + int(np.argmin(nll[rows]))
    return params[i], float(nll[i])


def profile_interval(
    estimate: float, w: np.ndarray, statistic: np.ndarray, critical: float
) -> Interval:
    """Hull of {w : statistic(w) <= critical}, its edges interpolated between grid points.

    The interpolation is linear in sqrt(statistic), which is close to linear in w
    around the estimate (the statistic itself is close to quadratic there, and a
    chord of it would cross the critical value too early: too narrow an interval).
    """
    order = np.argsort(w)
    w, root = w[order], np.sqrt(statistic[order])
    target = np.sqrt(critical)
    inside = np.flatnonzero(root <= target)

    def edge(i: int, j: int) -> float:
        # i inside, j its outside neighbour (or none at the end of the grid)
        if j < 0 or j >= len(w):
            return float(w[i])
        return float(w[i] + (target - root[i]) / (root[j] - root[i]) * (w[j] - w[i]))

    return Interval(estimate, edge(inside[0], inside[0] - 1), edge(inside[-1], inside[-1] + 1))


def fit_two_step(trials: TwoStepTrials, common_prob: float, z: float = Z_95) -> TwoStepFit:
    """Fit ``MODELS`` to the agent's first- and second-stage choices; profile w.

    Stage 1 fits the hybrid from every ``STARTS`` point and the restrictions from
    ``RESTRICTED_STARTS``. Stage 2 refits at each w of
    0, ``PROFILE_W``, 1 from the hybrid's best (w replaced) and from the nearer
    restriction's best, so the profile is not left in a local optimum the full fit
    escaped; w = 0 and w = 1 there are the model-free and model-based fits again.
    """
    from scipy import stats

    data = ChoiceData.from_trials(trials)
    names = list(MODELS)
    rows, spans = [], {}
    for name in names:
        starts = STARTS if name == "hybrid" else RESTRICTED_STARTS
        spans[name] = slice(len(rows), len(rows) + len(starts))
        rows += [(MODELS[name][0], np.array([0.5, r, 0.7, b, b, 0.0])) for r, b in starts]
    params, nll = _solve(rows, data, common_prob)
    best = {name: _best(params, nll, spans[name]) for name in names}

    grid = np.array([0.0, *PROFILE_W, 1.0])
    rows = []
    for w in grid:
        pinned = {W: float(w), TRACE: 1.0} if w == 1.0 else {W: float(w)}
        nearer = best["model_free" if w < 0.5 else "model_based"][0]
        for start in (best["hybrid"][0], nearer):
            rows.append((pinned, np.where(np.arange(len(PARAMETERS)) == W, w, start)))
    profile_params, profile_nll = _solve(rows, data, common_prob)
    profile = [
        _best(profile_params, profile_nll, slice(2 * k, 2 * k + 2)) for k in range(len(grid))
    ]
    best["model_free"] = min(best["model_free"], profile[0], key=lambda b: b[1])
    best["model_based"] = min(best["model_based"], profile[-1], key=lambda b: b[1])
    # Every fit is a restriction of the hybrid: its maximum is the best of them all.
    best["hybrid"] = min([best["hybrid"], *profile], key=lambda b: b[1])

    num_choices = 2 * int(np.prod(trials.first_action.shape))
    models = {
        name: ModelFit(
            params={p: float(v) for p, v in zip(PARAMETERS, best[name][0], strict=True)},
            log_likelihood=-best[name][1],
            num_params=MODELS[name][1],
            bic=MODELS[name][1] * float(np.log(num_choices)) + 2.0 * best[name][1],
        )
        for name in names
    }
    hybrid_nll = best["hybrid"][1]
    statistic = np.maximum(2.0 * (np.array([b[1] for b in profile]) - hybrid_nll), 0.0)
    estimate = best["hybrid"][0][W]
    critical = z**2  # chi-square(1) at the level of z: the w interval and its test agree
    w_points = np.append(grid, estimate)
    w_statistic = np.append(statistic, 0.0)
    level = 1.0 - 2.0 * stats.norm.sf(z)
    ratios, criticals = {}, {}
    for name in names[1:]:
        ratios[name] = max(2.0 * (best[name][1] - hybrid_nll), 0.0)
        df = MODELS["hybrid"][1] - MODELS[name][1]
        criticals[name] = critical if df == 1 else float(stats.chi2.ppf(level, df))
    return TwoStepFit(
        models=models,
        w=profile_interval(estimate, w_points, w_statistic, critical),
        profile_w=grid,
        profile_statistic=statistic,
        likelihood_ratio=ratios,
        critical=criticals,
        num_choices=num_choices,
    )
