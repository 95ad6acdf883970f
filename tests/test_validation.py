"""Input validation: NaN and +-inf never pass, --print-config checks what train checks,
and a run refused or failed at its start leaves nothing that blocks the corrected re-run.
"""

from __future__ import annotations

import dataclasses
import math
import typing

import numpy as np
import pytest

from metarl import cli
from metarl.config import ExperimentConfig, validate
from metarl.errors import ConfigError, check_finite, check_range
from metarl.experiments import apply_overrides
from metarl.runner.train_loop import NonFiniteLossError, train

TINY = '''"""Tiny bandit for the validation tests."""
from metarl.config import AgentConfig, EnvConfig, ExperimentConfig, RunConfig

CONFIG = ExperimentConfig(
    name="tiny_validation",
    env=EnvConfig(name="bandit-bernoulli-v0", overrides={"num_arms": 2, "horizon": 5}),
    agent=AgentConfig(hidden_size=8, embed_size=8),
    run=RunConfig(num_envs=4, rollout_length=5, total_env_steps=80, updates_per_chunk=2),
)
'''

NON_FINITE = ("nan", "inf", "-inf")


def _float_fields(cls: type = ExperimentConfig, prefix: str = "") -> list[str]:
    """Dotted names of every float-typed field of the experiment config."""
    names = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        annotation = hints[field.name]
        if dataclasses.is_dataclass(annotation):
            names += _float_fields(annotation, f"{prefix}{field.name}.")
        elif annotation is float or float in typing.get_args(annotation):
            names.append(prefix + field.name)
    return names


FLOAT_FIELDS = _float_fields()


def test_the_float_fields_are_found():
    assert {"algo.learning_rate", "algo.gamma", "algo.entropy_coef_final"} <= set(FLOAT_FIELDS)


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_non_finite_config_floats_are_refused_naming_the_field(field, value):
    config = apply_overrides(ExperimentConfig(), [f"{field}={value}"])
    with pytest.raises(ConfigError, match=rf"config: field '{field}' = -?(nan|inf)"):
        validate(config)


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("field", ["reward_scale", "prior_a", "volatility", "walk_high"])
def test_non_finite_env_overrides_are_refused_naming_the_field(field, value):
    config = apply_overrides(ExperimentConfig(), [f"env.overrides.{field}={value}"])
    with pytest.raises(ConfigError, match=rf"config: field 'env.overrides.{field}' = -?(nan|inf)"):
        validate(config)


def test_check_range_refuses_nan_and_inf_even_without_bounds():
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(ConfigError, match="finite"):
            check_range("env", "reward_scale", value)
        with pytest.raises(ConfigError, match="finite"):
            check_range("env", "gamma", value, 0.0, 1.0)
    check_range("env", "gamma", 0.5, 0.0, 1.0)
    with pytest.raises(ConfigError, match=r"field 'w\[1\]\.b'"):
        check_finite("env", "w", [1.0, {"a": 2.0, "b": math.nan}])
    with pytest.raises(ConfigError, match="finite"):
        check_finite("env", "w", np.float32("inf"))
    check_finite("env", "w", [1, 2.5, "inf", None])  # strings and ints are not numbers to check


@pytest.fixture
def experiment(tmp_path, monkeypatch):
    directory = tmp_path / "experiments"
    directory.mkdir()
    (directory / "tiny_validation.py").write_text(TINY)
    monkeypatch.setenv("METARL_EXPERIMENTS_DIR", str(directory))
    return "tiny_validation"


@pytest.mark.parametrize(
    "setting",
    ["algo.learning_rate=nan", "algo.gamma=nan", "env.overrides.reward_scale=inf"],
)
def test_cli_refuses_non_finite_before_anything_is_written(experiment, setting, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = cli.main(["train", experiment, "--set", setting, "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CONFIG
    assert f"field '{setting.split('=')[0]}'" in err and "Traceback" not in err
    assert not run_dir.exists()


@pytest.mark.parametrize("extra", [[], ["--print-config"]])
def test_print_config_checks_env_values_like_train(experiment, extra, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = cli.main(
        ["train", experiment, "--set", "env.overrides.horizon=-5", "--run-dir", str(run_dir)]
        + extra
    )
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG, captured
    assert "field 'env.overrides' is invalid" in captured.err and "'horizon'" in captured.err
    assert captured.out == "" and not run_dir.exists()


# ------------------------------------------------------------ failed at the start
class _FakeTrainer:
    """Stands in for the trainer: a tiny state, and chunks whose loss is finite or not."""

    def __init__(self, finite: bool, updates_per_chunk: int = 2):
        self.finite = finite
        self.updates = updates_per_chunk

    def init(self, key):
        return {"w": np.zeros(3, np.float32)}

    def abstract_state(self):
        import jax

        return {"w": jax.ShapeDtypeStruct((3,), np.float32)}

    def train_chunk(self, state):
        shape = (1, self.updates)
        metrics = {
            "loss_is_finite": np.full(shape, self.finite),
            "mean_episode_return": np.ones(shape),
        }
        return {"w": state["w"] + 1}, metrics


def _tiny_config():
    from metarl.config import RunConfig

    return ExperimentConfig(
        run=RunConfig(num_envs=4, rollout_length=5, total_env_steps=80, updates_per_chunk=2)
    )


@pytest.mark.parametrize("made_by_user", [False, True])
def test_a_run_failing_before_its_first_checkpoint_leaves_nothing_behind(made_by_user, tmp_path):
    config = _tiny_config()
    run_dir = tmp_path / "run"
    if made_by_user:
        run_dir.mkdir()
    with pytest.raises(NonFiniteLossError, match="no checkpoint was saved before it"):
        train(config, run_dir, trainer=_FakeTrainer(finite=False), show_progress=False)
    # The directory the user made stays (empty); one the run made itself goes.
    assert run_dir.exists() == made_by_user
    assert not made_by_user or list(run_dir.iterdir()) == []

    # The corrected re-run starts in the same directory.
    result = train(config, run_dir, trainer=_FakeTrainer(finite=True), show_progress=False)
    assert result.update == 4 and (run_dir / "config.json").is_file()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit()) == [
        "2",
        "4",
    ]


def test_a_run_failing_after_a_checkpoint_keeps_everything(tmp_path):
    config = _tiny_config()
    run_dir = tmp_path / "run"

    class _FailsSecondChunk(_FakeTrainer):
        def train_chunk(self, state):
            self.finite = not hasattr(self, "ran")
            self.ran = True
            return super().train_chunk(state)

    with pytest.raises(NonFiniteLossError, match="last good checkpoint is at update 2"):
        train(config, run_dir, trainer=_FailsSecondChunk(finite=True), show_progress=False)
    assert (run_dir / "config.json").is_file() and (run_dir / "checkpoints" / "2").is_dir()
