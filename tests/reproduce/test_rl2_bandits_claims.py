"""rl2_bandits' claim rules on synthetic measured summaries: every status each rule can give.

The rules are fixed in experiments/reproductions/rl2_bandits.py before anything runs;
here each is fed summaries built by hand (the shape ``metarl.reproduce.bandit_table``
returns) on both sides of every boundary, so a rule that could not fail would show.
"""

from __future__ import annotations

import math

import pytest

from metarl.reproduce import CHECKPOINT, NOT_REPRODUCED, PARTLY, REPRODUCED, overall_status
from metarl.reproduce.spec import ClaimResult


def _interval(value, low, high):
    return {"value": value, "low": low, "high": high}


def _summary(horizon=100, gittins_diff=None, thompson_diff=None, gittins=None, spread=10.0):
    no_interval = _interval(0.0, None, None)
    return {
        "horizon": horizon,
        "interval_unit": "training seeds (synthetic)",
        "checkpoint_minus": {
            "gittins": _interval(*gittins_diff) if gittins_diff else no_interval,
            "thompson_sampling": _interval(*thompson_diff) if thompson_diff else no_interval,
        },
        "table": {"gittins": _interval(*gittins) if gittins else _interval(78.3, 78.1, 78.5)},
        "spread": {"gittins": spread},
    }


@pytest.mark.parametrize(
    "setting, diff, status",
    [
        ("k5_n100", (0.2, -0.3, 0.7), REPRODUCED),  # includes 0, narrow
        ("k5_n100", (1.0, 0.5, 1.5), REPRODUCED),  # above 0
        ("k5_n100", (-0.5, -0.99, 0.0), REPRODUCED),  # touches 0, low end inside tolerance 1
        ("k5_n100", (-0.5, -0.8, -0.2), PARTLY),  # below 0, within tolerance
        ("k5_n100", (-0.85, -1.2, -0.5), PARTLY),  # bandit_default's gap today: below, near
        ("k5_n100", (-1.0, -3.0, 1.0), PARTLY),  # includes 0 but too wide to tell
        ("k5_n100", (-2.0, -3.0, -1.01), NOT_REPRODUCED),  # wholly beyond tolerance
        ("k10_n100", (-1.5, -2.5, -1.2), NOT_REPRODUCED),
        ("k5_n10", (0.0, -0.05, 0.05), REPRODUCED),  # tolerance 0.1 at n=10
        ("k5_n10", (-0.05, -0.15, 0.05), PARTLY),  # the same width is too wide at n=10
        ("k5_n10", (-0.3, -0.4, -0.2), NOT_REPRODUCED),
        ("k5_n100", None, PARTLY),  # one value and no interval: no decision
    ],
)
def test_matches_gittins(rl2, setting, diff, status):
    horizon = 10 if setting == "k5_n10" else 100
    result = rl2.matches_gittins(setting, {setting: _summary(horizon, gittins_diff=diff)})
    assert isinstance(result, ClaimResult) and result.status == status, result.reason
    assert "checkpoint - Gittins" in result.reason


@pytest.mark.parametrize(
    "diff, status",
    [
        ((2.5, 2.0, 3.0), REPRODUCED),
        ((0.5, -0.1, 1.1), PARTLY),
        ((-0.5, -0.9, -0.1), NOT_REPRODUCED),
        (None, PARTLY),
    ],
)
def test_beats_thompson(rl2, diff, status):
    result = rl2.beats_thompson("k10_n100", {"k10_n100": _summary(thompson_diff=diff)})
    assert result.status == status, result.reason


def test_gittins_as_published_allows_both_sampling_errors_then_the_tolerance(rl2):
    # spread 15 over 10,000 of ours (s.e. 0.15) and 1000 published (s.e. 0.474): allowance
    # 1.96 * hypot(0.15, 0.474) + 0.05 = 1.025; tolerance 1 at n=100.
    se_ours = 0.15
    half = 1.959963984540054 * se_ours
    allowance = 1.959963984540054 * math.hypot(se_ours, 15.0 / math.sqrt(1000)) + 0.05

    def status(gap):
        value = 78.3 + gap
        summary = _summary(gittins=(value, value - half, value + half), spread=15.0)
        return rl2.gittins_as_published("k5_n100", {"k5_n100": summary}).status

    assert status(0.0) == REPRODUCED
    assert status(allowance - 0.01) == REPRODUCED
    assert status(-(allowance + 0.01)) == PARTLY
    assert status(allowance + 0.99) == PARTLY
    assert status(allowance + 1.01) == NOT_REPRODUCED
    assert status(-(allowance + 1.01)) == NOT_REPRODUCED


def test_every_setting_has_its_three_claims_and_published_row(rl2):
    repro = rl2.REPRODUCTION
    assert [s.name for s in repro.settings] == ["k5_n100", "k10_n100", "k5_n10"]
    for setting in repro.settings:
        names = [c.name for c in repro.claims if c.setting == setting.name]
        assert names == [
            f"matches_gittins[{setting.name}]",
            f"beats_thompson[{setting.name}]",
            f"gittins_as_published[{setting.name}]",
        ]
        assert {p.agent for p in repro.published if p.setting == setting.name} == set(rl2.COLUMNS)
    # The numbers (and the k=5 row of tests/evaluation/test_baselines_bandit.py).
    published = {(p.setting, p.agent): p.value for p in repro.published}
    assert published[("k5_n100", "random")] == 49.9
    assert published[("k5_n100", "thompson_sampling")] == 74.7
    assert published[("k5_n100", "ucb1")] == 78.0
    assert published[("k5_n100", "gittins")] == 78.3
    assert published[("k5_n100", CHECKPOINT)] == 78.7
    assert published[("k10_n100", "thompson_sampling")] == 76.7
    assert published[("k10_n100", "gittins")] == 82.8
    assert published[("k10_n100", CHECKPOINT)] == 83.5
    assert published[("k5_n10", "gittins")] == 6.6 and published[("k5_n10", CHECKPOINT)] == 6.7
    assert published[("k5_n100", "epsilon_greedy")] == 75.4
    assert published[("k5_n100", "greedy")] == 74.8


def test_pod_variant_is_the_same_finding_at_a_larger_budget(rl2):
    cpu, pod = rl2.REPRODUCTION, rl2.POD
    assert pod.variant == "pod" and cpu.variant == "cpu"
    assert pod.claims == cpu.claims and pod.published == cpu.published
    for small, large in zip(cpu.settings, pod.settings, strict=True):
        assert large.config.env == small.config.env  # the published task, unchanged
        assert large.config.run.total_env_steps > small.config.run.total_env_steps
        assert large.config.run.num_seeds >= small.config.run.num_seeds >= 3
        assert large.config.agent.hidden_size > small.config.agent.hidden_size
        # The pod run's discount ends where Gittins at it is within 0.1 of Gittins (0.99).
        assert large.config.algo.discount_at_end == 0.99


def test_overall_status():
    ok, part, no = (ClaimResult(s, "") for s in (REPRODUCED, PARTLY, NOT_REPRODUCED))
    assert overall_status([ok, ok]) == REPRODUCED
    assert overall_status([ok, no]) == PARTLY
    assert overall_status([part, part]) == PARTLY
    assert overall_status([no, no]) == NOT_REPRODUCED
    with pytest.raises(ValueError, match="allowed"):
        ClaimResult("maybe", "")
