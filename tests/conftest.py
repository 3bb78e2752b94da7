"""Shared fixtures: settings in a temporary data directory, a real Margin server on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from margin.app import create_app
from margin.auth import mint_token
from margin.config import Settings, load_settings
from margin.testing.simulator import SimulatorThread

TENANT_SECRET = "test-tenant-secret-0123456789abcdef"
OTHER_SECRET = "other-tenant-secret-0123456789abcdef"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Demo-mode settings (its CRM and case tool) with two tenants of our own, on a free port.

    ``acme`` allows one page origin, ``globex`` any. Nothing comes from the real environment;
    ``overrides`` are merged one level deep (``server={"heartbeat_s": 0.1}`` keeps the port).
    """
    demo_adapters = ["demo_crm", "demo_cases"]
    raw: dict[str, Any] = {
        "plugins": ["demo"],
        "data_dir": str(tmp_path / "data"),
        "log_format": "json",
        "server": {"port": free_port()},
        "providers": {"offline": {"kind": "offline", "model": "margin-offline-1", "local": True}},
        "tenants": {
            "acme": {
                "secret": TENANT_SECRET,
                "allowed_origins": ["https://crm.acme.example"],
                "adapters": demo_adapters,
            },
            "globex": {"secret": OTHER_SECRET, "allowed_origins": ["*"], "adapters": demo_adapters},
        },
    }
    for key, value in overrides.items():
        raw[key] = (
            {**raw[key], **value} if isinstance(value, dict) and isinstance(raw.get(key), dict) else value
        )
    return load_settings(config_file=None, env={}, overrides=raw)


def token_for(
    tenant: str = "acme", user: str = "alice", roles: tuple[str, ...] = ("rep",), ttl_s: int = 600
) -> str:
    secret = TENANT_SECRET if tenant == "acme" else OTHER_SECRET
    return mint_token(secret, tenant=tenant, user_id=user, roles=roles, ttl_s=ttl_s)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """A real uvicorn server running ``create_app(settings)`` on its own loop in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.port = settings.server.port
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("Margin test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    """A provider simulator of the test's own, speaking both wire formats on loopback."""
    with SimulatorThread() as sim:
        yield sim


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One demo-mode configuration per test module (use make_settings for a private one)."""
    return make_settings(tmp_path_factory.mktemp("margin"))


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[ServerThread]:
    """A server shared by a module's tests; tests that need fresh state start their own."""
    with ServerThread(settings) as running:
        yield running
