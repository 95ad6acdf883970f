"""The rule grid's config: its fields, the shared task-source and drift fields, and checks.

``check_config`` validates everything a ``RuleGridConfig`` says before anything is
built; ``build_rule_grid`` (in ``rule_grid``) then makes the env and its params.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from metarl.envs.distributions import TaskSource, TaskSourceConfig
from metarl.envs.drift import DriftParams, WalkDriftConfig
from metarl.envs.rule_grid_tasks import EFFECTS

from metarl.errors import ConfigError, check_choice, check_range

VIEWS = ("egocentric", "full")
OBS_FORMATS = ("grid", "flat")


@dataclasses.dataclass(frozen=True)
class RuleGridKnobs:
    """The rule grid's own config fields; ``RuleGridConfig`` adds the shared ones after them."""

    grid_size: int = 9
    """Side of the square world including its border wall; the agent walks on (grid_size-2)**2 cells."""
    num_object_types: int = 3
    """Number of object types the ruleset covers."""
    objects_per_type: int = 3
    """Objects of each type placed at every trial start."""
    view: str = "egocentric"
    """'egocentric' (view_size x view_size window centred on the agent) or 'full' (whole interior)."""
    view_size: int = 5
    """Side k of the egocentric window (odd)."""
    obs_format: str = "grid"
    """'grid' ([H, W, C] float32 one-hot) or 'flat' (the same, flattened)."""
    allow_stay: bool = False
    """Add a fifth action, stay (collects nothing)."""
    trial_length: int = 25
    """Steps per trial; objects and agent are re-placed at every trial start."""
    num_trials: int = 4
    """Trials per episode (the ruleset is kept across them unless drift changes it)."""
    reward_values: tuple[float, ...] = (-1.0, 0.0, 1.0)
    """Discrete prior: each type's reward is uniform over these values."""
    reward_range: tuple[float, float] | None = None
    """Continuous prior: each type's reward ~ U(low, high); replaces reward_values when set."""
    effects: tuple[str, ...] = EFFECTS
    """Effects the prior draws from (uniformly per type): 'disappear', 'respawn', 'transform'."""
    require_positive: bool = True
    """Every ruleset has at least one type with a positive reward (one is set if none is)."""
    reward_scale: float = 1.0
    """Multiplies every reward (an out-of-distribution knob for evaluation)."""
    num_layouts: int = 4096
    """Size of the bank of object placements drawn at make time (trial starts pick from it)."""
    layout_seed: int = 0
    """Seed of the layout bank."""


# The last base's fields come first, so listings of allowed fields start with the family's own.
@dataclasses.dataclass(frozen=True)
class RuleGridConfig(WalkDriftConfig, TaskSourceConfig, RuleGridKnobs):
    """User-facing knobs of the rule gridworld (the keyword overrides ``make`` accepts).

    Drift moves the ruleset: ``random_walk`` walks the rewards (rescaled to [0, 1]
    over the prior's reward range, so they stay inside it), ``change_point`` redraws
    the ruleset from the episode's task source, ``reversal`` mirrors every reward r
    to low + high - r.
    """

    held_out_size: int = 256
    """Number of held-out rulesets (disjoint from the training pool)."""
    walk_space: str = "bounded"
    """random_walk: 'bounded' (reflect at the prior's reward range) or 'logit' (sticks at the range ends)."""


@dataclasses.dataclass(frozen=True)
class CheckedConfig:
    """What ``check_config`` derives from a valid config."""

    reward_values: tuple[float, ...]
    reward_low: float
    reward_high: float
    continuous: bool
    source: TaskSource
    drift: DriftParams


def _check_bool(owner: str, field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{owner}: field '{field}' = {value!r} must be True or False")


def _check_float_tuple(
    owner: str, field: str, value: Any, length: int | None = None
) -> tuple[float, ...]:
    if not isinstance(value, (tuple, list)) or len(value) == 0 or (length and len(value) != length):
        want = f"{length} numbers" if length else "a non-empty tuple of numbers"
        raise ConfigError(f"{owner}: field '{field}' = {value!r} must be {want}")
    for item in value:
        check_range(owner, field, item)
    return tuple(float(item) for item in value)


def count_rulesets(config: RuleGridConfig) -> int | None:
    """Distinct rulesets the prior can draw (None: continuous rewards, unlimited)."""
    if config.reward_range is not None:
        return None
    t, values = config.num_object_types, len(set(config.reward_values))
    reward_vectors = values**t
    if config.require_positive:  # the vectors with no positive entry are never drawn
        reward_vectors -= (values - len({v for v in config.reward_values if v > 0})) ** t
    per_type = len(config.effects)
    if "transform" in config.effects:
        per_type += t - 2  # transform into any of the t - 1 other types
    return reward_vectors * per_type**t


def _check_enough_rulesets(
    config: RuleGridConfig, owner: str, num_tasks: int | None, reward_values: tuple[float, ...]
) -> None:
    # Fail before the pool search, which would otherwise hunt for tasks that do not exist.
    available = count_rulesets(dataclasses.replace(config, reward_values=reward_values))
    if available is None:
        return
    needed, field = num_tasks or 0, "num_tasks"
    if config.split == "held_out":
        needed, field = needed + config.held_out_size, "held_out_size"
    if needed > available:
        raise ConfigError(
            f"{owner}: field '{field}': the prior has only {available} distinct rulesets, fewer than the "
            f"{needed} distinct ones asked for (num_tasks + held_out_size on the held-out split); use more "
            "reward_values, effects or num_object_types, or a continuous reward_range"
        )


def _check_world(config: RuleGridConfig, owner: str) -> None:
    """The grid, its objects, the view and the episode's shape."""
    check_range(owner, "grid_size", config.grid_size, 4, 64, integer=True)
    check_range(owner, "num_object_types", config.num_object_types, 1, 16, integer=True)
    check_range(owner, "objects_per_type", config.objects_per_type, 1, integer=True)
    interior = config.grid_size - 2
    num_objects = config.num_object_types * config.objects_per_type
    if num_objects + 1 > interior * interior:
        raise ConfigError(
            f"{owner}: field 'objects_per_type' = {config.objects_per_type}: {num_objects} objects and the "
            f"agent do not fit on the {interior}x{interior} interior of grid_size = {config.grid_size}"
        )
    check_choice(owner, "view", config.view, VIEWS)
    check_range(owner, "view_size", config.view_size, 1, 2 * config.grid_size + 1, integer=True)
    if config.view_size % 2 == 0:
        raise ConfigError(
            f"{owner}: field 'view_size' = {config.view_size} must be odd (the agent is the centre)"
        )
    check_choice(owner, "obs_format", config.obs_format, OBS_FORMATS)
    _check_bool(owner, "allow_stay", config.allow_stay)
    check_range(owner, "trial_length", config.trial_length, 1, integer=True)
    check_range(owner, "num_trials", config.num_trials, 1, integer=True)


def _check_prior(config: RuleGridConfig, owner: str) -> tuple[tuple[float, ...], float, float]:
    """The ruleset prior's fields: (reward values, lowest reward, highest reward)."""
    reward_values = _check_float_tuple(owner, "reward_values", config.reward_values)
    continuous = config.reward_range is not None
    if continuous:
        low, high = _check_float_tuple(owner, "reward_range", config.reward_range, length=2)
        if low >= high:
            raise ConfigError(
                f"{owner}: field 'reward_range' = {config.reward_range!r} needs low < high"
            )
    else:
        low, high = min(reward_values), max(reward_values)
    if not isinstance(config.effects, (tuple, list)) or len(config.effects) == 0:
        raise ConfigError(
            f"{owner}: field 'effects' = {config.effects!r} must be a non-empty tuple from {EFFECTS}"
        )
    for effect in config.effects:
        check_choice(owner, "effects", effect, EFFECTS)
    if len(set(config.effects)) != len(config.effects):
        raise ConfigError(f"{owner}: field 'effects' = {config.effects!r} repeats an effect")
    if "transform" in config.effects and config.num_object_types < 2:
        raise ConfigError(
            f"{owner}: field 'effects' includes 'transform', which needs num_object_types >= 2"
        )
    _check_bool(owner, "require_positive", config.require_positive)
    if config.require_positive and high <= 0.0:
        field = "reward_range" if continuous else "reward_values"
        raise ConfigError(
            f"{owner}: field '{field}' has no positive reward, which require_positive=True needs"
        )
    return reward_values, low, high


def check_config(config: RuleGridConfig, owner: str) -> CheckedConfig:
    """Validate every field; a ConfigError names the first bad one."""
    _check_world(config, owner)
    reward_values, low, high = _check_prior(config, owner)
    check_range(owner, "reward_scale", config.reward_scale)
    check_range(owner, "num_layouts", config.num_layouts, 1, 1 << 16, integer=True)
    check_range(owner, "layout_seed", config.layout_seed, 0, integer=True)
    source = config.task_source(owner)
    drift = config.drift_params(owner)
    if "random_walk" in drift.kinds and low == high:
        raise ConfigError(
            f"{owner}: drift 'random_walk' needs a reward range; field 'reward_values' has one value"
        )
    _check_enough_rulesets(config, owner, source.num_tasks, reward_values)
    return CheckedConfig(
        reward_values=reward_values,
        reward_low=float(low),
        reward_high=float(high),
        continuous=config.reward_range is not None,
        source=source,
        drift=drift,
    )
