"""Ground truth a probe records beside a policy's play, which ``evaluate_policy`` does not keep.

``with_ground_truth(policy, read)`` leaves the policy's behaviour untouched and adds
``read(env_state)`` (the env state before acting) to its extras at every step, so
the maze's goal and square, or the rule grid's objects and ruleset, can become a
probe's targets. It lives apart from the probes that use it (decoding, the rule
grid's choice and recovery probes) so none of them imports another.
"""

from __future__ import annotations

from metarl.evaluation.policy import FunctionalPolicy, PolicyInputs


def with_ground_truth(policy, read) -> FunctionalPolicy:
    """``policy`` unchanged, its extras plus ``ground_truth = read(env_state)`` at every step.

    ``read`` gets the batched env state before acting (``PolicyInputs.privileged_state``)
    and returns a dict of arrays [B, ...]. The wrapped policy gets exactly the inputs it
    got before (a trained agent never reads the env state): the wrapper only *records*
    ground truth that ``evaluate_policy`` does not (e.g. the maze goal and position),
    so it can become decoding targets. Evaluate with ``record_extras=True``.
    """

    def act(carry, inputs: PolicyInputs, key):
        carry, action, extras = policy.act(carry, inputs, key)
        return carry, action, {**extras, "ground_truth": read(inputs.privileged_state)}

    return FunctionalPolicy(
        init_carry_fn=policy.init_carry, act_fn=act, num_actions=policy.num_actions
    )
