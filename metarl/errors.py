"""Configuration errors and the checks that raise them, shared by envs, config and CLI.

Each failure names the field, the value it got and what is allowed, so a bad
``make(...)`` or ``--set`` fails before anything is compiled.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """A configuration field has a value that is not allowed."""


def check_choice(owner: str, field: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(
            f"{owner}: field '{field}' = {value!r} is not allowed; allowed values: "
            + ", ".join(repr(a) for a in allowed)
        )


def check_finite(owner: str, field: str, value: Any) -> None:
    """Refuse NaN and +-inf in ``value`` (a number, or lists/tuples/dicts of them).

    Range checks cannot do it: every comparison with NaN is False, so NaN passes
    any bound, and an unbounded field accepts inf.
    """
    real = isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
    if real and not math.isfinite(float(value)):
        raise ConfigError(
            f"{owner}: field '{field}' = {value!r} is not allowed; allowed: a finite number"
        )
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_finite(owner, f"{field}[{index}]", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_finite(owner, f"{field}.{key}", item)


def check_range(
    owner: str,
    field: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    kind = "an integer" if integer else "a number"
    if integer:
        ok_type = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
    bounds = (
        ("[" if low_inclusive else "(")
        + ("-inf" if low is None else f"{low}")
        + ", "
        + ("inf" if high is None else f"{high}")
        + ("]" if high_inclusive else ")")
    )
    if not ok_type:
        raise ConfigError(f"{owner}: field '{field}' = {value!r} must be {kind} in {bounds}")
    check_finite(owner, field, value)
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        raise ConfigError(
            f"{owner}: field '{field}' = {value!r} is out of range; allowed: {bounds}"
        )
