"""Finding adapters: the ``margin.adapters`` entry-point group.

Built-in adapters (``sql``, ``rest``) register exactly like an integrator's package does::

    [project.entry-points."margin.adapters"]
    inventory = "my_package:InventoryAdapter"

An adapter class takes one argument, its configuration decoded into its ``config_type``
Struct (see :class:`margin.adapters.base.AdapterBase`).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import msgspec

from margin.adapters.protocol import Adapter

ENTRY_POINT_GROUP = "margin.adapters"


class AdapterConfigError(ValueError):
    """An adapter section of the configuration is wrong; the message names the key."""


def installed_adapters() -> dict[str, EntryPoint]:
    """Every adapter kind installed in this environment, by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def decode_adapter_config(name: str, section: Mapping[str, Any]) -> tuple[type[Any], msgspec.Struct]:
    """The adapter class for ``adapters.<name>`` and its decoded configuration."""
    options = dict(section)
    kind = options.pop("kind", None)
    if not isinstance(kind, str):
        raise AdapterConfigError(f"adapters.{name}.kind: required (one of: {_known()})")
    entry_point = installed_adapters().get(kind)
    if entry_point is None:
        raise AdapterConfigError(
            f"adapters.{name}.kind: no adapter {kind!r} is installed (installed: {_known()})"
        )
    try:
        cls = entry_point.load()
    except Exception as exc:  # a broken third-party package must not crash start-up unexplained
        raise AdapterConfigError(f"adapters.{name}: adapter {kind!r} failed to load: {exc}") from exc
    config_type = getattr(cls, "config_type", None)
    if not (isinstance(config_type, type) and issubclass(config_type, msgspec.Struct)):
        raise AdapterConfigError(f"adapters.{name}: adapter {kind!r} declares no msgspec config_type")
    try:
        config = msgspec.convert(options, config_type, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc).replace("`$.", f"`adapters.{name}.").replace("`$`", f"`adapters.{name}`")
        raise AdapterConfigError(f"Invalid configuration: {message}") from exc
    return cls, config


def build_adapter(name: str, section: Mapping[str, Any]) -> Adapter:
    cls, config = decode_adapter_config(name, section)
    try:
        adapter = cls(config)
    except ValueError as exc:  # e.g. a secret's environment variable is not set
        raise AdapterConfigError(f"adapters.{name}: {exc}") from exc
    if not isinstance(adapter, Adapter):
        raise AdapterConfigError(
            f"adapters.{name}: {cls.__qualname__} does not implement the adapter interface"
        )
    return adapter


def _known() -> str:
    return ", ".join(sorted(installed_adapters())) or "none"
