"""wang_volatility and wang_two_step end to end, shrunk: train, measure, claims, report (slow).

Each reproduction keeps its env, claims and measure and shrinks only the training (2
seeds, a few updates of a tiny core) and the evaluation, so the measure modules run on
real frozen checkpoints: the block fits on played episodes, the two-step probe per seed.
Minutes on a 2-core CPU (the two-step probe fits the hybrid model per seed), so slow.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from metarl.reproduce import STATUSES, Setting
from metarl.reproduce.registry import load_reproduction, reproduction_files
from metarl.reproduce.runner import run_reproduction

pytestmark = pytest.mark.slow


def _tiny(name: str, options: dict, **agent):
    from metarl.experiments import load_experiment_module

    module = load_experiment_module(str(reproduction_files()[name]))
    base = load_reproduction(name)
    (setting,) = base.settings
    run = dataclasses.replace(
        setting.config.run,
        num_envs=8,
        rollout_length=20,
        updates_per_chunk=5,
        checkpoint_every_chunks=1,
        total_env_steps=8 * 20 * 10,
        num_seeds=2,
    )
    config = module.setting_config(run, dataclasses.replace(setting.config.agent, **agent))
    return dataclasses.replace(
        base,
        settings=(Setting(setting.name, setting.label, config=config),),
        measure_options=options,
    )


def _report(repro, out) -> dict:
    run_reproduction(repro, out, progress=False, report=lambda line: None)
    report = json.loads((out / "report.json").read_text())
    assert report["status"] in STATUSES
    assert all(c["status"] in STATUSES and c["reason"] for c in report["claims"])
    assert (out / "report.md").is_file() and (out / "reproduction.png").is_file()
    return report


def test_wang_volatility_fits_every_seed_per_block_type(tmp_path):
    repro = _tiny(
        "wang_volatility", {"episodes": 32, "eval_seed": 1, "bootstrap": 40}, hidden_size=8
    )
    summary = _report(repro, tmp_path)["measured"]["volatility"]
    assert summary["num_seeds"] == 2 and len(summary["per_seed"]["difference"]) == 2
    assert summary["block_hazards"] == [0.0, pytest.approx(0.1)]
    # Four 50-pull blocks per 200-pull episode: every pull is labelled with its block type.
    assert sum(summary["pulls_per_block_type"]) == 32 * 200
    assert summary["hardest_reference"] in summary["fixed_references"]
    difference = summary["difference"]
    assert difference["low"] <= difference["value"] <= difference["high"]
    mean = sum(summary["per_seed"]["difference"]) / 2
    assert difference["value"] == pytest.approx(mean)


def test_wang_two_step_probes_every_seed(tmp_path):
    repro = _tiny("wang_two_step", {"episodes": 32, "probe_seed": 0}, hidden_size=8)
    report = _report(repro, tmp_path)
    summary = report["measured"]["two_step"]
    assert summary["num_seeds"] == 2 and len(summary["verdicts"]) == 2
    assert set(summary["stay_mean"]) == {
        "rewarded_common",
        "rewarded_rare",
        "unrewarded_common",
        "unrewarded_rare",
    }
    for index in range(2):
        assert (tmp_path / "settings" / "two_step" / f"two_step_seed{index}.json").is_file()
    (claim,) = report["claims"]
    assert "of 2 seeds" in claim["reason"]
