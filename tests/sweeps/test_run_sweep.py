"""``metarl sweep`` end to end on a tiny sweep: files, seed-level summary, resume, refusals.

One module-scoped sweep (N = 1, 3, inf x pool seeds 0, 1 x 2 training seeds: 12
runs in two compiled groups; 3 arms, 10 pulls, 2 chunks of 10 updates, 64
episodes) is trained, evaluated and plotted once through the CLI; the tests read
what it wrote, then run it again, damage it and change its settings.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from metarl.cli import main
from metarl.sweeps.run_sweep import GROUPS_DIR, SUMMARY_FILE, SWEEP_FILE

SWEEP_SOURCE = textwrap.dedent(
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location("tiny_sweeps", {module!r})
    tiny_sweeps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny_sweeps)
    SWEEP = tiny_sweeps.tiny_sweep()
    """
)


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("experiments") / "tiny_sweep.py"
    path.write_text(SWEEP_SOURCE.format(module=str(Path(__file__).with_name("tiny_sweeps.py"))))
    return path


def _sweep(sweep_file: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    import contextlib

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["sweep", str(sweep_file), "--out", str(out), *extra])
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def first_sweep(sweep_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "out"
    code, stdout, stderr = _sweep(sweep_file, out)
    assert code == 0, stderr
    return out, stdout, stderr


def _strict_json(path: Path) -> dict:
    def refuse(constant):
        raise ValueError(f"{path} holds a non-JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _group_dirs(out: Path) -> list[Path]:
    return sorted((out / GROUPS_DIR).iterdir())


def test_one_command_writes_groups_summary_and_figure(first_sweep):
    out, stdout, stderr = first_sweep
    for name in (SWEEP_FILE, SUMMARY_FILE, "task_diversity.png", "task_diversity.pdf"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    groups = _group_dirs(out)
    assert len(groups) == 2  # finite pools (8 runs) and the prior (4 runs)
    members = [_strict_json(g / "sweep_group.json")["members"] for g in groups]
    assert sorted(len(m) for m in members) == [2, 4]
    assert "2 compiled group(s)" in stderr and "env steps (100%)" in stderr
    assert "seed-level verdict" in stdout


def test_summary_reports_every_seed_and_an_interval_over_seeds(first_sweep):
    out, _, _ = first_sweep
    summary = _strict_json(out / SUMMARY_FILE)
    assert [p["label"] for p in summary["points"]][:2] == [
        "num_tasks=1,task_seed=0",
        "num_tasks=1,task_seed=1",
    ]
    for point in summary["points"]:
        for measure in ("held_out_return", "memorisation_advantage", "likelihood_difference"):
            assert len(point["per_seed"][measure]) == 2
    rows = {row["num_tasks"]: row for row in summary["by_num_tasks"]}
    assert list(rows) == [1, 3, "inf"]
    for row in rows.values():
        assert row["runs"] == 4 and row["pool_seeds"] == [0, 1]
        assert row["verdict"] in ("learner", "locator", "undecided")
        for measure, estimate in row["iqm"].items():
            low, value, high = estimate["low"], estimate["value"], estimate["high"]
            assert all(math.isfinite(v) for v in (low, value, high)), (measure, estimate)
            assert low <= value + 1e-9 <= high + 2e-9, (measure, estimate)
    # The held-out return of N = 1 is each run's own mean, so the IQM lies among them.
    seeds = [v for p in summary["points"][:2] for v in p["per_seed"]["held_out_return"]]
    assert min(seeds) <= rows[1]["iqm"]["held_out_return"]["value"] <= max(seeds)
    assert rows["inf"]["stand_in_locator"] is True


def test_rerun_skips_finished_groups_and_reuses_the_evaluation(first_sweep, sweep_file):
    out, _, _ = first_sweep
    before = (out / SUMMARY_FILE).read_text()
    code, _, stderr = _sweep(sweep_file, out)
    assert code == 0, stderr
    assert stderr.count("finished earlier") == 2
    assert "cached in sweep_summary.json, reused" in stderr
    assert (out / SUMMARY_FILE).read_text() == before


def test_a_killed_group_resumes_to_the_same_params(first_sweep, sweep_file, tmp_path):
    from metarl.runner.frozen import load_frozen_run

    out = tmp_path / "copy"
    shutil.copytree(first_sweep[0], out)
    group = _group_dirs(out)[0]
    finished = load_frozen_run(group).params
    # A sweep killed after its first checkpoint: the last one never got written.
    checkpoints = sorted((group / "checkpoints").iterdir(), key=lambda p: p.name)
    latest = max(int(p.name) for p in checkpoints if p.name.isdigit())
    shutil.rmtree(group / "checkpoints" / str(latest))
    code, _, stderr = _sweep(sweep_file, out)
    assert code == 0, stderr
    assert "resuming" in stderr and stderr.count("finished earlier") == 1
    resumed = load_frozen_run(group).params
    for a, b in zip(jax.tree.leaves(finished), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, b)


def test_other_settings_are_refused_and_nothing_is_overwritten(first_sweep, sweep_file):
    out, _, _ = first_sweep
    before = (out / SWEEP_FILE).read_text()
    code, _, stderr = _sweep(sweep_file, out, "--set", "algo.learning_rate=0.001")
    assert code == 2
    assert "other settings" in stderr and "sets" in stderr
    assert (out / SWEEP_FILE).read_text() == before


def test_a_swept_field_cannot_be_set_from_the_command_line(sweep_file, tmp_path):
    code, _, stderr = _sweep(sweep_file, tmp_path / "new", "--set", "env.overrides.task_seed=3")
    assert code == 2 and "is a sweep axis" in stderr
    assert not (tmp_path / "new").exists()


def test_plot_only_redraws_from_the_summary(first_sweep, sweep_file, tmp_path):
    out = tmp_path / "plot_only"
    out.mkdir()
    shutil.copy(first_sweep[0] / SUMMARY_FILE, out / SUMMARY_FILE)
    code, _, stderr = _sweep(sweep_file, out, "--plot-only")
    assert code == 0, stderr
    assert (out / "task_diversity.png").stat().st_size > 0
    code, _, stderr = _sweep(sweep_file, tmp_path / "empty", "--plot-only")
    assert code == 2 and "run the sweep first" in stderr
