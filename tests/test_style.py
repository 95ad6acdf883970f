"""The house rules a reviewer checks: ruff clean, small modules and functions, private names private."""

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


MAX_MODULE_LINES = 650
MAX_FUNCTION_LINES = 90
LIBRARY = ("metarl", "envs")


def _library_modules():
    for folder in LIBRARY:
        yield from sorted((REPO / folder).rglob("*.py"))


def test_library_modules_stay_small():
    too_long = {
        str(path.relative_to(REPO)): n
        for path in _library_modules()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_library_functions_stay_short_and_private_names_stay_private():
    import ast

    long_functions, private_imports = [], []
    for path in _library_modules():
        where = path.relative_to(REPO)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("metarl"):
                private_imports += [
                    f"{where}:{node.lineno} {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert not long_functions, long_functions
    assert not private_imports, private_imports
