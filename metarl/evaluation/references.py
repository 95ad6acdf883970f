"""Reference agents for an evaluation suite: the family spec's, plus the random policy.

``reference_policies(env_name, env, env_params, train_env_params)`` returns
``{name: Policy}``; every policy is then evaluated on exactly the episodes the
checkpoint saw (same key), so differences are paired. A random policy is always
included, first (it anchors "random" in the normalised metrics); the oracle is not
a policy but the curve of ``info["optimal_expected_reward"]``. Which references a
family has is its ``FamilySpec.references`` (``metarl.evaluation.families``).
"""

from __future__ import annotations

from metarl.errors import ConfigError
from metarl.evaluation.baselines import random_policy
from metarl.evaluation.families import ReferenceContext, family_spec
from metarl.evaluation.policy import Policy, rescaled_rewards

__all__ = ["reference_policies", "rescaled_rewards"]


def reference_policies(
    env_name: str,
    env,
    env_params,
    train_env_params,
    only: list[str] | None = None,
    training_discount: float | None = None,
) -> dict[str, Policy]:
    """``{name: Policy}`` of the references for ``env_name`` (random always included, first).

    ``training_discount``: the checkpoint's training discount (``AlgoConfig.discount_at_end``),
    for the references that play the training objective (bandits: Gittins at that discount).

    ``only`` keeps just those names (plus random); a name that is not available
    raises ``ConfigError`` listing the ones that are.
    """
    context = ReferenceContext(
        env, env_params, train_env_params, None if only is None else tuple(only), training_discount
    )
    refs = dict(family_spec(env_name).references(context))
    refs.pop("random", None)
    if only is not None:
        unknown = [name for name in only if name not in refs and name != "random"]
        if unknown:
            raise ConfigError(
                f"--references {', '.join(repr(n) for n in unknown)} not available for {env_name!r}; "
                f"allowed values: {', '.join(repr(n) for n in ['random', *refs])}, 'all' or 'none'"
            )
        refs = {name: policy for name, policy in refs.items() if name in only}
    return {"random": random_policy(context.num_actions), **refs}
