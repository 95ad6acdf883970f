"""The architecture sweep: matched parameter counts, linked axes, its statistics on hand-made
numbers, and tiny sweeps end to end through ``metarl sweep``.

Default suite: a two-core tiny bandit sweep (GRU and the memoryless MLP: parameter trees
of different structure, which the sweep must keep apart) trained, evaluated and plotted
once. ``-m slow``: every core on the tiny bandit and on the tiny rule grid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from metarl.cli import main
from metarl.errors import ConfigError
from metarl.experiments import load_experiment, load_experiment_module
from metarl.interval import Interval
from metarl.sweeps import Axis, Sweep
from metarl.sweeps import architecture as arch
from metarl.sweeps import architecture_families as families
from metarl.sweeps.run_sweep import SUMMARY_FILE
from metarl.sweeps.spec import check_sets, point_config

_SPEC = importlib.util.spec_from_file_location(
    "metarl_tests_tiny_architecture_sweeps", Path(__file__).with_name("tiny_architecture_sweeps.py")
)
tiny = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny)


# --------------------------------------------------------------------------- definitions
@pytest.mark.parametrize("name", ["architecture_bandit", "architecture_rule_grid"])
def test_every_core_matches_the_gru_within_ten_percent_as_stated(name):
    module = load_experiment_module(name)
    rows = arch.param_table(module.SWEEP)
    assert [r["core"] for r in rows] == ["gru", "lstm", "mlp", "transformer"]
    for row in rows:
        assert abs(row["ratio"] - 1) <= 0.10, row
        assert row["params"] == module.PARAMS[row["core"]], row  # the docstring's table
    # The counts are of the real params: a wider core has more of them.
    config = point_config(module.SWEEP, module.SWEEP.points()[0])
    agent = dataclasses.replace(config.agent, hidden_size=config.agent.hidden_size + 8)
    wider = dataclasses.replace(config, agent=agent)
    assert arch.count_params(wider) > module.PARAMS["gru"]


@pytest.mark.parametrize(
    ("name", "default"),
    [("architecture_bandit", "bandit_default"), ("architecture_rule_grid", "rule_grid_default")],
)
def test_the_sweep_is_the_default_experiment_over_the_core(name, default):
    sweep, base = load_experiment_module(name).SWEEP, load_experiment(default)
    configs = [point_config(sweep, p) for p in sweep.points()]
    assert [p.name(sweep.axes) for p in sweep.points()] == [
        "core=gru",
        "core=lstm",
        "core=mlp",
        "core=transformer",
    ]
    for config in configs:
        assert config.env == base.env and config.algo == base.algo
        assert config.agent.embed_size == base.agent.embed_size
        assert config.run.num_seeds >= 3 and config.run.num_envs == base.run.num_envs
    # The reference core is the default experiment's own agent.
    assert configs[0].agent.core == base.agent.core
    assert configs[0].agent.hidden_size == base.agent.hidden_size
    assert sweep.analysis == "metarl.sweeps.architecture"


@pytest.mark.parametrize("name", ["architecture_bandit", "architecture_rule_grid"])
def test_the_pod_variant_is_the_same_comparison_scaled_up(name):
    cpu, pod = (load_experiment_module(n).SWEEP for n in (name, f"{name}_pod"))
    assert pod.axes == cpu.axes  # same cores at the same widths
    assert pod.experiment.agent == cpu.experiment.agent
    assert pod.experiment.env == cpu.experiment.env and pod.experiment.algo == cpu.experiment.algo
    assert pod.experiment.run.num_seeds > cpu.experiment.run.num_seeds
    assert pod.experiment.run.total_env_steps >= 10 * cpu.experiment.run.total_env_steps
    assert pod.analysis == cpu.analysis


def test_a_linked_field_moves_with_its_axis_and_is_owned_by_the_sweep():
    base = load_experiment("bandit_default")
    axis = Axis("agent.core", ("gru", "mlp"), linked=(("agent.hidden_size", (64, 114)),))
    sweep = Sweep("s", base, (axis, Axis("run.seed", (0, 1))), "metarl.sweeps.architecture")
    points = sweep.points()
    assert [p.name(sweep.axes) for p in points] == [
        "core=gru,seed=0",
        "core=gru,seed=1",
        "core=mlp,seed=0",
        "core=mlp,seed=1",
    ]  # zipped with the core, crossed with the seed
    widths = [
        (point_config(sweep, p).agent.core, point_config(sweep, p).agent.hidden_size)
        for p in points
    ]
    assert widths == [("gru", 64), ("gru", 64), ("mlp", 114), ("mlp", 114)]
    with pytest.raises(ConfigError, match="sweep axis"):
        check_sets(sweep, ["agent.hidden_size=32"])
    with pytest.raises(ConfigError, match="linked field"):
        Axis("agent.core", ("gru", "mlp"), linked=(("agent.hidden_size", (64,)),))


# --------------------------------------------------------------------------- statistics
def test_the_difference_of_iqms_and_its_interval():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.zeros(4)
    diff = arch.iqm_difference(a, b)
    assert diff.value == pytest.approx(2.5)  # the IQM of 1..4 is the mean of 2 and 3
    assert 1.0 <= diff.low <= 2.5 <= diff.high <= 4.0 and diff.low < diff.high
    assert arch.iqm_difference(a, a + 10.0).high < 0  # a shift is resolved
    same = arch.iqm_difference(np.full(3, 2.0), np.full(3, 2.0))
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    assert not arch.iqm_difference([1.0], [0.0, 1.0]).has_bounds  # one run: no interval
    assert math.isnan(arch.iqm_difference([np.nan], [1.0]).value)


def test_bandit_recovery_reads_the_margin_before_the_change_and_at_the_end():
    # 20 pulls, change after pull 9: before, the agent is optimal in 6 of 8 episodes and
    # random in none; at the end in 3 of 8: half of the pre-change margin is back.
    steps, episodes, change = 20, 8, 9
    agent = np.zeros((steps, episodes))
    agent[:10, :6] = 1.0
    agent[10:15, :1] = 1.0
    agent[15:, :3] = 1.0
    events = np.zeros((steps, episodes), bool)
    events[change] = True
    found = families.bandit_regained(agent, np.zeros_like(agent), events, change)
    assert found["regained"] == pytest.approx(0.5)
    assert found["status"] == "not regained within the window"  # 90% is never back
    assert math.isnan(found["steps"])
    agent[10:, :6] = 1.0  # unaffected by the change
    found = families.bandit_regained(agent, np.zeros_like(agent), events, change)
    assert found["regained"] == pytest.approx(1.0) and found["steps"] == 0.0
    # Optimal in 1 of 8 episodes before the change: a margin inside its own noise (3 standard
    # errors) has no share to regain, however the end looks.
    agent[:, 1:] = 0.0
    found = families.bandit_regained(agent, np.zeros_like(agent), events, change)
    assert math.isnan(found["regained"]) and found["status"] == "no margin over baseline"


def test_the_bandit_curve_averages_equal_parts_of_the_episode():
    rewards = np.repeat(np.arange(20.0)[:, None], 3, axis=1)  # reward = step index
    np.testing.assert_allclose(families.curve_parts(rewards, 4), [2.0, 7.0, 12.0, 17.0])
    assert families.curve_parts(rewards[:3], 10).shape == (3,)  # never more parts than steps


def _summary(family="bandit") -> dict:
    """A hand-made summary with three cores, one of them lacking a likelihood."""
    per = {
        "held_out_return": [1.0, 2.0],
        "held_out_improvement": [0.1, 0.2],
        "recovery_regained": [0.5, None],
        "likelihood_difference": [0.01, 0.02],
        "drift_return": [1.0, 1.5],
    }
    rows, points = [], []
    for k, core in enumerate(("gru", "mlp", "transformer")):
        iqm = {m: Interval(1.0 + k, 0.5 + k, 1.5 + k) for m in per}
        rows.append(
            {
                "core": core,
                "label": f"core={core}",
                "hidden_size": 8,
                "params": 1000 + k,
                "runs": 2,
                "iqm": iqm,
                "curve_iqm": [Interval(0.5, 0.4, 0.6)] * 3,
                "verdict": "undecided",
                "minus_reference": None if k == 0 else {m: Interval(k, k - 1, k + 1) for m in per},
            }
        )
        points.append(
            {"label": f"core={core}", "core": core, "per_seed": per, "curve": [[0.5] * 3] * 2}
        )
    return {
        "family": family,
        "seeds_per_point": 2,
        "episodes": 8,
        "env_steps_per_run": 1000,
        "curve": {"label": "mean reward per pull", "ticks": ["1-3", "4-6", "7-9"]},
        "reference_core": "gru",
        "points": points,
        "by_core": rows,
        "references": {"random": {"held_out_return": 0.5, "curve": [0.4, 0.4, 0.4]}},
        "notes": {"held_out": "fresh prior draws", "drift": "reversal", "stand_in_locator": True},
    }


def test_the_figure_and_table_are_written_from_a_summary(tmp_path):
    summary = _summary()
    summary["by_core"][0]["iqm"]["learner_belief_gain"] = Interval(0.05, 0.04, 0.06)
    written = arch.plot(summary, tmp_path)
    for name in ("architecture.png", "architecture.pdf", "architecture.md"):
        assert (tmp_path / name).stat().st_size > 0 and tmp_path / name in written
    table = (tmp_path / "architecture.md").read_text().splitlines()
    assert table[0].startswith("| core | params | width | runs | held-out return")
    assert table[2].startswith("| gru | 1,000 | 8 | 2 | 1.00 [0.50, 1.50]")
    assert any(line.startswith("| transformer - gru | +2.00 [+1.00, +3.00]") for line in table)
    # the belief gains the verdict rests on: given for the GRU, absent (older summaries) elsewhere
    assert "| +0.0500 [+0.0400, +0.0600] | n/a | undecided |" in table[2]
    assert "| n/a | n/a | undecided |" in table[3]
    assert "adds to the memoryless floor" in table[-1]


# --------------------------------------------------------------------------- end to end
SWEEP_SOURCE = textwrap.dedent(
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location("tiny_architecture_sweeps", {module!r})
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    SWEEP = tiny.{function}({arguments})
    """
)


def _run(tmp_path_factory, function: str, arguments: str = ""):
    """(out dir, stdout, strict summary) of a tiny sweep run through ``metarl sweep``."""
    path = tmp_path_factory.mktemp("experiments") / f"{function}.py"
    module = str(Path(__file__).with_name("tiny_architecture_sweeps.py"))
    path.write_text(SWEEP_SOURCE.format(module=module, function=function, arguments=arguments))
    out = tmp_path_factory.mktemp("sweep") / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["sweep", str(path), "--out", str(out)])
    assert code == 0, stderr.getvalue()

    def refuse(constant):
        raise ValueError(f"the summary holds a non-JSON constant {constant}")

    return (
        out,
        stdout.getvalue(),
        json.loads((out / SUMMARY_FILE).read_text(), parse_constant=refuse),
    )


def _check_every_core(out, stdout, summary, cores) -> None:
    for name in (SUMMARY_FILE, "architecture.png", "architecture.pdf", "architecture.md"):
        assert (out / name).stat().st_size > 0, name
    assert "per core, IQM over 2 seeds" in stdout
    rows = summary["by_core"]
    assert [r["core"] for r in rows] == list(cores)
    for row, point in zip(rows, summary["points"], strict=True):
        assert row["runs"] == 2 and row["params"] > 0
        assert row["verdict"] in ("learner", "locator", "undecided")
        for measure in ("held_out_return", "held_out_improvement", "likelihood_difference"):
            est = row["iqm"][measure]
            assert all(math.isfinite(est[k]) for k in ("value", "low", "high")), (measure, est)
            assert est["low"] <= est["value"] + 1e-9 <= est["high"] + 2e-9, (measure, est)
            seeds = point["per_seed"][measure]
            assert len(seeds) == 2 and min(seeds) - 1e-9 <= est["value"] <= max(seeds) + 1e-9
        assert len(row["curve_iqm"]) == len(summary["curve"]["ticks"]) == len(point["curve"][0])
        assert (row["minus_reference"] is None) == (row["core"] == "gru")
        if row["minus_reference"]:
            diff = row["minus_reference"]["held_out_return"]["value"]
            assert diff == pytest.approx(
                row["iqm"]["held_out_return"]["value"] - rows[0]["iqm"]["held_out_return"]["value"]
            )


@pytest.fixture(scope="module")
def two_core_bandit(tmp_path_factory):
    return _run(tmp_path_factory, "tiny_architecture_bandit", "cores=('gru', 'mlp')")


def test_two_cores_of_different_structure_run_as_one_sweep(two_core_bandit):
    out, stdout, summary = two_core_bandit
    _check_every_core(out, stdout, summary, ("gru", "mlp"))
    assert len(list((out / "groups").iterdir())) == 2  # one program per core
    # Per-seed measures agree with the curve they come from: the return is the curve's
    # parts weighted by their lengths (10 pulls in 10 parts: their sum).
    for point in summary["points"]:
        for total, curve in zip(point["per_seed"]["held_out_return"], point["curve"], strict=True):
            assert total == pytest.approx(sum(curve))
    notes = summary["notes"]
    assert notes["stand_in_locator"] and notes["locator_tasks"] == families.STAND_IN_TASKS
    # The likelihood can tell its references apart on these episodes: Thompson sampling
    # (a learner) scores above the locator over the stand-in pool.
    refs = summary["references"]
    assert (
        refs["thompson_sampling"]["likelihood_difference"]
        > refs["task_locator"]["likelihood_difference"]
    )


@pytest.mark.slow
def test_every_core_runs_end_to_end_on_the_bandit(tmp_path_factory):
    _check_every_core(
        *_run(tmp_path_factory, "tiny_architecture_bandit"), ("gru", "lstm", "mlp", "transformer")
    )


@pytest.mark.slow
def test_every_core_runs_end_to_end_on_the_rule_grid(tmp_path_factory):
    out, stdout, summary = _run(tmp_path_factory, "tiny_architecture_rule_grid")
    _check_every_core(out, stdout, summary, ("gru", "lstm", "mlp", "transformer"))
    assert summary["family"] == "rule_grid" and summary["curve"]["ticks"] == ["1", "2"]
    calibration = summary["notes"]["likelihood_calibration"]
    assert calibration["ruleset_learner"]["available"]
