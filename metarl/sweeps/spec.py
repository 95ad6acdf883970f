"""A sweep: one experiment and the axes to vary over it, as an experiment file exports it.

::

    SWEEP = Sweep(
        name="task_diversity",
        experiment=CONFIG,
        axes=(
            Axis("env.overrides.num_tasks", (1, 4, 16, 64, 256, None)),
            Axis("env.overrides.task_seed", (0, 1)),
        ),
        analysis="metarl.sweeps.task_diversity",
    )

Points are the Cartesian product of the axes' values, in order (the first axis
varies slowest). An axis may carry ``linked`` fields that move with it rather than
being crossed: ``Axis("agent.core", ("gru", "lstm"), linked=(("agent.hidden_size",
(64, 56)),))`` gives two points, each core at its own width (a parameter-matched
architecture comparison). A point's config is the experiment with the user's ``--set``
values and then the point's own values applied through the same typed override
path as ``metarl train --set``; so a point is exactly what ``metarl train NAME
--set axis=value ...`` would train. Training seeds are not an axis: every point
trains ``run.num_seeds`` seeds vmapped (seed i from ``fold_in(key(run.seed), i)``).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

from metarl.config import ExperimentConfig
from metarl.errors import ConfigError

INF_WORDS = ("inf", "infinite", "none")


@dataclasses.dataclass(frozen=True)
class Axis:
    """One swept field: its dotted config path (as ``--set`` spells it) and its values."""

    path: str
    values: tuple[Any, ...]
    label: str = ""
    """Short name for directory names and figures (default: the path's last part)."""
    linked: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    """Fields set together with this axis, ``(path, values)`` with one value per value of the
    axis (zipped, not crossed). They are part of each point's config and ``--set`` may not
    name them, but point names show the axis value only."""

    def __post_init__(self):
        for path, values in self.linked:
            if len(values) != len(self.values):
                raise ConfigError(
                    f"axis {self.path!r}: linked field {path!r} has {len(values)} values for "
                    f"the axis' {len(self.values)}"
                )

    @property
    def short(self) -> str:
        return self.label or self.path.rsplit(".", 1)[-1]

    @property
    def paths(self) -> tuple[str, ...]:
        """The axis' own path, then its linked fields' paths."""
        return (self.path, *(path for path, _ in self.linked))

    def settings(self, index: int) -> tuple[tuple[str, Any], ...]:
        """``(path, value)`` of the axis and of every linked field at the ``index``-th value."""
        return ((self.path, self.values[index]), *((p, v[index]) for p, v in self.linked))


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One point: the value of every axis, in axis order."""

    values: tuple[tuple[str, Any], ...]

    def value(self, path: str) -> Any:
        return dict(self.values)[path]

    @property
    def sets(self) -> list[str]:
        """The point as ``--set`` strings (None is written 'none', as the config reads it)."""
        return [f"{path}={'none' if v is None else v}" for path, v in self.values]

    def name(self, axes: Sequence[Axis]) -> str:
        """A directory-safe name, e.g. ``num_tasks=16,task_seed=1`` (None -> inf); linked
        fields are left out (the axis value names them)."""
        short = {axis.path: axis.short for axis in axes}
        return ",".join(
            f"{short[path]}={'inf' if v is None else v}" for path, v in self.values if path in short
        )


@dataclasses.dataclass(frozen=True)
class Sweep:
    """An experiment plus the axes a sweep varies over it (see the module docstring)."""

    name: str
    experiment: ExperimentConfig
    axes: tuple[Axis, ...]
    analysis: str
    """Module with ``evaluate(context, **analysis_options) -> summary`` and ``plot(summary, out_dir)``."""
    analysis_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Keyword arguments of the analysis (e.g. ``episodes``)."""
    description: str = ""

    def points(self) -> list[SweepPoint]:
        indices = itertools.product(*(range(len(axis.values)) for axis in self.axes))
        return [
            SweepPoint(
                tuple(
                    pair
                    for axis, i in zip(self.axes, combo, strict=True)
                    for pair in axis.settings(i)
                )
            )
            for combo in indices
        ]

    def axis(self, path: str) -> Axis:
        for axis in self.axes:
            if axis.path == path:
                return axis
        raise ConfigError(
            f"sweep {self.name!r} has no axis {path!r}; axes: "
            + ", ".join(a.path for a in self.axes)
        )


def check_sets(sweep: Sweep, sets: Sequence[str]) -> None:
    """A ``--set`` may not name a swept field: the sweep owns those values."""
    swept = {path for axis in sweep.axes for path in axis.paths}
    for text in sets:
        key = text.split("=", 1)[0].strip()
        if key in swept:
            raise ConfigError(
                f"sweep {sweep.name!r}: field {key!r} is a sweep axis; its values come from the "
                "sweep definition (edit the experiment's SWEEP, or set other fields)"
            )


def point_config(sweep: Sweep, point: SweepPoint, sets: Sequence[str] = ()) -> ExperimentConfig:
    """The experiment with ``sets`` then the point's values applied, validated (no env built)."""
    from metarl.config import validate
    from metarl.config_io import retype_env_overrides
    from metarl.experiments import apply_overrides

    # The env itself is built (and its override values checked) when the group trains.
    return validate(retype_env_overrides(apply_overrides(sweep.experiment, [*sets, *point.sets])))
