"""One type for a number with an interval: ``Interval(value, low, high)``.

Eval summaries, probes, sweeps and figures all carry estimates as ``Interval``
and write them in one JSON form, ``{"value": v, "low": l, "high": h}`` (null for a
bound that could not be computed, e.g. one seed). ``level`` is the confidence
level; it is written only when it is not the default 95%.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

DEFAULT_LEVEL = 0.95


def _finite_or_nan(x: Any) -> float:
    if x is None:
        return math.nan
    return float(x)


@dataclasses.dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval (``low <= value <= high`` when finite)."""

    value: float
    low: float = math.nan
    high: float = math.nan
    level: float = DEFAULT_LEVEL

    def __post_init__(self) -> None:
        # Plain floats whatever came in (numpy scalars, 0-d arrays, None), so equality,
        # JSON and formatting behave the same everywhere.
        object.__setattr__(self, "value", _finite_or_nan(self.value))
        object.__setattr__(self, "low", _finite_or_nan(self.low))
        object.__setattr__(self, "high", _finite_or_nan(self.high))

    @classmethod
    def from_half_width(
        cls, value: float, half_width: float, level: float = DEFAULT_LEVEL
    ) -> Interval:
        value, half_width = float(value), float(half_width)
        return cls(value, value - half_width, value + half_width, level)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Interval | None:
        if data is None:
            return None
        return cls(
            data["value"], data.get("low"), data.get("high"), data.get("level", DEFAULT_LEVEL)
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "low": self.low, "high": self.high}
        if self.level != DEFAULT_LEVEL:
            out["level"] = self.level
        return out

    @property
    def half_width(self) -> float:
        """Half the interval's width (the ``±`` of a symmetric interval)."""
        return (self.high - self.low) / 2.0

    @property
    def has_bounds(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def excludes(self, x: float = 0.0) -> bool:
        """True when both bounds are known and ``x`` lies outside the interval."""
        return self.has_bounds and (self.low > x or self.high < x)

    def above(self, x: float = 0.0) -> bool:
        return self.has_bounds and self.low > x

    def below(self, x: float = 0.0) -> bool:
        return self.has_bounds and self.high < x

    def format(self, spec: str = ".3f") -> str:
        if not self.has_bounds:
            return f"{self.value:{spec}}"
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"

    def __str__(self) -> str:
        return self.format()


def is_interval_json(data: Any) -> bool:
    """Whether ``data`` is an Interval's JSON form (for readers of summaries)."""
    return isinstance(data, dict) and "value" in data and "low" in data and "high" in data
