"""``metarl reproduce`` end to end on a tiny rl2_bandits: report, figure, resume, refusals.

One module-scoped reproduction (rl2_bandits' k=5, n=10 setting and its claims; 2
training seeds of a GRU 8 for 2 chunks of 10 updates; 64 episodes beside Thompson
sampling and Gittins) is run once through the CLI; the tests read what it wrote,
then run it again, interrupt it and change its settings.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from metarl.cli import main
from metarl.reproduce import CHECKPOINT, STATUSES
from metarl.reproduce.report import REPORT_JSON, REPORT_MD
from metarl.reproduce.runner import DEFINITION_FILE, MEASURED_FILE, RUN_DIR, SETTINGS_DIR

SOURCE = textwrap.dedent(
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location("tiny_reproduction", {module!r})
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    REPRODUCTION = tiny.tiny_reproduction()
    """
)


@pytest.fixture(scope="module")
def repro_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reproductions") / "tiny_rl2_bandits.py"
    module = Path(__file__).with_name("tiny_reproduction.py")
    path.write_text(SOURCE.format(module=str(module)))
    return path


def _reproduce(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["reproduce", *argv])
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def first_run(repro_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "out"
    code, stdout, stderr = _reproduce(str(repro_file), "--out", str(out), "--no-progress")
    assert code == 0, stderr
    return out, stdout, stderr


def _strict_json(path: Path) -> dict:
    def refuse(constant):
        raise ValueError(f"{path} holds a non-JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _setting_dir(out: Path, tiny) -> Path:
    return out / SETTINGS_DIR / tiny.SETTING


def test_one_command_writes_report_json_markdown_and_figure(first_run, tiny):
    out, stdout, _ = first_run
    for name in (DEFINITION_FILE, REPORT_JSON, REPORT_MD, "reproduction.png", "reproduction.pdf"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    report = _strict_json(out / REPORT_JSON)
    assert report["status"] in STATUSES
    assert [c["name"] for c in report["claims"]] == [
        f"{claim}[{tiny.SETTING}]"
        for claim in ("matches_gittins", "beats_thompson", "gittins_as_published")
    ]
    assert all(c["status"] in STATUSES and c["reason"] for c in report["claims"])
    rows = {row["agent"]: row for row in report["table"]}
    # Published beside measured: RL^2's 6.7 and Gittins' 6.6 at k=5, n=10 (Table 1).
    assert rows[CHECKPOINT]["published"] == 6.7 and rows["gittins"]["published"] == 6.6
    assert rows["optimistic_thompson_sampling"]["measured"] is None  # published only
    assert "2 per-seed means" in rows[CHECKPOINT]["interval_over"]
    markdown = (out / REPORT_MD).read_text()
    assert "| setting | agent | published | measured [95% interval] | status |" in markdown
    assert all(c["name"] in markdown for c in report["claims"])
    assert report["status"] in stdout and "report:" in stdout


def test_measured_numbers_are_the_paired_per_seed_statistics(first_run, tiny):
    out, _, _ = first_run
    summary = _strict_json(out / REPORT_JSON)["measured"][tiny.SETTING]
    assert summary["num_seeds"] == 2 and summary["episodes"] == tiny.EPISODES
    per_seed = np.asarray(summary["per_seed"][CHECKPOINT])
    table, minus = summary["table"], summary["checkpoint_minus"]
    assert table[CHECKPOINT]["value"] == pytest.approx(per_seed.mean(), abs=1e-9)
    # Every agent played the same episodes, so the paired difference of means is the
    # difference of the means, and each seed's difference is its own mean minus the reference's.
    for name in ("random", "thompson_sampling", "gittins"):
        assert minus[name]["value"] == pytest.approx(
            table[CHECKPOINT]["value"] - table[name]["value"], abs=1e-9
        )
        np.testing.assert_allclose(
            summary["per_seed"][f"{CHECKPOINT}_minus_{name}"],
            per_seed - table[name]["value"],
            atol=1e-9,
        )
        assert minus[name]["low"] < minus[name]["value"] < minus[name]["high"]


def test_gap_to_gittins_splits_into_the_discount_and_the_learning(first_run, tiny):
    # bandit_default trains with gamma 0.9: the Gittins index at that discount is played
    # on the same episodes, and checkpoint - Gittins = (Gittins(0.9) - Gittins) +
    # (checkpoint - Gittins(0.9)), every term a paired mean.
    out, _, _ = first_run
    report = _strict_json(out / REPORT_JSON)
    summary = report["measured"][tiny.SETTING]
    assert summary["training_discount"] == pytest.approx(0.9)
    table, gap = summary["table"], summary["gap_to_gittins"]
    at_discount = table["gittins_at_training_discount"]["value"]
    assert gap["objective"]["value"] == pytest.approx(at_discount - table["gittins"]["value"])
    assert gap["learning"]["value"] == pytest.approx(table[CHECKPOINT]["value"] - at_discount)
    assert gap["objective"]["value"] + gap["learning"]["value"] == pytest.approx(
        summary["checkpoint_minus"]["gittins"]["value"]
    )
    assert gap["learning"]["low"] < gap["learning"]["value"] < gap["learning"]["high"]
    assert "## Where the gap to Gittins comes from" in (out / REPORT_MD).read_text()


def test_rerun_skips_training_and_measuring(first_run, repro_file, tiny):
    out, _, _ = first_run
    measured = _setting_dir(out, tiny) / MEASURED_FILE
    before = measured.stat().st_mtime_ns, _strict_json(out / REPORT_JSON)
    code, _, stderr = _reproduce(str(repro_file), "--out", str(out), "--no-progress")
    assert code == 0, stderr
    assert "trained earlier (update 20), skipped" in stderr
    assert "measured earlier" in stderr and "resuming" not in stderr
    assert measured.stat().st_mtime_ns == before[0]
    after = _strict_json(out / REPORT_JSON)
    assert after["claims"] == before[1]["claims"] and after["table"] == before[1]["table"]


def test_killed_training_resumes_from_its_checkpoint_and_ends_identical(
    first_run, repro_file, tiny, tmp_path
):
    import jax

    from metarl.runner.frozen import load_frozen_run

    out, _, _ = first_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    # A run killed between its two chunks: its final checkpoint never written.
    run_dir = _setting_dir(copy, tiny) / RUN_DIR
    shutil.rmtree(run_dir / "checkpoints" / "20")
    code, _, stderr = _reproduce(str(repro_file), "--out", str(copy), "--no-progress")
    assert code == 0, stderr
    assert "k5_n10: resuming" in stderr and "update 20 in" in stderr
    # Resumed training is bit-identical on CPU, so the measurement of update 20 still holds.
    assert "measured earlier" in stderr
    resumed = load_frozen_run(run_dir).params
    original = load_frozen_run(_setting_dir(out, tiny) / RUN_DIR).params
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(original), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_plot_only_redraws_from_the_report_alone(first_run, repro_file):
    out, _, _ = first_run
    for name in (REPORT_MD, "reproduction.png"):
        (out / name).unlink()
    code, _, stderr = _reproduce(str(repro_file), "--out", str(out), "--plot-only")
    assert code == 0, stderr
    assert (out / REPORT_MD).is_file() and (out / "reproduction.png").stat().st_size > 0
    assert "skipped" not in stderr and "measure" not in stderr


def test_an_out_dir_from_before_a_new_config_field_is_the_same_reproduction(
    first_run, repro_file, tmp_path
):
    # An out dir written before algo.gamma_final existed holds configs without it; the
    # field at its default is no change, so the rerun reuses everything (as train --resume).
    out = tmp_path / "older"
    shutil.copytree(first_run[0], out)
    definition_path = out / DEFINITION_FILE
    definition = json.loads(definition_path.read_text())
    for entry in definition["settings"].values():
        del entry["config"]["algo"]["gamma_final"]
    definition_path.write_text(json.dumps(definition))
    code, _, stderr = _reproduce(str(repro_file), "--out", str(out), "--no-progress")
    assert code == 0, stderr
    assert "measured earlier" in stderr
    # A changed value of an existing field is still another reproduction.
    definition["settings"][next(iter(definition["settings"]))]["config"]["algo"]["gamma"] = 0.5
    definition_path.write_text(json.dumps(definition))
    code, _, stderr = _reproduce(str(repro_file), "--out", str(out), "--no-progress")
    assert code == 2 and "differing: settings" in stderr


def test_other_settings_in_the_same_out_dir_are_refused(first_run, repro_file):
    out, _, _ = first_run
    code, _, stderr = _reproduce(
        str(repro_file), "--out", str(out), "--set", "run.total_env_steps=1600"
    )
    assert code == 2
    assert "other settings (differing: sets, settings)" in stderr


@pytest.fixture
def no_compile(monkeypatch):
    """Fail the test if the command gets as far as compiling (init or a train chunk)."""
    from metarl.training.trainer import Trainer

    def refuse(*args, **kwargs):
        raise AssertionError("the trainer was about to compile: a config error must stop before")

    monkeypatch.setattr(Trainer, "init", refuse)
    monkeypatch.setattr(Trainer, "train_chunk", refuse)


@pytest.mark.parametrize(
    "assignment, named",
    [
        ("run.num_envz=3", "unknown field 'run.num_envz'"),
        ("run.num_envs=0", "field 'run.num_envs' = 0 is out of range"),
        ("agent.core=lstmm", "field 'agent.core'"),
        ("env.overrides.num_arms=3", "field 'env.overrides.num_arms' is the published setting"),
        ("measure.episodez=10", "unknown field 'measure.episodez'"),
        ("measure.episodes=1", "field 'measure.episodes' = 1 is out of range"),
        ("measure.episodes=many", "field 'measure.episodes'"),
        ("measure.references=thompson,gittins", "field 'measure.references'"),
    ],
)
def test_bad_set_names_the_field_before_anything_compiles(
    repro_file, tmp_path, no_compile, assignment, named
):
    out = tmp_path / "out"
    code, _, stderr = _reproduce(str(repro_file), "--out", str(out), "--set", assignment)
    assert code == 2
    assert named in stderr and stderr.count("\n") == 1
    assert not out.exists()


def test_list_shows_every_reproduction_with_question_source_and_budgets():
    code, stdout, _ = _reproduce("--list")
    assert code == 0
    assert "rl2_bandits\n  question: Does an RL^2" in stdout
    assert "arXiv:1611.02779, Table 1" in stdout
    assert "budget (cpu):" in stdout and "budget (pod):" in stdout


def test_unknown_name_and_missing_out_are_usage_errors():
    code, _, stderr = _reproduce("no_such_finding", "--out", "x")
    assert code == 2 and "unknown reproduction 'no_such_finding'" in stderr
    assert "'rl2_bandits'" in stderr
    code, _, stderr = _reproduce("rl2_bandits")
    assert code == 2 and "--out" in stderr
    code, _, stderr = _reproduce("rl2_bandits", "--out", "x", "--variant", "tpu")
    assert code == 2 and "--variant 'tpu'" in stderr
