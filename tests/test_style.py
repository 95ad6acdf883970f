"""The house rules a reviewer checks: ruff lint and format clean."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["metarl", "envs", "experiments", "scripts", "tests"]


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed (it is in the dev extra: pip install -e '.[dev]')")
    return [found]


def test_ruff_lint_clean():
    result = subprocess.run([*_ruff(), "check", *SOURCES], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean():
    result = subprocess.run(
        [*_ruff(), "format", "--check", *SOURCES], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, "run `ruff format`:\n" + result.stdout + result.stderr
