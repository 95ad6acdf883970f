"""Exact Bayes-optimal finite-horizon Bernoulli-bandit policy by dynamic programming.

With independent Beta(prior_a, prior_b) priors, the posterior is fixed by the counts
``x = (s_1, f_1, ..., s_k, f_k)`` (successes and failures per arm), so the belief MDP
has one state per count vector with ``sum(x) = t`` pulls made, ``t = 0..H``. Backward
induction over ``t`` (Bellman 1956; the tables of Boyan's Bayes-optimal bandit values):

    V_H(x) = 0
    Q_t(x, a) = p_a (1 + V_{t+1}(x + e_{s_a})) + (1 - p_a) V_{t+1}(x + e_{f_a}),
    p_a = (prior_a + s_a) / (prior_a + prior_b + s_a + f_a)
    V_t(x) = max_a Q_t(x, a)

``V_0(0)`` is the Bayes-optimal expected total reward. The states of layer ``t`` are
the weak compositions of ``t`` into ``2k`` parts, numbered in lexicographic order by a
closed-form rank (combinatorial number system), so the host builds the whole table
layer by layer with vectorised numpy and the policy finds its state's successors under
jit by the same rank. There are ``C(H + 2k, 2k)`` states: 4.6 million for k=2, H=100;
736 thousand for k=3, H=25; k=5, H=100 (~4.7e13) is out of reach, which is what
the Gittins index (``gittins.py``) is for.
"""

from __future__ import annotations

import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from metarl.evaluation.baselines.common import argmax_random_ties
from metarl.evaluation.beliefs import (
    BetaCounts,
    beta_posterior_mean,
    empty_beta_counts,
    update_beta_counts,
)
from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs

MAX_DP_STATES = 6_000_000
"""Largest belief-state count the DP will build (k=2, H=100 has 4,598,126): the value
table is float64 on the host while building (~8 bytes a state) and float32 under jit."""


def dp_num_states(num_arms: int, horizon: int) -> int:
    """Number of posterior-count states over all layers t = 0..H: C(H + 2k, 2k)."""
    return math.comb(horizon + 2 * num_arms, 2 * num_arms)


def _check_size(num_arms: int, horizon: int, max_states: int) -> None:
    if num_arms < 1 or horizon < 1:
        raise ValueError(
            f"bayes_optimal: need num_arms >= 1 and horizon >= 1, got num_arms={num_arms}, horizon={horizon}"
        )
    states = dp_num_states(num_arms, horizon)
    if states > max_states:
        raise ValueError(
            f"bayes_optimal: the exact DP for num_arms={num_arms}, horizon={horizon} has {states:.3g} "
            f"belief states, above the limit of {max_states:,}; use the Gittins index "
            f"(metarl.evaluation.baselines.gittins) for this size"
        )


def _binomial_table(max_n: int, max_q: int) -> np.ndarray:
    """[max_n + 1, max_q + 1] int64 table of C(n, q) (exact up to the sizes the DP admits)."""
    table = np.zeros((max_n + 1, max_q + 1), np.int64)
    for n in range(max_n + 1):
        for q in range(min(n, max_q) + 1):
            table[n, q] = min(math.comb(n, q), np.iinfo(np.int64).max)
    return table


def layer_rank(counts, binomial):
    """Rank of each count vector ``counts`` [..., m] within its layer (weak compositions
    of ``sum(counts)`` into m parts, lexicographic order). Works on numpy or jax arrays.

    rank = sum_{i < m-1} C(r_i + q_i, q_i) - C(r_i - x_i + q_i, q_i), with r_i the total
    left before part i and q_i = m - 1 - i the parts after it: the number of
    compositions that share the first i parts and have a smaller i-th part.
    """
    m = counts.shape[-1]
    remaining = counts.sum(-1)
    rank = 0
    # A loop over the (few) parts on [...] vectors: far faster than [..., m] gathers.
    for i in range(m - 1):
        parts_after = m - 1 - i
        column = binomial[:, parts_after]
        part = counts[..., i]
        rank = rank + column[remaining + parts_after] - column[remaining - part + parts_after]
        remaining = remaining - part
    return rank


def layer_offset(total, num_parts: int, binomial):
    """Index of layer ``total``'s first state in the flat table: C(total + m - 1, m)."""
    return binomial[total + num_parts - 1, num_parts]


@functools.cache
def _compositions(total: int, parts: int) -> np.ndarray:
    """[C(total + parts - 1, parts - 1), parts] weak compositions in lexicographic order."""
    if parts == 1:
        return np.array([[total]], np.int32)
    blocks = []
    for first in range(total + 1):
        rest = _compositions(total - first, parts - 1)
        blocks.append(np.concatenate([np.full((rest.shape[0], 1), first, np.int32), rest], axis=1))
    return np.concatenate(blocks, axis=0)


def _successor_values(states, arm, next_values, prior_a, prior_b, binomial):
    """[n] Q-value of pulling ``arm`` in each of ``states`` [n, m], given layer t+1's values."""
    successes = states[:, 2 * arm]
    failures = states[:, 2 * arm + 1]
    p = (prior_a + successes) / (prior_a + prior_b + successes + failures)
    won = states.copy()
    won[:, 2 * arm] += 1
    lost = states.copy()
    lost[:, 2 * arm + 1] += 1
    v_won = next_values[layer_rank(won, binomial)]
    v_lost = next_values[layer_rank(lost, binomial)]
    return p * (1.0 + v_won) + (1.0 - p) * v_lost


@functools.lru_cache(maxsize=8)
def bayes_value_table(
    num_arms: int,
    horizon: int,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    max_states: int = MAX_DP_STATES,
) -> np.ndarray:
    """[C(H + 2k, 2k)] float64 optimal expected remaining reward of every count state,
    layer t at ``layer_offset(t) + layer_rank(x)``. Cached per setting."""
    _check_size(num_arms, horizon, max_states)
    m = 2 * num_arms
    binomial = _binomial_table(horizon + m + 1, m)
    values = np.zeros(dp_num_states(num_arms, horizon), np.float64)
    next_values = np.zeros(math.comb(horizon + m - 1, m - 1), np.float64)  # V_H = 0
    for t in range(horizon - 1, -1, -1):
        states = _compositions(t, m)
        layer = np.max(
            np.stack(
                [
                    _successor_values(states, a, next_values, prior_a, prior_b, binomial)
                    for a in range(num_arms)
                ]
            ),
            axis=0,
        )
        start = int(layer_offset(t, m, binomial))
        values[start : start + layer.shape[0]] = layer
        next_values = layer
    _compositions.cache_clear()  # only needed while building; can be tens of MB
    return values


def bayes_optimal_value(
    num_arms: int, horizon: int, prior_a: float = 1.0, prior_b: float = 1.0
) -> float:
    """Bayes-optimal expected total reward over ``horizon`` pulls of ``num_arms``
    Bernoulli arms with independent Beta(prior_a, prior_b) means (exact DP)."""
    return float(bayes_value_table(num_arms, horizon, prior_a, prior_b)[0])


def bayes_optimal(
    num_arms: int,
    horizon: int,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    max_states: int = MAX_DP_STATES,
) -> FunctionalPolicy:
    """The exact Bayes-optimal policy for ``horizon`` pulls (value table built once).

    At each step it computes every arm's Q-value from the table (the successor states'
    values, found by rank) and plays the best, ties broken uniformly. Past the horizon
    the remaining value is 0, so it plays the posterior-mean-greedy arm. Raises
    ValueError (naming num_arms and horizon) when the DP exceeds ``max_states``.
    ``action_values`` are the Q-values [B, k]: expected reward to the horizon.
    """
    _check_size(num_arms, horizon, max_states)
    m = 2 * num_arms
    # int32 ranks are exact: every binomial the rank uses is at most the state count.
    binomial_np = _binomial_table(horizon + m + 1, m)
    binomial = jnp.asarray(np.minimum(binomial_np, np.iinfo(np.int32).max).astype(np.int32))
    table = jnp.asarray(
        bayes_value_table(num_arms, horizon, prior_a, prior_b, max_states).astype(np.float32)
    )

    def init_carry(batch: int) -> BetaCounts:
        return empty_beta_counts(batch, num_arms)

    def act(counts: BetaCounts, inputs: PolicyInputs, key: jax.Array):
        counts = update_beta_counts(
            counts, inputs.prev_action, inputs.prev_reward, inputs.episode_start
        )
        state = jnp.stack([counts.successes, counts.failures], axis=-1).reshape(
            counts.successes.shape[0], m
        )
        state = jnp.round(state).astype(jnp.int32)  # [B, m]
        pulls = state.sum(-1)
        beyond = pulls + 1 > horizon
        # Successor states after each arm's success / failure: [B, k, m].
        won = state[:, None, :] + jax.nn.one_hot(2 * jnp.arange(num_arms), m, dtype=jnp.int32)
        lost = state[:, None, :] + jax.nn.one_hot(2 * jnp.arange(num_arms) + 1, m, dtype=jnp.int32)
        # Keep ranks in range past the horizon (their values are masked to 0 below).
        safe = jnp.minimum(pulls + 1, horizon)

        def lookup(successor):
            clipped = jnp.where(
                beyond[:, None, None],
                jnp.zeros_like(successor).at[..., 0].set(safe[:, None]),
                successor,
            )
            index = layer_offset(safe[:, None], m, binomial) + layer_rank(clipped, binomial)
            return jnp.where(beyond[:, None], 0.0, table[index])

        p = beta_posterior_mean(counts, prior_a, prior_b)
        q_values = p * (1.0 + lookup(won)) + (1.0 - p) * lookup(lost)
        action = argmax_random_ties(q_values, key)
        return counts, action, {"action_values": q_values}

    return FunctionalPolicy(init_carry_fn=init_carry, act_fn=act, num_actions=num_arms)


def time_value_table(num_arms: int, horizon: int) -> float:
    """Seconds to build the value table from scratch (clears the cache first)."""
    bayes_value_table.cache_clear()
    start = time.perf_counter()
    bayes_value_table(num_arms, horizon)
    return time.perf_counter() - start
