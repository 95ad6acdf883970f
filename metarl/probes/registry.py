"""Every probe, once; what applies to which env family, and what each may conclude.

Adding a probe: write ``metarl/probes/<name>.py`` with its analysis and a
``PROBE = Probe(...)`` (see ``metarl.probes.protocol``), and list it in ``PROBES``
below. The per-family lists, verdict tables, descriptions, the ``metarl probe``
help text and the text summary all follow from the objects.
"""

from __future__ import annotations

from metarl.probes import (
    decoding,
    difficulty,
    likelihood,
    model_fit,
    recovery,
    rule_likelihood,
    thinking,
    two_step,
    volatility,
)
from metarl.probes.protocol import Probe

PROBES: tuple[Probe, ...] = (
    likelihood.PROBE,
    model_fit.PROBE,
    two_step.PROBE,
    difficulty.PROBE,
    rule_likelihood.PROBE,
    decoding.PROBE,
    volatility.PROBE,
    recovery.PROBE,
    thinking.PROBE,
)
"""Every probe; a family's probes run (``--probe all``) in this order."""

BY_NAME: dict[str, Probe] = {probe.name: probe for probe in PROBES}
if len(BY_NAME) != len(PROBES):
    raise ValueError("two probes share a name")  # a module-level bug, caught on import

ALL_PROBES: tuple[str, ...] = tuple(BY_NAME)

FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(f for probe in PROBES for f in probe.families))
"""The env families some probe applies to, in order of first appearance."""

PROBES_BY_FAMILY: dict[str, tuple[str, ...]] = {
    family: tuple(probe.name for probe in PROBES if family in probe.families) for family in FAMILIES
}
"""Probes per env family, in the order ``--probe all`` runs them."""

VERDICTS: dict[str, tuple[str, ...]] = {probe.name: probe.allowed_verdicts for probe in PROBES}
"""Every verdict label a probe may give (a skipped probe has ``verdict`` None)."""

PROBE_DESCRIPTIONS: dict[str, str] = {probe.name: probe.description for probe in PROBES}

FAMILY_TITLES = {
    "bandit": "bandits",
    "two_step": "two-step",
    "maze": "mazes",
    "rule_grid": "rule grids",
}
"""How the help text names a family (its name otherwise)."""


def probe(name: str) -> Probe:
    """The registered probe ``name`` (KeyError naming the registered ones otherwise)."""
    if name not in BY_NAME:
        raise KeyError(f"no probe {name!r}; registered: {', '.join(ALL_PROBES)}")
    return BY_NAME[name]


def family_listing() -> str:
    """'bandits: likelihood, ...; two-step: two_step, thinking; mazes: ...' for help texts."""
    return "; ".join(
        f"{FAMILY_TITLES.get(family, family)}: {', '.join(names)}"
        for family, names in PROBES_BY_FAMILY.items()
    )
