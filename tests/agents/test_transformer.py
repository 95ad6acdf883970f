"""The transformer core's two forms: the parallel training forward (``unroll``) equals the
step-by-step acting forward (``step`` with its KV cache), across sequence boundaries,
episode starts and the sliding window; gradients, thinking steps, the A2C and PPO
updates that run the parallel form, learning, and checkpoint resume."""

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from metarl.envs.bandit import BanditTask

from metarl.agents import ActorCritic, ParallelCore, TransformerCore
from metarl.agents.cores import Core
from metarl.config import AgentConfig, AlgoConfig, EnvConfig, ExperimentConfig, RunConfig

B, D, A = 4, 5, 3
# Relative to the largest magnitude of the compared array: float32 rounding of a few
# hundred multiply-adds, where a wrong mask or position moves outputs by percents.
FORWARD_RTOL = 1e-5
GRADIENT_RTOL = 1e-5


def make_agent(context=4, layers=1, hidden=8, heads=2, embed=0, block=None):
    """block: the cache's block length (default: the core's, one block at these contexts);
    short ones split the cache into several blocks, the last one shorter, so that acting
    and training read only the blocks that can hold a visible slot."""
    config = AgentConfig(
        core="transformer",
        hidden_size=hidden,
        embed_size=embed,
        transformer_heads=heads,
        transformer_layers=layers,
        transformer_context=context,
    )
    agent = ActorCritic(config, obs_size=D, num_actions=A)
    if block is not None:
        agent.core = TransformerCore(hidden, heads, layers, context, cache_block=block)
    return agent, agent.init_params(jax.random.PRNGKey(0))


def observations(length, key):
    return jax.random.normal(jax.random.PRNGKey(key), (length, B, D))


def assert_close(actual, expected, rtol):
    """Max abs difference within ``rtol`` of the expected array's largest magnitude
    (pytrees: leaf by leaf)."""
    if not isinstance(expected, jax.Array | np.ndarray):
        for a, b in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
            assert_close(a, b, rtol)
        return
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = np.abs(expected).max()
    assert scale > 0
    assert np.abs(actual - expected).max() <= rtol * scale, (
        np.abs(actual - expected).max(),
        scale,
    )


def whole_cache(blocks):
    """The carry's cache blocks -> one [B, layers, heads, context, head] array."""
    return jnp.concatenate(blocks, axis=3)


def stepped(agent, params, carry, obs, starts):
    """The acting form: agent.step (reset, then one cached step) at every step, in a scan."""

    def one_step(carry, xs):
        carry, out = agent.step(params, carry, *xs)
        return carry, out

    return jax.jit(lambda c: jax.lax.scan(one_step, c, (obs, starts)))(carry)


def parallel(agent, params, carry, obs, starts):
    return jax.jit(agent.unroll)(params, carry, obs, starts)


def sequence_starts(length, pattern):
    """[T, B] episode starts: env 0 starts at t=0, env 1 inside, env 2 twice, env 3 never."""
    starts = np.zeros((length, B), bool)
    if pattern == "first":
        starts[0, :3] = True
    starts[length // 2, 1] = True
    starts[1, 2] = starts[length - 1, 2] = True
    return jnp.asarray(starts)


@pytest.mark.parametrize(
    "context, layers, length, block",
    [
        (16, 1, 6, None),  # the whole history fits the context
        (16, 1, 6, 5),  # ... in blocks of 5, 5, 5, 1: the later ones unread at first
        (4, 1, 7, None),  # a sliding window: the context is shorter than the history
        (4, 1, 7, 3),  # ... wrapping around blocks of 3 and 1
        (4, 2, 9, 2),  # windows stacked over two layers, two blocks
        (3, 1, 2, None),  # a sequence shorter than the context
    ],
)
def test_parallel_unroll_equals_acting_steps_across_sequences(context, layers, length, block):
    # Three sequences back to back, each unrolled in parallel from the carry that
    # acting left (what an update sees: the memory at the rollout start). Logits,
    # values, hidden states and the carry after each sequence must match acting.
    agent, params = make_agent(context=context, layers=layers, block=block)
    assert agent.unrolls_in_parallel and isinstance(agent.core, ParallelCore)
    carry = agent.initialize_carry(B)
    for index, pattern in enumerate(["first", "inside", "inside"]):
        obs, starts = observations(length, key=index), sequence_starts(length, pattern)
        acted_carry, acted = stepped(agent, params, carry, obs, starts)
        final, out = parallel(agent, params, carry, obs, starts)
        assert_close(out.logits, acted.logits, FORWARD_RTOL)
        assert_close(out.value, acted.value, FORWARD_RTOL)
        assert_close(out.hidden, acted.hidden, FORWARD_RTOL)
        np.testing.assert_array_equal(final.position, acted_carry.position)
        assert_close(whole_cache(final.keys), whole_cache(acted_carry.keys), FORWARD_RTOL)
        assert_close(whole_cache(final.values), whole_cache(acted_carry.values), FORWARD_RTOL)
        carry = acted_carry
    assert int(carry.position[3]) == 3 * length  # env 3 never restarts: positions run on


def test_memory_at_the_sequence_start_is_used_and_masked_at_episode_starts():
    # Not vacuous: the carried memory changes the outputs of envs still in their
    # episode, and nothing before an episode start reaches the steps after it.
    agent, params = make_agent(context=8, block=3)
    first_starts = jnp.zeros((5, B), bool).at[0].set(True)
    carry, _ = stepped(agent, params, agent.initialize_carry(B), observations(5, 0), first_starts)
    obs = observations(4, 1)
    starts = jnp.zeros((4, B), bool).at[0, 0].set(True).at[2, 1].set(True)
    _, with_memory = parallel(agent, params, carry, obs, starts)
    scrambled = carry.replace(
        keys=jax.tree.map(lambda k: k + 1.0, carry.keys),
        values=jax.tree.map(jnp.negative, carry.values),
    )
    _, with_other_memory = parallel(agent, params, scrambled, obs, starts)
    moved = np.abs(np.asarray(with_memory.hidden - with_other_memory.hidden)).max(axis=-1)
    np.testing.assert_array_equal(moved[:, 0], 0.0)  # env 0 starts anew: memory unseen
    np.testing.assert_array_equal(moved[2:, 1], 0.0)  # env 1 after its start
    assert np.all(moved[:2, 1] > 1e-3) and np.all(moved[:, 2:] > 1e-3)


def test_parallel_gradient_equals_gradient_through_acting_steps():
    # The A2C loss used to differentiate the scanned acting steps; the parallel form
    # must give the same parameter gradient (the memory is a constant of both).
    agent, params = make_agent(context=4, layers=2, embed=6, block=3)
    carry, _ = stepped(
        agent, params, agent.initialize_carry(B), observations(6, 0), sequence_starts(6, "first")
    )
    obs, starts = observations(7, 1), sequence_starts(7, "inside")
    logit_weights = jax.random.normal(jax.random.PRNGKey(3), (7, B, A))
    value_weights = jax.random.normal(jax.random.PRNGKey(4), (7, B))

    def objective(params, unroll):
        hidden = unroll(params["core"], carry, agent.embed(params, obs), starts)[1]
        out = agent.heads(params, hidden)
        return jnp.sum(out.logits * logit_weights) + jnp.sum(out.value * value_weights)

    fast = jax.jit(jax.grad(lambda p: objective(p, agent.core.unroll)))(params)
    scanned = jax.jit(jax.grad(lambda p: objective(p, lambda *a: Core.unroll(agent.core, *a))))(
        params
    )
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(scanned), strict=True):
        assert_close(a, b, GRADIENT_RTOL)


@pytest.mark.parametrize(
    "context, layers, length, block",
    [(8, 1, 7, 3), (4, 2, 7, 3), (3, 1, 9, None)],  # history inside / past the context
)
def test_replay_of_the_acting_record_equals_the_parallel_unroll(context, layers, length, block):
    # The A2C path: acting records its activations (step_recorded), the loss replays
    # them with the training form's backward pass and no forward. Outputs and the
    # parameter gradient (embedding included) must equal the parallel unroll's from
    # the same carry, across episode starts and memory carried from a sequence before.
    agent, params = make_agent(context=context, layers=layers, embed=6, block=block)
    carry, _ = stepped(
        agent, params, agent.initialize_carry(B), observations(6, 0), sequence_starts(6, "first")
    )
    obs, starts = observations(length, 1), sequence_starts(length, "inside")

    def recorded(params):
        def one_step(carry, xs):
            carry, out, record = agent.step_recorded(params, carry, *xs)
            return carry, (out, record)

        return jax.lax.scan(one_step, carry, (obs, starts))[1]

    acted, record = jax.jit(recorded)(params)
    logit_weights = jax.random.normal(jax.random.PRNGKey(3), (length, B, A))
    value_weights = jax.random.normal(jax.random.PRNGKey(4), (length, B))

    def objective(out):
        return jnp.sum(out.logits * logit_weights) + jnp.sum(out.value * value_weights)

    replayed = jax.jit(agent.replay)(params, obs, starts, record, carry)
    assert_close(replayed.logits, acted.logits, 0.0)  # read off the record
    _, unrolled = parallel(agent, params, carry, obs, starts)
    assert_close(replayed.hidden, unrolled.hidden, FORWARD_RTOL)
    replay_grad = jax.jit(
        jax.grad(lambda p: objective(agent.replay(p, obs, starts, record, carry)))
    )(params)
    unroll_grad = jax.jit(jax.grad(lambda p: objective(agent.unroll(p, carry, obs, starts)[1])))(
        params
    )
    assert set(replay_grad) == {"core", "embed", "policy", "value"}
    for a, b in zip(jax.tree.leaves(replay_grad), jax.tree.leaves(unroll_grad), strict=True):
        assert_close(a, b, GRADIENT_RTOL)


def test_thinking_steps_act_as_extra_steps_of_the_sequence():
    # with_thinking(policy, K): on each input, reset where an episode starts, K core
    # steps, then act. On the acting path that is K + 1 cached steps per input, so
    # the act's logits equal the parallel unroll over each input repeated K + 1 times
    # (thinking pushes the window past the context of 4 here).
    from metarl.evaluation.agent_policy import agent_policy
    from metarl.evaluation.policy import PolicyInputs
    from metarl.probes.thinking import with_thinking

    thinks = 2
    agent, params = make_agent(context=4, block=3)
    obs = observations(5, 1)
    starts = jnp.zeros((5, B), bool).at[0].set(True).at[3, 1].set(True)
    policy = with_thinking(agent_policy(agent, params), thinks)
    carry, logits = policy.init_carry(B), []
    for t in range(5):
        inputs = PolicyInputs(
            observation=obs[t],
            prev_action=jnp.zeros((B,), jnp.int32),
            prev_reward=jnp.zeros((B,), jnp.float32),
            episode_start=starts[t],
        )
        carry, _, extras = policy.act(carry, inputs, jax.random.PRNGKey(t))
        logits.append(extras["logits"])
    repeated_obs = jnp.repeat(obs, thinks + 1, axis=0)
    repeated_starts = jnp.zeros_like(jnp.repeat(starts, thinks + 1, axis=0))
    repeated_starts = repeated_starts.at[:: thinks + 1].set(starts)
    _, out = parallel(agent, params, agent.initialize_carry(B), repeated_obs, repeated_starts)
    assert_close(jnp.stack(logits), out.logits[thinks :: thinks + 1], FORWARD_RTOL)
    np.testing.assert_array_equal(carry.position, [15, 6, 15, 15])
    _, plain = parallel(agent, params, agent.initialize_carry(B), obs, starts)
    assert np.abs(np.asarray(plain.logits[1:] - out.logits[thinks + 3 :: thinks + 1])).max() > 1e-4


def test_vmap_over_seeds_leaves_each_seed_its_own_result():
    # The trainer vmaps over seeds; the cache's block switch then reads the seeds'
    # largest block count (metarl.agents.attention), which must give every seed the
    # outputs and gradient it gets alone: one seed early in its episodes, one late.
    agent, params = make_agent(context=16, block=3)
    carries = []
    for seed, length in enumerate([2, 11]):
        starts = jnp.zeros((length, B), bool).at[0].set(True)
        obs = observations(length, seed)
        carries.append(stepped(agent, params, agent.initialize_carry(B), obs, starts)[0])
    obs = jnp.stack([observations(5, 7), observations(5, 8)])
    starts = jnp.zeros((2, 5, B), bool).at[1, 2, 0].set(True)

    def outputs(carry, obs, starts):
        def one_step(carry, xs):
            carry, out = agent.step(params, carry, *xs)
            return carry, out.logits

        _, acted = jax.lax.scan(one_step, carry, (obs, starts))
        _, unrolled = agent.unroll(params, carry, obs, starts)

        def objective(params):
            out = agent.unroll(params, carry, obs, starts)[1]
            return jnp.sum(out.logits**2) + jnp.sum(out.value**2)

        gradient = jax.grad(objective)(params)
        return acted, unrolled.logits, gradient

    together = jax.jit(jax.vmap(outputs))(
        jax.tree.map(lambda *leaves: jnp.stack(leaves), *carries), obs, starts
    )
    for seed in range(2):
        alone = jax.jit(outputs)(carries[seed], obs[seed], starts[seed])
        assert_close(jax.tree.map(lambda leaf, s=seed: leaf[s], together), alone, FORWARD_RTOL)
    assert int(carries[0].position.max()) < 3 < int(carries[1].position.min())


def test_parameter_tree_is_the_checkpointed_one():
    # Checkpoints saved before the parallel form restore onto these names and shapes.
    agent, params = make_agent(context=4, layers=2, hidden=8)
    core = params["core"]
    assert set(core) == {"input", "block_0", "block_1", "output_norm"}
    assert set(core["block_1"]) == {
        "attention_norm",
        "qkv",
        "attention_out",
        "mlp_norm",
        "mlp_in",
        "mlp_out",
    }
    assert core["input"]["kernel"].shape == (D, 8)
    assert core["block_0"]["qkv"]["kernel"].shape == (8, 24)
    assert core["block_0"]["mlp_in"]["kernel"].shape == (8, 16)


# ------------------------------------------------------------------ training


def tiny_config(algo, **run):
    run_fields = dict(num_envs=8, rollout_length=6, total_env_steps=8 * 6 * 100)
    run_fields.update(run)
    return ExperimentConfig(
        env=EnvConfig(overrides={"num_arms": 3, "horizon": 4}),
        agent=AgentConfig(core="transformer", hidden_size=8, embed_size=0, transformer_context=4),
        algo=algo,
        run=RunConfig(**run_fields),
    )


def one_seed_state(trainer):
    """Seed 0's initial state advanced by one rollout (cheaper to compile than a chunk),
    so the next rollout starts mid-episode with a filled cache."""
    from metarl.training.rollout import collect

    state = jax.tree.map(lambda leaf: leaf[0], trainer.init(jax.random.PRNGKey(0)))
    advance = jax.jit(
        lambda state: collect(
            trainer.agent,
            trainer.env,
            trainer.env_params,
            state.params,
            state,
            jax.random.PRNGKey(1),
            trainer.config.run.rollout_length,
            trainer.reports_regret,
        )[0]
    )
    return advance(state)


def test_a2c_replay_loss_equals_loss_through_the_rollout():
    # The transformer's A2C update acts without a gradient, recording its activations,
    # and differentiates their replay; the through-the-rollout loss (the first path)
    # must give the same gradient on the same rollout (same key: same actions).
    from metarl.training.a2c import make_a2c_loss, make_a2c_replay_loss
    from metarl.training.rollout import collect
    from metarl.training.trainer import make_trainer

    trainer = make_trainer(tiny_config(AlgoConfig(name="a2c"), updates_per_chunk=1))
    state = one_seed_state(trainer)
    entropy_coef, key = jnp.float32(0.01), jax.random.PRNGKey(5)
    gamma = jnp.float32(trainer.config.algo.gamma)
    through = make_a2c_loss(trainer.agent, trainer.env, trainer.config, trainer.reports_regret)
    (_, (_, _, rollout)), reference = jax.jit(jax.value_and_grad(through, has_aux=True))(
        state.params, state, trainer.env_params, key, entropy_coef, gamma
    )
    _, collected = collect(
        trainer.agent,
        trainer.env,
        trainer.env_params,
        state.params,
        state,
        key,
        6,
        trainer.reports_regret,
        record_core=True,
    )
    assert trainer.agent.supports_replay and collected.trajectory.core_record is not None
    np.testing.assert_array_equal(collected.trajectory.action, rollout.trajectory.action)
    assert np.any(rollout.trajectory.episode_start[1:]) and np.all(state.carry.position > 0)
    loss_fn = make_a2c_replay_loss(trainer.agent, trainer.config)
    gradient = jax.jit(jax.grad(lambda p: loss_fn(p, collected, entropy_coef, gamma)[0]))(
        state.params
    )
    for a, b in zip(jax.tree.leaves(gradient), jax.tree.leaves(reference), strict=True):
        assert_close(a, b, GRADIENT_RTOL)


def test_ppo_minibatch_replays_the_acting_log_probs():
    # A PPO minibatch (some envs, their memory at the rollout start) unrolled in
    # parallel at the acting params reproduces the rollout's log-probabilities, so
    # the first ratio is 1; and the PPO chunk trains with finite losses.
    from metarl.agents import policy
    from metarl.training.ppo import Minibatch
    from metarl.training.rollout import collect
    from metarl.training.trainer import make_trainer

    algo = AlgoConfig(name="ppo", update_epochs=2, num_minibatches=4)
    trainer = make_trainer(tiny_config(algo, updates_per_chunk=2))
    state = one_seed_state(trainer)
    _, rollout = collect(
        trainer.agent,
        trainer.env,
        trainer.env_params,
        state.params,
        state,
        jax.random.PRNGKey(5),
        6,
        trainer.reports_regret,
    )
    trajectory = rollout.trajectory
    zeros = jnp.zeros_like(trajectory.reward)
    whole = Minibatch(
        obs=trajectory.obs,
        episode_start=trajectory.episode_start,
        action=trajectory.action,
        log_prob=trajectory.log_prob,
        advantages=zeros,
        targets=zeros,
        initial_carry=rollout.initial_carry,
    )
    batch = whole.select(jnp.array([5, 2]))
    _, out = jax.jit(trainer.agent.unroll)(
        state.params, batch.initial_carry, batch.obs, batch.episode_start
    )
    np.testing.assert_allclose(
        policy.log_prob(out.logits, batch.action), batch.log_prob, rtol=0, atol=1e-6
    )
    _, metrics = trainer.train_chunk(trainer.init(jax.random.PRNGKey(1)))
    assert np.all(metrics["loss_is_finite"])


def test_tiny_transformer_learns_a_fixed_two_armed_bandit():
    # tests/training/test_trainer.py's GRU test with the transformer: one task, arm
    # means (0.9, 0.1), 10 pulls; random play earns 5 per episode with regret 0.4 per
    # pull (5 standard errors of one update's mean: 1.4 and 0.11).
    from metarl import envs
    from metarl.training.trainer import make_trainer

    horizon, num_envs, updates = 10, 32, 60
    config = ExperimentConfig(
        env=EnvConfig(overrides={"num_arms": 2, "horizon": horizon}),
        agent=AgentConfig(core="transformer", hidden_size=16, embed_size=0, transformer_context=16),
        algo=AlgoConfig(name="a2c", learning_rate=1e-2, entropy_coef=0.01, gamma=0.9),
        run=RunConfig(
            num_envs=num_envs,
            rollout_length=horizon,
            total_env_steps=num_envs * horizon * updates,
            updates_per_chunk=updates,
        ),
    )
    _, params = envs.make("bandit-bernoulli-v0", num_arms=2, horizon=horizon)
    pool = BanditTask(means=jnp.array([[0.9, 0.1]], jnp.float32))
    trainer = make_trainer(config, env_params=params.replace(task_pool=pool))
    _, metrics = trainer.train_chunk(trainer.init(jax.random.PRNGKey(0)))
    returns = np.asarray(metrics["mean_episode_return"][0])
    regret = np.asarray(metrics["mean_regret_per_step"][0])
    assert returns[-5:].mean() > 5.0 + 1.4
    assert regret[-5:].mean() < 0.4 - 0.11


def test_transformer_run_resumes_bit_identical(tmp_path):
    # Kill-at-checkpoint resume for a transformer run (its carry is the KV cache):
    # drop the last checkpoint, resume from the one before, compare every leaf.
    from metarl.runner.train_loop import train
    from metarl.training.trainer import make_trainer

    config = tiny_config(
        AlgoConfig(name="ppo", update_epochs=1, num_minibatches=2),
        rollout_length=5,
        total_env_steps=8 * 5 * 8,
        updates_per_chunk=2,
        checkpoint_every_chunks=2,
        keep_checkpoints=3,
    )
    trainer = make_trainer(config)
    reference = train(config, tmp_path / "run", trainer=trainer, show_progress=False)
    shutil.rmtree(tmp_path / "run" / "checkpoints" / "8")
    resumed = train(config, tmp_path / "run", resume=True, trainer=trainer, show_progress=False)
    assert resumed.start_update == 4 and resumed.update == 8
    for a, b in zip(jax.tree.leaves(resumed.state), jax.tree.leaves(reference.state), strict=True):
        np.testing.assert_array_equal(a, b)
