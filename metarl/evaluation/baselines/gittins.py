"""Finite-horizon Gittins index player for Bernoulli arms with Beta priors.

Gittins' (1979) index is Bayes-optimal for *discounted infinite-horizon* bandits; for
a finite horizon of H pulls the standard approximation (RL^2 used "the practical
approximations" of Gittins et al. 2011) is the **finite-horizon Gittins index**
(Kaufmann 2016, "On Bayesian index policies for sequential resource allocation",
FH-Gittins; Nino-Mora 2011). For an arm whose posterior is Beta(a + s, b + f) with
r pulls left, the index is the per-pull reward lambda of a known arm that makes the
player indifferent between retiring to it now and the best plan that pulls the
unknown arm first (and may retire to lambda at any later pull):

    W_0 = 0,  W_r(s, f; lambda) = max(r lambda, C_r(s, f; lambda))
    C_r(s, f; lambda) = p (1 + W_{r-1}(s+1, f)) + (1 - p) W_{r-1}(s, f+1),
    p = (a + s) / (a + b + s + f)
    index_r(s, f) = the lambda with C_r(s, f; lambda) = r lambda

With a discount gamma < 1 (``discount``) the same recurrence discounts every later
pull: ``C_r = p (1 + gamma W_{r-1}(s+1, f)) + (1 - p) gamma W_{r-1}(s, f+1)`` against
retiring for ``lambda (1 + gamma + ... + gamma^(r-1))``. That is the index of a player
who maximises the *discounted* reward of the episode: what an agent trained with
discount gamma is asked to learn (``rl2_bandits`` plays it at the training discount to
tell the objective's cost from the training's), while the undiscounted total reward it
earns is what the table compares.

The player pulls the arm with the largest index at its counts and the remaining
horizon. ``C_r - r lambda`` falls strictly in lambda (slope <= -1; discounted too), so the root is
unique; the host computes ``W`` for a grid of lambdas at once (vectorised over lambda
and over all counts, one backward pass over r) and interpolates the root linearly
between grid points. With r = 1 the index is the posterior mean, exactly.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from metarl.evaluation.baselines.common import argmax_random_ties
from metarl.evaluation.beliefs import BetaCounts, empty_beta_counts, update_beta_counts
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs

DEFAULT_GRID_SIZE = 1001
"""Lambdas on [0, 1] (spacing 1e-3). Interpolating the root linearly between them
leaves index errors of at most 1.1e-4 (measured against a 4001-point grid at H=40;
257 points: 1.2e-3)."""

MAX_TABLE_BYTES = 2**30
"""Working memory the table builder may use (H=100: ~135 MB; H=280: ~1 GB)."""


@functools.lru_cache(maxsize=8)
def finite_horizon_gittins_table(
    horizon: int,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    grid_size: int = DEFAULT_GRID_SIZE,
    discount: float = 1.0,
) -> np.ndarray:
    """[H + 1, H + 1, H + 1] float64 index ``table[s, f, r]`` for successes s, failures f
    and r pulls left (r >= 1, s + f + r <= H; other entries are 0). Cached per setting.
    ``discount`` (gamma in (0, 1]) discounts later pulls (module docstring).

    Costs O(grid_size H^3 / 3) time and O(grid_size H^2) memory (~2 s and ~135 MB at
    H=100 with the default grid, on one busy CPU core); raises ValueError above ``MAX_TABLE_BYTES``.
    """
    if not 0.0 < discount <= 1.0:
        raise ValueError(f"gittins: discount must be in (0, 1], got {discount}")
    working_bytes = 13 * grid_size * (horizon + 2) ** 2  # 3 float32 + 1 bool [L, H+2, H+2]
    if working_bytes > MAX_TABLE_BYTES:
        raise ValueError(
            f"gittins: the index table for horizon={horizon} with grid_size={grid_size} needs "
            f"~{working_bytes / 2**30:.1f} GiB while building (limit "
            f"{MAX_TABLE_BYTES / 2**30:.0f} GiB); lower grid_size or the horizon"
        )
    # float32 halves the memory traffic; roots of a slope <= -1 function of values <= H
    # keep errors near 1e-5, well below the grid's interpolation error.
    lambdas = np.linspace(0.0, 1.0, grid_size, dtype=np.float32)  # [L], the last axis:
    # numpy's inner loops then run over long contiguous rows.
    table = np.zeros((horizon + 1, horizon + 1, horizon + 1), np.float64)
    # W_{r-1} and W_r (ping-pong) at counts s, f for every lambda; step r reads only the
    # leading [n + 1, n + 1] block of W_{r-1} and writes the [n, n] block of W_r, so stale
    # entries beyond them are never read. Buffers are allocated once: fresh arrays of
    # this size every step cost as much in page faults as the arithmetic.
    shape = (horizon + 2, horizon + 2, grid_size)
    previous, current = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    scratch = np.empty(shape, np.float32)
    above = np.empty(shape, bool)
    gamma = np.float32(discount)
    retire_pulls = 0.0  # 1 + gamma + ... + gamma^(r - 1): r when undiscounted
    for r in range(1, horizon + 1):
        retire_pulls = 1.0 + discount * retire_pulls
        n = horizon - r + 1  # counts s, f in 0..n-1 cover every state with s + f <= H - r
        s = np.arange(n, dtype=np.float32)[:, None, None]
        f = np.arange(n, dtype=np.float32)[None, :, None]
        p = (prior_a + s) / (prior_a + prior_b + s + f)  # [n, n, 1]
        # C_r = p (1 + g W_{r-1}(s+1, f)) + (1 - p) g W_{r-1}(s, f+1), into current[:n, :n].
        cont = current[:n, :n]
        np.multiply(previous[1 : n + 1, :n], gamma * p, out=cont)
        cont += p
        np.multiply(previous[:n, 1 : n + 1], gamma * (1.0 - p), out=scratch[:n, :n])
        cont += scratch[:n, :n]
        retire = np.float32(retire_pulls) * lambdas
        # C_r - r lambda falls strictly, > 0 at lambda = 0 and < 0 at lambda = 1: the root
        # lies between the last grid point where continuing wins and the next one.
        np.greater(cont, retire, out=above[:n, :n])
        upper = np.minimum(above[:n, :n].sum(axis=-1), grid_size - 1)  # [n, n]
        lam_hi = lambdas[upper].astype(np.float64)
        lam_lo = lambdas[upper - 1].astype(np.float64)
        gap_hi = np.take_along_axis(cont, upper[..., None], -1)[..., 0] - retire_pulls * lam_hi
        gap_lo = np.take_along_axis(cont, upper[..., None] - 1, -1)[..., 0] - retire_pulls * lam_lo
        index = lam_lo + (lam_hi - lam_lo) * gap_lo / (gap_lo - gap_hi)
        reachable = (s[..., 0] + f[..., 0]) <= horizon - r
        table[:n, :n, r] = np.where(reachable, index, 0.0)
        np.maximum(cont, retire, out=cont)  # W_r
        previous, current = current, previous
    return table


def gittins(
    num_arms: int,
    horizon: int,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    grid_size: int = DEFAULT_GRID_SIZE,
    discount: float = 1.0,
) -> FunctionalPolicy:
    """Finite-horizon Gittins index player (table built once on the host, gathered under jit);
    ``discount`` < 1 plays the index of the discounted episode reward.

    Plays argmax over arms of ``index[s_a, f_a, H - t]`` at t pulls made, ties broken
    uniformly. Past the horizon it uses r = 1 (the posterior mean).
    ``action_values`` are the indices [B, k].
    """
    table = jnp.asarray(
        finite_horizon_gittins_table(horizon, prior_a, prior_b, grid_size, discount).astype(
            np.float32
        )
    )

    def init_carry(batch: int) -> BetaCounts:
        return empty_beta_counts(batch, num_arms)

    def act(counts: BetaCounts, inputs: PolicyInputs, key: jax.Array):
        counts = update_beta_counts(
            counts, inputs.prev_action, inputs.prev_reward, inputs.episode_start
        )
        successes = jnp.round(counts.successes).astype(jnp.int32)
        failures = jnp.round(counts.failures).astype(jnp.int32)
        pulls = (successes + failures).sum(-1, keepdims=True)
        remaining = jnp.clip(horizon - pulls, 1, horizon)
        index = table[
            jnp.minimum(successes, horizon - 1), jnp.minimum(failures, horizon - 1), remaining
        ]
        # Past the horizon (counts beyond the table) the one-pull index is the posterior mean.
        posterior_mean = (prior_a + counts.successes) / (
            prior_a + prior_b + counts.successes + counts.failures
        )
        index = jnp.where(pulls >= horizon, posterior_mean, index)
        action = argmax_random_ties(index, key)
        return counts, action, {"action_values": index}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


def time_gittins_table(horizon: int) -> float:
    """Seconds to build the index table from scratch (clears the cache first)."""
    finite_horizon_gittins_table.cache_clear()
    start = time.perf_counter()
    finite_horizon_gittins_table(horizon)
    return time.perf_counter() - start
