"""scripts/launch_pod.py builds the right gcloud commands (it cannot run here)."""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "launch_pod.py"


@pytest.fixture(scope="module")
def launch_pod():
    spec = importlib.util.spec_from_file_location("launch_pod", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BASE = ["--tpu", "pod-a", "--zone", "us-central2-b"]


def _commands(launch_pod, extra):
    return launch_pod.build_commands(launch_pod.build_parser().parse_args(BASE + extra))


def _remote(command: list[str]) -> str:
    assert command[command.index("--command") - 1] == "--worker=all"
    return command[command.index("--command") + 1]


def test_setup_and_train_commands_target_all_workers_with_zone_and_project(launch_pod):
    setup, train = _commands(
        launch_pod,
        [
            "--project",
            "my-proj",
            "--experiment",
            "bandit_default",
            "--run-dir",
            "/mnt/shared/runs/b1",
            "--repo-url",
            "https://example.org/metarl.git",
            "--ref",
            "v0.1",
        ],
    )
    prefix = [
        "gcloud",
        "compute",
        "tpus",
        "tpu-vm",
        "ssh",
        "pod-a",
        "--zone",
        "us-central2-b",
        "--project",
        "my-proj",
    ]
    assert setup[: len(prefix)] == prefix and train[: len(prefix)] == prefix
    assert setup[len(prefix)] == "--worker=all" and train[len(prefix)] == "--worker=all"

    remote_setup = _remote(setup)
    assert remote_setup.startswith("set -euo pipefail; python3 -m venv metarl-venv && ")
    assert "git clone --quiet https://example.org/metarl.git metarl" in remote_setup
    assert "git -C metarl checkout --quiet v0.1" in remote_setup
    assert "metarl-venv/bin/pip install --quiet -e metarl 'jax[tpu]>=0.10.2,<0.11'" in remote_setup


def test_train_command_quotes_user_values_and_launches_distributed(launch_pod):
    nasty = 'description=it\'s a "test" $(rm -rf ~); ok'
    (train,) = _commands(
        launch_pod,
        [
            "--steps",
            "train",
            "--experiment",
            "bandit_default",
            "--run-dir",
            "/mnt/nfs/runs/with space",
            "--set",
            "run.num_envs=4096",
            "--set",
            nasty,
            "--resume",
        ],
    )
    remote = _remote(train)
    assert "--project" not in train  # gcloud's configured project when none is given
    # The remote line, as the worker's shell will split it.
    words = shlex.split(remote)
    start = words.index("metarl-venv/bin/metarl")
    end = words.index(">")
    assert words[start:end] == [
        "metarl-venv/bin/metarl",
        "train",
        "bandit_default",
        "--set",
        "run.num_envs=4096",
        "--set",
        nasty,
        "--run-dir",
        "/mnt/nfs/runs/with space",
        "--distributed",
        "--no-progress",
        "--resume",
    ]
    assert words[words.index("nohup") - 1] == "METARL_EXPERIMENTS_DIR=metarl/experiments"
    assert words[-1] == "&"
    assert (
        'metarl_logs/train-"$(hostname)".log' in remote
    )  # per-worker log, hostname expanded remotely
    # The dangerous value is inert: quoted, never a bare command substitution.
    assert "$(rm" not in remote.replace(shlex.quote(nasty), "")


def test_bash_parses_the_train_line_to_the_same_argv(launch_pod, tmp_path):
    """Run the remote line through a real bash with a fake metarl that records its argv."""
    venv_bin = tmp_path / "metarl-venv" / "bin"
    venv_bin.mkdir(parents=True)
    fake = venv_bin / "metarl"
    fake.write_text(
        '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$HOME/argv.txt"\n'
        'echo "$METARL_EXPERIMENTS_DIR" > "$HOME/experiments_dir.txt"\n'
    )
    fake.chmod(0o755)
    nasty = "description=it's $(echo pwned) `x`"
    (train,) = _commands(
        launch_pod,
        [
            "--steps",
            "train",
            "--experiment",
            "e",
            "--run-dir",
            "/abs/run",
            "--set",
            nasty,
            "--venv",
            str(tmp_path / "metarl-venv"),
        ],
    )
    remote = _remote(train) + " wait"  # wait for the background job here
    subprocess.run(
        ["bash", "-c", remote],
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=True,
        timeout=30,
    )
    argv = (tmp_path / "argv.txt").read_text().splitlines()
    assert argv == [
        "train",
        "e",
        "--set",
        nasty,
        "--run-dir",
        "/abs/run",
        "--distributed",
        "--no-progress",
    ]
    assert (tmp_path / "experiments_dir.txt").read_text() == "metarl/experiments\n"
    assert list((tmp_path / "metarl_logs").glob("train-*.log"))


def test_collect_copies_each_workers_logs_into_its_own_dir(launch_pod):
    commands = _commands(
        launch_pod, ["--steps", "collect", "--num-workers", "2", "--log-dir", "out logs"]
    )
    assert commands == [
        ["mkdir", "-p", "out logs/worker-0/"],
        [
            "gcloud",
            "compute",
            "tpus",
            "tpu-vm",
            "scp",
            "pod-a:metarl_logs/train-*.log",
            "out logs/worker-0/",
            "--zone",
            "us-central2-b",
            "--worker=0",
        ],
        ["mkdir", "-p", "out logs/worker-1/"],
        [
            "gcloud",
            "compute",
            "tpus",
            "tpu-vm",
            "scp",
            "pod-a:metarl_logs/train-*.log",
            "out logs/worker-1/",
            "--zone",
            "us-central2-b",
            "--worker=1",
        ],
    ]


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--steps", "train", "--experiment", "e", "--run-dir", "gs://bucket/run"],
            "URLs are not supported",
        ),
        (["--steps", "train", "--experiment", "e", "--run-dir", "runs/x"], "must be absolute"),
        (["--steps", "train", "--run-dir", "/r"], "needs --experiment"),
        (["--steps", "setup"], "needs --repo-url"),
        (["--steps", "collect"], "needs --num-workers"),
        (["--steps", "deploy"], "unknown step(s) ['deploy']"),
        (
            ["--steps", "train", "--experiment", "e", "--run-dir", "/r", "--set", "oops"],
            "expected key=value",
        ),
    ],
)
def test_bad_arguments_are_refused(launch_pod, extra, message):
    with pytest.raises(launch_pod.LaunchError) as caught:
        _commands(launch_pod, extra)
    assert message in str(caught.value)


def test_dry_run_prints_copy_pasteable_commands_and_runs_nothing(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            *BASE,
            "--steps",
            "train,tail",
            "--experiment",
            "e",
            "--run-dir",
            "/r",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(tmp_path)},  # no gcloud on PATH
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    parsed = [shlex.split(line) for line in lines]
    assert parsed[0][:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "pod-a"]
    assert "metarl-venv/bin/metarl train e --run-dir /r --distributed" in parsed[0][-1]
    assert parsed[1][-1] == "tail -n 5 metarl_logs/train-*.log"
