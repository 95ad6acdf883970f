"""Hidden-state probes: can belief statistics be read linearly off a frozen agent's state?

If an agent carries a Bayes learner's sufficient statistics, a linear decoder
fitted on some episodes should predict, on *other* episodes, the per-arm
posterior means and pull counts computed from the history it saw. The decoder is
ridge regression (R^2 on held-out episodes) for continuous targets and L2
multinomial logistic regression (accuracy) for categorical ones.

A decoder can succeed for reasons unrelated to the agent's computation (the
targets grow with time; a random recurrent network already mixes its inputs), so
every score comes with controls run on the same histories and the same split
(``chance`` too for categorical targets: the fit set's majority class):

* ``control``: the same decoder on a randomly initialised network of the same
  architecture replayed on the agent's histories (``random_network_hidden``);
* ``time_only``: the best decoder that knows only the step index (each step's
  mean target, or most frequent class, over the fit episodes): what any clock gives.

Targets: the bandit's belief statistics (``belief_targets``: posterior means, pull
counts, the posterior's best arm, steps since a change-point) and the maze's
(``maze_targets``: goal square, own square, visited squares, recorded through
``with_ground_truth`` since ``evaluate_policy`` does not keep them), and the rule
grid's (``rule_grid_beliefs.rule_grid_targets``: each type's reward sign, the types
tried so far, the ruleset learner's posterior-mean rewards); any other per-step
array works with ``decode_targets``.

Episodes, not steps, are split into fit and test sets: steps of one episode are
strongly correlated, so a split by steps would score memorisation. The probe's
verdict (``decoding_rows``) cross-validates over ``FOLDS`` folds of episodes and
calls a target above the controls only where, for every control, the per-fold
difference agent - control has its interval over folds above 0.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from metarl.evaluation.agent_policy import agent_policy
from metarl.evaluation.replay import replay_policy
from metarl.evaluation.rollout import EpisodeBatch
from metarl.evaluation.statistics import Z_95
from metarl.interval import Interval
from metarl.probes import choice_models
from metarl.probes.bandit_agents import bandit_episodes, bandit_setting
from metarl.probes.decoding_figure import draw
from metarl.probes.ground_truth import with_ground_truth
from metarl.probes.protocol import (
    Probe,
    ProbeContext,
    ProbeResult,
    Verdict,
    hidden_states,
    text_interval,
    text_number,
)
from metarl.probes.rule_grid_beliefs import rule_grid_episodes, rule_grid_history, rule_grid_targets

# Ridge penalties tried, relative to the number of fit samples (features are standardised,
# so X^T X / n has unit diagonal): from ordinary least squares to heavy shrinkage.
RIDGE_PENALTIES = np.geomspace(1e-7, 1e1, 17)


# ----------------------------------------------------------------- targets


def steps_since_change(change: np.ndarray) -> np.ndarray:
    """[T, B] steps since the task last changed, as known before acting at step t.

    ``change`` [T, B] flags that the task changed *after* step t's outcome (the
    bandit's ``info["change_point"]``), so the first step in a new task has 0; steps
    before any change count from the episode start.
    """
    change = np.asarray(change, bool)
    num_steps = change.shape[0]
    steps = np.arange(num_steps)[:, None]
    # A change after step t starts a new task at t + 1; the current task began at the
    # latest such start before t (0 if none).
    task_start = np.where(change, steps + 1, 0)
    task_start = np.concatenate(
        [np.zeros_like(task_start[:1]), np.maximum.accumulate(task_start, axis=0)[:-1]]
    )
    return (steps - task_start).astype(np.float64)


def belief_targets(
    episodes: EpisodeBatch,
    num_arms: int,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    reward_scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """Belief statistics of each step's history, before acting: name -> [T, B, d] (float) or [T, B] (int).

    * ``posterior_mean`` [T, B, k]: Beta(prior_a, prior_b) posterior mean per arm;
    * ``pull_count`` [T, B, k]: pulls of each arm so far this episode;
    * ``posterior_best_arm`` [T, B] int: the arm with the highest posterior mean
      (ties to the lowest index);
    * ``steps_since_change`` [T, B, 1]: from ``info["change_point"]`` (or any drift
      event, ``info["drift_event"]``), only when the env records it.
    """
    actions = jnp.asarray(episodes.actions, jnp.int32)
    rewards = jnp.asarray(episodes.rewards, jnp.float32) / reward_scale
    counts = choice_models.pull_counts(actions, rewards, num_arms)
    successes, failures = (
        np.asarray(counts.successes, np.float64),
        np.asarray(counts.failures, np.float64),
    )
    posterior_mean = (prior_a + successes) / (prior_a + prior_b + successes + failures)
    targets = {
        "posterior_mean": posterior_mean,
        "pull_count": successes + failures,
        "posterior_best_arm": np.argmax(posterior_mean, axis=-1),
    }
    change = episodes.info.get("drift_event", episodes.info.get("change_point"))
    if change is not None and np.asarray(change).any():
        targets["steps_since_change"] = steps_since_change(np.asarray(change))[..., None]
    return targets


def read_maze_state(env_state) -> dict:
    """The maze ground truth to record: ``goal`` and ``position`` free-square indices [B]."""
    return {"goal": env_state.goal, "position": env_state.position}


def maze_targets(
    ground_truth: dict, num_free_cells: int, episode_start=None
) -> dict[str, np.ndarray]:
    """Maze decoding targets from recorded ``ground_truth`` (``with_ground_truth(..., read_maze_state)``).

    * ``goal`` [T, B] int: the goal's free square (what a goal-locating agent must carry);
    * ``position`` [T, B] int: the agent's own square (egocentric views make this path integration);
    * ``visited`` [T, B, F]: 1 for every square the agent has stood on this episode, the
      current one included.

    ``episode_start`` [T, B] defaults to the first step only.
    """
    goal = np.asarray(ground_truth["goal"], np.int64)
    position = np.asarray(ground_truth["position"], np.int64)
    num_steps, batch = position.shape
    if episode_start is None:
        episode_start = np.zeros((num_steps, batch), bool)
        episode_start[0] = True
    episode_start = np.asarray(episode_start, bool)
    here = np.eye(num_free_cells, dtype=bool)[position]  # [T, B, F]
    # Visits accumulate within an episode: a cumulative OR that restarts at each episode start.
    step_of_visit = np.where(here, np.arange(num_steps)[:, None, None], -1)
    last_visit = np.maximum.accumulate(
        step_of_visit, axis=0
    )  # latest step each square was occupied
    start_step = np.maximum.accumulate(
        np.where(episode_start, np.arange(num_steps)[:, None], 0), axis=0
    )
    visited = last_visit >= start_step[..., None]
    return {"goal": goal, "position": position, "visited": visited.astype(np.float64)}


# ----------------------------------------------------------------- decoders


def episode_split(num_episodes: int, test_fraction: float = 0.5, seed: int = 0) -> np.ndarray:
    """[B] bool, True for the episodes the decoder is fitted on (the rest are the test set)."""
    order = np.random.default_rng(seed).permutation(num_episodes)
    num_test = int(round(test_fraction * num_episodes))
    if not 0 < num_test < num_episodes:
        raise ValueError(
            f"test_fraction {test_fraction} leaves no fit or no test episodes of {num_episodes}"
        )
    fit = np.ones(num_episodes, bool)
    fit[order[:num_test]] = False
    return fit


def _standardised(features: np.ndarray, fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flattened (fit rows, test rows) of [T, B, H] features, standardised on the fit rows."""
    features = np.asarray(features, np.float64)
    fit_rows = features[:, fit].reshape(-1, features.shape[-1])
    test_rows = features[:, ~fit].reshape(-1, features.shape[-1])
    mean = fit_rows.mean(0)
    scale = fit_rows.std(0)
    scale = np.where(scale > 1e-8, scale, 1.0)  # constant features stay (zero) rather than blow up
    return (fit_rows - mean) / scale, (test_rows - mean) / scale


def _whitened(x_fit: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets projected on the fit set's principal components, scaled to unit variance.

    Hidden states are often strongly collinear (a few statistics mixed into many
    units); whitening makes the logistic fit well conditioned, and components with
    no variance on the fit set are dropped.
    """
    _, s, vt = np.linalg.svd(x_fit, full_matrices=False)
    keep = s > 1e-6 * s.max()
    projection = vt[keep].T * (np.sqrt(x_fit.shape[0]) / s[keep])
    return x_fit @ projection, x_test @ projection


def ridge_decode(features, target, fit: np.ndarray, penalties=RIDGE_PENALTIES) -> np.ndarray:
    """[d] held-out R^2 of a ridge decoder of ``target`` [T, B, d] from ``features`` [T, B, H].

    Fitted on episodes where ``fit`` [B] is True, scored on the others. The penalty
    is chosen on the fit set by generalised cross-validation (closed form from one
    SVD), per target dimension. R^2 = 1 - SSE / SST around the test mean (can be
    negative: worse than predicting the mean; NaN for a dimension constant on the test set).
    """
    x_fit, x_test = _standardised(features, fit)
    target = np.asarray(target, np.float64)
    if target.ndim == 2:
        target = target[..., None]
    y_fit = target[:, fit].reshape(-1, target.shape[-1])
    y_test = target[:, ~fit].reshape(-1, target.shape[-1])
    y_mean = y_fit.mean(0)
    u, s, vt = np.linalg.svd(x_fit, full_matrices=False)
    uty = u.T @ (y_fit - y_mean)  # [r, d]
    num_fit = x_fit.shape[0]
    best_score = np.full(target.shape[-1], np.inf)
    best_weights = np.zeros((x_fit.shape[1], target.shape[-1]))
    for penalty in penalties * num_fit:
        shrink = s / (s**2 + penalty)  # [r]
        weights = vt.T @ (shrink[:, None] * uty)
        residual = (y_fit - y_mean) - x_fit @ weights
        dof = np.sum(s**2 / (s**2 + penalty))
        gcv = num_fit * (residual**2).sum(0) / max(num_fit - dof, 1.0) ** 2
        better = gcv < best_score
        best_score = np.where(better, gcv, best_score)
        best_weights[:, better] = weights[:, better]
    prediction = x_test @ best_weights + y_mean
    return _r2(y_test, prediction)


def _r2(y_test: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """[d] 1 - SSE / SST over rows; NaN where the test target is constant (no variance to explain)."""
    total = ((y_test - y_test.mean(0)) ** 2).sum(0)
    residual = ((y_test - prediction) ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 1e-12, 1.0 - residual / np.where(total > 1e-12, total, 1.0), np.nan)


def logistic_decode(
    features, labels, fit: np.ndarray, num_classes: int, l2: float = 1e-4, max_iterations: int = 100
) -> tuple[float, float]:
    """(held-out accuracy, chance) of an L2 multinomial logistic decoder of ``labels`` [T, B] int.

    ``chance`` is the test accuracy of always predicting the fit set's most frequent
    class. Features are whitened on the fit set; ``l2`` is the penalty per fit
    sample on the weights of the whitened features; L-BFGS stops after ``max_iterations``.
    """
    x_fit, x_test = _whitened(*_standardised(features, fit))
    labels = np.asarray(labels, np.int64)
    y_fit, y_test = labels[:, fit].reshape(-1), labels[:, ~fit].reshape(-1)
    x_fit = np.concatenate([x_fit, np.ones((x_fit.shape[0], 1))], axis=1)
    x_test = np.concatenate([x_test, np.ones((x_test.shape[0], 1))], axis=1)
    one_hot = np.eye(num_classes)[y_fit]
    num_fit, width = x_fit.shape

    def loss_and_grad(flat):
        weights = flat.reshape(width, num_classes)
        logits = x_fit @ weights
        logits -= logits.max(1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        loss = -(one_hot * log_probs).sum() / num_fit + 0.5 * l2 * (weights[:-1] ** 2).sum()
        grad = x_fit.T @ (np.exp(log_probs) - one_hot) / num_fit
        grad[:-1] += l2 * weights[:-1]
        return loss, grad.ravel()

    result = scipy.optimize.minimize(
        loss_and_grad,
        np.zeros(width * num_classes),
        jac=True,
        method="L-BFGS-B",
        # On whitened features the accuracy settles within a few dozen iterations (measured: the
        # same test accuracy at 50, 100 and 200); a decoder with nothing to find would crawl on.
        options={"maxiter": max_iterations},
    )
    weights = result.x.reshape(width, num_classes)
    accuracy = float(np.mean(np.argmax(x_test @ weights, axis=1) == y_test))
    majority = np.bincount(y_fit, minlength=num_classes).argmax()
    return accuracy, float(np.mean(y_test == majority))


# ----------------------------------------------------------------- controls


def time_only_r2(target, fit: np.ndarray) -> np.ndarray:
    """[d] held-out R^2 of the best clock: predict each step's mean target over the fit episodes.

    This is least squares on a one-hot of the step index, computed directly.
    """
    target = np.asarray(target, np.float64)
    if target.ndim == 2:
        target = target[..., None]
    prediction = np.broadcast_to(target[:, fit].mean(axis=1, keepdims=True), target[:, ~fit].shape)
    size = target.shape[-1]
    return _r2(target[:, ~fit].reshape(-1, size), prediction.reshape(-1, size))


def time_only_accuracy(labels, fit: np.ndarray, num_classes: int) -> float:
    """Held-out accuracy of the best clock for a categorical target: each step's most frequent class."""
    labels = np.asarray(labels, np.int64)
    counts = np.stack(
        [(labels[:, fit] == c).sum(axis=1) for c in range(num_classes)], axis=-1
    )  # [T, C]
    return float(np.mean(labels[:, ~fit] == np.argmax(counts, axis=-1)[:, None]))


def random_network_hidden(
    episodes: EpisodeBatch, agent_config, key: jax.Array, num_actions: int
) -> jax.Array:
    """[T, B, H] hidden state of a randomly initialised ``ActorCritic(agent_config)`` replayed on ``episodes``.

    The network sees exactly the RL^2 observations the agent saw (teacher forcing);
    its weights are the initialiser's, never trained.
    """
    from metarl.agents import ActorCritic

    if episodes.observations is None:
        raise ValueError("the control replays observations: evaluate with record_observations=True")
    agent = ActorCritic(
        agent_config, obs_size=episodes.observations.shape[-1], num_actions=num_actions
    )
    init_key, replay_key = jax.random.split(key)
    policy = agent_policy(agent, agent.init_params(init_key))
    return jax.jit(lambda eps, k: replay_policy(policy, eps, k)["hidden"])(episodes, replay_key)


# ----------------------------------------------------------------- decoding many targets


def decode_targets(
    hidden,
    targets: dict,
    control_hidden=None,
    test_fraction: float = 0.5,
    seed: int = 0,
    fit: np.ndarray | None = None,
) -> list[dict]:
    """Decode each target from ``hidden`` [T, B, H] on held-out episodes.

    ``targets`` maps a name to a float array [T, B, d] (ridge, R^2) or an integer
    array [T, B] of class labels (logistic, accuracy); any per-step statistic works
    (maze goal cell, visited cells) as long as it is known before acting at step t.
    One row per target: ``target``, ``metric`` ('r2' or 'accuracy'), ``agent``
    (mean over the target's dimensions), ``agent_per_dim``, ``time_only`` (the
    clock), and ``control`` when ``control_hidden`` [T, B, H'] (e.g.
    ``random_network_hidden``) is given; categorical rows add ``chance``. All
    decoders share one episode split: ``fit`` [B] (True: fitted on), or a random one
    (``episode_split``); the probe's verdict uses K folds (``decoding_rows``).
    """
    hidden = np.asarray(hidden)
    if fit is None:
        fit = episode_split(hidden.shape[1], test_fraction, seed)
    rows = []
    for name, target in targets.items():
        target = np.asarray(target)
        if target.ndim == 2:  # categorical
            num_classes = int(target.max()) + 1
            accuracy, chance = logistic_decode(hidden, target, fit, num_classes)
            row = {
                "target": name,
                "metric": "accuracy",
                "agent": accuracy,
                "agent_per_dim": [accuracy],
                "chance": chance,
                "time_only": time_only_accuracy(target, fit, num_classes),
            }
            if control_hidden is not None:
                row["control"] = logistic_decode(control_hidden, target, fit, num_classes)[0]
        else:
            scores = ridge_decode(hidden, target, fit)
            # Dimensions constant on the test episodes (NaN) carry no information: left out of means.
            row = {
                "target": name,
                "metric": "r2",
                "agent": float(np.nanmean(scores)),
                "agent_per_dim": [float(x) for x in scores],
                "time_only": float(np.nanmean(time_only_r2(target, fit))),
            }
            if control_hidden is not None:
                row["control"] = float(np.nanmean(ridge_decode(control_hidden, target, fit)))
        rows.append(row)
    return rows


def decode_beliefs(
    hidden,
    episodes: EpisodeBatch,
    num_arms: int,
    control_hidden=None,
    test_fraction: float = 0.5,
    seed: int = 0,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    reward_scale: float = 1.0,
) -> list[dict]:
    """``decode_targets`` on every bandit ``belief_targets`` statistic of ``episodes``."""
    targets = belief_targets(episodes, num_arms, prior_a, prior_b, reward_scale)
    return decode_targets(hidden, targets, control_hidden, test_fraction, seed)


# ------------------------------------------------------------------ the probe

FOLDS = 5
"""Folds of the episodes: each decoder is fitted on four fifths and scored on the fifth left out."""
CONTROLS = ("control", "time_only", "chance")
"""Row keys of the controls the agent must beat: random network, clock, majority class."""
VERDICTS = ("above_controls", "partly_above_controls", "not_above_controls")


def episode_folds(num_episodes: int, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """[B] int: each episode's fold, a random permutation dealt into ``folds`` near-equal parts."""
    if not 2 <= folds <= num_episodes:
        raise ValueError(f"{folds} folds need 2 to {num_episodes} episodes each side")
    assignment = np.empty(num_episodes, np.int64)
    assignment[np.random.default_rng(seed).permutation(num_episodes)] = (
        np.arange(num_episodes) % folds
    )
    return assignment


def fold_interval(differences: np.ndarray, test_over_fit: float, z: float = Z_95) -> Interval:
    """Mean of per-fold paired differences with a t-interval over folds (K - 1 df).

    The folds' scores share fit episodes (each pair of fits shares (K - 2) / (K - 1)
    of them), which correlates them, and the plain variance of their mean,
    s^2 / K, is too small (Bengio and Grandvalet 2004). Nadeau and Bengio (2003)'s
    correction, s^2 (1 / K + n_test / n_fit), widens it for that: by 1.5 for 5 folds.
    A difference that is the same on every fold (identical features) has a
    zero-width interval at its value: 0 is then not excluded.
    """
    from scipy import stats

    differences = np.asarray(differences, np.float64)
    folds = len(differences)
    mean = float(differences.mean())
    quantile = float(stats.t.ppf(stats.norm.cdf(z), folds - 1))
    scale = np.sqrt(differences.var(ddof=1) * (1.0 / folds + test_over_fit))
    return Interval.from_half_width(mean, quantile * float(scale))


def decoding_rows(
    hidden, targets: dict, control_hidden, folds: int = FOLDS, seed: int = 0, z: float = Z_95
) -> list[dict]:
    """Per target, K-fold cross-validation by episode, the agent paired with each control.

    Every fold's decoders (agent, random network, clock, chance) are fitted on the
    other folds and scored on it, so the per-fold difference agent - control is
    paired on the same test episodes. ``differences``: per control, the mean
    difference with its interval over folds (``fold_interval``); ``above_controls``
    when every one of them lies above 0; the scores themselves as means over folds
    with their ``_range``. ``margin_over_best_control`` is the difference whose
    interval reaches lowest (the one that decides).
    """
    assignment = episode_folds(np.asarray(hidden).shape[1], folds, seed)
    per_fold = [
        decode_targets(hidden, targets, control_hidden, fit=assignment != fold)
        for fold in range(folds)
    ]
    test_over_fit = 1.0 / (folds - 1)
    rows = []
    for index, first in enumerate(per_fold[0]):
        fold_rows = [fold[index] for fold in per_fold]
        row = {"target": first["target"], "metric": first["metric"], "folds": folds}
        scores = {}
        for key in ("agent", *CONTROLS):
            if key in first:
                scores[key] = np.array([r[key] for r in fold_rows], np.float64)
                row[key] = float(np.mean(scores[key]))
                row[f"{key}_range"] = [float(scores[key].min()), float(scores[key].max())]
        differences = {
            key: fold_interval(scores["agent"] - scores[key], test_over_fit, z)
            for key in CONTROLS
            if key in scores
        }
        binding = min(differences.values(), key=lambda d: d.low)
        row["differences"] = differences
        row["margin_over_best_control"] = binding
        # Its bounds as a list, the form summaries had before the intervals.
        row["margin_range"] = [binding.low, binding.high]
        row["above_controls"] = all(d.above(0.0) for d in differences.values())
        row["agent_per_dim"] = list(np.mean([r["agent_per_dim"] for r in fold_rows], axis=0))
        rows.append(row)
    return rows


def decoding_verdict(rows: list[dict]) -> Verdict:
    above = [row["target"] for row in rows if row["above_controls"]]
    if len(above) == len(rows):
        label = "above_controls"
    elif above:
        label = "partly_above_controls"
    else:
        label = "not_above_controls"
    reason = (
        "agent - control above 0 (95% interval over folds) for the random network, the clock "
        f"and chance: {', '.join(above) or 'no target'} (of {', '.join(row['target'] for row in rows)})"
    )
    return Verdict(label, reason)


def maze_decoding_episodes(ctx: ProbeContext):
    """The checkpoint's maze episodes with hidden states, observations and ground truth before acting."""
    agent = ctx.agent
    batch = ctx.play(
        lambda params: with_ground_truth(agent_policy(agent, params), read_maze_state),
        ctx.env_params,
        ctx.params,
        extras=True,
        observations=True,
    )
    truth = batch.extras["ground_truth"]
    batch = batch.replace(extras={"hidden": hidden_states(batch.extras["hidden"])})
    targets = maze_targets(truth, int(ctx.env_params.num_free_cells))
    return batch, targets


def run(ctx: ProbeContext) -> ProbeResult:
    """Belief statistics (bandits), goal / position / visited squares (mazes), or the ruleset's
    signs, the types tried and the learner's posterior (rule grids) from the hidden state."""
    start = time.perf_counter()
    if ctx.family == "maze":
        batch, targets = maze_decoding_episodes(ctx)
    elif ctx.family == "rule_grid":
        batch = rule_grid_episodes(ctx, ("checkpoint",))[0]["checkpoint"]
        targets = rule_grid_targets(rule_grid_history(batch, ctx.env_params), ctx.env_params)
    else:
        batches, _, _ = bandit_episodes(ctx, ("checkpoint",))
        batch = batches["checkpoint"]
        s = bandit_setting(ctx)
        targets = belief_targets(
            batch, s["num_arms"], s["prior_a"], s["prior_b"], s["reward_scale"]
        )
    rollout_s = time.perf_counter() - start
    start = time.perf_counter()
    control_key = jax.random.fold_in(ctx.key, 1)
    control = hidden_states(
        random_network_hidden(batch, ctx.config.agent, control_key, ctx.agent.num_actions)
    )
    control_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = decoding_rows(batch.extras["hidden"], targets, control, FOLDS, ctx.seed)
    described = {
        "random_network": "the same architecture with its initial (untrained) weights, replayed "
        "on the checkpoint's histories",
        "time_only": "the best decoder that knows only the step index (a clock)",
    }
    return ProbeResult(
        results={
            "targets": rows,
            "hidden_size": int(batch.extras["hidden"].shape[-1]),
            "folds": FOLDS,
            "fold_seed": ctx.seed,
            "note": f"R^2 (ridge) or accuracy (logistic) on held-out episodes: {FOLDS}-fold "
            "cross-validation by episode, means and ranges over folds. 'above_controls': for the "
            "random network, the clock and chance alike, the per-fold difference agent - control "
            "has its 95% interval over folds (t, Nadeau-Bengio corrected) above 0.",
        },
        verdict=decoding_verdict(rows),
        references=described,
        timing={
            "rollouts_s": rollout_s,
            "control_s": control_s,
            "analysis_s": time.perf_counter() - start,
        },
    )


_CONTROL_NAMES = {"control": "random net", "time_only": "clock", "chance": "chance"}


def format_lines(summary: dict) -> list[str]:
    lines = []
    for row in summary["results"]["targets"]:
        chance = f"  chance {text_number(row['chance'])}" if "chance" in row else ""
        lines.append(
            f"  {row['target']:20s} {row['metric']:8s} agent {text_number(row['agent'])}  "
            f"random net {text_number(row['control'])}  clock {text_number(row['time_only'])}{chance}"
            f"  -> {'above' if row['above_controls'] else 'not above'} controls"
        )
        if "differences" in row:  # summaries written before the fold intervals have none
            lines.append(
                f"  {'':20s} agent minus: "
                + ", ".join(
                    f"{_CONTROL_NAMES[key]} {text_interval(entry)}"
                    for key, entry in row["differences"].items()
                )
            )
    return lines


PROBE = Probe(
    name="decoding",
    families=("bandit", "maze", "rule_grid"),
    allowed_verdicts=VERDICTS,
    description="linear decoding of beliefs from the hidden state vs a random network and a clock",
    run=run,
    format=format_lines,
    draw=draw,
    figure_size=(12, 4.8),
)
