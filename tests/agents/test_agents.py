"""Cores and the actor-critic: carry shapes, resets at episode starts, unroll = repeated
steps, the transformer's bounded context, and the act protocol (the transformer's
parallel forward: test_transformer.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metarl.agents import ActorCritic, TransformerCarry, make_core
from metarl.config import AgentConfig
from metarl.errors import ConfigError

B, D, H = 3, 5, 8
MEMORY_CORES = ("gru", "lstm", "transformer")


def build_core(name, **kwargs):
    options = dict(transformer_heads=2, transformer_layers=1, transformer_context=4)
    options.update(kwargs)
    core = make_core(name, H, **options)
    return core, core.init(jax.random.PRNGKey(0), D)


def inputs(length, key=1):
    return jax.random.normal(jax.random.PRNGKey(key), (length, B, D))


def leaf_shapes(tree):
    return [leaf.shape for leaf in jax.tree.leaves(tree)]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("gru", [(B, H)]),
        ("lstm", [(B, H), (B, H)]),
        ("mlp", []),
        # keys, values [B, layers, heads, context, head_size], position [B]
        ("transformer", [(B, 1, 2, 4, 4), (B, 1, 2, 4, 4), (B,)]),
    ],
)
def test_carry_shapes_survive_a_step(name, expected):
    core, params = build_core(name)
    carry = core.initialize_carry(B)
    assert sorted(leaf_shapes(carry)) == sorted(expected)
    new_carry, out = jax.jit(core.step)(params, carry, inputs(1)[0])
    assert out.shape == (B, H)
    assert sorted(leaf_shapes(new_carry)) == sorted(expected)


@pytest.mark.parametrize("name", MEMORY_CORES)
def test_memory_moves_and_step_is_repeatable(name):
    core, params = build_core(name)
    x = inputs(1)[0]
    carry1, out1 = core.step(params, core.initialize_carry(B), x)
    carry2, out2 = core.step(params, carry1, x)  # a second "thinking" step on the same input
    assert not np.allclose(out1, out2), "the second step on the same input should see its memory"
    again, out2_again = core.step(params, carry1, x)
    np.testing.assert_array_equal(out2, out2_again)  # pure: same carry + input -> same output


@pytest.mark.parametrize("name", MEMORY_CORES + ("mlp",))
def test_unroll_equals_steps_with_resets(name):
    core, params = build_core(name)
    xs = inputs(7)
    starts = jnp.zeros((7, B), bool).at[0].set(True).at[4, 1].set(True)  # env 1 starts anew at t=4
    carry0 = core.initialize_carry(B)
    _, unrolled = jax.jit(core.unroll)(params, carry0, xs, starts)
    carry, stepped = carry0, []
    for t in range(7):
        carry, out = core.step(params, core.reset(carry, starts[t]), xs[t])
        stepped.append(out)
    np.testing.assert_allclose(unrolled, jnp.stack(stepped), rtol=2e-5, atol=2e-6)


@pytest.fixture(params=["sums_in_loop", "sums_after_loop"])
def gru_weight_sums(request, monkeypatch):
    """Run a test with the GRU backward's weight gradients summed in its loop, or after it."""
    from metarl.agents import cores

    threshold = 1 if request.param == "sums_in_loop" else 10**9
    monkeypatch.setattr(cores, "ACCUMULATE_IN_LOOP_FROM_BATCH", threshold)
    return request.param


@pytest.mark.parametrize("reset_at_start", [True, False])
def test_gru_hand_written_backward_matches_autodiff(reset_at_start, gru_weight_sums):
    # GRUCore.unroll uses gru_sequence's hand-written VJP; the generic
    # Core.unroll scans step and lets JAX differentiate it. Gradients wrt the params, the
    # initial carry and the inputs (what an embedding below the core receives) must
    # agree, with resets at t=0 (or not) and mid-sequence.
    from metarl.agents.cores import Core

    core, params = build_core("gru")
    xs = inputs(7)
    starts = jnp.zeros((7, B), bool).at[0].set(reset_at_start).at[4, 1].set(True)
    h0 = jax.random.normal(jax.random.PRNGKey(2), (B, H))
    weights = jax.random.normal(jax.random.PRNGKey(3), (7, B, H))

    def loss(params, h0, xs, unroll):
        h_final, outputs = unroll(params, h0, xs, starts)
        return jnp.sum(outputs * weights) + jnp.sum(h_final**2)

    hand = jax.grad(loss, argnums=(0, 1, 2))(params, h0, xs, core.unroll)
    auto = jax.grad(loss, argnums=(0, 1, 2))(params, h0, xs, lambda *a: Core.unroll(core, *a))
    for a, b in zip(jax.tree.leaves(hand), jax.tree.leaves(auto), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    for leaf in jax.tree.leaves((hand[0], hand[2])):  # every weight and input gets a gradient
        assert np.abs(np.asarray(leaf)).max() > 1e-4
    d_h0 = np.asarray(hand[1])
    if reset_at_start:
        np.testing.assert_array_equal(d_h0, 0.0)  # the carry is replaced before it is used
    else:
        assert np.abs(d_h0).max() > 1e-3


def recorded_rollout(agent, params, carry0, obs, starts):
    """step_recorded over [T, B] inputs (as the A2C rollout runs it) -> outputs, stacked record."""

    def one_step(carry, xs):
        obs_t, start_t = xs
        carry, out, record = agent.step_recorded(params, carry, obs_t, start_t)
        return carry, (out, record)

    return jax.lax.scan(one_step, carry0, (obs, starts))[1]


@pytest.mark.parametrize("embed_size", [0, 4])
def test_gru_step_recorded_is_step_and_replay_gradient_matches_autodiff(
    embed_size, gru_weight_sums
):
    # The A2C path: the rollout records its GRU gates with step_recorded, the loss
    # differentiates agent.replay of the record (hand-written backward, weight gradients
    # accumulated in the loop). Its forward must equal the rollout's own outputs, and
    # its gradient (embedding included) must equal jax.grad of the plain scanned step
    # from the same initial carry, with resets at t=0 for some envs and mid-sequence.
    from metarl.agents.cores import Core

    agent = ActorCritic(
        AgentConfig(core="gru", hidden_size=H, embed_size=embed_size), obs_size=D, num_actions=3
    )
    assert agent.supports_replay
    params = agent.init_params(jax.random.PRNGKey(0))
    obs = inputs(7)
    starts = jnp.zeros((7, B), bool).at[0, 0].set(True).at[4, 1].set(True)
    carry0 = jax.random.normal(jax.random.PRNGKey(2), (B, H))
    logit_weights = jax.random.normal(jax.random.PRNGKey(3), (7, B, 3))
    value_weights = jax.random.normal(jax.random.PRNGKey(4), (7, B))

    recorded, record = jax.jit(recorded_rollout, static_argnums=0)(
        agent, params, carry0, obs, starts
    )
    carry = carry0
    for t in range(7):  # step_recorded is step's computation (up to compiler rounding)
        carry, out = agent.step(params, carry, obs[t], starts[t])
        np.testing.assert_allclose(out.logits, recorded.logits[t], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(out.hidden, recorded.hidden[t], rtol=1e-6, atol=1e-7)

    def objective(out):
        return jnp.sum(out.logits * logit_weights) + jnp.sum(out.value * value_weights)

    def replayed(params):
        return objective(agent.replay(params, obs, starts, record, carry0))

    def reference(params):  # generic Core.unroll: scan of step, differentiated by JAX
        hidden = Core.unroll(agent.core, params["core"], carry0, agent.embed(params, obs), starts)[
            1
        ]
        return objective(agent.heads(params, hidden))

    np.testing.assert_allclose(
        agent.replay(params, obs, starts, record, carry0).hidden,
        recorded.hidden,
        rtol=1e-6,
        atol=1e-6,
    )
    hand = jax.jit(jax.grad(replayed))(params)
    auto = jax.jit(jax.grad(reference))(params)
    assert (
        set(hand)
        == set(auto)
        == ({"core", "policy", "value"} | ({"embed"} if embed_size else set()))
    )
    for a, b in zip(jax.tree.leaves(hand), jax.tree.leaves(auto), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        assert np.abs(np.asarray(b)).max() > 1e-4  # every leaf really gets a gradient


def test_the_gru_and_the_transformer_replay_and_the_others_do_not():
    # (the transformer's replay: tests/agents/test_transformer.py)
    for name, replays in (("gru", True), ("transformer", True), ("lstm", False), ("mlp", False)):
        agent = ActorCritic(
            AgentConfig(core=name, hidden_size=H, embed_size=0), obs_size=D, num_actions=3
        )
        assert agent.supports_replay is replays


@pytest.mark.parametrize("name", MEMORY_CORES)
def test_episode_start_resets_hidden_state(name):
    agent = ActorCritic(
        AgentConfig(core=name, hidden_size=H, embed_size=4, transformer_context=4),
        obs_size=D,
        num_actions=3,
    )
    params = agent.init_params(jax.random.PRNGKey(0))
    xs = inputs(3)
    carry = agent.initialize_carry(B)
    start = jnp.ones((B,), bool)
    for t in range(2):
        carry, _ = agent.step(params, carry, xs[t], start if t == 0 else ~start)
    _, fresh = agent.step(params, agent.initialize_carry(B), xs[2], start)
    # Only env 0 starts an episode: it must match a fresh agent; the others keep their memory.
    mixed = jnp.array([True, False, False])
    _, out = agent.step(params, carry, xs[2], mixed)
    np.testing.assert_allclose(out.logits[0], fresh.logits[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out.value[0], fresh.value[0], rtol=1e-6, atol=1e-7)
    assert not np.allclose(out.hidden[1:], fresh.hidden[1:])


def first_input_influence(num_layers, context, length, form):
    """|output_t(x) - output_t(x with x_0 changed)| per step t, summed over batch and features.

    ``form``: 'parallel' (the transformer's own unroll, all steps at once) or 'acting'
    (the generic scan of its cached step).
    """
    from metarl.agents.cores import Core

    core, params = build_core(
        "transformer", transformer_layers=num_layers, transformer_context=context
    )
    unroll = core.unroll if form == "parallel" else lambda *a: Core.unroll(core, *a)
    xs = inputs(length)
    changed = xs.at[0].add(3.0)
    starts = jnp.zeros((length, B), bool)
    carry = core.initialize_carry(B)
    _, out = unroll(params, carry, xs, starts)
    _, out_changed = unroll(params, carry, changed, starts)
    return np.abs(np.asarray(out - out_changed)).sum(axis=(1, 2))


@pytest.mark.parametrize("form", ["parallel", "acting"])
def test_transformer_context_bounds_memory_one_layer(form):
    # Context 4, one layer: step t attends to steps t-3..t, so x_0 reaches t <= 3 only.
    influence = first_input_influence(num_layers=1, context=4, length=8, form=form)
    assert np.all(influence[:4] > 1e-4)
    np.testing.assert_array_equal(influence[4:], 0.0)


@pytest.mark.parametrize("form", ["parallel", "acting"])
def test_transformer_context_bounds_memory_two_layers(form):
    # Two layers stack windows: receptive field layers * (context - 1) + 1 = 7 steps, so
    # x_0 reaches t <= 6 and nothing after.
    influence = first_input_influence(num_layers=2, context=4, length=10, form=form)
    assert np.all(influence[:7] > 1e-5)
    np.testing.assert_array_equal(influence[7:], 0.0)


def test_transformer_position_counts_past_the_context():
    core, params = build_core("transformer")
    carry = core.initialize_carry(B)
    for t in range(6):
        carry, _ = core.step(params, carry, inputs(1, key=t)[0])
    assert isinstance(carry, TransformerCarry)
    np.testing.assert_array_equal(carry.position, [6, 6, 6])
    reset = core.reset(carry, jnp.array([True, False, True]))
    np.testing.assert_array_equal(reset.position, [0, 6, 0])
    # Position 0 masks the old slots: the cache is left as it was (no per-step rewrite).
    np.testing.assert_array_equal(reset.keys, carry.keys)


def test_mlp_core_has_no_memory():
    core, params = build_core("mlp")
    x = inputs(1)[0]
    carry, out1 = core.step(params, core.initialize_carry(B), x)
    _, out2 = core.step(params, carry, x)
    np.testing.assert_array_equal(out1, out2)


def test_actor_critic_params_and_act():
    agent = ActorCritic(
        AgentConfig(core="gru", hidden_size=H, embed_size=0), obs_size=D, num_actions=4
    )
    params = agent.init_params(jax.random.PRNGKey(0))
    assert set(params) == {
        "core",
        "policy",
        "value",
    }  # embed_size 0: inputs go straight to the core
    assert params["core"]["input"]["kernel"].shape == (D, 3 * H)
    obs = inputs(1)[0]
    start = jnp.ones((B,), bool)
    carry, action, extras = agent.act(
        params, agent.initialize_carry(B), obs, start, jax.random.PRNGKey(1)
    )
    assert action.shape == (B,) and action.dtype == jnp.int32
    assert extras["logits"].shape == (B, 4) and extras["value"].shape == (B,)
    assert extras["hidden"].shape == (B, H)
    _, greedy_action, extras = agent.act(
        params, agent.initialize_carry(B), obs, start, None, greedy=True
    )
    np.testing.assert_array_equal(greedy_action, jnp.argmax(extras["logits"], axis=-1))
    # Initial policy is near uniform (small-scale logit head).
    probs = jax.nn.softmax(extras["logits"])
    np.testing.assert_allclose(probs, 0.25, atol=0.05)


def test_unknown_core_names_the_field():
    with pytest.raises(ConfigError, match="'core'"):
        make_core("rnn", H)
