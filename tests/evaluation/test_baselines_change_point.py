"""The change-point Bayesian (``baselines/change_point.py``) against its definition.

Its run-length recursion must give the same posterior-expected arm means as
enumerating every set of change-points by brute force.
"""

from __future__ import annotations

import numpy as np
import pytest

from metarl.evaluation.baselines.change_point import change_point_bayesian


def _enumerated_expected_means(actions, rewards, hazard, num_arms, prior=(1.0, 1.0)):
    """[T, k] exact posterior-expected arm means before each step, by enumerating every set of
    change-points (a change after step t with probability ``hazard``, independently): the
    definition the run-length recursion must reproduce."""
    from itertools import product

    a, b = prior
    out = []
    for step in range(len(actions) + 1):
        weights, means = [], []
        for changes in product((0, 1), repeat=step):  # changes[t]: a change after step t
            weight = float(np.prod([hazard if c else 1 - hazard for c in changes]))
            segments, current = [], []
            for t, changed in enumerate(changes):
                current.append(t)
                if changed:
                    segments.append(current)
                    current = []
            segments.append(current)  # the segment the next step is in (maybe empty)
            for (
                segment
            ) in segments:  # Beta-Bernoulli marginal likelihood of each segment's outcomes
                successes, failures = np.zeros(num_arms), np.zeros(num_arms)
                for t in segment:
                    p = (a + successes[actions[t]]) / (
                        a + b + successes[actions[t]] + failures[actions[t]]
                    )
                    weight *= p if rewards[t] else 1 - p
                    successes[actions[t]] += rewards[t]
                    failures[actions[t]] += 1 - rewards[t]
            weights.append(weight)
            means.append((a + successes) / (a + b + successes + failures))
        weights = np.array(weights) / np.sum(weights)
        out.append(weights @ np.array(means))
    return np.array(out[:-1])


@pytest.mark.parametrize("hazard", [0.0, 0.2, 1.0])
def test_change_point_bayesian_matches_exhaustive_enumeration(hazard):
    import jax

    from metarl.evaluation.replay import replay_policy
    from metarl.evaluation.rollout import EpisodeBatch

    num_steps, num_arms = 7, 2
    rng = np.random.default_rng(0)
    actions = rng.integers(0, num_arms, (num_steps, 3))
    rewards = (rng.random((num_steps, 3)) < 0.6).astype(np.float32)
    episodes = EpisodeBatch(
        actions=actions, rewards=rewards, info={}, extras={},
        observations=np.zeros((num_steps, 3, 1), np.float32),
    )  # fmt: skip
    policy = change_point_bayesian(num_arms, max_run_length=num_steps, hazard=hazard)
    values = np.asarray(replay_policy(policy, episodes, jax.random.PRNGKey(0))["action_values"])
    for column in range(3):
        expected = _enumerated_expected_means(
            actions[:, column], rewards[:, column], hazard, num_arms
        )
        np.testing.assert_allclose(values[:, column], expected, atol=1e-5)
    if hazard == 1.0:  # every outcome is followed by a change: nothing is ever learned
        np.testing.assert_allclose(values, 0.5, atol=1e-6)
