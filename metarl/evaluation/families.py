"""One spec per env family: its evaluation suites, its reference agents, its thinking references.

``family_spec(env_name) -> FamilySpec`` is the single place evaluation and the
probes learn what a family offers; the family comes from the env's registration
(``metarl.envs.registry.family_of``), never from class names. Adding a family
is: its env file (registered with ``family=...``), its baselines file, and one
``FamilySpec`` here.

A spec holds plain functions with explicit arguments:

* ``suite_changes(suite_name, base_config) -> (overrides, description, change_step)``:
  what each suite other than ``train`` changes, relative to the run's own validated
  env config (``metarl.evaluation.suites`` turns it into a ``Suite``);
* ``references(ReferenceContext) -> {name: Policy}``: the reference agents a frozen
  checkpoint is compared with on a suite (the random policy is added by the caller);
* ``thinking_references(ReferenceContext) -> ({name: Policy}, {name: mechanism})``:
  agents of known thinking behaviour for the thinking probe (None: none defined).

Which probes apply to a family is not here: each probe declares its families.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from metarl.evaluation.policy import Policy, rescaled_rewards

OTHER = "other"
"""The family of env names with no spec of ours (e.g. gymnax names): train suite, random only."""

FITTED_BANDIT_REFERENCES = ("ucb1", "q_learning")
"""Bandit references whose constants ``bandit_references`` fits by a grid search (seconds)."""

THINKING_Q_LEARNING_RATE = 0.3
"""The bandit thinking reference where Thompson sampling does not apply (Gaussian rewards):
Q-learning with the probes' fixed reference rate and inverse temperature."""
THINKING_INVERSE_TEMPERATURE = 10.0


@dataclasses.dataclass(frozen=True)
class ReferenceContext:
    """What a family's reference builders may use (all explicit; nothing looked up by name)."""

    env: Any
    """The suite's family env (unwrapped)."""
    env_params: Any
    """The suite's env params: the tasks the references play."""
    train_env_params: Any
    """The run's training env params (a finite task pool, if it trained on one)."""
    only: tuple[str, ...] | None = None
    """The reference names asked for (None: all); lets a builder skip costly fits."""
    training_discount: float | None = None
    """The discount the checkpoint was trained with at the end of its run (None: unknown),
    for references that play the training objective at best."""

    @property
    def num_actions(self) -> int:
        return int(self.env.action_space(self.env_params).n)

    @property
    def horizon(self) -> int:
        return int(self.env_params.max_steps_in_episode)


SuiteChanges = Callable[[str, Any], tuple[dict[str, Any], str, "int | None"]]
References = Callable[[ReferenceContext], dict[str, Policy]]
ThinkingReferences = Callable[[ReferenceContext], tuple[dict[str, Policy], dict[str, str]]]


@dataclasses.dataclass(frozen=True)
class FamilySpec:
    name: str
    suites: tuple[str, ...]
    """Suite names in the order ``--suite all`` runs them (``train`` first)."""
    suite_changes: SuiteChanges | None
    """None: the family has the ``train`` suite only."""
    references: References
    thinking_references: ThinkingReferences | None = None
    ceiling_reference: str | None = None
    """The reference told the task (an oracle planner) whose reward stands for the oracle
    curve where the env has no expected-reward oracle (rule grid); None: no such agent."""


# ------------------------------------------------------------------ suites
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


def _random_changes(kinds: list[str], base, first_hazard: float, cap: float):
    """(drift, hazard) of a suite with change points at random times: ``first_hazard``
    if training had none, else five times the trained hazard (at most ``cap``)."""
    if "change_point" not in kinds:
        return _with_kind(kinds, "change_point"), first_hazard
    return "+".join(kinds), min(cap, 5 * base.hazard)


def _doubled_rewards(base) -> tuple[dict, str, None]:
    scale = 2.0 * base.reward_scale
    return (
        {"reward_scale": scale},
        f"rewards scaled by {scale:g} (trained at {base.reward_scale:g})",
        None,
    )


def _bandit_suite(name: str, base) -> tuple[dict, str, int | None]:
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
        drift, hazard = _random_changes(kinds, base, 0.02, 0.2)
        return (
            {"drift": drift, "hazard": hazard},
            f"arm means redrawn from the task source at random times (hazard {hazard:g} per pull)",
            None,
        )
    return _doubled_rewards(base)


def _two_step_suite(name: str, base) -> tuple[dict, str, int | None]:
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


def _maze_suite(name: str, base) -> tuple[dict, str, int | None]:
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
        drift, hazard = _random_changes(kinds, base, 0.01, 0.1)
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


def _rule_grid_suite(name: str, base) -> tuple[dict, str, int | None]:
    kinds = _kinds(base.drift)
    horizon = base.trial_length * base.num_trials
    if name == "held_out":
        if base.num_tasks is None:
            return {}, "fresh rulesets from the prior (infinite training distribution)", None
        return {"split": "held_out"}, f"the {base.held_out_size} held-out rulesets", None
    if name == "drift":
        if "reversal" not in kinds:
            return _scheduled_reversal(base, kinds, horizon, "object rewards mirrored")
        drift, hazard = _random_changes(kinds, base, 0.02, 0.2)
        return (
            {"drift": drift, "hazard": hazard},
            f"ruleset redrawn at random times (hazard {hazard:g})",
            None,
        )
    return _doubled_rewards(base)


def _dark_room_suite(name: str, base) -> tuple[dict, str, int | None]:
    if base.num_tasks is None:
        return {}, "uniform goals over every cell (an infinite prior leaves no goal unseen)", None
    return {"split": "held_out"}, "the held-out goals (disjoint from the training goals)", None


# ------------------------------------------------------------------ references
def _bandit_references(context: ReferenceContext) -> dict[str, Policy]:
    """``bandit_references`` for the suite's bandit; rewards rescaled to the agents' own unit.

    Where a suite scales the rewards (``reward_scale``), the references see rewards
    divided by the scale: they are told the unit, which a frozen agent is not.
    """
    from metarl.evaluation.baselines import bandit_references

    params = context.env_params
    pool = getattr(context.train_env_params, "task_pool", None)
    only = context.only
    refs = bandit_references(
        int(params.num_arms),
        context.horizon,
        None if pool is None else np.asarray(pool.means),
        params.reward_type,
        # The grid search only matters to the agents it tunes.
        fit_constants=only is None or any(n in only for n in FITTED_BANDIT_REFERENCES),
        prior_a=float(params.prior_a),
        prior_b=float(params.prior_b),
        reward_noise=float(params.reward_noise),
        training_discount=context.training_discount,
    )
    scale = float(params.reward_scale)
    if scale != 1.0:
        refs = {name: rescaled_rewards(policy, scale) for name, policy in refs.items()}
    return refs


def _two_step_references(context: ReferenceContext) -> dict[str, Policy]:
    from metarl.evaluation.baselines.two_step import two_step_references

    return two_step_references(context.env_params)


def _maze_references(context: ReferenceContext) -> dict[str, Policy]:
    from metarl.evaluation.baselines.maze import maze_references

    return maze_references(context.env_params)


def _rule_grid_references(context: ReferenceContext) -> dict[str, Policy]:
    """Oracle, ruleset learner and locator, memoryless collector (oracle and collector only
    for a continuous prior). The learner and locator divide rewards by the suite's
    ``reward_scale`` themselves: they are told the unit, as the bandit references are."""
    from metarl.evaluation.baselines.rule_grid import rule_grid_references

    return rule_grid_references(context.env_params, context.train_env_params)


def _dark_room_references(context: ReferenceContext) -> dict[str, Policy]:
    from metarl.evaluation.baselines.dark_room import dark_room_references

    return dark_room_references(context.env_params)


def _no_references(context: ReferenceContext) -> dict[str, Policy]:
    return {}


# ------------------------------------------------------------------ thinking references
def _bandit_thinking(context: ReferenceContext) -> tuple[dict[str, Policy], dict[str, str]]:
    """A learner that does not think: Thompson sampling, or Q-learning for Gaussian rewards."""
    from metarl.evaluation.baselines import q_learning, thompson_sampling

    params = context.env_params
    k, a, b = int(params.num_arms), float(params.prior_a), float(params.prior_b)
    if params.reward_type == "bernoulli":
        name, policy = "thompson_sampling", thompson_sampling(k, a, b)
        mechanism = "Bayes learner over the prior, posterior sampling (a learner)"
    else:
        name = "q_learning"
        policy = q_learning(
            k,
            THINKING_Q_LEARNING_RATE,
            inverse_temperature=THINKING_INVERSE_TEMPERATURE,
            initial_value=a / (a + b),
        )
        mechanism = (
            f"Rescorla-Wagner, rate {THINKING_Q_LEARNING_RATE:g}, softmax inverse temperature "
            f"{THINKING_INVERSE_TEMPERATURE:g}"
        )
    scale = float(params.reward_scale)
    if scale != 1.0:
        policy = rescaled_rewards(policy, scale)
    return {name: policy}, {name: mechanism + "; does not think (flat by construction)"}


def _two_step_thinking(context: ReferenceContext) -> tuple[dict[str, Policy], dict[str, str]]:
    from metarl.evaluation.baselines.two_step import two_step_references

    refs = two_step_references(context.env_params)
    return (
        {name: refs[name] for name in ("model_based", "model_free")},
        {
            "model_based": "plans through the transition model (lr 0.5, beta 5); does not think",
            "model_free": "SARSA(1) (lr 0.5, beta 5); does not think",
        },
    )


def _maze_thinking(context: ReferenceContext) -> tuple[dict[str, Policy], dict[str, str]]:
    from metarl.evaluation.baselines.maze import depth_limited_planner, local_heuristic

    return (
        {
            "depth_limited_planner": depth_limited_planner(context.env_params, depth=1),
            "local_heuristic": local_heuristic(context.env_params),
        },
        {
            "depth_limited_planner": "searches 1 step ahead, +1 level per thinking step (improves with K)",
            "local_heuristic": "Manhattan moves toward a remembered goal, no search (cannot think)",
        },
    )


def _rule_grid_thinking(context: ReferenceContext) -> tuple[dict[str, Policy], dict[str, str]]:
    """Two agents that do not think (no ``think`` step): their curves are flat in K."""
    from metarl.evaluation.baselines.rule_grid import memoryless_collector, ruleset_learner

    return (
        {
            "ruleset_learner": ruleset_learner(context.env_params),
            "memoryless_collector": memoryless_collector(context.env_params),
        },
        {
            "ruleset_learner": "Bayes over the rulesets, posterior sampling; does not think (flat)",
            "memoryless_collector": "nearest object, no memory; does not think (flat)",
        },
    )


# ------------------------------------------------------------------ the specs
_STANDARD_SUITES = ("train", "held_out", "drift", "ood")

FAMILIES: dict[str, FamilySpec] = {
    spec.name: spec
    for spec in (
        FamilySpec(
            "bandit",
            ("train", "held_out", "drift", "change_point", "ood"),
            _bandit_suite,
            _bandit_references,
            _bandit_thinking,
        ),
        FamilySpec(
            "two_step", _STANDARD_SUITES, _two_step_suite, _two_step_references, _two_step_thinking
        ),
        FamilySpec("maze", _STANDARD_SUITES, _maze_suite, _maze_references, _maze_thinking),
        FamilySpec(
            "rule_grid",
            _STANDARD_SUITES,
            _rule_grid_suite,
            _rule_grid_references,
            _rule_grid_thinking,
            ceiling_reference="oracle_planner",
        ),
        FamilySpec("dark_room", ("train", "held_out"), _dark_room_suite, _dark_room_references),
        FamilySpec(OTHER, ("train",), None, _no_references),
    )
}
"""Every family's spec by name (``OTHER`` for env names registered by no family of ours)."""


def family_of(env_name: str) -> str:
    """The family ``env_name`` was registered with, or ``OTHER`` (gymnax or unknown names)."""
    from metarl import envs
    from metarl.envs import registry

    if env_name not in envs.registered_names():
        return OTHER
    family = registry.family_of(env_name)
    return family if family in FAMILIES else OTHER


def family_spec(env_name: str) -> FamilySpec:
    """The spec of ``env_name``'s family (``OTHER``'s for names no family spec covers)."""
    return FAMILIES[family_of(env_name)]
