"""Named experiments: ``experiments/<name>.py`` modules that define ``CONFIG``.

``resolve(name, ["run.num_envs=64", "env.overrides.num_arms=10"])`` loads the
experiment, applies ``--set`` overrides typed by the config dataclasses (and, for
``env.overrides.*``, by the environment family's own config dataclass), and
validates the result. Every failure is a ``ConfigError`` naming the dotted field
and what is allowed, raised before anything is compiled.

The typing itself, and ``config.json`` (de)serialisation, live in
``metarl.config_io`` beside the config types; the runner imports them from there.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import types
from pathlib import Path
from typing import Any

from metarl.config import ExperimentConfig, validate
from metarl.config_io import (
    coerce,
    coerce_env_override,
    config_differences,
    config_from_dict,
    config_to_dict,
    field_types,
    retype_env_overrides,
)
from metarl.errors import ConfigError

EXPERIMENTS_ENV_VAR = "METARL_EXPERIMENTS_DIR"

# config_io's public names stay importable from here for callers written before they
# moved; new code imports them from metarl.config_io.
__all__ = [
    "EXPERIMENTS_ENV_VAR",
    "apply_overrides",
    "check_env_values",
    "coerce",
    "config_differences",
    "config_from_dict",
    "config_to_dict",
    "experiment_files",
    "experiments_dirs",
    "list_experiments",
    "load_experiment",
    "parse_set",
    "resolve",
]


# --------------------------------------------------------------------- discovery
def experiments_dirs() -> list[Path]:
    """Where experiment files are looked up, first match wins.

    ``$METARL_EXPERIMENTS_DIR``, then ``./experiments`` (the repo a user runs from),
    then the ``experiments/`` beside the installed package (an editable install).
    """
    candidates = []
    if os.environ.get(EXPERIMENTS_ENV_VAR):
        candidates.append(Path(os.environ[EXPERIMENTS_ENV_VAR]))
    candidates.append(Path.cwd() / "experiments")
    candidates.append(Path(__file__).resolve().parents[1] / "experiments")
    unique: list[Path] = []
    for path in candidates:
        if path.is_dir() and path.resolve() not in [p.resolve() for p in unique]:
            unique.append(path)
    return unique


def experiment_files() -> dict[str, Path]:
    """Experiment name -> file, over every experiments directory (earlier dirs win)."""
    found: dict[str, Path] = {}
    for directory in experiments_dirs():
        for path in sorted(directory.glob("*.py")):
            if not path.name.startswith("_"):
                found.setdefault(path.stem, path)
    return found


def _load_module(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"metarl_experiment_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"experiment file {str(path)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_experiment_module(name: str) -> types.ModuleType:
    """The module of ``experiments/<name>.py`` (or of a path to a .py file), imported."""
    if name.endswith(".py") or os.sep in name:
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"experiment file {name!r} does not exist")
    else:
        files = experiment_files()
        if name not in files:
            raise ConfigError(
                f"unknown experiment {name!r}; allowed values: "
                + (", ".join(repr(n) for n in sorted(files)) or "(none found)")
                + f" (searched {', '.join(str(d) for d in experiments_dirs()) or 'no experiments/ dir'})"
            )
        path = files[name]
    return _load_module(path)


def load_experiment(name: str) -> ExperimentConfig:
    """The ``CONFIG`` of ``experiments/<name>.py`` (or of a path to a .py file)."""
    module = load_experiment_module(name)
    config = getattr(module, "CONFIG", None)
    if not isinstance(config, ExperimentConfig):
        raise ConfigError(
            f"experiment {name!r} must define CONFIG: ExperimentConfig, got {type(config).__name__}"
        )
    return config


def list_experiments() -> list[tuple[str, str]]:
    """(name, description) of every experiment; a file that fails to load says why."""
    rows = []
    for name, path in experiment_files().items():
        try:
            description = load_experiment(str(path)).description
        except Exception as error:  # a broken file must not hide the others from --list
            description = f"<cannot load: {type(error).__name__}: {error}>"
        rows.append((name, description))
    return rows


# -------------------------------------------------------------------- overrides
def parse_set(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. run.num_envs=64")
    key, value = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {text!r}: empty key; expected key=value, e.g. run.num_envs=64")
    return key, value


def _replace_path(obj: Any, path: list[str], value: str, dotted: str, parent: str = "") -> Any:
    types_by_field = field_types(type(obj))
    head = path[0]
    here = parent + head
    if head not in types_by_field:
        raise ConfigError(
            f"config: unknown field '{here}'; allowed fields: "
            + ", ".join(parent + name for name in types_by_field)
        )
    current = getattr(obj, head)
    if len(path) == 1:
        if dataclasses.is_dataclass(current):
            raise ConfigError(
                f"config: field '{here}' is a section; set one of its fields: "
                + ", ".join(f"{here}.{f.name}" for f in dataclasses.fields(current))
            )
        return dataclasses.replace(obj, **{head: coerce(dotted, value, types_by_field[head])})
    if not dataclasses.is_dataclass(current):
        raise ConfigError(f"config: field '{here}' has no sub-fields (got '{dotted}')")
    return dataclasses.replace(
        obj, **{head: _replace_path(current, path[1:], value, dotted, here + ".")}
    )


def apply_overrides(
    config: ExperimentConfig, sets: list[str] | tuple[str, ...]
) -> ExperimentConfig:
    """``config`` with every ``key=value`` applied; a new config, the input is untouched.

    ``env.name`` is applied first, so ``env.overrides.*`` values are typed by the
    family they end up in whatever the order on the command line.
    """
    pairs = [parse_set(text) for text in sets]
    pairs.sort(key=lambda pair: pair[0] != "env.name")  # stable: the rest keep their order
    for key, value in pairs:
        if key.startswith("env.overrides."):
            name = key[len("env.overrides.") :]
            if not name or "." in name:
                raise ConfigError(
                    f"config: field '{key}': expected env.overrides.<field>, e.g. env.overrides.num_arms"
                )
            coerced = coerce_env_override(config.env.name, name, value)
            overrides = {**config.env.overrides, name: coerced}
            config = dataclasses.replace(
                config, env=dataclasses.replace(config.env, overrides=overrides)
            )
        elif key == "env.overrides":
            raise ConfigError(
                "config: set env overrides one at a time: env.overrides.<field>=value"
            )
        else:
            config = _replace_path(config, key.split("."), value, key)
    return config


def check_env_values(config: ExperimentConfig) -> None:
    """Build the env once, so bad override *values* fail here (validate checks names)."""
    from metarl import envs

    try:
        envs.make(config.env.name, **config.env.overrides)
    except ConfigError as error:
        raise ConfigError(f"config: field 'env.overrides' is invalid: {error}") from None


def resolve(
    name: str, sets: list[str] | tuple[str, ...] = (), *, build_env: bool = True
) -> ExperimentConfig:
    """Load, override, validate: the config a run uses. Raises ConfigError, compiles nothing.

    ``build_env=False`` skips ``check_env_values`` (building the env runs JAX ops for
    its task pools, seconds on a CPU). The CLI skips it because the trainer's
    constructor builds the env anyway, before compiling anything.
    """
    config = apply_overrides(load_experiment(name), sets)
    # Overrides typed for the experiment's own env stay typed after an env.name change.
    config = retype_env_overrides(config)
    validate(config)
    if build_env:
        check_env_values(config)
    return config
