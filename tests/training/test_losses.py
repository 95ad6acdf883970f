"""Reference values for returns, advantages and losses, computed by hand in the comments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metarl.agents import policy
from metarl.training import losses

# A 3-step rollout whose episode ends after step 1 (discount 0 there), bootstrapped by v_3 = 3.
R_T = jnp.array([1.0, 0.0, 2.0])
DISCOUNT_T = jnp.array([0.9, 0.0, 0.9])
VALUES = jnp.array([0.5, 1.0, 0.2, 3.0])  # v_0, v_1, v_2 and the bootstrap v_3


def test_n_step_returns_hand_values():
    # G_2 = 2 + 0.9 * 3 = 4.7; G_1 = 0 + 0 * 4.7 = 0 (episode end); G_0 = 1 + 0.9 * 0 = 1.
    returns = losses.n_step_returns(R_T, DISCOUNT_T, VALUES[-1])
    np.testing.assert_allclose(returns, [1.0, 0.0, 4.7], rtol=1e-6)


def test_n_step_returns_without_episode_end():
    # discount 0.5 throughout, bootstrap 8: G_2 = 1 + 4 = 5, G_1 = 1 + 2.5 = 3.5, G_0 = 1 + 1.75 = 2.75.
    returns = losses.n_step_returns(jnp.ones(3), jnp.full(3, 0.5), jnp.float32(8.0))
    np.testing.assert_allclose(returns, [2.75, 3.5, 5.0], rtol=1e-6)


def test_gae_hand_values():
    # deltas: 1 + 0.9*1.0 - 0.5 = 1.4; 0 + 0 - 1.0 = -1.0; 2 + 0.9*3.0 - 0.2 = 4.5.
    # lambda 0.5: A_2 = 4.5; A_1 = -1.0 + 0 * ... = -1.0; A_0 = 1.4 + 0.9*0.5*(-1.0) = 0.95.
    advantages = losses.gae_advantages(R_T, DISCOUNT_T, VALUES, 0.5)
    np.testing.assert_allclose(advantages, [0.95, -1.0, 4.5], rtol=1e-6)


def test_gae_with_lambda_one_is_n_step_return_minus_value():
    # G - v = [1 - 0.5, 0 - 1.0, 4.7 - 0.2] = [0.5, -1.0, 4.5].
    advantages = losses.gae_advantages(R_T, DISCOUNT_T, VALUES, 1.0)
    np.testing.assert_allclose(advantages, [0.5, -1.0, 4.5], rtol=1e-6)


def test_gae_vmapped_over_env_axis_matches_columns():
    # Two envs as [T, B]: column 1 is column 0 with rewards doubled and values doubled,
    # so (linearity) its advantages are doubled.
    r = jnp.stack([R_T, 2 * R_T], axis=1)
    d = jnp.stack([DISCOUNT_T, DISCOUNT_T], axis=1)
    v = jnp.stack([VALUES, 2 * VALUES], axis=1)
    batched = jax.vmap(losses.gae_advantages, in_axes=(1, 1, 1, None), out_axes=1)(r, d, v, 0.5)
    np.testing.assert_allclose(batched[:, 0], [0.95, -1.0, 4.5], rtol=1e-6)
    np.testing.assert_allclose(batched[:, 1], [1.9, -2.0, 9.0], rtol=1e-6)


def test_clipped_surrogate_hand_case():
    # epsilon 0.2. Per step min(r*A, clip(r)*A):
    #   r=0.5, A=+1: min(0.5, 0.8) = 0.5   (below the clip, unclipped term is smaller)
    #   r=1.1, A=+1: min(1.1, 1.1) = 1.1
    #   r=1.5, A=+1: min(1.5, 1.2) = 1.2   (clipped: no incentive past 1 + eps)
    #   r=0.5, A=-1: min(-0.5, -0.8) = -0.8 (clipped: no incentive below 1 - eps)
    #   r=1.5, A=-1: min(-1.5, -1.2) = -1.5
    # mean = (0.5 + 1.1 + 1.2 - 0.8 - 1.5) / 5 = 0.1, loss = -0.1.
    ratio = jnp.array([0.5, 1.1, 1.5, 0.5, 1.5])
    adv = jnp.array([1.0, 1.0, 1.0, -1.0, -1.0])
    loss = losses.clipped_surrogate_loss(ratio, adv, 0.2)
    np.testing.assert_allclose(loss, -0.1, atol=1e-6)
    # Gradient wrt the ratio is -A/5 where the unclipped term is active, 0 where clipped.
    grad = jax.grad(losses.clipped_surrogate_loss)(ratio, adv, 0.2)
    np.testing.assert_allclose(grad, [-0.2, -0.2, 0.0, 0.0, 0.2], atol=1e-6)


def test_policy_gradient_loss_hand_values():
    # pi_0 = (0.5, 0.5), a=0: log 0.5; pi_1 = (0.75, 0.25), a=1: log 0.25.
    # loss = -(2 * log 0.5 + 1 * log 0.25) / 2 = 2 log 2.
    logits = jnp.array([[0.0, 0.0], [jnp.log(3.0), 0.0]])
    actions = jnp.array([0, 1])
    adv = jnp.array([2.0, 1.0])
    loss = losses.policy_gradient_loss(logits, actions, adv)
    np.testing.assert_allclose(loss, 2 * np.log(2.0), rtol=1e-6)
    # The advantage is held fixed: no gradient flows into it.
    grad_adv = jax.grad(losses.policy_gradient_loss, argnums=2)(logits, actions, adv)
    np.testing.assert_array_equal(grad_adv, [0.0, 0.0])


def test_value_and_entropy_losses_hand_values():
    # 0.5 * mean((2-1)^2, (0-2)^2) = 0.5 * 2.5 = 1.25
    np.testing.assert_allclose(
        losses.value_loss(jnp.array([1.0, 2.0]), jnp.array([2.0, 0.0])), 1.25
    )
    # H(0.5, 0.5) = log 2 = 0.693147; H(0.75, 0.25) = -(0.75 log 0.75 + 0.25 log 0.25) = 0.562335
    logits = jnp.array([[0.0, 0.0], [jnp.log(3.0), 0.0]])
    np.testing.assert_allclose(losses.entropy_loss(logits), -(0.693147 + 0.562335) / 2, rtol=1e-5)


def test_policy_log_prob_and_sampling_frequencies():
    logits = jnp.log(jnp.array([0.2, 0.3, 0.5]))
    np.testing.assert_allclose(policy.log_prob(logits, jnp.int32(2)), np.log(0.5), rtol=1e-6)
    n = 20_000
    actions = policy.sample(jax.random.PRNGKey(0), jnp.broadcast_to(logits, (n, 3)))
    freq = np.bincount(np.asarray(actions), minlength=3) / n
    # Binomial standard error at p=0.5, n=20000 is 0.0035; 5 sigma = 0.018.
    np.testing.assert_allclose(freq, [0.2, 0.3, 0.5], atol=0.018)
    assert int(policy.greedy(logits)) == 2


@pytest.mark.parametrize("lambda_", [0.0, 0.9])
def test_gae_lambda_zero_is_one_step_td(lambda_):
    advantages = losses.gae_advantages(R_T, DISCOUNT_T, VALUES, lambda_)
    deltas = np.array([1.4, -1.0, 4.5])
    if lambda_ == 0.0:
        np.testing.assert_allclose(advantages, deltas, rtol=1e-6)
    else:
        # A_0 = 1.4 + 0.9 * 0.9 * (-1.0) = 0.59
        np.testing.assert_allclose(advantages, [0.59, -1.0, 4.5], rtol=1e-6)


def test_sampling_with_noise_drawn_ahead_matches_categorical():
    # The rollout draws Gumbel noise for all steps at once; with the same key and shape
    # that is exactly jax.random.categorical's draw.
    logits = jax.random.normal(jax.random.PRNGKey(3), (64, 5))
    key = jax.random.PRNGKey(4)
    ahead = policy.sample_with_noise(logits, jax.random.gumbel(key, logits.shape))
    np.testing.assert_array_equal(ahead, jax.random.categorical(key, logits, axis=-1))


@pytest.mark.parametrize("shape", [(20, 16, 5), (7,), (3, 1)])
def test_unrolled_threefry_is_jax_random_bit_for_bit(shape):
    # The rollout draws its Gumbel noise and env keys with metarl.training.threefry
    # (threefry unrolled: one fused pass on CPU); runs must stay exactly what
    # jax.random would have drawn.
    from metarl.training import threefry

    for seed in range(3):
        key = jax.random.split(jax.random.PRNGKey(seed))[1]
        expected = jax.jit(lambda k: jax.random.gumbel(k, shape))(key)
        drawn = jax.jit(lambda k: threefry.gumbel(k, shape))(key)
        np.testing.assert_array_equal(
            np.asarray(drawn).view(np.uint32), np.asarray(expected).view(np.uint32)
        )
        np.testing.assert_array_equal(
            jax.jit(lambda k: threefry.split(k, shape))(key),
            jax.jit(lambda k: jax.random.split(k, shape))(key),
        )
