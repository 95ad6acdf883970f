"""A trained actor-critic as a policy of the evaluation protocol (weights frozen)."""

from __future__ import annotations

from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs


def agent_policy(agent, params, greedy: bool = False) -> FunctionalPolicy:
    """Wrap ``ActorCritic`` + frozen ``params``; extras expose logits, value and hidden state.

    Thinking: ``think`` resets the carry where ``inputs.episode_start`` is set and
    runs the frozen core once more on the same observation (``agent.core_step``),
    discarding the heads' output. ``with_thinking(policy, K)`` therefore computes
    reset, K core steps, then ``act`` with ``episode_start`` cleared, i.e. one more
    core step whose heads choose the action; K = 0 is exactly ``act``.
    """

    def act(carry, inputs: PolicyInputs, key):
        return agent.act(
            params, carry, inputs.observation, inputs.episode_start, key, greedy=greedy
        )

    def think(carry, inputs: PolicyInputs):
        carry = agent.core.reset(carry, inputs.episode_start)
        carry, _ = agent.core_step(params, carry, inputs.observation)
        return carry

    return FunctionalPolicy(
        init_carry_fn=agent.initialize_carry,
        act_fn=act,
        num_actions=agent.num_actions,
        think_fn=think,
    )
