"""Registered, versioned environment names: ``make(name, **overrides) -> (env, params)``.

Each name maps to a family's config dataclass with some defaults fixed and a builder
that validates the config and returns a gymnax ``Environment`` and its params.
Names ending in ``-misc`` (and any other name gymnax knows) fall through to
``gymnax.make`` so gymnax's own environments work wherever ours do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from metarl.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    name: str
    config_cls: type
    defaults: dict[str, Any]
    builder: Callable[[Any, str], tuple[Any, Any]]
    description: str
    family: str
    """The env family (e.g. 'bandit', 'maze'): what evaluation keys suites, references
    and probes on. Recorded at registration so nothing downstream matches class names."""


_REGISTRY: dict[str, EnvSpec] = {}


def register(
    name: str,
    config_cls: type,
    builder: Callable[[Any, str], tuple[Any, Any]],
    description: str,
    *,
    family: str,
    **defaults: Any,
) -> None:
    if name in _REGISTRY:
        raise ValueError(f"environment {name!r} is already registered")
    if not family or not family.isidentifier():
        raise ValueError(f"{name}: family {family!r} must be a non-empty identifier, e.g. 'bandit'")
    if not name.rsplit("-", 1)[-1].startswith("v"):
        raise ValueError(f"environment name {name!r} must end in a version, e.g. '-v0'")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(defaults) - fields
    if unknown:
        raise ValueError(f"{name}: defaults name unknown fields {sorted(unknown)}")
    _REGISTRY[name] = EnvSpec(name, config_cls, dict(defaults), builder, description, family)


def registered_names() -> list[str]:
    return sorted(_REGISTRY)


def spec(name: str) -> EnvSpec:
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown environment {name!r}; registered: {', '.join(registered_names())}"
            " (or any gymnax name such as 'BernoulliBandit-misc')"
        )
    return _REGISTRY[name]


def families() -> list[str]:
    """The families of the registered names, sorted, each once."""
    return sorted({env_spec.family for env_spec in _REGISTRY.values()})


def family_of(name: str) -> str | None:
    """A registered name's family; None for a gymnax name (no family of ours)."""
    if name in _REGISTRY:
        return _REGISTRY[name].family
    import gymnax

    if name in gymnax.registered_envs:
        return None
    return spec(name).family  # raises with the list of names


def allowed_overrides(name: str) -> list[str]:
    return [f.name for f in dataclasses.fields(spec(name).config_cls)]


def env_config(name: str, **overrides: Any) -> Any:
    """The validated-by-name config dataclass for ``name`` with ``overrides`` applied."""
    env_spec = spec(name)
    allowed = allowed_overrides(name)
    unknown = [key for key in overrides if key not in allowed]
    if unknown:
        raise ConfigError(
            f"{name}: unknown field(s) {', '.join(repr(k) for k in unknown)}; "
            f"allowed fields: {', '.join(allowed)}"
        )
    return env_spec.config_cls(**{**env_spec.defaults, **overrides})


def make(name: str, **overrides: Any) -> tuple[Any, Any]:
    """Build ``(env, env_params)`` for a registered name, or a gymnax name as a fallback."""
    if name not in _REGISTRY:
        import gymnax

        if name in gymnax.registered_envs:
            if overrides:
                env, params = gymnax.make(name)
                try:
                    return env, params.replace(**overrides)
                except (TypeError, ValueError) as error:
                    allowed = [f.name for f in dataclasses.fields(params)]
                    raise ConfigError(
                        f"{name}: bad override(s) {sorted(overrides)}; allowed fields: {', '.join(allowed)}"
                    ) from error
            return gymnax.make(name)
        spec(name)  # raises with the list of names
    config = env_config(name, **overrides)
    return _REGISTRY[name].builder(config, name)
