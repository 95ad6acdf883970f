"""Reference agents for an evaluation suite, chosen by env family.

``reference_policies(env_name, env, env_params, train_env_params)`` returns
``{name: Policy}``; every policy is then evaluated on exactly the episodes the
checkpoint saw (same key), so differences are paired. A random policy is always
included (it anchors "random" in the normalised metrics); the oracle is not a
policy but the curve of ``info["optimal_expected_reward"]``.

Family dispatch (imports are lazy: a family's references may not exist yet,
in which case that family gets the random policy alone and a note is logged):

* bandits: ``metarl.evaluation.baselines.bandit_references`` when present
  (Gittins, UCB, Bayes-optimal, task locator, ...), else Thompson sampling;
* two-step: ``metarl.evaluation.baselines.two_step.two_step_references``;
* mazes: ``metarl.evaluation.baselines.maze.maze_references``.

References are built for the task the suite plays. Where a suite scales the
rewards (``reward_scale``), bandit references see rewards divided by the scale:
they are told the unit, which a frozen agent is not.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from metarl.errors import ConfigError
from metarl.evaluation.baselines import random_policy, thompson_sampling
from metarl.evaluation.policy import FunctionalPolicy, Policy, PolicyInputs
from metarl.evaluation.suites import env_family


def _log_default(message: str) -> None:
    import sys

    sys.stderr.write(f"metarl: note: {message}\n")


def _lookup(module: str, name: str) -> Callable | None:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _call_with_known_arguments(factory: Callable, available: dict[str, Any]) -> dict[str, Policy]:
    """Call ``factory`` with the arguments it names from ``available``.

    The family reference builders are written by other modules; passing only the
    parameters their signature declares keeps this dispatch working as they grow.
    A required parameter that is not available raises TypeError.
    """
    parameters = inspect.signature(factory).parameters
    kwargs = {name: value for name, value in available.items() if name in parameters}
    missing = [
        name
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        and name not in kwargs
    ]
    if missing:
        raise TypeError(f"{factory.__qualname__} needs {missing}, which evaluation cannot provide")
    result = factory(**kwargs)
    return dict(result)


def rescaled_rewards(policy: Policy, reward_scale: float) -> FunctionalPolicy:
    """``policy`` seeing ``prev_reward / reward_scale`` (its own reward unit)."""

    def act(carry, inputs: PolicyInputs, key):
        return policy.act(carry, inputs.replace(prev_reward=inputs.prev_reward / reward_scale), key)

    return FunctionalPolicy(
        init_carry_fn=policy.init_carry, act_fn=act, num_actions=policy.num_actions
    )


FITTED_BANDIT_REFERENCES = ("ucb1", "q_learning")
"""Bandit references whose constants ``bandit_references`` fits by a grid search (seconds)."""


def _bandit_references(env, env_params, train_env_params, log, only=None) -> dict[str, Policy]:
    num_arms = int(env_params.num_arms)
    pool = getattr(train_env_params, "task_pool", None)
    training_task_means = None if pool is None else np.asarray(pool.means)
    factory = _lookup("metarl.evaluation.baselines", "bandit_references")
    if factory is not None:
        refs = _call_with_known_arguments(
            factory,
            {
                "num_arms": num_arms,
                "horizon": int(env_params.max_steps_in_episode),
                "training_task_means": training_task_means,
                "reward_type": env_params.reward_type,
                "prior_a": float(env_params.prior_a),
                "prior_b": float(env_params.prior_b),
                "reward_noise": float(env_params.reward_noise),
                # The grid search only matters to the agents it tunes.
                "fit_constants": only is None or any(n in only for n in FITTED_BANDIT_REFERENCES),
            },
        )
    else:
        log(
            "metarl.evaluation.baselines.bandit_references is not available; using Thompson sampling only"
        )
        refs = {}
        if env_params.reward_type == "bernoulli" and env_params.prior in ("uniform", "beta"):
            refs["thompson_sampling"] = thompson_sampling(
                num_arms, float(env_params.prior_a), float(env_params.prior_b)
            )
        else:
            log(f"no fallback reference for a {env_params.reward_type}/{env_params.prior} bandit")
    scale = float(env_params.reward_scale)
    if scale != 1.0:
        refs = {name: rescaled_rewards(policy, scale) for name, policy in refs.items()}
    return refs


def _family_references(module: str, name: str, available: dict[str, Any], log) -> dict[str, Policy]:
    factory = _lookup(module, name)
    if factory is None:
        log(
            f"{module}.{name} is not available; this family is compared with the random policy only"
        )
        return {}
    try:
        return _call_with_known_arguments(factory, available)
    except TypeError as error:
        log(f"{module}.{name} skipped: {error}")
        return {}


def reference_policies(
    env_name: str,
    env,
    env_params,
    train_env_params,
    log: Callable[[str], None] = _log_default,
    only: list[str] | None = None,
) -> dict[str, Policy]:
    """``{name: Policy}`` of the references for ``env_name`` (random always included, first).

    ``only`` keeps just those names (plus random); a name that is not available
    raises ``ConfigError`` listing the ones that are.
    """
    family = env_family(env_name)
    num_actions = int(env.action_space(env_params).n)
    available = {
        "env": env,
        "env_params": env_params,
        "params": env_params,
        "train_env_params": train_env_params,
        "num_actions": num_actions,
        "horizon": int(env_params.max_steps_in_episode),
    }
    if family == "bandit":
        refs = _bandit_references(env, env_params, train_env_params, log, only)
    elif family == "two_step":
        refs = _family_references(
            "metarl.evaluation.baselines.two_step", "two_step_references", available, log
        )
    elif family == "maze":
        refs = _family_references(
            "metarl.evaluation.baselines.maze", "maze_references", available, log
        )
    else:
        refs = {}
    refs.pop("random", None)
    if only is not None:
        unknown = [name for name in only if name not in refs and name != "random"]
        if unknown:
            raise ConfigError(
                f"--references {', '.join(repr(n) for n in unknown)} not available for {env_name!r}; "
                f"allowed values: {', '.join(repr(n) for n in ['random', *refs])}, 'all' or 'none'"
            )
        refs = {name: policy for name, policy in refs.items() if name in only}
    return {"random": random_policy(num_actions), **refs}
