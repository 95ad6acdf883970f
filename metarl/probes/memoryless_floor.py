"""The memoryless floor: how well a bandit player's choices follow from its last step alone.

An RL^2 bandit agent sees its previous action, its previous reward and the elapsed
fraction of the episode. A memoryless policy (the ``mlp`` core) acts on exactly
those, and such a policy already beats uniform choice by a wide margin: win-stay
lose-shift with an exploration schedule. Both beliefs of the learner-vs-locator
comparison (``metarl.probes.likelihood``) then also beat uniform choice, and one of
them a little more than the other, so against a uniform floor a memoryless MLP
earned the verdict 'learner' (architecture sweep at 40.96M env steps, 2026-12-03).
A belief names the mechanism only where it explains the choices better than the
best memoryless account of them.

The floor is that account, fitted rather than assumed: the empirical distribution of
the next choice in each cell of (previous action, previous reward won or not, tenth
of the episode), with ``PSEUDOCOUNT`` added to every cell (a cell never seen in the
fitting half is uniform). Fitted on one half of the episodes and scored on the
other, like the beliefs' temperatures, so its hundreds of cell frequencies buy it no
in-sample advantage. It is the maximum-likelihood memoryless policy up to the time
binning: a policy that conditions on more than its last step (a learner, a locator)
is what it cannot fit.

Counting, not a fit: numpy's ``bincount`` over the cells (a [k + 1, 2, bins, k]
table) is exact and instant, so nothing here is compiled.
"""

from __future__ import annotations

import numpy as np

TIME_BINS = 10
"""Equal parts of the episode the floor tells apart (the agent sees the elapsed fraction)."""
PSEUDOCOUNT = 0.5
"""Added to every cell before normalising (Jeffreys): an unseen cell predicts uniform choice."""
WIN_THRESHOLD = 0.5
"""A previous reward above it is a win (Bernoulli rewards in 0/1, as the beliefs count them)."""


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


def memoryless_log_probs(
    actions,
    rewards,
    num_arms: int,
    fit_weights=None,
    time_bins: int = TIME_BINS,
    pseudocount: float = PSEUDOCOUNT,
    episode_start=None,
) -> np.ndarray:
    """[T, B] log-probability of each recorded choice under the memoryless floor.

    ``actions``, ``rewards`` [T, B] (0/1 rewards); ``fit_weights`` [B]: the episodes
    the cell frequencies are counted on (all when None; 0/1 for a cross-validation
    half). Every episode is scored, so the caller keeps the held-out columns.
    """
    if num_arms < 2:
        raise ValueError(f"the memoryless floor needs at least 2 arms, got num_arms={num_arms}")
    if time_bins < 1:
        raise ValueError(f"time_bins must be at least 1, got {time_bins}")
    actions = np.asarray(actions, np.int64)
    num_steps, batch = actions.shape
    cells = _cells(actions, rewards, num_arms, time_bins, episode_start)
    weights = np.ones(batch) if fit_weights is None else np.asarray(fit_weights, np.float64)
    num_cells = (num_arms + 1) * 2 * time_bins
    counts = np.bincount(
        (cells * num_arms + actions).ravel(),
        weights=np.broadcast_to(weights, (num_steps, batch)).ravel(),
        minlength=num_cells * num_arms,
    ).reshape(num_cells, num_arms)
    counts = counts + pseudocount
    log_table = np.log(counts / counts.sum(axis=1, keepdims=True))
    return log_table[cells, actions]


def cross_validated_log_probs(
    actions, rewards, num_arms: int, halves, episode_start=None
) -> np.ndarray:
    """[T, B] held-out log-probabilities: each half's columns scored by the floor counted
    on the other half (``halves``: two index arrays partitioning the episodes)."""
    batch = np.asarray(actions).shape[1]
    out = np.zeros(np.asarray(actions).shape)
    for fit_half, score_half in (halves, halves[::-1]):
        weights = np.zeros(batch)
        weights[fit_half] = 1.0
        scored = memoryless_log_probs(
            actions, rewards, num_arms, weights, episode_start=episode_start
        )
        out[:, score_half] = scored[:, score_half]
    return out
