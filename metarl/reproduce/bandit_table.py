"""Measure of bandit-table reproductions: the checkpoint beside the reference agents.

For one trained setting, every frozen training seed (``jit(vmap)`` over seeds) and
each reference agent of the bandit family (``metarl.evaluation.references``: the
same agents, fits and tables ``metarl eval`` uses) play the same ``episodes`` fresh
episodes of the training distribution from one key: same tasks, same reward draws,
so every comparison is paired (as ``scripts/check_bandit_quality.py`` does for
Thompson sampling). Returned (JSON-ready, ``Interval`` as ``{"value", "low",
"high"}``):

* ``table``: mean total reward per episode of each agent; the checkpoint's interval
  is over training seeds (``seed_stats.seed_level_interval``), a reference's over
  episodes (a reference has no training seed);
* ``checkpoint_minus``: per reference, the paired difference checkpoint - reference,
  with the same seed-level interval (with one seed: over episodes, and ``unit`` says
  so), and ``per_seed`` the per-seed values behind it;
* ``spread``: the standard deviation of an episode's total reward per agent (a
  published mean over ``M`` episodes has standard error ``spread / sqrt(M)``);
* ``gap_to_gittins``: where the checkpoint's gap to Gittins comes from. The agent is
  trained to maximise the *discounted* reward (``algo.gamma``, 0.9 by default), whose
  best player is the Gittins index at that discount (``gittins_at_training_discount``,
  also in ``table``), not the undiscounted one the table scores. So ``objective`` =
  Gittins at the training discount minus Gittins (the cost of the discount itself,
  paired over episodes) and ``learning`` = checkpoint minus Gittins at the training
  discount (how far training got towards its own objective's best player, over seeds);
  they add up to checkpoint - Gittins. Absent where Gittins is not played or gamma is 1;
* the setting (arms, horizon), checkpoint update, env steps per seed, timing.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from metarl.reproduce.context import SettingContext
from metarl.reproduce.seed_stats import episode_interval, seed_level_interval
from metarl.reproduce.spec import CHECKPOINT

REFERENCES = ("thompson_sampling", "ucb1", "epsilon_greedy", "greedy", "gittins")
"""RL^2's Table 1 columns we have (random is always played; OTS is not implemented)."""
OPTIONAL_REFERENCES = ("bayes_optimal",)
"""Played where the family provides them (the exact Bayes-optimal DP: small settings only)."""
EPISODES = 10_000
EVAL_SEED = 20161102
"""Fixed evaluation key (RL^2's arXiv date), apart from training seeds (0, 1, ...)."""


KNOWN_REFERENCES = (*REFERENCES, *OPTIONAL_REFERENCES, "q_learning", "win_stay_lose_shift")


def check_options(options: dict[str, Any]) -> None:
    """Refuse bad measure options before anything trains (ConfigError naming the field)."""
    from metarl.errors import ConfigError

    defaults = {"episodes": EPISODES, "eval_seed": EVAL_SEED, "references": ()}
    options = {**defaults, **options}
    if int(options["episodes"]) < 2:
        raise ConfigError(
            f"measure: field 'measure.episodes' = {options['episodes']} is out of range; "
            "allowed: at least 2"
        )
    if int(options["eval_seed"]) < 0:
        raise ConfigError(
            f"measure: field 'measure.eval_seed' = {options['eval_seed']} is out of range; "
            "allowed: at least 0"
        )
    unknown = [n for n in options["references"] if n not in KNOWN_REFERENCES]
    if unknown:
        raise ConfigError(
            f"measure: field 'measure.references' has unknown agent(s) {', '.join(unknown)}; "
            f"allowed values: {', '.join(KNOWN_REFERENCES)}"
        )


def _references(frozen, env, env_params, names) -> dict[str, Any]:
    """The named references, plus Gittins at the training discount wherever Gittins is played."""
    from metarl.evaluation.baselines.bandit import MAX_GITTINS_HORIZON, TRAINING_DISCOUNT_GITTINS
    from metarl.evaluation.baselines.bayes_dp import MAX_DP_STATES, dp_num_states
    from metarl.evaluation.references import reference_policies

    arms, horizon = int(env_params.num_arms), int(env_params.max_steps_in_episode)
    available = {
        "gittins": horizon <= MAX_GITTINS_HORIZON,
        "bayes_optimal": dp_num_states(arms, horizon) <= MAX_DP_STATES,
    }
    only = [n for n in names if available.get(n, True)]
    if "gittins" in only and frozen.config.algo.discount_at_end < 1.0:
        only.append(TRAINING_DISCOUNT_GITTINS)
    return reference_policies(
        frozen.config.env.name,
        env,
        env_params,
        frozen.env_params,
        only=only,
        training_discount=frozen.config.algo.discount_at_end,
    )


def measure(
    context: SettingContext,
    episodes: int = EPISODES,
    eval_seed: int = EVAL_SEED,
    greedy: bool = False,
    references: tuple[str, ...] = REFERENCES + OPTIONAL_REFERENCES,
) -> dict[str, Any]:
    """The setting's table and paired differences (module docstring)."""
    import jax

    from metarl.evaluation.baselines.bandit import TRAINING_DISCOUNT_GITTINS
    from metarl.evaluation.play import Player, checkpoint_maker
    from metarl.evaluation.suites import make_suite_env
    from metarl.runner.train_loop import env_steps_per_update

    frozen = context.frozen()
    config = frozen.config
    _, env, env_params = make_suite_env(
        config.env.name, config.env.overrides, "train", frozen.base_env, frozen.env_params
    )
    build_start = time.perf_counter()
    policies = _references(frozen, env, env_params, tuple(references))
    build_s = time.perf_counter() - build_start
    horizon = int(env_params.max_steps_in_episode)
    player = Player(env, episodes, horizon)
    key = jax.random.PRNGKey(eval_seed)
    context.log(
        f"measure {context.setting.name}: {frozen.num_seeds} seed(s) + {len(policies)} "
        f"reference(s) on {episodes} shared episodes x {horizon} pulls"
    )
    play_start = time.perf_counter()
    checkpoint = player.play(
        checkpoint_maker(frozen.agent, greedy),
        env_params,
        key,
        policy_args=frozen.params,
        seeds=True,
    ).returns  # [S, E]
    returns = {name: player.play_policy(p, env_params, key).returns for name, p in policies.items()}
    play_s = time.perf_counter() - play_start

    table: dict[str, Any] = {}
    table[CHECKPOINT], unit = seed_level_interval(checkpoint)
    differences, per_seed = {}, {CHECKPOINT: checkpoint.mean(axis=1)}
    for name, values in returns.items():
        table[name] = episode_interval(values)
        difference = checkpoint - values[None, :]
        differences[name], _ = seed_level_interval(difference)
        per_seed[f"{CHECKPOINT}_minus_{name}"] = difference.mean(axis=1)
    spread = {name: float(np.std(v, ddof=1)) for name, v in returns.items()}
    spread[CHECKPOINT] = float(np.std(checkpoint, ddof=1, axis=1).mean())
    gap = None
    if TRAINING_DISCOUNT_GITTINS in returns:
        gap = {  # the discount's cost (over episodes) + the learning shortfall (over seeds)
            "objective": episode_interval(returns[TRAINING_DISCOUNT_GITTINS] - returns["gittins"]),
            "learning": differences[TRAINING_DISCOUNT_GITTINS],
        }
    return {
        "num_arms": int(env_params.num_arms),
        "horizon": horizon,
        "episodes": episodes,
        "eval_seed": eval_seed,
        "actions": "greedy" if greedy else "sampled",
        "checkpoint_update": frozen.step,
        "num_seeds": frozen.num_seeds,
        "env_steps_per_seed": frozen.step * env_steps_per_update(config),
        "table": table,
        "checkpoint_minus": differences,
        "interval_unit": unit,
        "per_seed": per_seed,
        "spread": spread,
        "training_discount": config.algo.discount_at_end,
        "gap_to_gittins": gap,
        "timing": {"references_build_s": build_s, "play_s": play_s},
    }


def markdown(report: dict[str, Any]) -> list[str]:
    """report.md's section on where each setting's gap to Gittins comes from (``gap_to_gittins``)."""
    from metarl.interval import Interval

    rows = [
        (name, summary)
        for name, summary in report["measured"].items()
        if summary.get("gap_to_gittins")
    ]
    if not rows:
        return []
    lines = [
        "## Where the gap to Gittins comes from",
        "",
        "| setting | training discount | checkpoint - Gittins | = objective: Gittins at the "
        "training discount - Gittins | + learning: checkpoint - Gittins at the training discount |",
        "|---|---|---|---|---|",
    ]
    for name, summary in rows:
        gap = summary["gap_to_gittins"]
        total = Interval.from_json(summary["checkpoint_minus"]["gittins"])
        objective = Interval.from_json(gap["objective"])
        learning = Interval.from_json(gap["learning"])
        lines.append(
            f"| {name} | {summary['training_discount']:g} | {total.format('+.2f')} | "
            f"{objective.format('+.2f')} | {learning.format('+.2f')} |"
        )
    lines += [
        "",
        "The agent is trained to maximise the discounted reward; the best player of that "
        "objective is the Gittins index at the same discount, which earns less undiscounted "
        "reward than the undiscounted index the table scores. The objective column is that "
        "cost (paired over episodes), the learning column how far training is from its own "
        "objective's best player (over training seeds); they add up to checkpoint - Gittins.",
    ]
    return lines
