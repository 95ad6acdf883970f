"""The bandit probes' shared wiring: the run's setting, the reference agents, cached rollouts.

The choice probes (likelihood, model_fit), decoding and thinking all play the
checkpoint and the same references on the same probe episodes; each agent is
played once per ``metarl probe`` call (``ctx.cache``), so a probe's numbers do not
depend on which other probes ran before it (the same program on the same key).
"""

from __future__ import annotations

import time

import numpy as np

from metarl.probes.protocol import ProbeContext, hidden_states

REFERENCE_LEARNING_RATE = 0.3
"""Fixed Rescorla-Wagner rate of the Q-learning reference (the volatility probe's test agent)."""
REFERENCE_INVERSE_TEMPERATURE = 10.0
"""Softmax inverse temperature of the Q-learning and change-point Bayesian references."""

BANDIT_CHOICE_AGENTS = (
    "checkpoint",
    "thompson_sampling",
    "task_locator",
    "q_learning",
    "win_stay_lose_shift",
)
"""The agents the choice probes (likelihood, model_fit) fit, where the run's setting has them."""


def bandit_setting(ctx: ProbeContext) -> dict:
    """The probe suite's bandit constants, and the training pool's means (None: infinite prior)."""
    params = ctx.env_params
    pool = getattr(ctx.train_params, "task_pool", None)
    return {
        "num_arms": int(params.num_arms),
        "reward_type": str(params.reward_type),
        "prior_a": float(params.prior_a),
        "prior_b": float(params.prior_b),
        "reward_noise": float(params.reward_noise),
        "reward_scale": float(params.reward_scale),
        "pool_means": None if pool is None else np.asarray(pool.means),
    }


def prior_mean(setting: dict) -> float:
    """The prior's expected arm mean: the Q-learners' initial value."""
    return setting["prior_a"] / (setting["prior_a"] + setting["prior_b"])


def bandit_reference_policies(ctx: ProbeContext) -> tuple[dict, dict[str, str]]:
    """({name: Policy}, {name: mechanism}) of the bandit references the choice probes compare."""
    from metarl.evaluation.baselines import (
        q_learning,
        task_locator,
        thompson_sampling,
        win_stay_lose_shift,
    )
    from metarl.evaluation.policy import rescaled_rewards

    s = bandit_setting(ctx)
    k = s["num_arms"]
    policies, described = {}, {}
    if s["reward_type"] == "bernoulli":
        policies["thompson_sampling"] = thompson_sampling(k, s["prior_a"], s["prior_b"])
        described["thompson_sampling"] = (
            "Bayes learner over the prior, posterior sampling (a learner)"
        )
    if s["pool_means"] is not None:
        policies["task_locator"] = task_locator(
            s["pool_means"], "greedy", s["reward_type"], s["reward_noise"]
        )
        described["task_locator"] = (
            f"exact Bayes over the {len(s['pool_means'])} training tasks, greedy (a locator: cannot learn a new task)"
        )
    policies["q_learning"] = q_learning(
        k,
        REFERENCE_LEARNING_RATE,
        inverse_temperature=REFERENCE_INVERSE_TEMPERATURE,
        initial_value=prior_mean(s),
    )
    described["q_learning"] = (
        f"Rescorla-Wagner, rate {REFERENCE_LEARNING_RATE:g}, softmax inverse temperature "
        f"{REFERENCE_INVERSE_TEMPERATURE:g}"
    )
    policies["win_stay_lose_shift"] = win_stay_lose_shift(k)
    described["win_stay_lose_shift"] = (
        "repeat a rewarded arm, else switch at random (one step of memory)"
    )
    if s["reward_scale"] != 1.0:
        policies = {name: rescaled_rewards(p, s["reward_scale"]) for name, p in policies.items()}
    return policies, described


def bandit_episodes(ctx: ProbeContext, names: tuple[str, ...]) -> tuple[dict, dict, float]:
    """({name: EpisodeBatch}, {name: mechanism}, seconds) of these agents on the probe episodes.

    'checkpoint' records hidden states and observations. Each agent is played once per
    call of ``probe_run`` (cached in ``ctx.cache``); ``seconds`` is what this call spent
    playing agents not played before (a name without a reference here is left out).
    """
    from metarl.evaluation.play import checkpoint_maker

    cache = ctx.cache.setdefault("bandit_batches", {})
    policies, described = bandit_reference_policies(ctx)
    start = time.perf_counter()
    for name in names:
        if name in cache or (name != "checkpoint" and name not in policies):
            continue
        if name == "checkpoint":
            batch = ctx.play(
                checkpoint_maker(ctx.agent),
                ctx.env_params,
                ctx.params,
                extras=True,
                observations=True,
            )
            cache[name] = batch.replace(extras={"hidden": hidden_states(batch.extras["hidden"])})
        else:
            cache[name] = ctx.play(policies[name], ctx.env_params)
    seconds = time.perf_counter() - start
    batches = {name: cache[name] for name in names if name in cache}
    if seconds > 0.05:
        ctx.log(f"  played {', '.join(batches)} on the probe episodes ({seconds:.1f}s)")
    return batches, {n: described[n] for n in batches if n in described}, seconds
