"""A reproduction whose setting is a sweep: task_diversity_transition's claims on the tiny sweep.

The tiny task-diversity sweep of tests/sweeps (N = 1, 3, inf x pool seeds 0, 1 x 2
training seeds; 3 arms, 10 pulls, 64 episodes; slow: about 2 minutes) runs as the one setting of a
reproduction through ``metarl reproduce``: the sweep trains and evaluates itself
(resumable as ``metarl sweep``), ``metarl.reproduce.diversity_transition`` reads its
summary and task_diversity_transition's rules decide.
"""

from __future__ import annotations

import contextlib
import io
import json
import textwrap
from pathlib import Path

import pytest

from metarl.cli import main
from metarl.reproduce import STATUSES

SOURCE = textwrap.dedent(
    """
    import dataclasses
    import importlib.util

    from metarl.experiments import load_experiment_module
    from metarl.reproduce import Setting

    spec = importlib.util.spec_from_file_location("tiny_sweeps", {sweeps!r})
    tiny_sweeps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny_sweeps)
    base = load_experiment_module({spec_file!r}).REPRODUCTION
    REPRODUCTION = dataclasses.replace(
        base,
        name="tiny_diversity",
        settings=(Setting("diversity", "3 arms, 10 pulls", sweep=tiny_sweeps.tiny_sweep()),),
        published=(),
    )
    """
)


def _reproduce(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["reproduce", *argv])
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.slow  # 12 runs in two compiled groups, then their evaluation: about 2 minutes
def test_sweep_setting_end_to_end_and_rerun(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    path = tmp_path / "tiny_diversity.py"
    path.write_text(
        SOURCE.format(
            sweeps=str(repo / "tests" / "sweeps" / "tiny_sweeps.py"),
            spec_file=str(repo / "experiments" / "reproductions" / "task_diversity_transition.py"),
        )
    )
    out = tmp_path / "out"
    code, stdout, stderr = _reproduce(str(path), "--out", str(out), "--no-progress")
    assert code == 0, stderr
    report = json.loads((out / "report.json").read_text())
    measured = report["measured"]["diversity"]
    assert measured["num_tasks"] == [1, 3, "inf"]
    assert measured["seeds_per_point"] == 2 and measured["pool_seeds"] == [0, 1]
    assert set(measured["table"]) == {"N=1", "N=3", "N=inf"}
    assert [c["name"] for c in report["claims"]] == ["locator_to_learner", "memorisation_falls"]
    assert all(c["status"] in STATUSES for c in report["claims"])
    assert (out / "settings" / "diversity" / "sweep_summary.json").is_file()
    assert (out / "reproduction.png").stat().st_size > 0
    # Where one run's spread comes from, per finite N, in the JSON and in report.md.
    assert {"N=1", "N=3"} <= set(measured["noise"])
    for row in measured["noise"].values():
        assert row["runs"] == 4 and row["largest"] in ("pool_sd", "seed_sd", "probe_sd")
        assert 0.0 <= row["flip_fraction"] <= 1.0
    assert "Why one run per N can flip" in (out / "report.md").read_text()
    code, _, stderr = _reproduce(str(path), "--out", str(out), "--no-progress")
    assert code == 0, stderr
    assert "finished earlier" in stderr and "measured earlier" in stderr
    assert json.loads((out / "report.json").read_text())["claims"] == report["claims"]
