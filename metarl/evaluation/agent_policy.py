"""A trained actor-critic as a policy of the evaluation protocol (weights frozen)."""

from __future__ import annotations

from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs


def agent_policy(agent, params, greedy: bool = False) -> FunctionalPolicy:
    """Wrap ``ActorCritic`` + frozen ``params``; extras expose logits, value and hidden state."""

    def act(carry, inputs: PolicyInputs, key):
        return agent.act(params, carry, inputs.observation, inputs.episode_start, key, greedy=greedy)

    return FunctionalPolicy(init_carry_fn=agent.initialize_carry, act_fn=act, num_actions=agent.num_actions)
