"""Schedules over the run: the entropy weight and the discount move linearly to their
final values, and the trainer's update uses the scheduled discount."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metarl.config import AgentConfig, AlgoConfig, EnvConfig, ExperimentConfig, RunConfig, validate
from metarl.errors import ConfigError
from metarl.training import make_trainer
from metarl.training.update import discount, entropy_coefficient


@pytest.mark.parametrize(
    ("step", "expected"), [(0, 0.9), (25, 0.92), (50, 0.94), (100, 0.98), (400, 0.98)]
)
def test_discount_moves_linearly_to_gamma_final_and_stays(step, expected):
    algo = AlgoConfig(gamma=0.9, gamma_final=0.98)
    value = discount(algo, jnp.int32(step), num_updates=100)
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)


def test_without_final_values_the_schedules_are_constant():
    algo = AlgoConfig(gamma=0.95, entropy_coef=0.02)
    for step in (0, 50, 1000):
        assert float(discount(algo, jnp.int32(step), 100)) == pytest.approx(0.95)
        assert float(entropy_coefficient(algo, jnp.int32(step), 100)) == pytest.approx(0.02)


def test_gamma_final_outside_the_unit_interval_is_refused_naming_the_field():
    config = ExperimentConfig(algo=AlgoConfig(gamma_final=1.5))
    with pytest.raises(ConfigError, match="algo.gamma_final"):
        validate(config)


def _config(**algo):
    return ExperimentConfig(
        env=EnvConfig(overrides={"num_arms": 3, "horizon": 6}),
        agent=AgentConfig(core="gru", hidden_size=8, embed_size=0),
        algo=AlgoConfig(name="a2c", learning_rate=1e-2, max_grad_norm=0.0, **algo),
        run=RunConfig(
            num_envs=8,
            rollout_length=5,
            total_env_steps=8 * 5 * 10,
            num_seeds=1,
            updates_per_chunk=1,
        ),
    )


def test_the_update_uses_the_scheduled_discount():
    # Rollouts end mid-episode (horizon 6, 5 steps), so the discount changes the
    # advantages and value targets. At the run's last update the scheduled trainer's
    # losses must be those of a trainer with the final discount fixed; at its first
    # update (discount 0.5) they must differ.
    scheduled = make_trainer(_config(gamma=0.5, gamma_final=0.99))
    at_final = make_trainer(_config(gamma=0.99))
    first = scheduled.init(jax.random.PRNGKey(0))
    last = first.replace(update_step=jnp.full_like(first.update_step, 10))

    def losses(trainer, state):
        _, metrics = trainer.train_chunk(state)
        return np.array([metrics["value_loss"], metrics["policy_loss"]]).ravel()

    scheduled_last = losses(scheduled, last)
    np.testing.assert_allclose(scheduled_last, losses(at_final, last), rtol=1e-6)
    # Targets with gamma 0.5 vs 0.99 differ by about half a bootstrapped value.
    assert np.all(np.abs(scheduled_last - losses(scheduled, first)) > 1e-3)
