"""``metarl train``: experiment loading, typed --set overrides, config errors, --list.

Config errors must exit 2 with one line naming the field and the allowed values,
before anything is compiled: the trainer factory is replaced by one that fails
the test if it is ever called.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metarl import cli
from metarl.config import ExperimentConfig
from metarl.config_io import config_from_dict, config_to_dict
from metarl.errors import ConfigError
from metarl.experiments import (
    apply_overrides,
    check_env_values,
    list_experiments,
    load_experiment,
    resolve,
)

TINY = '''"""Tiny bandit for CLI tests.

Second line of the description.
"""
from metarl.config import AgentConfig, EnvConfig, ExperimentConfig, RunConfig

CONFIG = ExperimentConfig(
    name="tiny_cli",
    description="Tiny bandit for CLI tests.\\nSecond line.",
    env=EnvConfig(name="bandit-bernoulli-v0", overrides={"num_arms": 2, "horizon": 10}),
    agent=AgentConfig(hidden_size=8, embed_size=8),
    run=RunConfig(num_envs=8, rollout_length=10, total_env_steps=160, updates_per_chunk=2),
)
'''

OTHER = """from metarl.config import ExperimentConfig
CONFIG = ExperimentConfig(name="other", description="Another experiment.")
"""

BROKEN = """CONFIG = "not a config"
"""


@pytest.fixture
def experiments_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "experiments"
    directory.mkdir()
    (directory / "tiny_cli.py").write_text(TINY)
    (directory / "other.py").write_text(OTHER)
    (directory / "_helpers.py").write_text("X = 1\n")  # private modules are not experiments
    monkeypatch.setenv("METARL_EXPERIMENTS_DIR", str(directory))
    return directory


@pytest.fixture
def no_compile(monkeypatch):
    """Fail the test if the CLI gets as far as compiling (init or a train chunk)."""
    from metarl.training.trainer import Trainer

    def refuse(*args, **kwargs):
        raise AssertionError("the trainer was about to compile: a config error must stop before")

    monkeypatch.setattr(Trainer, "init", refuse)
    monkeypatch.setattr(Trainer, "train_chunk", refuse)


def _run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------- listing/loading
def test_list_shows_each_experiment_with_its_description(experiments_dir, capsys):
    (experiments_dir / "broken.py").write_text(BROKEN)
    code, out, _ = _run(["train", "--list"], capsys)
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "_helpers" not in lines
    assert lines["tiny_cli"].endswith("Tiny bandit for CLI tests.")  # first line only
    assert lines["other"].endswith("Another experiment.")
    assert "cannot load" in lines["broken"] and "ConfigError" in lines["broken"]
    assert dict(list_experiments())["other"] == "Another experiment."


def test_unknown_experiment_lists_the_allowed_names(experiments_dir, no_compile, capsys, tmp_path):
    code, _, err = _run(["train", "nope", "--run-dir", str(tmp_path / "r")], capsys)
    assert code == cli.EXIT_CONFIG
    assert err.strip().splitlines() == [err.strip()]
    assert "unknown experiment 'nope'; allowed values: " in err
    # The repo's own experiments/ may add names; ours must be among them.
    assert "'other'" in err and "'tiny_cli'" in err and "'_helpers'" not in err
    assert not (tmp_path / "r").exists()


def test_load_experiment_by_path_and_rejects_a_non_config(tmp_path):
    path = tmp_path / "x.py"
    path.write_text(TINY)
    assert load_experiment(str(path)).name == "tiny_cli"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError, match="must define CONFIG: ExperimentConfig, got str"):
        load_experiment(str(path))


# ------------------------------------------------------------------------ --set
def test_set_values_are_typed_by_the_dataclass_fields(experiments_dir):
    config = resolve(
        "tiny_cli",
        build_env=False,
        sets=[
            "run.num_envs=64",
            "run.total_env_steps=1e6",
            "algo.learning_rate=3e-4",
            "algo.name=ppo",
            "algo.entropy_coef_final=0.01",
            "env.overrides.num_arms=10",
            "env.overrides.reward_type=gaussian",
            "env.overrides.num_tasks=none",
            "description=changed on the command line",
        ],
    )
    assert config.run.num_envs == 64 and type(config.run.num_envs) is int
    assert config.run.total_env_steps == 1_000_000 and type(config.run.total_env_steps) is int
    assert config.algo.learning_rate == 3e-4 and config.algo.name == "ppo"
    assert config.algo.entropy_coef_final == 0.01
    assert config.env.overrides == {
        "num_arms": 10,
        "horizon": 10,
        "reward_type": "gaussian",
        "num_tasks": None,
    }
    assert config.description == "changed on the command line"
    # The experiment's own CONFIG is untouched.
    assert load_experiment("tiny_cli").run.num_envs == 8

    back = apply_overrides(
        config, ["algo.entropy_coef_final=None", "env.overrides.reversal_steps=10,20"]
    )
    assert back.algo.entropy_coef_final is None
    assert back.env.overrides["reversal_steps"] == (10, 20)


def test_env_overrides_are_typed_by_the_family_chosen_on_the_command_line(experiments_dir):
    # env.name is applied first, so the order on the command line does not matter.
    config = resolve(
        "tiny_cli", ["env.overrides.num_arms=2", "env.name=bandit-dependent-v0"], build_env=False
    )
    assert config.env.name == "bandit-dependent-v0" and config.env.overrides["num_arms"] == 2


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("run.num_envs=abc", "field 'run.num_envs' = 'abc' must be an integer"),
        ("run.num_envs=2.5", "field 'run.num_envs' = '2.5' must be an integer"),
        ("run.num_envs=0", "field 'run.num_envs' = 0 is out of range; allowed: [1, inf]"),
        ("run.foo=1", "unknown field 'run.foo'; allowed fields: run.num_envs, run.rollout_length,"),
        ("algo=ppo", "field 'algo' is a section; set one of its fields: algo.name,"),
        ("algo.name=sac", "field 'algo.name' = 'sac' is not allowed; allowed values: 'a2c', 'ppo'"),
        (
            "agent.core=rnn",
            "field 'agent.core' = 'rnn' is not allowed; allowed values: 'gru', 'lstm', 'mlp', 'transformer'",
        ),
        ("algo.learning_rate=fast", "field 'algo.learning_rate' = 'fast' must be a number"),
        (
            "env.overrides.nope=1",
            "field 'env.overrides.nope' is not a field of 'bandit-bernoulli-v0'; allowed fields: num_arms,",
        ),
        # Values only the env family checks: raised by the trainer's constructor, which builds
        # the env before compiling anything.
        (
            "env.overrides.num_arms=1",
            "field 'env.overrides' is invalid: bandit-bernoulli-v0: field 'num_arms' = 1 is out of range; allowed: [2, inf]",
        ),
        (
            "env.overrides.reward_type=poisson",
            "field 'reward_type' = 'poisson' is not allowed; allowed values: 'bernoulli', 'gaussian'",
        ),
        ("env.name=nowhere-v0", "field 'env.name' = 'nowhere-v0' is not allowed; allowed values: "),
        (
            "run.best_metric=loss",
            "field 'run.best_metric' = 'loss' is not allowed; allowed values: 'mean_episode_return', 'mean_regret_per_step'",
        ),
        ("run.num_envs", "--set 'run.num_envs': expected key=value"),
    ],
)
def test_config_errors_exit_2_with_one_line_before_compiling(
    assignment, message, experiments_dir, no_compile, capsys, tmp_path
):
    run_dir = tmp_path / "run"
    code, out, err = _run(
        ["train", "tiny_cli", "--set", assignment, "--run-dir", str(run_dir)], capsys
    )
    assert code == cli.EXIT_CONFIG
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("metarl: error: ")
    assert message in lines[0]
    assert "Traceback" not in err
    assert not run_dir.exists()


def test_check_env_values_builds_the_env(experiments_dir):
    config = resolve("tiny_cli", ["env.overrides.horizon=0"], build_env=False)
    with pytest.raises(
        ConfigError, match=r"field 'env.overrides' is invalid: .*'horizon' = 0 is out of range"
    ):
        check_env_values(config)


def test_non_empty_run_dir_without_resume_is_a_config_error(
    experiments_dir, no_compile, capsys, tmp_path
):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text('{"update": 2}\n')
    code, _, err = _run(["train", "tiny_cli", "--run-dir", str(run_dir)], capsys)
    assert code == cli.EXIT_CONFIG
    assert (
        "is not empty (metrics.jsonl); pass --resume to continue that run, or choose another --run-dir"
        in err
    )
    assert (run_dir / "metrics.jsonl").read_text() == '{"update": 2}\n'


def test_resume_with_a_different_config_names_the_fields(
    experiments_dir, no_compile, capsys, tmp_path
):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(config_to_dict(load_experiment("tiny_cli"))))
    code, _, err = _run(
        [
            "train",
            "tiny_cli",
            "--set",
            "run.num_envs=16",
            "--set",
            "run.keep_checkpoints=7",
            "--run-dir",
            str(run_dir),
            "--resume",
        ],
        capsys,
    )
    assert code == cli.EXIT_CONFIG
    assert "run.num_envs: 8 (run dir) vs 16 (now)" in err
    assert "keep_checkpoints" not in err  # retention may change on resume


def test_resume_without_a_run_dir_config(no_compile, capsys, tmp_path):
    code, _, err = _run(["train", "--run-dir", str(tmp_path / "empty"), "--resume"], capsys)
    assert code == cli.EXIT_CONFIG
    assert "has no config.json: nothing to resume" in err


def test_usage_errors(experiments_dir, no_compile, capsys):
    code, _, err = _run(["train"], capsys)
    assert code == cli.EXIT_CONFIG and "name an experiment" in err
    code, _, err = _run(["train", "tiny_cli"], capsys)
    assert code == cli.EXIT_CONFIG and "--run-dir is required" in err
    with pytest.raises(SystemExit) as caught:
        cli.main(["train", "tiny_cli", "--bogus"])
    assert caught.value.code == cli.EXIT_CONFIG
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_distributed_settings_are_checked(experiments_dir, no_compile, capsys, monkeypatch):
    monkeypatch.setenv("METARL_NUM_PROCESSES", "two")
    code, _, err = _run(["train", "tiny_cli", "--run-dir", "x", "--distributed"], capsys)
    assert code == cli.EXIT_CONFIG
    assert "METARL_NUM_PROCESSES = 'two' must be an integer" in err
    monkeypatch.setenv("METARL_NUM_PROCESSES", "2")
    code, _, err = _run(
        ["train", "tiny_cli", "--run-dir", "x", "--distributed", "--process-id", "2"], capsys
    )
    assert code == cli.EXIT_CONFIG and "process_id = 2 must be in [0, 2)" in err


def test_print_config_round_trips_through_json(experiments_dir, capsys):
    code, out, _ = _run(
        ["train", "tiny_cli", "--set", "env.overrides.reversal_steps=[5]", "--print-config"], capsys
    )
    assert code == 0
    data = json.loads(out)
    assert data["env"]["overrides"]["reversal_steps"] == [5]
    config = config_from_dict(data)
    assert isinstance(config, ExperimentConfig)
    assert config.env.overrides["reversal_steps"] == (5,)  # typed back to the family's tuple
    assert config == resolve("tiny_cli", ["env.overrides.reversal_steps=[5]"], build_env=False)


def test_config_from_dict_rejects_unknown_fields():
    data = config_to_dict(ExperimentConfig())
    data["run"]["warp_speed"] = 9
    with pytest.raises(ConfigError, match="unknown field.*'run.warp_speed'"):
        config_from_dict(data)


def test_installed_entry_point_reports_config_error_without_traceback(experiments_dir, tmp_path):
    """The console script from pyproject ([project.scripts] metarl = metarl.cli:main)."""
    script = Path(sys.executable).with_name("metarl")
    assert script.exists(), "metarl console script is not installed in this environment"
    result = subprocess.run(
        [
            str(script),
            "train",
            "tiny_cli",
            "--set",
            "run.num_envs=-3",
            "--run-dir",
            str(tmp_path / "r"),
        ],
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "metarl: error: config: field 'run.num_envs' = -3 is out of range; allowed: [1, inf]"
    ]


@pytest.mark.parametrize(
    "assignment, message",
    [
        # More training rulesets than the prior has: the pool search would never end.
        ("env.overrides.num_tasks=2000", "field 'num_tasks': the prior has only 1216 distinct"),
        # No positive reward left while every ruleset must have one: an empty ruleset space.
        ("env.overrides.reward_values=(-1.0,0.0)", "field 'reward_values' has no positive reward"),
        # A held-out split that cannot be disjoint from a 1000-ruleset pool.
        (
            "env.overrides.split=held_out",
            "field 'held_out_size': the prior has only 1216 distinct rulesets, fewer than the 1256",
        ),
    ],
)
def test_rule_grid_ruleset_space_errors_name_the_field_before_compiling(
    assignment, message, no_compile, capsys, tmp_path
):
    run_dir = tmp_path / "run"
    argv = ["train", "rule_grid_default", "--set", "env.overrides.num_tasks=1000"]
    code, _, err = _run([*argv, "--set", assignment, "--run-dir", str(run_dir)], capsys)
    assert code == cli.EXIT_CONFIG
    assert message in err and "Traceback" not in err
    assert not run_dir.exists()
