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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[0] == "envs":  # installed as metarl.envs
        parts = ["metarl", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(tree, modules: set[str]) -> set[str]:
    """metarl modules a module imports at run time (``if TYPE_CHECKING:`` blocks left out)."""
    import ast

    found: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            return
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n if n in modules else node.module for n in names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_no_import_cycles():
    import ast

    paths = {_module_name(path): path for path in _library_modules()}
    modules = set(paths)
    graph = {
        name: _imported_modules(ast.parse(path.read_text()), modules) - {name}
        for name, path in paths.items()
    }
    # A module's package __init__ may import it back (a curated public surface); any
    # other path back to a module is a cycle.
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start and not start.startswith(nxt + "."):
                    if not any(start.startswith(step + ".") for step in trail[1:]):
                        cycles.append(" -> ".join([*trail, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert not cycles, cycles[:5]
