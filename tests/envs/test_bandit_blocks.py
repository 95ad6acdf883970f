"""Bandit block-wise volatility: off it changes nothing; on, blocks and reversals as stated.

The frequency tests bound each observed rate by 5 binomial standard errors of its own
sample size (a false failure has probability below 1e-6 per check).
"""

import hashlib
import math
import re

import jax
import metarl.envs as menvs
import numpy as np
import pytest

from metarl.errors import ConfigError

# Digests of 50 auto-resetting steps x 32 envs (random actions, key 11) recorded with the
# bandit before block volatility existed (envs/bandit.py of commit 3558681, jax 0.10.2). Without blocks the
# env must draw the same numbers and return the same outputs bit for bit. A jax upgrade
# that changes float results would change them too: re-record them at that commit then.
BEFORE_BLOCKS = {
    "bernoulli_k5": (
        "2693328884ace0207d3acd63c977872d",
        "bandit-bernoulli-v0",
        {"num_arms": 5, "horizon": 20},
    ),
    "dependent_reversal": (
        "1c65ee1f71e95b03dc4fdabf07947513",
        "bandit-dependent-v0",
        {"horizon": 20, "drift": "reversal", "reversal_hazard": 0.1},
    ),
    "dependent_change_point": (
        "5d9569429062f2b46946f93c07f0807f",
        "bandit-dependent-v0",
        {"horizon": 20, "drift": "change_point", "hazard": 0.05},
    ),
    "restless": (
        "4efcc993fd43c0c3a4a32fa6b11af8f7",
        "bandit-restless-v0",
        {"num_arms": 3, "horizon": 20},
    ),
    "gaussian_pool": (
        "ab7ac584dd48f28da1c03afeeb5da509",
        "bandit-gaussian-v0",
        {"num_arms": 4, "horizon": 20, "num_tasks": 8},
    ),
    "uniform_walk": (
        "485a3652c22eeaaa09a54fc9eb322001",
        "bandit-bernoulli-v0",
        {
            "num_arms": 3,
            "horizon": 20,
            "drift": "random_walk",
            "volatility": 0.2,
            "walk_space": "bounded",
        },
    ),
}


def rollout(env, params, key, steps, batch):
    """(obs, actions, reward, terminated, truncated, info) of ``steps`` random-action steps."""
    num_actions = env.action_space(params).n

    # params are closed over (constants), as when the digests were recorded: XLA folds
    # constants, so traced params could round differently (the Beta prior does).
    @jax.jit
    def run(key):
        reset_key, run_key = jax.random.split(key)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, batch), params
        )

        def one(carry, step_key):
            obs, state = carry
            action_key, env_key = jax.random.split(step_key)
            actions = jax.random.randint(action_key, (batch,), 0, num_actions)
            obs, state, reward, terminated, truncated, info = jax.vmap(
                env.step, in_axes=(0, 0, 0, None)
            )(jax.random.split(env_key, batch), state, actions, params)
            return (obs, state), (obs, actions, reward, terminated, truncated, info)

        _, out = jax.lax.scan(one, (obs, state), jax.random.split(run_key, steps))
        return out

    return jax.device_get(run(key))


def digest(out) -> str:
    h = hashlib.blake2b(digest_size=16)
    obs, actions, reward, terminated, truncated, info = out
    named = [
        ("obs", obs),
        ("actions", actions),
        ("reward", reward),
        ("terminated", terminated),
        ("truncated", truncated),
        *sorted(info.items()),
    ]
    for name, leaf in named:
        array = np.asarray(leaf)
        for part in (name.encode(), str(array.dtype).encode(), str(array.shape).encode()):
            h.update(part)
        h.update(array.tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("case", sorted(BEFORE_BLOCKS))
def test_without_blocks_rollouts_are_bit_identical_to_before(case):
    expected, name, overrides = BEFORE_BLOCKS[case]
    env, params = menvs.make(name, **overrides)
    assert params.block_hazards is None and params.block_length is None
    _, state = env.reset(jax.random.PRNGKey(0), params)
    assert state.block is None  # no new state leaf: checkpoints of old runs keep their layout
    out = rollout(env, params, jax.random.PRNGKey(11), 50, 32)
    assert "block" not in out[5] and "block_hazard" not in out[5]
    assert digest(out) == expected


HAZARDS = (0.0, 0.05, 0.3)
LENGTH = 10
HORIZON = 40
BATCH = 2048


@pytest.fixture(scope="module")
def blocked():
    env, params = menvs.make(
        "bandit-dependent-v0", horizon=HORIZON, block_hazards=HAZARDS, block_length=LENGTH
    )
    # Three episodes per env: blocks start afresh after every auto-reset.
    out = rollout(env, params, jax.random.PRNGKey(3), 3 * HORIZON, BATCH)
    return params, out


def _within(observed: float, p: float, n: int) -> bool:
    return abs(observed - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12


def test_block_types_are_uniform_and_independent_of_the_previous_block(blocked):
    _, (*_, info) = blocked
    block = np.asarray(info["block"])  # [step, env]
    firsts = block[::LENGTH]  # one label per block
    n = firsts.size
    for index in range(len(HAZARDS)):
        assert _within(float((firsts == index).mean()), 1 / len(HAZARDS), n)
    within_episode = firsts.reshape(3, HORIZON // LENGTH, BATCH)[:, 1:]
    previous = firsts.reshape(3, HORIZON // LENGTH, BATCH)[:, :-1]
    same = float((within_episode == previous).mean())
    assert _within(same, 1 / len(HAZARDS), within_episode.size)


def test_labels_hold_for_whole_blocks_and_name_their_hazard(blocked):
    params, (*_, truncated, info) = blocked
    block = np.asarray(info["block"])
    per_block = block.reshape(-1, LENGTH, BATCH)
    assert (per_block == per_block[:, :1]).all()  # a block's type never changes inside it
    np.testing.assert_array_equal(
        np.asarray(info["trial"])[:, 0] % LENGTH == 0, np.arange(3 * HORIZON) % LENGTH == 0
    )
    np.testing.assert_array_equal(info["block_hazard"], np.asarray(HAZARDS, np.float32)[block])
    assert block.dtype == np.int32 and info["block_hazard"].dtype == np.float32
    assert np.asarray(truncated)[HORIZON - 1 :: HORIZON].all()


def test_reversals_happen_at_each_blocks_hazard_and_swap_the_arms(blocked):
    _, (*_, info) = blocked
    block = np.asarray(info["block"])
    reversal = np.asarray(info["reversal"])
    for index, hazard in enumerate(HAZARDS):
        pulls = reversal[block == index]
        if hazard == 0.0:
            assert not pulls.any()  # stable blocks never reverse
        else:
            assert _within(float(pulls.mean()), hazard, pulls.size)
    means = np.asarray(info["arm_means"])  # [step, env, 2], before this step's reversal
    trial = np.asarray(info["trial"])
    inside = (trial[1:] != 0)[..., None]  # the next pull is in the same episode
    swapped = means[:-1, :, ::-1]
    expected = np.where(reversal[:-1, :, None], swapped, means[:-1])
    np.testing.assert_array_equal(np.where(inside, means[1:], 0), np.where(inside, expected, 0))
    np.testing.assert_array_equal(info["drift_event"], reversal)  # no other drift here


def test_one_block_per_episode_by_default():
    env, params = menvs.make("bandit-dependent-v0", horizon=20, block_hazards=(0.0, 0.2))
    assert int(params.block_length) == 20
    *_, info = rollout(env, params, jax.random.PRNGKey(5), 60, 512)
    block = np.asarray(info["block"]).reshape(3, 20, 512)
    assert (block == block[:, :1]).all()
    assert _within(float((block[:, 0] == 1).mean()), 0.5, block[:, 0].size)


def test_block_hazards_are_traced_a_sweep_varies_them_in_one_program():
    env, params = menvs.make("bandit-dependent-v0", horizon=20, block_hazards=(0.0, 0.1))
    stacked = jax.tree.map(
        lambda *leaves: np.stack(leaves),
        params,
        params.replace(block_hazards=params.block_hazards.at[1].set(0.5)),
    )
    step = jax.jit(jax.vmap(env.step, in_axes=(None, None, None, 0)))
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = state.replace(block=np.int32(1))
    *_, info = step(jax.random.PRNGKey(1), state, 0, stacked)
    np.testing.assert_allclose(info["block_hazard"], [0.1, 0.5])


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"block_hazards": (0.0, 1.5)}, "block_hazards[1]"),
        ({"block_hazards": (-0.1,)}, "block_hazards[0]"),
        ({"block_hazards": (0.0, float("nan"))}, "block_hazards[1]"),
        ({"block_hazards": 0.05}, "block_hazards"),
        ({"block_length": 10}, "block_length"),  # no hazards to block
        ({"block_hazards": (0.0, 0.1), "block_length": 0}, "block_length"),
        ({"block_hazards": (0.0, 0.1), "block_length": 21}, "block_length"),
        ({"block_hazards": (0.0, 0.1), "block_length": 2.5}, "block_length"),
    ],
)
def test_bad_block_settings_are_refused_naming_the_field(overrides, field):
    with pytest.raises(ConfigError, match=re.escape(f"field {field!r}")):
        menvs.make("bandit-dependent-v0", horizon=20, **overrides)
