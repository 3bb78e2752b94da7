"""Configuration: an optional ``margin.toml`` plus ``MARGIN_*`` environment variables.

Both are merged into one dict and decoded into :class:`Settings` once, at start-up. A wrong
value stops start-up with a :class:`ConfigError` that names the key and what was expected.

Environment variables map onto keys with ``__`` as the nesting separator:
``MARGIN_SERVER__PORT=9000`` sets ``server.port``; ``MARGIN_PROVIDERS__OPENAI__MODEL`` sets
``providers.openai.model``. Provider keys also come from ``OPENAI_API_KEY`` and
``ANTHROPIC_API_KEY``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from margin.adapters.registry import AdapterConfigError, decode_adapter_config
from margin.plugins import PluginError, load_plugins
from margin.providers.settings import ProviderSettings
from margin.resilience.config import (
    NonNegativeInt,
    PositiveInt,
    ProviderTimeouts,
    ResilienceSettings,
    Seconds,
)

ENV_PREFIX = "MARGIN_"
DEFAULT_CONFIG_FILE = "margin.toml"
OFFLINE = "offline"
SECRET_KEYS = frozenset({"api_key", "secret", "password", "token"})
"""Keys that hold a secret (``token_env`` only names a variable; ``max_tokens`` is a number).
A rest adapter's header ``auth.value`` is one too."""


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the problem."""


Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: Port = 8000
    workers: PositiveInt = 1
    max_body_bytes: PositiveInt = 256 * 1024
    heartbeat_s: Seconds = 15.0
    request_timeout_s: Seconds = 10.0
    """A request (headers and body) must arrive whole within this, or the connection is closed."""
    keep_alive_s: PositiveInt = 5
    """An idle kept-alive connection is closed after this."""
    max_connections: PositiveInt = 4096
    """Open connections plus requests in progress per process; beyond it new requests get a 503."""


class TenantSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A host app: the secret it signs user tokens with and the origins its pages are served from."""

    secret: str
    allowed_origins: list[str] = []
    adapters: list[str] = []
    """Names of ``[adapters.*]`` sections; each record type is served by the adapter declaring it."""
    chains: dict[str, list[str]] = {}
    """This tenant's provider chains (``default`` or per feature); the rest come from ``[chains]``."""


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_ttl_s: PositiveInt = 24 * 3600
    leeway_s: NonNegativeInt = 10


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    plugins: list[str] = []
    """Installed plugins to switch on (``margin.plugins`` entry points), e.g. ``["demo"]``."""
    data_dir: str = ".margin"
    log_format: Literal["console", "json"] | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    providers: dict[str, ProviderSettings] = {}
    chains: dict[str, list[str]] = {}
    tenants: dict[str, TenantSettings] = {}
    adapters: dict[str, dict[str, Any]] = {}
    """``[adapters.NAME]`` sections: ``kind`` (an installed adapter) plus that adapter's settings."""
    features: dict[str, dict[str, Any]] = {}
    """``[features.NAME]`` sections: that feature's own settings (e.g. triage's lists)."""
    redis_url: str | None = None
    """Shared state (breakers, limits, cache) for many replicas; None keeps it all in-process."""
    resilience: ResilienceSettings = msgspec.field(default_factory=ResilienceSettings)

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        return self.log_format or "json"

    def chain_for(self, feature: str, tenant: str | None = None) -> list[str]:
        own = self.tenants[tenant].chains if tenant in self.tenants else {}
        return own.get(feature) or own.get("default") or self.chains.get(feature) or self.chains["default"]

    def timeouts_for(self, provider: str) -> ProviderTimeouts:
        return self.providers[provider].timeouts or self.resilience.timeouts


def load_settings(
    config_file: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the config file, the environment and ``overrides`` (CLI flags), in rising priority."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    path = Path(config_file or env.get("MARGIN_CONFIG") or DEFAULT_CONFIG_FILE)
    if config_file is not None or env.get("MARGIN_CONFIG") or path.exists():
        raw = _read_toml(path)
    _merge(raw, _from_env(env))
    _merge(raw, dict(overrides or {}))
    _apply_key_variables(raw, env)
    _check_named_entries(raw)
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"Invalid configuration: {_describe(exc)}") from exc
    try:
        plugins = load_plugins(settings.plugins)
    except PluginError as exc:
        raise ConfigError(str(exc)) from exc
    for plugin in plugins:
        settings = plugin.configure(settings)
    return _complete(settings)


def _check_named_entries(raw: dict[str, Any]) -> None:
    """Decode provider and tenant entries one by one, so an error names the entry."""
    for section, struct in (("providers", ProviderSettings), ("tenants", TenantSettings)):
        entries = raw.get(section)
        if not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            try:
                msgspec.convert(entry, struct, strict=False)
            except msgspec.ValidationError as exc:
                raise ConfigError(f"Invalid configuration: {_describe(exc, f'{section}.{name}')}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"Config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from exc


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == "MARGIN_CONFIG":
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _env_value(path, value)
    return raw


def _env_value(path: list[str], value: str) -> Any:
    """Lists (chains, allowed origins) are comma-separated in the environment."""
    in_tenant = path[0] == "tenants" and (path[-1] in ("allowed_origins", "adapters") or "chains" in path)
    if path[0] in ("chains", "plugins") or in_tenant:
        return [item.strip() for item in value.split(",") if item.strip()]
    if path == ["log_level"]:
        return value.lower()
    return value


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _apply_key_variables(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` switch on a default provider or fill its key."""
    providers = raw.setdefault("providers", {})
    if not isinstance(providers, dict):
        return
    defaults = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest"}
    for kind, model in defaults.items():
        key = env.get(f"{kind.upper()}_API_KEY")
        if not key:
            continue
        same_kind = [p for p in providers.values() if isinstance(p, dict) and p.get("kind") == kind]
        if not same_kind:
            providers[kind] = {"kind": kind, "model": model, "api_key": key}
        for entry in same_kind:
            entry.setdefault("api_key", key)


def _complete(settings: Settings) -> Settings:
    """Add the offline provider and default chains, then check cross-references."""
    providers = dict(settings.providers)
    providers.setdefault(OFFLINE, ProviderSettings(kind="offline", model="margin-offline-1", local=True))
    for name, provider in providers.items():
        if provider.kind in ("openai", "anthropic") and not provider.api_key:
            raise ConfigError(f"providers.{name}.api_key: required for a {provider.kind} provider")
        if provider.kind == "openai_compatible" and not provider.base_url:
            raise ConfigError(f"providers.{name}.base_url: required for an openai_compatible provider")
        if provider.kind != "offline" and not provider.model:
            raise ConfigError(f"providers.{name}.model: required")
    chains = dict(settings.chains)
    chains.setdefault("default", [n for n, p in providers.items() if p.kind != "offline"] + [OFFLINE])
    _check_chains("chains", chains, providers)
    for tenant_name, tenant_settings in settings.tenants.items():
        _check_chains(f"tenants.{tenant_name}.chains", tenant_settings.chains, providers)
    adapters = dict(settings.adapters)
    tenants = dict(settings.tenants)
    if not tenants:
        raise ConfigError('tenants: at least one tenant is required (or plugins = ["demo"] for the demo\'s)')
    for name, section in adapters.items():
        try:
            decode_adapter_config(name, section)
        except AdapterConfigError as exc:
            raise ConfigError(str(exc)) from exc
    for name, tenant in tenants.items():
        if len(tenant.secret) < 32:
            raise ConfigError(f"tenants.{name}.secret: must be at least 32 characters")
        if not tenant.adapters:
            raise ConfigError(
                f"tenants.{name}.adapters: name at least one adapter (configured: {sorted(adapters)})"
            )
        for adapter in tenant.adapters:
            if adapter not in adapters:
                raise ConfigError(
                    f"tenants.{name}.adapters: unknown adapter {adapter!r}; configured: {sorted(adapters)}"
                )
    _check_resilience_tenants(settings.resilience, tenants)
    return msgspec.structs.replace(settings, providers=providers, chains=chains)


def _check_chains(section: str, chains: Mapping[str, list[str]], providers: Mapping[str, object]) -> None:
    from margin.features.registry import (
        installed_feature_names,
    )  # not at import: it loads the features' types

    features = installed_feature_names()
    for key, chain in chains.items():
        if key != "default" and key not in features:
            raise ConfigError(
                f"{section}.{key}: unknown feature; expected one of default, {', '.join(features)}"
            )
        if not chain:
            raise ConfigError(f"{section}.{key}: must name at least one provider")
        for name in chain:
            if name not in providers:
                raise ConfigError(
                    f"{section}.{key}: unknown provider {name!r}; configured: {sorted(providers)}"
                )


def _check_resilience_tenants(resilience: ResilienceSettings, tenants: Mapping[str, TenantSettings]) -> None:
    sections: dict[str, Mapping[str, object]] = {
        "resilience.limits.tenants": resilience.limits.tenants,
        "resilience.sensitive.tenants": resilience.sensitive.tenants,
    }
    for key, entries in sections.items():
        for name in entries:
            if name not in tenants:
                raise ConfigError(f"{key}.{name}: unknown tenant; configured: {sorted(tenants)}")


def _describe(exc: msgspec.ValidationError, prefix: str = "") -> str:
    """msgspec says "... - at `$.server.port`"; name the key the way the config file does."""

    def key(match: re.Match[str]) -> str:
        return "`" + (".".join(part for part in (prefix, match.group(1)) if part) or "(root)") + "`"

    return re.sub(r"`\$\.?([^`]*)`", key, str(exc))


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, with every secret replaced by ``***``."""

    def mask(node: Any, key: str = "", parent: str = "") -> Any:
        if isinstance(node, dict):
            return {k: mask(v, k, key) for k, v in node.items()}
        if isinstance(node, list):
            return [mask(v, parent=parent) for v in node]
        if node and (key in SECRET_KEYS or (key, parent) == ("value", "auth")):
            return "***"
        if isinstance(node, str) and "://" in node:
            return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", node)  # a password inside a URL
        return node

    return mask(msgspec.to_builtins(settings))  # type: ignore[no-any-return]
