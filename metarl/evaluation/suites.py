"""Named evaluation suites: which episodes a frozen checkpoint is evaluated on.

A suite is a set of env overrides built from the *run's own* env config, so a
suite always means the same thing relative to what the agent was trained on:

* ``train``: the training tasks (the run's overrides unchanged).
* ``held_out``: tasks never trained on: ``split="held_out"`` for finite pools (and
  for mazes, whose layouts come from a finite bank); for an infinite prior, fresh
  prior draws, which are new tasks already (so it equals ``train`` in distribution).
* ``drift``: a within-episode change the agent never saw (a reversal at
  mid-episode where it trained without reversals; otherwise random change-points).
* ``ood``: out of distribution (bandits / rule grids: rewards doubled; two-step:
  different transition probabilities; mazes: loops knocked into the walls, or
  taken out).
* ``change_point`` (bandits): the arm means are redrawn at random times (hazard 0.02,
  or 5x the trained hazard).

Names are checked (``check_suite``) before anything is built or compiled; an
unknown name raises ``ConfigError`` listing the allowed ones for that family.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from metarl.errors import ConfigError

ALL = "all"

FAMILY_SUITES: dict[str, tuple[str, ...]] = {
    "bandit": ("train", "held_out", "drift", "change_point", "ood"),
    "two_step": ("train", "held_out", "drift", "ood"),
    "maze": ("train", "held_out", "drift", "ood"),
    "rule_grid": ("train", "held_out", "drift", "ood"),
    "other": ("train",),
}
"""Suites per env family, in the order ``--suite all`` runs them."""

_FAMILY_OF_CONFIG = {
    "BanditConfig": "bandit",
    "TwoStepConfig": "two_step",
    "MazeConfig": "maze",
    "RuleGridConfig": "rule_grid",
}


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    """The suite's name (one of ``FAMILY_SUITES[family]``)."""
    description: str
    """One line: what the episodes are, relative to training."""
    overrides: dict[str, Any]
    """Keyword overrides for ``metarl.envs.make`` (the run's own, plus the suite's changes)."""
    change_step: int | None = None
    """Step (0-based) after which a scheduled change happens (the first changed step is +1)."""


def env_family(env_name: str) -> str:
    """'bandit', 'two_step', 'maze', 'rule_grid', or 'other' (e.g. a gymnax name)."""
    from metarl import envs

    if env_name not in envs.registered_names():
        return "other"
    from metarl.envs.registry import spec

    return _FAMILY_OF_CONFIG.get(spec(env_name).config_cls.__name__, "other")


def suite_names(env_name: str) -> tuple[str, ...]:
    return FAMILY_SUITES[env_family(env_name)]


def check_suite(env_name: str, suite: str) -> list[str]:
    """The suite names ``suite`` stands for (``all``, a name, or a comma-separated list).

    Raises ``ConfigError`` naming the allowed values for ``env_name``'s family.
    """
    allowed = suite_names(env_name)
    if suite == ALL:
        return list(allowed)
    names = [part.strip() for part in suite.split(",") if part.strip()]
    for name in names or [suite]:
        if name not in allowed:
            raise ConfigError(
                f"suite {name!r} is not defined for {env_name!r} ({env_family(env_name)} family); "
                f"allowed values: {', '.join(repr(s) for s in allowed)}, or {ALL!r}"
            )
    return list(dict.fromkeys(names))


def _kinds(drift: str) -> list[str]:
    return [] if drift in ("", "none") else drift.split("+")


def _with_kind(kinds: list[str], kind: str) -> str:
    return "+".join(kinds + [kind])


def _scheduled_reversal(base, kinds: list[str], horizon: int, what: str) -> tuple[dict, str, int]:
    change = horizon // 2 - 1
    steps = tuple(sorted(set(tuple(base.reversal_steps) + (change,))))
    drift = "+".join(kinds) if "reversal" in kinds else _with_kind(kinds, "reversal")
    return (
        {"drift": drift, "reversal_steps": steps},
        f"{what} after step {change} (mid-episode), never seen in training",
        change,
    )


def _bandit(name: str, base) -> tuple[dict, str, int | None]:
    kinds = _kinds(base.drift)
    if name == "held_out":
        if base.num_tasks is None:
            return (
                {},
                "fresh draws from the prior (infinite training distribution: new tasks already)",
                None,
            )
        return {"split": "held_out"}, f"the {base.held_out_size} held-out arm-mean vectors", None
    if name == "drift":
        if "reversal" not in kinds:
            return _scheduled_reversal(base, kinds, base.horizon, "arm means reversed")
        if "change_point" not in kinds:
            return (
                {"drift": _with_kind(kinds, "change_point"), "hazard": 0.02},
                "arm means redrawn at random times (hazard 0.02), never seen in training",
                None,
            )
        hazard = min(0.2, 5 * base.hazard)
        return (
            {"hazard": hazard},
            f"change-point hazard {hazard:g} (trained at {base.hazard:g})",
            None,
        )
    if name == "change_point":
        hazard = 0.02 if "change_point" not in kinds else min(0.2, 5 * base.hazard)
        drift = "+".join(kinds) if "change_point" in kinds else _with_kind(kinds, "change_point")
        return (
            {"drift": drift, "hazard": hazard},
            f"arm means redrawn from the task source at random times (hazard {hazard:g} per pull)",
            None,
        )
    scale = 2.0 * base.reward_scale
    return (
        {"reward_scale": scale},
        f"rewards scaled by {scale:g} (trained at {base.reward_scale:g})",
        None,
    )


def _two_step(name: str, base) -> tuple[dict, str, int | None]:
    if name == "held_out":
        if base.num_tasks is None:
            return {}, "fresh draws from the prior (infinite training distribution)", None
        return {"split": "held_out"}, "held-out reward-probability tasks", None
    if name == "drift":
        if base.variant == "wang":
            swap = 0.025 if base.swap_prob is None else base.swap_prob
            new = min(1.0, 4 * swap) if swap > 0 else 0.05
            return (
                {"swap_prob": new},
                f"good side swaps with probability {new:g} per trial (trained {swap:g})",
                None,
            )
        swap = 0.0 if base.swap_prob is None else base.swap_prob
        new = 0.05 if swap == 0 else min(1.0, 4 * swap)
        return (
            {"swap_prob": new},
            f"second-stage states swap with probability {new:g} per trial (trained {swap:g})",
            None,
        )
    common = 0.6 if base.common_prob > 0.65 else 0.9
    return (
        {"common_prob": common},
        f"common transition probability {common:g} (trained {base.common_prob:g})",
        None,
    )


def _maze(name: str, base) -> tuple[dict, str, int | None]:
    kinds = _kinds(base.drift)
    if name == "held_out":
        return (
            {"split": "held_out"},
            f"the {base.held_out_size} held-out layouts (disjoint from training)",
            None,
        )
    if name == "drift":
        if "reversal" not in kinds:
            return _scheduled_reversal(
                base, kinds, base.horizon, "goal swapped with its alternative square"
            )
        hazard = 0.01 if "change_point" not in kinds else min(0.1, 5 * base.hazard)
        drift = "+".join(kinds) if "change_point" in kinds else _with_kind(kinds, "change_point")
        return (
            {"drift": drift, "hazard": hazard},
            f"goal moves at random times (hazard {hazard:g})",
            None,
        )
    openings = 4 if base.extra_openings == 0 else 0
    return (
        {"extra_openings": openings},
        f"mazes with {openings} extra openings (trained with {base.extra_openings})",
        None,
    )


def _rule_grid(name: str, base) -> tuple[dict, str, int | None]:
    kinds = _kinds(base.drift)
    horizon = base.trial_length * base.num_trials
    if name == "held_out":
        if base.num_tasks is None:
            return {}, "fresh rulesets from the prior (infinite training distribution)", None
        return {"split": "held_out"}, f"the {base.held_out_size} held-out rulesets", None
    if name == "drift":
        if "reversal" not in kinds:
            return _scheduled_reversal(base, kinds, horizon, "object rewards mirrored")
        hazard = 0.02 if "change_point" not in kinds else min(0.2, 5 * base.hazard)
        drift = "+".join(kinds) if "change_point" in kinds else _with_kind(kinds, "change_point")
        return (
            {"drift": drift, "hazard": hazard},
            f"ruleset redrawn at random times (hazard {hazard:g})",
            None,
        )
    scale = 2.0 * base.reward_scale
    return (
        {"reward_scale": scale},
        f"rewards scaled by {scale:g} (trained at {base.reward_scale:g})",
        None,
    )


_BUILDERS = {"bandit": _bandit, "two_step": _two_step, "maze": _maze, "rule_grid": _rule_grid}


def build_suite(env_name: str, overrides: dict[str, Any], name: str) -> Suite:
    """The suite ``name`` for a run trained on ``env_name`` with ``overrides``."""
    check_suite(env_name, name)
    if name == "train":
        return Suite(
            "train", "the run's training tasks (its env overrides unchanged)", dict(overrides)
        )
    from metarl import envs

    family = env_family(env_name)
    base = envs.env_config(env_name, **overrides)
    changes, description, change_step = _BUILDERS[family](name, base)
    return Suite(name, description, {**overrides, **changes}, change_step)


def make_suite_env(
    env_name: str, overrides: dict[str, Any], name: str, train_env=None, train_params=None
):
    """(suite, env, env_params) for suite ``name``; checks the agent's interface is unchanged.

    A suite may change tasks, rewards and dynamics, but not the observation size,
    action count or episode length the frozen agent was trained with (the
    training env is built from ``overrides`` unless given).
    """
    from metarl import envs

    suite = build_suite(env_name, overrides, name)
    env, env_params = envs.make(env_name, **suite.overrides)
    if train_env is None or train_params is None:
        train_env, train_params = envs.make(env_name, **overrides)
    wrapped, train_wrapped = envs.RL2Wrapper(env), envs.RL2Wrapper(train_env)
    same = (
        wrapped.observation_size(env_params) == train_wrapped.observation_size(train_params)
        and wrapped.num_actions_rl2 == train_wrapped.num_actions_rl2
        and env_params.max_steps_in_episode == train_params.max_steps_in_episode
    )
    if not same:  # a suite bug, not a user error: say exactly what changed
        raise ConfigError(
            f"suite {name!r} changes the agent's interface (observation size, actions or episode length)"
        )
    return suite, env, env_params
