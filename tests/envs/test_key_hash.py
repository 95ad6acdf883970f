"""Hashed key words: uniform, uncorrelated, reproducible."""

import math

import jax
import numpy as np
from metarl.envs.key_hash import key_uniforms, key_words


def _uniforms(num_keys=50_000, count=4):
    keys = jax.random.split(jax.random.PRNGKey(0), num_keys)
    return np.asarray(jax.vmap(lambda k: key_uniforms(k, count))(keys), np.float64)


def test_uniforms_are_uniform_per_position():
    u = _uniforms()
    n, bins = u.shape[0], 20
    assert u.min() >= 0.0 and u.max() < 1.0
    for position in range(u.shape[1]):
        counts = np.histogram(u[:, position], bins=bins, range=(0, 1))[0]
        chi2 = ((counts - n / bins) ** 2 / (n / bins)).sum()
        # chi-square with 19 dof: mean 19, sd sqrt(38); 5 sd above the mean.
        assert chi2 < 19 + 5 * math.sqrt(38), (position, chi2)


def test_positions_and_keys_are_uncorrelated():
    u = _uniforms()
    n = u.shape[0]
    corr = np.corrcoef(u.T)
    off_diagonal = corr[~np.eye(4, dtype=bool)]
    assert np.abs(off_diagonal).max() < 5 / math.sqrt(n)
    # Neighbouring keys of a split give unrelated first draws.
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 5 / math.sqrt(n)


def test_same_key_same_words_and_streams_differ():
    key = jax.random.PRNGKey(42)
    np.testing.assert_array_equal(np.asarray(key_words(key, 8)), np.asarray(key_words(key, 8)))
    assert not np.array_equal(
        np.asarray(key_words(key, 8, stream=0)), np.asarray(key_words(key, 8, stream=1))
    )
    assert not np.array_equal(
        np.asarray(key_words(key, 8)), np.asarray(key_words(jax.random.PRNGKey(43), 8))
    )
