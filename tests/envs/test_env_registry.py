"""The registry: families recorded at registration, and every registered name steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from metarl.envs import registry

from metarl import envs
from metarl.errors import ConfigError


def test_every_registered_name_has_its_family():
    expected = {
        "bandit": "bandit",
        "two-step": "two_step",
        "maze": "maze",
        "rule-grid": "rule_grid",
        "dark-room": "dark_room",
    }
    for name in envs.registered_names():
        prefix = next(p for p in expected if name.startswith(p))
        assert envs.spec(name).family == expected[prefix]
        assert envs.family_of(name) == expected[prefix]
    assert envs.families() == ["bandit", "dark_room", "maze", "rule_grid", "two_step"]


def test_gymnax_names_have_no_family_and_unknown_names_raise():
    assert envs.family_of("BernoulliBandit-misc") is None
    with pytest.raises(ConfigError, match="unknown environment"):
        envs.family_of("no-such-env-v0")


def test_register_requires_a_family():
    config_cls = envs.spec("bandit-bernoulli-v0").config_cls
    builder = envs.spec("bandit-bernoulli-v0").builder
    with pytest.raises(TypeError):
        registry.register("test-no-family-v0", config_cls, builder, "no family")
    with pytest.raises(ValueError, match="family"):
        registry.register("test-bad-family-v0", config_cls, builder, "bad", family="")
    assert "test-no-family-v0" not in envs.registered_names()
    assert "test-bad-family-v0" not in envs.registered_names()


@pytest.mark.parametrize("name", envs.registered_names())
def test_registered_env_builds_and_jit_steps(name):
    """Every registered name, with its defaults: jitted reset and a few jitted steps."""
    env, params = envs.make(name)
    reset = jax.jit(env.reset)
    step = jax.jit(env.step)
    key = jax.random.PRNGKey(0)
    obs, state = reset(key, params)
    obs_shape = env.observation_space(params).shape
    assert obs.shape == obs_shape
    assert np.all(np.isfinite(np.asarray(obs)))
    num_actions = env.action_space(params).n
    for t in range(5):
        key, action_key, step_key = jax.random.split(key, 3)
        action = jax.random.randint(action_key, (), 0, num_actions)
        obs, state, reward, terminated, *rest = step(step_key, state, action, params)
        assert obs.shape == obs_shape, (name, t)
        assert np.all(np.isfinite(np.asarray(obs))), (name, t)
        assert np.isfinite(float(reward)), (name, t)
        assert jnp.asarray(terminated).dtype == jnp.bool_
