"""Shared drift models, tested on plain arrays (families test them in context)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from metarl.envs import drift as drift_lib

from metarl.errors import ConfigError


def test_bounded_walk_reflects_into_the_interval():
    params = drift_lib.make_drift(
        "random_walk", volatility=0.5, walk_space="bounded", walk_low=0.2, walk_high=0.8
    )
    values = jnp.full((100_000,), 0.5)
    walked = drift_lib.random_walk(jax.random.PRNGKey(0), values, params)
    assert float(walked.min()) >= 0.2 and float(walked.max()) <= 0.8
    # Reflection maps x to the mirror image: a value just past the top lands just below it.
    noise = jnp.array([0.35, -0.35, 0.1])  # from 0.5: 0.85 -> 0.75, 0.15 -> 0.25, 0.6 -> 0.6
    np.testing.assert_allclose(
        drift_lib.walk_with_noise(noise / 0.5, jnp.full(3, 0.5), params),
        [0.75, 0.25, 0.6],
        atol=1e-6,
    )


def test_logit_walk_has_sigma_increments_in_logit_space():
    sigma = 0.2
    params = drift_lib.make_drift("random_walk", volatility=sigma)
    p = jnp.full((200_000,), 0.3)
    walked = drift_lib.random_walk(jax.random.PRNGKey(1), p, params)
    increments = np.asarray(jnp.log(walked / (1 - walked)) - jnp.log(p / (1 - p)), np.float64)
    n = increments.size
    assert abs(increments.mean()) < 5 * sigma / math.sqrt(n)
    assert abs(increments.std() - sigma) < 5 * sigma / math.sqrt(2 * n)


def test_uniform_path_matches_hazard_and_schedule():
    params = drift_lib.make_drift(
        "change_point+reversal", hazard=0.1, reversal_steps=(3,), reversal_hazard=0.05
    )
    assert drift_lib.uniforms_needed(params, walk_size=2) == 2
    task = jnp.array([0.1, 0.9])
    fresh = jnp.array([0.4, 0.6])

    def one(u, step):
        return drift_lib.apply_drift_uniform(
            u, task, step, params, fresh_task=fresh, reverse=lambda t: t[::-1]
        )

    n = 100_000
    uniforms = jax.random.uniform(jax.random.PRNGKey(2), (n, 2))
    tasks, events = jax.vmap(one)(uniforms, jnp.zeros(n, jnp.int32))
    cp = np.asarray(events.change_point)
    rev = np.asarray(events.reversal)
    assert abs(cp.mean() - 0.1) < 5 * math.sqrt(0.1 * 0.9 / n)
    assert abs(rev.mean() - 0.05) < 5 * math.sqrt(0.05 * 0.95 / n)
    _, scheduled = one(jnp.array([0.99, 0.99]), jnp.int32(3))
    assert bool(scheduled.reversal) and not bool(scheduled.change_point)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"kinds": "random_walk"}, "volatility"),
        ({"kinds": "change_point"}, "hazard"),
        ({"kinds": "reversal"}, "reversal"),
        ({"kinds": "random_walk", "volatility": 0.1, "walk_space": "probit"}, "walk_space"),
        ({"kinds": "random_walk+random_walk", "volatility": 0.1}, "repeats"),
        (
            {"kinds": "random_walk", "volatility": 0.1, "walk_low": 0.9, "walk_high": 0.1},
            "walk_low",
        ),
    ],
)
def test_bad_drift_config_names_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        drift_lib.make_drift(**kwargs)
