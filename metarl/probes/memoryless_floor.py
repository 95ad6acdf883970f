"""The memoryless floor: what a bandit player's choices owe to more than its last step.

An RL^2 bandit agent sees its previous action, its previous reward and the elapsed
fraction of the episode. A memoryless policy (the ``mlp`` core) acts on exactly
those, and such a policy already beats uniform choice by a wide margin: win-stay
lose-shift with an exploration schedule. Both beliefs of the learner-vs-locator
comparison (``metarl.probes.likelihood``) then also beat uniform choice, one a little
more than the other, so against a uniform floor a memoryless MLP earned the verdict
'learner' (architecture sweep at 40.96M env steps, 2026-12-03), and win-stay
lose-shift did at every point of the likelihood probe's adversarial grid.

The floor is the best memoryless account of the choices, fitted rather than assumed:
the empirical distribution of the next choice in each cell of (previous action,
previous reward won or not, tenth of the episode), with ``PSEUDOCOUNT`` added to
every cell (a cell never seen in the fitting half is uniform). It is the
maximum-likelihood memoryless policy up to the time binning.

A belief counts only by what it adds to the floor: the choice model
``softmax(sharpness * log floor(cell) + beta * values)`` with both weights >= 0
fitted by maximum likelihood, against the floor alone (beta = 0, its sharpness
fitted too). Both are counted
and fitted on one half of the episodes and scored on the other (``halves``), so
neither the floor's hundreds of cell frequencies nor beta buy an in-sample edge.
Win-stay lose-shift gains nothing from either belief (its switch target is uniform);
a sticky agent that commits to an arm is explained largely by the floor, and its
belief by *which* arm it commits to and when. Scoring the belief on its own against
the floor, as first built, took that second case for 'neither' (a locator trained on
8 tasks: locator belief 0.73 nats per choice below the floor alone).

The cells are counted with numpy's ``bincount`` (exact and instant); the two weights
are fitted by Newton's method on the exact gradient and Hessian, in numpy: a compiled
fit cost a compile per array shape, which the test suite paid dozens of times.
"""

from __future__ import annotations

import numpy as np

TIME_BINS = 10
"""Equal parts of the episode the floor tells apart (the agent sees the elapsed fraction)."""
PSEUDOCOUNT = 0.5
"""Added to every cell before normalising (Jeffreys): an unseen cell predicts uniform choice."""
WIN_THRESHOLD = 0.5
"""A previous reward above it is a win (Bernoulli rewards in 0/1, as the beliefs count them)."""
SHARPNESS_BOUNDS = (0.0, 20.0)
"""The floor's fitted exponent on its own frequencies (1: as counted; 0: uniform)."""
NEWTON_STEPS = 50
"""At most this many Newton steps (a concave fit from (1, 0) takes about ten)."""
BETA_BOUNDS = (0.0, 1e3)
"""The belief's weight, as the beliefs' own inverse temperatures
(``model_fit.INVERSE_TEMPERATURE_BOUNDS``); 0 is the floor alone."""


def _cells(actions, rewards, num_arms: int, time_bins: int, episode_start) -> np.ndarray:
    """[T, B] index of each choice's cell: (previous action or none, won, time bin)."""
    actions = np.asarray(actions, np.int64)
    rewards = np.asarray(rewards, np.float64)
    num_steps, batch = actions.shape
    if episode_start is None:
        start = np.zeros((num_steps, batch), bool)
        start[0] = True
    else:
        start = np.asarray(episode_start, bool).copy()
        start[0] = True
    previous = np.concatenate([np.full((1, batch), -1), actions[:-1]], axis=0)
    won = np.concatenate([np.zeros((1, batch), bool), rewards[:-1] > WIN_THRESHOLD], axis=0)
    previous = np.where(start, -1, previous)
    won = np.where(start, False, won)
    step = np.arange(num_steps)[:, None]
    since_start = step - np.maximum.accumulate(np.where(start, step, 0), axis=0)
    length = int(since_start.max()) + 1
    time_bin = np.minimum(since_start * time_bins // length, time_bins - 1)
    return ((previous + 1) * 2 + won) * time_bins + time_bin


def _log_table(cells, actions, num_arms, weights, pseudocount, num_cells) -> np.ndarray:
    """[cells, k] log-frequency of each next choice per cell, counted on ``weights`` [B]."""
    num_steps, batch = actions.shape
    counts = np.bincount(
        (cells * num_arms + actions).ravel(),
        weights=np.broadcast_to(weights, (num_steps, batch)).ravel(),
        minlength=num_cells * num_arms,
    ).reshape(num_cells, num_arms)
    counts = counts + pseudocount
    return np.log(counts / counts.sum(axis=1, keepdims=True))


def floor_log_probs(
    actions,
    rewards,
    num_arms: int,
    fit_weights=None,
    time_bins: int = TIME_BINS,
    pseudocount: float = PSEUDOCOUNT,
    episode_start=None,
) -> np.ndarray:
    """[T, B, k] the floor's log-probability of every arm at every recorded step.

    ``actions``, ``rewards`` [T, B] (0/1 rewards); ``fit_weights`` [B]: the episodes
    the cell frequencies are counted on (all when None; 0/1 for a cross-validation
    half). Every episode is scored, so the caller keeps the held-out columns.
    """
    if num_arms < 2:
        raise ValueError(f"the memoryless floor needs at least 2 arms, got num_arms={num_arms}")
    if time_bins < 1:
        raise ValueError(f"time_bins must be at least 1, got {time_bins}")
    actions = np.asarray(actions, np.int64)
    batch = actions.shape[1]
    cells = _cells(actions, rewards, num_arms, time_bins, episode_start)
    weights = np.ones(batch) if fit_weights is None else np.asarray(fit_weights, np.float64)
    num_cells = (num_arms + 1) * 2 * time_bins
    return _log_table(cells, actions, num_arms, weights, pseudocount, num_cells)[cells]


def memoryless_log_probs(actions, rewards, num_arms: int, fit_weights=None, **options):
    """[T, B] the floor's log-probability of each recorded choice (``floor_log_probs``)."""
    every_arm = floor_log_probs(actions, rewards, num_arms, fit_weights, **options)
    return np.take_along_axis(every_arm, np.asarray(actions, np.int64)[..., None], -1)[..., 0]


def cross_validated_log_probs(
    actions, rewards, num_arms: int, halves, episode_start=None
) -> np.ndarray:
    """[T, B] held-out log-probabilities: each half's columns scored by the floor counted
    on the other half (``halves``: two index arrays partitioning the episodes)."""
    return beyond_floor(actions, rewards, num_arms, {}, halves, episode_start)[0]


def _chosen_log_probs(offsets, values, actions, weight) -> np.ndarray:
    """[T, B] log softmax(sharpness * offsets + beta * values)[action]; weight = (sharpness, beta)."""
    logits = weight[0] * offsets + weight[1] * values
    logits = logits - logits.max(axis=-1, keepdims=True)
    chosen = np.take_along_axis(logits, actions[..., None], axis=-1)[..., 0]
    return chosen - np.log(np.exp(logits).sum(axis=-1))


def _log_lik_derivatives(weight, offsets, values, actions, episode_weights):
    """(log-likelihood, gradient [2], Hessian [2, 2]) in (sharpness, beta), episodes weighted."""
    logits = weight[0] * offsets + weight[1] * values
    logits = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(logits)
    total = probs.sum(axis=-1, keepdims=True)
    probs = probs / total
    features = np.stack([offsets, values], axis=-1)  # [T, B, k, 2]
    mean = (probs[..., None] * features).sum(axis=2)  # [T, B, 2]
    chosen = np.take_along_axis(features, actions[..., None, None], axis=2)[:, :, 0]
    log_lik = np.take_along_axis(logits, actions[..., None], -1)[..., 0] - np.log(total[..., 0])
    w = np.broadcast_to(episode_weights[None, :], log_lik.shape)
    gradient = ((chosen - mean) * w[..., None]).reshape(-1, 2).sum(axis=0)
    centred = features - mean[:, :, None, :]
    weighted = centred * (probs * w[..., None])[..., None]
    hessian = -(weighted.reshape(-1, 2).T @ centred.reshape(-1, 2))  # a matmul: BLAS
    return float((log_lik * w).sum()), gradient, hessian


def fit_weights(offsets, values, actions, episode_weights, with_belief: bool) -> np.ndarray:
    """(sharpness, beta) >= 0 maximising the ``episode_weights``-weighted log-likelihood of
    softmax(sharpness * log floor + beta * values); beta stays 0 ``with_belief`` False.

    The sharpness lets the floor's smoothed frequencies become as deterministic as the
    choices are: without it a belief earned a gain on noiseless win-stay lose-shift just
    by pushing the floor's pseudocount-smoothed 'stay after a win' towards 1. The
    log-likelihood is concave in both weights, so projected Newton steps with step
    halving reach its maximum within the bounds; numpy, so nothing compiles per shape.
    """
    offsets, values = np.asarray(offsets, np.float64), np.asarray(values, np.float64)
    actions, episode_weights = np.asarray(actions, np.int64), np.asarray(episode_weights, float)
    free = [0, 1] if with_belief else [0]
    low = np.array([SHARPNESS_BOUNDS[0], BETA_BOUNDS[0]])
    high = np.array([SHARPNESS_BOUNDS[1], BETA_BOUNDS[1] if with_belief else 0.0])
    weight = np.array([1.0, 0.0])
    log_lik, gradient, hessian = _log_lik_derivatives(
        weight, offsets, values, actions, episode_weights
    )
    for _ in range(NEWTON_STEPS):
        step = np.zeros(2)
        sub = hessian[np.ix_(free, free)] - 1e-9 * np.eye(len(free))
        step[free] = -np.linalg.solve(sub, gradient[free])
        for _ in range(30):  # halve until the log-likelihood does not fall
            trial = np.clip(weight + step, low, high)
            trial_log_lik, trial_gradient, trial_hessian = _log_lik_derivatives(
                trial, offsets, values, actions, episode_weights
            )
            if trial_log_lik >= log_lik - 1e-9 * abs(log_lik):
                break
            step = step / 2.0
        else:
            break
        moved = np.abs(trial - weight).max()
        weight, log_lik, gradient, hessian = trial, trial_log_lik, trial_gradient, trial_hessian
        if moved < 1e-6 * max(1.0, np.abs(weight).max()):
            break
    return weight


def _held_out(offsets, values, actions, fit_weights_, score_half) -> np.ndarray:
    """[T, len(score_half)] log-probabilities of the scored episodes' choices under the model
    fitted on ``fit_weights_`` (the floor alone when ``values`` is None)."""
    with_belief = values is not None
    values = np.zeros(offsets.shape, np.float32) if values is None else values
    weight = fit_weights(offsets, values, actions, fit_weights_, with_belief)
    log_probs = _chosen_log_probs(
        np.asarray(offsets, np.float64),
        np.asarray(values, np.float64),
        np.asarray(actions, np.int64),
        weight,
    )
    return log_probs[:, score_half]


def beyond_floor(
    actions, rewards, num_arms: int, values_by_name: dict, halves=None, episode_start=None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Held-out log-probabilities of the recorded choices: (the floor alone [T, B],
    {name: floor plus that belief, [T, B]}) for each belief's ``values`` [T, B, k].

    ``halves``: two index arrays partitioning the episodes; each half is scored by the
    floor counted and the belief weight fitted on the other. None: fitted and scored on
    every episode (in sample).
    """
    actions = np.asarray(actions, np.int64)
    batch = actions.shape[1]
    floor = np.zeros(actions.shape)
    combined = {name: np.zeros(actions.shape) for name in values_by_name}
    splits = [(np.arange(batch), np.arange(batch))] if halves is None else [halves, halves[::-1]]
    for fit_half, score_half in splits:
        weights = np.zeros(batch)
        weights[fit_half] = 1.0
        offsets = floor_log_probs(actions, rewards, num_arms, weights, episode_start=episode_start)

        floor[:, score_half] = _held_out(offsets, None, actions, weights, score_half)
        for name, values in values_by_name.items():
            combined[name][:, score_half] = _held_out(offsets, values, actions, weights, score_half)
    return floor, combined
