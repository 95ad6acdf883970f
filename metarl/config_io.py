"""Typing and (de)serialisation of ``ExperimentConfig``: ``--set`` strings and JSON.

``coerce`` turns a ``--set`` string or a JSON value into a field's declared type
(``env.overrides.*`` by the env family's own config dataclass);
``config_to_dict`` / ``config_from_dict`` round-trip ``config.json`` and checkpoint
sidecars exactly. It sits next to the config types, so the runner reads and writes
configs without importing experiment discovery (``metarl.experiments``).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from metarl.config import ExperimentConfig
from metarl.errors import ConfigError

_NONE_WORDS = ("none", "null")
_TRUE_WORDS = ("true", "1", "yes", "on")
_FALSE_WORDS = ("false", "0", "no", "off")


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


def field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _envfield_types(env_name: str) -> dict[str, Any] | None:
    """Types of a registered env's override fields; None for gymnax fallbacks (untyped)."""
    from metarl import envs

    if env_name not in envs.registered_names():
        return None
    from metarl.envs.registry import spec

    return field_types(spec(env_name).config_cls)


def coerce_env_override(env_name: str, key: str, value: Any) -> Any:
    types_by_field = _envfield_types(env_name)
    field = f"env.overrides.{key}"
    if types_by_field is None:
        return _parse_literal(value) if isinstance(value, str) else value
    if key not in types_by_field:
        raise ConfigError(
            f"config: field '{field}' is not a field of {env_name!r}; allowed fields: "
            + ", ".join(types_by_field)
        )
    return coerce(field, value, types_by_field[key])


def retype_env_overrides(config: ExperimentConfig) -> ExperimentConfig:
    overrides = {
        k: coerce_env_override(config.env.name, k, v) for k, v in config.env.overrides.items()
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
    types_by_field = field_types(cls)
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
    return retype_env_overrides(_from_dict(ExperimentConfig, data, ""))


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
