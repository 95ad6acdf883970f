"""scripts/sweep_task_diversity.py on a tiny config: files, summary fields, N = inf, resume.

One module-scoped sweep (N = 2 and infinitely many tasks, 3 arms, 10 pulls, 8 envs,
two chunks of 10 updates, 64 episodes) is trained, evaluated and plotted once; the
tests read what it wrote, then run it again to check that finished runs are skipped
and cached evaluations reused.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sweep_task_diversity.py"
TINY_SETS = (
    "env.overrides.num_arms=3",
    "env.overrides.horizon=10",
    "run.num_envs=8",
    "run.rollout_length=5",
    "run.updates_per_chunk=10",
    "run.checkpoint_every_chunks=1",
    "agent.hidden_size=8",
)
TINY_STEPS = 800  # 20 updates of 8 x 5 env steps: two chunks, two checkpoints
EPISODES = 64
SWEEP = (2, None)


def _load_script():
    spec = importlib.util.spec_from_file_location("sweep_task_diversity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sweep_script = _load_script()


def _run(out: Path, messages: list[str]) -> dict:
    return sweep_script.run_sweep(
        out,
        SWEEP,
        sets=TINY_SETS,
        total_env_steps=TINY_STEPS,
        episodes=EPISODES,
        log=messages.append,
    )


@pytest.fixture(scope="module")
def first_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    messages: list[str] = []
    summary = _run(out, messages)
    return out, summary, messages


def _strict_json(path: Path) -> dict:
    def refuse(constant):
        raise ValueError(f"{path} holds a non-JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _finite_interval(entry: dict) -> None:
    low, high = entry["ci95"]
    assert all(math.isfinite(v) for v in (entry["mean"], low, high)), entry
    assert low <= entry["mean"] + 1e-9 and entry["mean"] <= high + 1e-9, entry


def test_files_written(first_sweep):
    out, summary, _ = first_sweep
    for name in ("sweep_summary.json", "task_diversity.png", "task_diversity.pdf"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for run in ("N2", "Ninf"):
        assert (out / run / "config.json").is_file()
        assert (out / run / sweep_script.EVAL_FILE).is_file()
    on_disk = _strict_json(out / "sweep_summary.json")
    assert on_disk["sweep"]["num_tasks"] == ["2", "inf"]
    assert [p["num_tasks"] for p in on_disk["points"]] == ["2", "inf"]
    assert on_disk["points"][0]["held_out"] == summary["points"][0]["held_out"]


def test_summary_fields_finite(first_sweep):
    _, summary, _ = first_sweep
    # Same task_seed: every N is evaluated on one held-out pool (so on the same episodes).
    assert summary["held_out_pool"]["same_for_every_n"] is True
    assert summary["held_out_pool"]["size"] == 1024
    for point in summary["points"]:
        assert point["checkpoint_update"] == 20
        held_out = point["held_out"]["agents"]
        for agent in ("checkpoint", "thompson_sampling", "random", "task_locator"):
            for key in (
                "total_reward",
                "total_regret",
                "in_context_improvement",
                "optimal_action_rate",
            ):
                _finite_interval(held_out[agent][key])
        for key in ("total_reward", "in_context_improvement"):
            _finite_interval(held_out["checkpoint"]["minus_thompson_sampling"][key])
        # 10 pulls of rewards in {0, 1}; regret of a random policy is positive.
        assert 0.0 <= held_out["checkpoint"]["total_reward"]["mean"] <= 10.0
        assert held_out["random"]["total_regret"]["mean"] > 0.0
        for agent in ("checkpoint", "thompson_sampling"):
            _finite_interval(point["train"]["agents"][agent]["total_reward"])
            _finite_interval(point["train_minus_held_out_return"][agent])
        _finite_interval(point["memorisation_advantage"])
        likelihood = point["likelihood"]
        assert math.isfinite(likelihood["calibrated_position"])
        assert likelihood["verdict"] in ("learner", "locator", "undecided")
        assert math.isfinite(likelihood["difference"]) and likelihood["half_width"] > 0.0
        assert likelihood["num_episodes"] == EPISODES
        assert len(likelihood["difference_by_step"]) == 10


def test_finite_and_infinite_points_are_labelled(first_sweep):
    _, summary, _ = first_sweep
    finite, infinite = summary["points"]
    assert finite["likelihood"]["stand_in"] is False
    assert finite["likelihood"]["locator_tasks"] == "the 2 training tasks"
    assert finite["training_pool_fingerprint"] is not None
    # N = inf: no training pool; the locator is the labelled 256-task stand-in.
    assert infinite["training_pool_fingerprint"] is None
    assert infinite["likelihood"]["stand_in"] is True
    assert "stand-in" in infinite["likelihood"]["locator_tasks"]
    assert summary["sweep"]["stand_in_pool_size"] == sweep_script.STAND_IN_POOL_SIZE
    assert "stand-in" in summary["transition"]["text"]
    # The calibration rows are the references' own choices: on 2 memorised tasks the
    # locator's choices are explained by the locator, Thompson sampling's by the learner
    # (measured: -1.14 +- 0.06 and +0.18 +- 0.04 per choice).
    calibration = finite["likelihood"]["calibration"]
    assert calibration["task_locator"]["verdict"] == "locator"
    assert calibration["thompson_sampling"]["verdict"] == "learner"


def test_resume_skips_finished_runs(first_sweep):
    out, summary, _ = first_sweep
    checkpoint_files = {
        p: p.stat().st_mtime_ns for p in (out / "N2" / "checkpoints").rglob("*") if p.is_file()
    }
    metrics_before = (out / "N2" / "metrics.jsonl").read_text()
    messages: list[str] = []
    again = _run(out, messages)
    assert [p["training"]["status"] for p in again["points"]] == ["finished earlier"] * 2
    assert [p["eval_status"] for p in again["points"]] == ["cached"] * 2
    assert any("plan N=2: finished" in m for m in messages)
    assert again["timing"]["env_steps_trained_this_invocation"] == 0
    assert (out / "N2" / "metrics.jsonl").read_text() == metrics_before
    assert {p: p.stat().st_mtime_ns for p in checkpoint_files} == checkpoint_files
    for old, new in zip(summary["points"], again["points"], strict=True):
        assert new["held_out"] == old["held_out"] and new["likelihood"] == old["likelihood"]


def test_killed_run_is_resumed_and_other_settings_refused(first_sweep, tmp_path):
    from metarl.runner.run_dir import RunDirError

    out, _, _ = first_sweep
    config = sweep_script.point_config(sweep_script.DEFAULT_EXPERIMENT, 2, TINY_SETS, TINY_STEPS)
    copy = tmp_path / "N2"
    shutil.copytree(out / "N2", copy)
    assert sweep_script.training_status(config, copy) == ("finished", 20)
    # A sweep killed between its two checkpoints: only update 10 is on disk.
    shutil.rmtree(copy / "checkpoints" / "20")
    assert sweep_script.training_status(config, copy) == ("partial", 10)
    assert sweep_script.training_status(config, tmp_path / "absent") == ("fresh", 0)
    longer = sweep_script.point_config(
        sweep_script.DEFAULT_EXPERIMENT, 2, TINY_SETS, 2 * TINY_STEPS
    )
    with pytest.raises(RunDirError, match="run.total_env_steps"):
        sweep_script.training_status(longer, copy)


def test_parse_num_tasks_list():
    assert sweep_script.parse_num_tasks_list("1,4,16,64,256,inf") == (1, 4, 16, 64, 256, None)
    assert sweep_script.load_sweep_values(sweep_script.DEFAULT_EXPERIMENT) == (
        1,
        4,
        16,
        64,
        256,
        None,
    )
    for bad in ("0,4", "4,x", "4,4", ""):
        with pytest.raises(ValueError):
            sweep_script.parse_num_tasks_list(bad)
    with pytest.raises(ValueError, match="num_tasks"):
        sweep_script.point_config(
            sweep_script.DEFAULT_EXPERIMENT, 4, ["env.overrides.num_tasks=3"], None
        )


def test_inf_sits_right_of_every_finite_n():
    xs, ticks = sweep_script.x_positions(["1", "4", "256", "inf"])
    assert list(xs[:3]) == [0.0, 2.0, 8.0] and xs[3] > xs[2]
    assert ticks[-1] == "\u221e"


def _point(n: str, verdict: str, stand_in: bool = False) -> dict:
    difference = {"locator": -0.2, "undecided": 0.0, "learner": 0.2}[verdict]
    likelihood = {
        "verdict": verdict,
        "stand_in": stand_in,
        "difference": difference,
        "interval": [difference - 0.1, difference + 0.1],
    }
    return {"num_tasks": n, "likelihood": likelihood}


def test_transition_names_where_the_verdict_flips():
    points = [
        _point("1", "locator"),
        _point("4", "locator"),
        _point("16", "undecided"),
        _point("64", "learner"),
        _point("256", "learner"),
        _point("inf", "locator", stand_in=True),  # a stand-in never decides the finite transition
    ]
    transition = sweep_script.describe_transition(points)
    assert transition["monotonic"] is True
    assert transition["last_locator_n"] == "4"
    assert transition["learner_from_n"] == "64"
    assert transition["text"].startswith(
        "the verdict flips from locator (N <= 4) to learner (N >= 64)"
    )
    assert "N=16: undecided +0.000 [-0.100, +0.100]" in transition["text"]
    # A learner verdict that does not hold at every larger N is no transition.
    wobbly = sweep_script.describe_transition(
        [_point("1", "locator"), _point("4", "learner"), _point("16", "locator")]
    )
    assert wobbly["monotonic"] is False
    assert wobbly["learner_from_n"] is None and wobbly["last_locator_n"] == "16"
    assert wobbly["text"].startswith("the verdict is not monotonic in N")


def test_derived_measures_subtract_thompson_and_place_the_agent_between_references():
    def entry(mean, half):
        return {"mean": mean, "ci95": [mean - half, mean + half]}

    point = {
        "train": {
            "agents": {"checkpoint": {"minus_thompson_sampling": {"total_reward": entry(9.0, 0.3)}}}
        },
        "held_out": {
            "agents": {
                "checkpoint": {"minus_thompson_sampling": {"total_reward": entry(-1.0, 0.4)}}
            }
        },
        "likelihood": {
            "difference": -0.1,
            "calibration": {
                "thompson_sampling": {"difference": 0.3},
                "task_locator": {"difference": -0.5},
            },
        },
    }
    derived = sweep_script.with_derived_measures(point)
    advantage = derived["memorisation_advantage"]
    assert advantage["mean"] == pytest.approx(10.0)
    # Independent sets: half-widths 0.3 and 0.4 add in quadrature to 0.5.
    assert advantage["ci95"] == pytest.approx([9.5, 10.5])
    # (-0.1 - (-0.5)) / (0.3 - (-0.5)) = 0.5: halfway between locator and learner.
    assert derived["likelihood"]["calibrated_position"] == pytest.approx(0.5)
    assert "memorisation_advantage" not in point  # the input is left as it was
