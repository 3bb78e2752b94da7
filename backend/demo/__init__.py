"""The demo, as a plugin (``plugins = ["demo"]``; ``margin demo`` switches it on).

It brings its own host apps — a CRM in SQLite (served through the ``sql`` adapter) and a small
case-management REST API inside the demo server (served through the ``rest`` adapter) — their
pages with the widget embedded, a ``demo`` tenant, triage lists for cases, and an offline
provider that paces its words so people can watch an answer stream. Everything it adds is
ordinary configuration a user could write; nothing else in Margin knows the demo exists.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from margin.config import OFFLINE, ConfigError, Settings, TenantSettings
from margin.providers.settings import ProviderSettings

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

CASES_API_PATH = "/demo/api"
OFFLINE_PACE_MS = 12.0
CASE_TRIAGE = {
    "categories": ["billing", "bug", "how_to", "account", "integration", "performance"],
    "priorities": ["low", "normal", "high", "urgent"],
    "tags": [
        "invoice",
        "export",
        "refund",
        "sso",
        "api",
        "webhook",
        "outage",
        "onboarding",
        "mobile",
        "data",
    ],
}


class DemoPlugin:
    """Adds the demo's adapters, tenant, pages and data (see the module docstring)."""

    def configure(self, settings: Settings) -> Settings:
        adapters = {**demo_adapter_sections(settings), **settings.adapters}
        tenants = dict(settings.tenants)
        if not tenants:
            secret = demo_secret(Path(settings.data_dir))
            tenants["demo"] = TenantSettings(secret=secret, allowed_origins=["*"], adapters=sorted(adapters))
        providers = dict(settings.providers)
        providers.setdefault(
            OFFLINE,
            ProviderSettings(kind="offline", model="margin-offline-1", local=True, pace_ms=OFFLINE_PACE_MS),
        )
        features = dict(settings.features)
        triage = dict(features.get("triage", {}))
        triage.setdefault("record_types", {}).setdefault("case", CASE_TRIAGE)
        features["triage"] = triage
        return msgspec.structs.replace(
            settings,
            adapters=adapters,
            tenants=tenants,
            providers=providers,
            features=features,
            log_format=settings.log_format or "console",
        )

    def route_handlers(self, settings: Settings) -> Sequence[ControllerRouterHandler]:
        from margin.demo.cases_api import cases_router
        from margin.demo.pages import demo_pages_router

        return [cases_router(CASES_API_PATH), demo_pages_router()]

    async def start(self, settings: Settings) -> None:
        ensure_demo_crm(settings.data_dir)


def demo_crm_path(data_dir: str) -> Path:
    return Path(data_dir) / "demo-crm.sqlite"


def demo_adapter_sections(settings: Settings) -> dict[str, dict[str, Any]]:
    """``[adapters.demo_crm]`` and ``[adapters.demo_cases]`` as a user would write them."""
    from margin.demo.cases_config import demo_cases_config
    from margin.demo.crm_config import demo_crm_config

    base_url = f"http://{settings.server.host}:{settings.server.port}{CASES_API_PATH}"
    crm = msgspec.to_builtins(demo_crm_config(demo_crm_path(settings.data_dir)))
    cases = msgspec.to_builtins(demo_cases_config(base_url))
    return {"demo_crm": {"kind": "sql", **crm}, "demo_cases": {"kind": "rest", **cases}}


def ensure_demo_crm(data_dir: str, today: date | None = None) -> None:
    """Create the demo CRM database on first start; later starts keep what is there."""
    from margin.demo.crm import create_demo_crm

    path = demo_crm_path(data_dir)
    if not path.exists():
        create_demo_crm(path, today or date.today())


CREATED_SECRETS: set[Path] = set()
"""Secret files this process made (``margin token`` warns that a running demo will not know it)."""


def demo_secret_path(data_dir: Path) -> Path:
    return data_dir / "demo-tenant-secret"


def demo_secret(data_dir: Path) -> str:
    """The demo tenant's signing secret, made once and kept in the data directory.

    ``margin demo`` and ``margin token`` both read it, so a printed token works against the demo.
    """
    path = demo_secret_path(data_dir)
    try:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            staging = data_dir / f".demo-tenant-secret.{os.getpid()}"
            fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
            try:
                os.link(staging, path)  # atomic; if another process won the race, keep its secret
                CREATED_SECRETS.add(path)
            except FileExistsError:
                pass
            finally:
                staging.unlink()
        secret = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"data_dir: cannot keep the demo tenant secret in {data_dir}: {exc.strerror}"
        ) from exc
    if len(secret) < 32:
        raise ConfigError(f"data_dir: {path} is damaged (secret too short); delete it to make a new one")
    return secret
