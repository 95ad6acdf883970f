"""Named reproductions: ``experiments/reproductions/<name>.py`` exporting ``REPRODUCTION``.

They live in a folder of their own so ``metarl train --list`` keeps listing trainable
experiments only. The folder is looked up under every experiments directory
(``metarl.experiments.experiments_dirs``: ``$METARL_EXPERIMENTS_DIR``, then
``./experiments``, then the one beside the package), first match wins. A file may
also export ``POD``: the same finding sized for a GPU or TPU pod (``--variant pod``).
"""

from __future__ import annotations

import os
from pathlib import Path

from metarl.errors import ConfigError
from metarl.reproduce.spec import Reproduction

FOLDER = "reproductions"
VARIANTS = {"cpu": "REPRODUCTION", "pod": "POD"}


def reproduction_files() -> dict[str, Path]:
    """Name -> file over every experiments directory (earlier directories win)."""
    from metarl.experiments import experiments_dirs

    found: dict[str, Path] = {}
    for directory in experiments_dirs():
        for path in sorted((directory / FOLDER).glob("*.py")):
            if not path.name.startswith("_"):
                found.setdefault(path.stem, path)
    return found


def _module(name: str):
    from metarl.experiments import load_experiment_module

    if name.endswith(".py") or os.sep in name:
        return load_experiment_module(name)
    files = reproduction_files()
    if name not in files:
        raise ConfigError(
            f"unknown reproduction {name!r}; allowed values: "
            + (", ".join(repr(n) for n in sorted(files)) or "(none found)")
        )
    return load_experiment_module(str(files[name]))


def _variant(module, name: str, variant: str) -> Reproduction | None:
    reproduction = getattr(module, VARIANTS[variant], None)
    if reproduction is not None and not isinstance(reproduction, Reproduction):
        raise ConfigError(
            f"reproduction {name!r}: {VARIANTS[variant]} is a {type(reproduction).__name__}, "
            "not a metarl.reproduce.Reproduction"
        )
    return reproduction


def load_reproduction(name: str, variant: str = "cpu") -> Reproduction:
    """The named reproduction (or the one of a path to a .py file) in ``variant``."""
    if variant not in VARIANTS:
        raise ConfigError(
            f"--variant {variant!r} is not allowed; allowed values: "
            + ", ".join(repr(v) for v in VARIANTS)
        )
    reproduction = _variant(_module(name), name, variant)
    if reproduction is None:
        raise ConfigError(
            f"reproduction {name!r} defines no {VARIANTS[variant]} (a metarl.reproduce."
            f"Reproduction) for --variant {variant}"
        )
    return reproduction


def list_reproductions() -> list[dict[str, str]]:
    """name, question, source and each variant's budget; a file that fails to load says why."""
    rows = []
    for name, path in reproduction_files().items():
        row = {"name": name}
        try:
            module = _module(str(path))
            for variant in VARIANTS:
                repro = _variant(module, name, variant)
                if repro is not None:
                    row.update(question=repro.question, source=repro.source)
                    row[f"budget_{variant}"] = repro.budget
        except Exception as error:  # a broken file must not hide the others from --list
            row["question"] = f"<cannot load: {type(error).__name__}: {error}>"
        rows.append(row)
    return rows
