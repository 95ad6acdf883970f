"""A reproduction: one published finding, the settings that test it and its claims' rules.

An experiment file under ``experiments/reproductions/`` exports ``REPRODUCTION`` (the
CPU-sized variant) and may export ``POD`` (the same finding at the batch and budget
one would use on a GPU or TPU pod)::

    REPRODUCTION = Reproduction(
        name="rl2_bandits",
        question="Does an RL^2 agent match the Gittins index on Bernoulli bandits?",
        source="Duan et al. 2016, RL^2, arXiv:1611.02779, Table 1",
        settings=(Setting("k5_n100", "k=5, n=100", config=...), ...),
        published=(Published("k5_n100", "gittins", 78.3), ...),
        claims=(Claim("matches_gittins[k5_n100]", "...", rule, setting="k5_n100",
                      agents=("checkpoint", "gittins")), ...),
        measure="metarl.reproduce.bandit_table",
        budget="about 30 min on a quiet 2-core CPU",
    )

A claim's ``rule`` is a pure function of the *measured* summaries (``{setting name:
what the measure module returned}``) to a ``ClaimResult``; it is written in the
experiment file before anything runs, never after, and the tests feed it synthetic
summaries to show that each status it can give is reachable (a rule that cannot fail
is a defect). ``metarl.reproduce.runner`` trains, measures, checks the claims and
writes the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from metarl.config import ExperimentConfig
from metarl.errors import ConfigError
from metarl.sweeps.spec import Sweep

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not_reproduced"
STATUSES = (REPRODUCED, PARTLY, NOT_REPRODUCED)
CHECKPOINT = "checkpoint"
"""The agent name of the trained (frozen) policy in tables and published values."""


@dataclasses.dataclass(frozen=True)
class ClaimResult:
    """A claim's status (one of ``STATUSES``) and the numbers it rests on, in words."""

    status: str
    reason: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"claim status {self.status!r}; allowed: {', '.join(STATUSES)}")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of the paper, as a rule on the measured summaries."""

    name: str
    statement: str
    """The claim and the rule that decides it, in words (copied into the report)."""
    rule: Callable[[dict[str, Any]], ClaimResult]
    """``measured -> ClaimResult``; ``measured`` maps setting names to measured summaries."""
    setting: str | None = None
    """The setting the claim is about (None: about several)."""
    agents: tuple[str, ...] = ()
    """The table rows (agents) it speaks about: their rows show its status."""

    def check(self, measured: dict[str, Any]) -> ClaimResult:
        result = self.rule(measured)
        if not isinstance(result, ClaimResult):
            raise TypeError(f"claim {self.name!r}: rule returned {type(result).__name__}")
        return result


@dataclasses.dataclass(frozen=True)
class Published:
    """One published number (or a qualitative finding, as text) of one setting."""

    setting: str
    agent: str
    value: float | str
    note: str = ""
    """Where it comes from when not obvious (a cell, a figure read by eye)."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One condition of the finding: a config trained like ``metarl train``, or a sweep."""

    name: str
    """Directory-safe name (``DIR/settings/<name>``)."""
    label: str
    """What a reader sees in tables and figures, e.g. 'k=5, n=100'."""
    config: ExperimentConfig | None = None
    sweep: Sweep | None = None

    def __post_init__(self) -> None:
        if (self.config is None) == (self.sweep is None):
            raise ValueError(f"setting {self.name!r}: give exactly one of config and sweep")


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """A published finding, its settings, published numbers and claims (module docstring)."""

    name: str
    question: str
    source: str
    """The citation, and which figure or table."""
    settings: tuple[Setting, ...]
    published: tuple[Published, ...]
    claims: tuple[Claim, ...]
    measure: str
    """Module with ``measure(context, **measure_options) -> dict`` (one setting's summary,
    with a ``"table"``: ``{agent: Interval JSON}``, the numbers beside the published ones)."""
    budget: str
    """The compute budget, stated (wall time on the machine it is sized for)."""
    measure_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Keyword arguments of the measure (``--set measure.<key>=value`` overrides them)."""
    variant: str = "cpu"
    """'cpu' or 'pod': which budget this spec is sized for."""
    value_label: str = "value"
    """What the table's numbers are (the figure's y label), e.g. 'total reward per episode'."""
    notes: tuple[str, ...] = ()
    """Caveats the report must carry (a missing env feature, a stand-in baseline)."""

    def __post_init__(self) -> None:
        names = [s.name for s in self.settings]
        if len(set(names)) != len(names):
            raise ValueError(f"reproduction {self.name!r}: setting names repeat: {names}")
        for item in (*self.published, *self.claims):
            setting = getattr(item, "setting", None)
            if setting is not None and setting not in names:
                raise ValueError(
                    f"reproduction {self.name!r}: {item!r} names setting {setting!r}; "
                    f"settings: {', '.join(names)}"
                )
        claim_names = [c.name for c in self.claims]
        if len(set(claim_names)) != len(claim_names):
            raise ValueError(f"reproduction {self.name!r}: claim names repeat")

    def setting(self, name: str) -> Setting:
        for setting in self.settings:
            if setting.name == name:
                return setting
        raise ConfigError(
            f"reproduction {self.name!r} has no setting {name!r}; settings: "
            + ", ".join(s.name for s in self.settings)
        )

    def resized(
        self,
        budget: str,
        run: Callable[[str], dict[str, Any]] | dict[str, Any],
        agent: dict[str, Any] | None = None,
        measure_options: dict[str, Any] | None = None,
        variant: str = "pod",
        algo: dict[str, Any] | None = None,
    ) -> Reproduction:
        """The same finding at another scale (the ``POD`` variant): every config setting's
        ``run`` fields replaced (a dict, or ``setting name -> dict`` where they differ per
        setting) and its ``agent`` and ``algo`` fields; the claims, published numbers and
        measure stay."""
        settings = []
        for setting in self.settings:
            if setting.config is None:
                raise ValueError(f"setting {setting.name!r} is a sweep: resize its Sweep instead")
            config = setting.config
            changes = run(setting.name) if callable(run) else run
            config = dataclasses.replace(
                config,
                run=dataclasses.replace(config.run, **changes),
                agent=dataclasses.replace(config.agent, **(agent or {})),
                algo=dataclasses.replace(config.algo, **(algo or {})),
            )
            settings.append(dataclasses.replace(setting, config=config))
        return dataclasses.replace(
            self,
            variant=variant,
            settings=tuple(settings),
            budget=budget,
            measure_options=self.measure_options if measure_options is None else measure_options,
        )

    def published_value(self, setting: str, agent: str) -> float | str | None:
        for item in self.published:
            if item.setting == setting and item.agent == agent:
                return item.value
        return None


def overall_status(results: list[ClaimResult]) -> str:
    """Every claim reproduced: reproduced; none reproduced or partly: not_reproduced; else partly."""
    statuses = [r.status for r in results]
    if statuses and all(s == REPRODUCED for s in statuses):
        return REPRODUCED
    if all(s == NOT_REPRODUCED for s in statuses):
        return NOT_REPRODUCED
    return PARTLY
