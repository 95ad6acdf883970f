"""The probe registry: every probe once, and everything derived from the ``Probe`` objects.

Checked without training anything: each probe module's ``PROBE`` is registered
exactly once under its own name; the per-family lists, verdict tables and
descriptions come from the objects (and equal the lists ``metarl probe`` has
always run); names are checked against the run's family with the allowed ones
listed; a verdict outside a probe's allowed set is refused; the text summary and
the CLI help are built from the registry.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import metarl.probes
from metarl.errors import ConfigError
from metarl.probes import registry
from metarl.probes.protocol import Probe, Verdict
from metarl.probes.run_probes import check_probes, format_probe_summary

PROBES_BY_FAMILY_BEFORE_THE_REGISTRY = {
    "bandit": ("likelihood", "model_fit", "decoding", "volatility", "thinking"),
    "two_step": ("two_step", "thinking"),
    "maze": ("difficulty", "thinking", "decoding"),
}
"""The hand-written table the registry replaced (maze order: see the test below)."""


def _probe_modules() -> dict[str, object]:
    """Every module of ``metarl.probes`` that defines a ``PROBE``."""
    modules = {}
    for info in pkgutil.iter_modules(metarl.probes.__path__):
        module = importlib.import_module(f"metarl.probes.{info.name}")
        if isinstance(getattr(module, "PROBE", None), Probe):
            modules[info.name] = module
    return modules


def test_every_probe_module_is_registered_once_under_its_own_name():
    modules = _probe_modules()
    assert len(registry.PROBES) == len(registry.BY_NAME) == len(modules) == 9
    for name, module in modules.items():
        assert module.PROBE.name == name
        assert sum(probe is module.PROBE for probe in registry.PROBES) == 1
        assert registry.probe(name) is module.PROBE


def test_per_family_lists_are_derived_and_equal_the_old_table():
    derived = registry.PROBES_BY_FAMILY
    # The rule grid came after the registry; it runs its probes in registry order too.
    assert list(derived) == [*PROBES_BY_FAMILY_BEFORE_THE_REGISTRY, "rule_grid"]
    assert derived["rule_grid"] == ("rule_likelihood", "decoding", "recovery", "thinking")
    for family, names in PROBES_BY_FAMILY_BEFORE_THE_REGISTRY.items():
        assert set(derived[family]) == set(names)
        for name in derived[family]:
            assert family in registry.probe(name).families
    # Run order is registry order; bandits and two-step keep theirs exactly. Mazes now run
    # decoding before thinking (thinking runs last in every family); a probe's numbers do
    # not depend on the order (each plays its own episodes from the same key).
    assert derived["bandit"] == PROBES_BY_FAMILY_BEFORE_THE_REGISTRY["bandit"]
    assert derived["two_step"] == PROBES_BY_FAMILY_BEFORE_THE_REGISTRY["two_step"]
    assert derived["maze"] == ("difficulty", "decoding", "thinking")


def test_verdict_tables_and_descriptions_come_from_the_probes():
    for probe in registry.PROBES:
        assert registry.VERDICTS[probe.name] == probe.allowed_verdicts
        assert len(set(probe.allowed_verdicts)) == len(probe.allowed_verdicts) > 0
        assert registry.PROBE_DESCRIPTIONS[probe.name] == probe.description
        assert probe.families and set(probe.families) <= set(registry.FAMILIES)


def test_a_verdict_outside_the_allowed_set_is_refused():
    probe = registry.probe("likelihood")
    assert probe.verdict_json(Verdict("learner", "why")) == {
        "label": "learner",
        "reason": "why",
        "allowed": ["learner", "locator", "undecided"],
    }
    with pytest.raises(ValueError, match="'planner_like', not one of"):
        probe.verdict_json(Verdict("planner_like", "why"))


def test_unknown_and_inapplicable_names_are_refused_listing_the_allowed_ones():
    with pytest.raises(ConfigError) as error:
        check_probes("bandit-bernoulli-v0", "nope")
    assert str(error.value) == (
        "probe 'nope' is not defined for 'bandit-bernoulli-v0' (bandit family); allowed values: "
        "'likelihood', 'model_fit', 'decoding', 'volatility', 'thinking', or 'all'"
    )
    with pytest.raises(ConfigError, match="'difficulty' does not apply to 'two-step-v0'"):
        check_probes("two-step-v0", "two_step,difficulty")
    with pytest.raises(
        ConfigError, match="probes exist for the bandit, two_step, maze and rule_grid families"
    ):
        check_probes("CartPole-v1", "all")
    assert check_probes("maze-v0", "thinking,difficulty") == ["difficulty", "thinking"]
    assert check_probes("maze-v0", "all") == list(registry.PROBES_BY_FAMILY["maze"])


def test_text_summary_is_the_head_the_verdict_and_the_probes_own_lines():
    interval = {"value": 0.25, "low": 0.125, "high": 0.375}
    summary = {
        "run": {"name": "run"},
        "checkpoint": {"update": 7, "seed_index": 0},
        "probe": "likelihood",
        "description": registry.probe("likelihood").description,
        "status": "done",
        "verdict": {"label": "learner", "reason": "because"},
        "results": {"agents": {"checkpoint": {"difference": interval, "verdict": "learner"}}},
    }
    lines = format_probe_summary(summary).splitlines()
    assert lines[0].startswith("run  update 7  seed index 0  probe likelihood: Bayes learner")
    assert lines[1] == "  verdict: learner  (because)"
    assert lines[2:] == [
        f"  {'checkpoint':24s} learner - locator per choice +0.2500 [+0.1250, +0.3750] -> learner"
    ]
    skipped = {**summary, "status": "skipped", "reason": "no pool", "verdict": None}
    assert format_probe_summary(skipped).splitlines()[1] == "  skipped: no pool"


def test_cli_help_lists_each_familys_probes_from_the_registry(capsys):
    from metarl import cli

    with pytest.raises(SystemExit):
        cli.main(["probe", "--help"])

    def squeezed(text: str) -> str:  # help is wrapped, also at hyphens: compare without spaces
        return "".join(text.split())

    text = squeezed(capsys.readouterr().out)
    assert squeezed(f"Probes: {registry.family_listing()}.") in text
    for family, names in registry.PROBES_BY_FAMILY.items():
        assert squeezed(f"{registry.FAMILY_TITLES[family]}: {', '.join(names)}") in text
