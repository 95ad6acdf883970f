"""Named experiments: ``experiments/<name>.py`` modules that define ``CONFIG``.

``resolve(name, ["run.num_envs=64", "env.overrides.num_arms=10"])`` loads the
experiment, applies ``--set`` overrides typed by the config dataclasses (and, for
``env.overrides.*``, by the environment family's own config dataclass), and
validates the result. Every failure is a ``ConfigError`` naming the dotted field
and what is allowed, raised before anything is compiled.

The same typing turns ``config.json`` (and checkpoint sidecars) back into an
``ExperimentConfig``: ``config_to_dict`` / ``config_from_dict`` round-trip exactly.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import types
import typing
from pathlib import Path
from typing import Any

from metarl.config import ExperimentConfig, validate
from metarl.errors import ConfigError

EXPERIMENTS_ENV_VAR = "METARL_EXPERIMENTS_DIR"
_NONE_WORDS = ("none", "null")
_TRUE_WORDS = ("true", "1", "yes", "on")
_FALSE_WORDS = ("false", "0", "no", "off")


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


def load_experiment(name: str) -> ExperimentConfig:
    """The ``CONFIG`` of ``experiments/<name>.py`` (or of a path to a .py file)."""
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
    module = _load_module(path)
    config = getattr(module, "CONFIG", None)
    if not isinstance(config, ExperimentConfig):
        raise ConfigError(
            f"experiment {str(path)!r} must define CONFIG: ExperimentConfig, got {type(config).__name__}"
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


# ----------------------------------------------------------------------- typing
def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def coerce(field: str, value: Any, annotation: Any) -> Any:
    """``value`` (a --set string, or a JSON value) as ``annotation``; ConfigError names ``field``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if type(None) in options and (
            value is None or (isinstance(value, str) and value.lower() in _NONE_WORDS)
        ):
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(field, value, option)
            except ConfigError:
                pass  # try the next type; the error below lists them all
        allowed = " or ".join("None" if o is type(None) else _type_name(o) for o in options)
        raise ConfigError(f"config: field '{field}' = {value!r} must be {allowed}")
    if annotation is Any:
        return _parse_literal(value) if isinstance(value, str) else value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE_WORDS + _FALSE_WORDS:
            return value.lower() in _TRUE_WORDS
        raise ConfigError(
            f"config: field '{field}' = {value!r} must be a bool; allowed values: true, false"
        )
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        number = None
        if isinstance(value, str):
            try:
                return int(value, 10)  # also takes 10_000_000
            except ValueError:
                pass
            try:
                number = float(value)  # 1e7 is fine for a step count; 2.5 is not
            except ValueError:
                pass
        elif isinstance(value, float):
            number = value
        if number is not None and number.is_integer():
            return int(number)
        raise ConfigError(f"config: field '{field}' = {value!r} must be an integer")
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"config: field '{field}' = {value!r} must be a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"config: field '{field}' = {value!r} must be a number") from None
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"config: field '{field}' = {value!r} must be a string")
    if origin in (tuple, list):
        items = _parse_sequence(field, value)
        args = typing.get_args(annotation)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(items):
                raise ConfigError(
                    f"config: field '{field}' = {value!r} must have {len(args)} items"
                )
            return tuple(
                coerce(f"{field}[{i}]", v, a)
                for i, (v, a) in enumerate(zip(items, args, strict=True))
            )
        item_type = args[0] if args else Any
        coerced = [coerce(f"{field}[{i}]", v, item_type) for i, v in enumerate(items)]
        return tuple(coerced) if origin is tuple else coerced
    if origin is dict or annotation is dict:
        if isinstance(value, str):
            value = _parse_literal(value)
        if not isinstance(value, dict):
            raise ConfigError(f"config: field '{field}' = {value!r} must be a JSON object")
        return dict(value)
    raise ConfigError(
        f"config: field '{field}' has a type ({_type_name(annotation)}) that --set cannot parse"
    )


def _parse_literal(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_sequence(field: str, value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if not isinstance(value, str):
        raise ConfigError(
            f"config: field '{field}' = {value!r} must be a list, e.g. 10,20 or [10,20]"
        )
    text = value.strip()
    if text.startswith(("[", "(")) and text.endswith(("]", ")")):
        text = text[1:-1]
    return [part.strip() for part in text.split(",") if part.strip()]


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _env_field_types(env_name: str) -> dict[str, Any] | None:
    """Types of a registered env's override fields; None for gymnax fallbacks (untyped)."""
    from metarl import envs

    if env_name not in envs.registered_names():
        return None
    from metarl.envs.registry import spec

    return _field_types(spec(env_name).config_cls)


def _coerce_env_override(env_name: str, key: str, value: Any) -> Any:
    types_by_field = _env_field_types(env_name)
    field = f"env.overrides.{key}"
    if types_by_field is None:
        return _parse_literal(value) if isinstance(value, str) else value
    if key not in types_by_field:
        raise ConfigError(
            f"config: field '{field}' is not a field of {env_name!r}; allowed fields: "
            + ", ".join(types_by_field)
        )
    return coerce(field, value, types_by_field[key])


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
    types_by_field = _field_types(type(obj))
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
            coerced = _coerce_env_override(config.env.name, name, value)
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
    config = _retype_env_overrides(config)
    validate(config)
    if build_env:
        check_env_values(config)
    return config


def _retype_env_overrides(config: ExperimentConfig) -> ExperimentConfig:
    overrides = {
        k: _coerce_env_override(config.env.name, k, v) for k, v in config.env.overrides.items()
    }
    return dataclasses.replace(config, env=dataclasses.replace(config.env, overrides=overrides))


# ---------------------------------------------------------------- serialisation
def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Plain JSON-able dict of the full config (tuples become lists)."""
    return _jsonable(config)


def _from_dict(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"config: field '{prefix or 'config'}' must be an object, got {data!r}")
    types_by_field = _field_types(cls)
    unknown = [k for k in data if k not in types_by_field]
    if unknown:
        raise ConfigError(
            f"config: unknown field(s) {', '.join(repr((prefix + '.' if prefix else '') + k) for k in unknown)}; "
            f"allowed fields: {', '.join(types_by_field)}"
        )
    kwargs = {}
    for name, annotation in types_by_field.items():
        if name not in data:
            continue  # a field added since the file was written keeps its default
        dotted = f"{prefix}.{name}" if prefix else name
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            kwargs[name] = _from_dict(annotation, data[name], dotted)
        else:
            kwargs[name] = coerce(dotted, data[name], annotation)
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Inverse of ``config_to_dict``; env overrides are re-typed by their family."""
    return _retype_env_overrides(_from_dict(ExperimentConfig, data, ""))


def config_differences(old: ExperimentConfig, new: ExperimentConfig) -> list[tuple[str, Any, Any]]:
    """(dotted field, old value, new value) for every leaf that differs."""
    diffs: list[tuple[str, Any, Any]] = []

    def walk(a: Any, b: Any, prefix: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(
                    a.get(key, "<unset>"),
                    b.get(key, "<unset>"),
                    f"{prefix}.{key}" if prefix else key,
                )
        elif a != b:
            diffs.append((prefix, a, b))

    walk(config_to_dict(old), config_to_dict(new), "")
    return diffs
