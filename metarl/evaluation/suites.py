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
Which suites a family has, and what each changes, is its ``FamilySpec``
(``metarl.evaluation.families``); this module turns that into a ``Suite``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from metarl.errors import ConfigError
from metarl.evaluation.families import family_of, family_spec

ALL = "all"


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    """The suite's name (one of its family spec's ``suites``)."""
    description: str
    """One line: what the episodes are, relative to training."""
    overrides: dict[str, Any]
    """Keyword overrides for ``metarl.envs.make`` (the run's own, plus the suite's changes)."""
    change_step: int | None = None
    """Step (0-based) after which a scheduled change happens (the first changed step is +1)."""


env_family = family_of
"""Transitional alias of ``metarl.evaluation.families.family_of`` for callers not yet moved."""


def suite_names(env_name: str) -> tuple[str, ...]:
    """The suites of ``env_name``'s family, in the order ``--suite all`` runs them."""
    return family_spec(env_name).suites


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
                f"suite {name!r} is not defined for {env_name!r} ({family_of(env_name)} family); "
                f"allowed values: {', '.join(repr(s) for s in allowed)}, or {ALL!r}"
            )
    return list(dict.fromkeys(names))


def build_suite(env_name: str, overrides: dict[str, Any], name: str) -> Suite:
    """The suite ``name`` for a run trained on ``env_name`` with ``overrides``."""
    check_suite(env_name, name)
    if name == "train":
        return Suite(
            "train", "the run's training tasks (its env overrides unchanged)", dict(overrides)
        )
    from metarl import envs

    base = envs.env_config(env_name, **overrides)
    changes, description, change_step = family_spec(env_name).suite_changes(name, base)
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
