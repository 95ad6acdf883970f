"""Architecture sweeps at several budgets: checked comparable, tabled and drawn from their summaries."""

from __future__ import annotations

import json

import pytest

from metarl.interval import Interval
from metarl.sweeps import architecture_budget as budget
from metarl.sweeps.run_sweep import SUMMARY_FILE

MEASURES = ("held_out_return", "held_out_improvement", "likelihood_difference")


def _summary(steps: int, shift: float, sweep: str = "architecture_bandit") -> dict:
    """A summary as ``metarl sweep`` writes it (JSON intervals), two cores, two seeds each."""
    rows, points = [], []
    for k, core in enumerate(("gru", "transformer")):
        level = shift + k
        per_seed = {m: [level - 0.5, level + 0.5] for m in MEASURES}
        rows.append(
            {
                "core": core,
                "iqm": {m: Interval(level, level - 0.5, level + 0.5).to_json() for m in MEASURES},
                "verdict": "learner" if k else "undecided",
                "minus_reference": None
                if k == 0
                else {m: Interval(1.0, 0.25, 1.75).to_json() for m in MEASURES},
            }
        )
        points.append({"core": core, "per_seed": per_seed})
    return {
        "sweep": sweep,
        "family": "bandit",
        "episodes": 8,
        "eval_seed": 0,
        "seeds_per_point": 2,
        "env_steps_per_run": steps,
        "reference_core": "gru",
        "by_core": rows,
        "points": points,
        "references": {"thompson_sampling": {"held_out_return": 3.0}, "random": {}},
    }


def _write(tmp_path, name: str, summary: dict):
    directory = tmp_path / name
    directory.mkdir()
    (directory / SUMMARY_FILE).write_text(json.dumps(summary))
    return directory


def test_runs_are_sorted_by_budget_and_tabled_with_their_own_numbers(tmp_path):
    late = _write(tmp_path, "late", _summary(20_480_000, shift=10.0))
    early = _write(tmp_path, "early", _summary(4_608_000, shift=0.0))
    summaries = budget.load_summaries([late, early])
    assert [s["env_steps_per_run"] for s in summaries] == [4_608_000, 20_480_000]
    table = budget.table_markdown(summaries).splitlines()
    assert "| held-out return | 4.61M | 20.48M |" in table
    assert "| gru | 0.00 [-0.50, 0.50] | 10.00 [9.50, 10.50] |" in table
    assert "| transformer - gru | +1.00 [+0.25, +1.75] | +1.00 [+0.25, +1.75] |" in table
    # The likelihood cells carry the sweep's own verdict.
    assert (
        "| transformer | +1.000 [+0.500, +1.500] learner | +11.000 [+10.500, +11.500] learner |"
        in table
    )


def test_the_figure_and_table_are_written(tmp_path):
    summaries = budget.check_comparable(
        [_summary(1_000_000, 0.0), _summary(4_000_000, 1.0)], ["a", "b"]
    )
    written = budget.plot(summaries, tmp_path / "figs" / "budget")
    names = sorted(path.name for path in written)
    assert names == ["budget.md", "budget.pdf", "budget.png"]
    assert all(path.stat().st_size > 0 for path in written)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(sweep="architecture_rule_grid"), "field 'sweep'"),
        (dict(episodes=16), "field 'episodes'"),
        (dict(env_steps_per_run=1_000_000), "same budget"),
    ],
)
def test_runs_that_do_not_compare_are_refused_naming_the_field(change, message):
    other = {**_summary(2_000_000, 0.0), **change}
    with pytest.raises(budget.BudgetError, match=message):
        budget.check_comparable([_summary(1_000_000, 0.0), other], ["a", "b"])


def test_different_cores_and_missing_summaries_are_refused(tmp_path):
    other = _summary(2_000_000, 0.0)
    other["by_core"] = other["by_core"][:1]
    with pytest.raises(budget.BudgetError, match="cores"):
        budget.check_comparable([_summary(1_000_000, 0.0), other], ["a", "b"])
    with pytest.raises(budget.BudgetError, match="no sweep_summary.json"):
        budget.load_summaries([tmp_path, tmp_path])
    assert budget.main([str(tmp_path), "--out", str(tmp_path / "f")]) == 2  # one compares nothing
