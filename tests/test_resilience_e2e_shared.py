"""End to end with Redis: limits and budgets across two backend processes, and a Redis outage.

Two ``margin`` servers run as separate processes sharing the real Redis (a key prefix of
their own); the outage test starts a private ``redis-server`` and stops it mid-run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import redis
from conftest import ServerThread, free_port, make_settings, token_for
from redis_support import REDIS_URL, PrivateRedis, private_redis, redis_prefix

from margin.adapters import RecordRef, User
from margin.config import Settings
from margin.features.base import FeatureContext
from margin.features.summarize import Summarize, SummarizeRequest
from margin.plugins import load_plugins
from margin.resilience.pricing import estimate_tokens
from margin.services import Services

__all__ = ["private_redis", "redis_prefix"]  # fixtures

TOKEN = token_for()
DEAL = {"record": {"type": "deal", "id": "D-1001"}}
LIMIT = 50
REQUESTS = 200
_SERVE = """
import json, sys, uvicorn
from margin.app import create_app
from margin.config import load_settings
settings = load_settings(config_file=None, env={}, overrides=json.loads(sys.argv[1]))
uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.server.port, log_config=None,
            log_level="warning")
"""


class ServerProcess:
    """``settings`` served by a separate Python process (its own event loop, memory and counters)."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        raw = msgspec.to_builtins(settings)
        del raw["adapters"]  # the demo's adapters point at this process's own port and data_dir
        raw["data_dir"] = str(data_dir)
        raw["server"]["port"] = self.port = free_port()
        self._args = [sys.executable, "-c", _SERVE, json.dumps(raw)]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(self._args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Margin server process did not start")
            time.sleep(0.05)

    def __exit__(self, *_: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


def shared_settings(tmp_path: Path, prefix: str, quota: dict[str, Any], pace_ms: float = 0.0) -> Settings:
    return make_settings(
        tmp_path,
        providers={
            "offline": {"kind": "offline", "model": "margin-offline-1", "local": True, "pace_ms": pace_ms}
        },
        redis_url=REDIS_URL,
        resilience={
            "redis": {"key_prefix": prefix},
            "limits": {"per_user": quota},
            "cache": {"enabled": False},
        },
    )


async def burst(urls: list[str], count: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post(f"{urls[i % len(urls)]}/v1/summarize", json=DEAL, headers=headers)
                for i in range(count)
            )
        )


def run_across_two_processes(tmp_path: Path, settings: Settings) -> list[httpx.Response]:
    with ServerProcess(settings, tmp_path / "a") as a, ServerProcess(settings, tmp_path / "b") as b:
        return asyncio.run(burst([a.url, b.url], REQUESTS))


def check_exactly_limit(responses: list[httpx.Response], wording: str) -> None:
    statuses = [r.status_code for r in responses]
    refused = [r for r in responses if r.status_code == 429]
    print(
        f"\n{REQUESTS} requests over 2 processes, limit {LIMIT}: "
        f"{statuses.count(200)} x 200, {len(refused)} x 429 ({refused[0].json()['detail']!r})"
    )
    assert statuses.count(200) == LIMIT and len(refused) == REQUESTS - LIMIT
    for response in refused:
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["code"] == "quota_exceeded" and wording in response.json()["detail"]


def test_rate_limit_across_two_processes(tmp_path: Path, redis_prefix: str) -> None:
    settings = shared_settings(tmp_path, redis_prefix, {"requests_per_minute": LIMIT})
    check_exactly_limit(run_across_two_processes(tmp_path, settings), f"reached {LIMIT} requests per minute")


def reserved_per_request(settings: Settings) -> int:
    """The tokens one summary of D-1001 reserves: what the budget is made of."""

    async def estimate() -> int:
        services = Services(settings, load_plugins(settings.plugins))
        await services.start()
        try:
            user = User(tenant="acme", user_id="alice", roles=("rep",))
            body = SummarizeRequest(RecordRef("deal", "D-1001"))
            context = FeatureContext(user, services.tenant_adapters["acme"], date.today(), Summarize.prompt)
            prepared = await Summarize().prepare(body, context)
            max_tokens = settings.providers["offline"].max_tokens
            return sum(
                estimate_tokens(prepared.request, max_tokens, settings.resilience.limits.chars_per_token)
            )
        finally:
            await services.stop()

    return asyncio.run(estimate())


def test_token_budget_across_two_processes_has_no_overshoot(tmp_path: Path, redis_prefix: str) -> None:
    per_request = reserved_per_request(make_settings(tmp_path / "probe"))
    budget = LIMIT * per_request + per_request // 2  # room for 50 reservations, not 51
    # Answers take a while (paced), so every reservation is made before any is settled.
    settings = shared_settings(tmp_path, redis_prefix, {"tokens_per_day": budget}, pace_ms=10)
    check_exactly_limit(run_across_two_processes(tmp_path, settings), "daily allowance")


def test_redis_outage_mid_run_then_shared_state_again(
    tmp_path: Path, private_redis: PrivateRedis, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        tmp_path,
        redis_url=private_redis.url,
        resilience={
            "redis": {"recovery_interval_s": 0.2},
            "limits": {"per_user": {"requests_per_minute": 1000}},
        },
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    client = redis.Redis.from_url(private_redis.url)

    def run(server: ServerThread, count: int) -> list[float]:
        timings = []
        for _ in range(count):
            started = time.perf_counter()
            response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=headers, timeout=10)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        return timings

    def mode(server: ServerThread) -> str:
        return str(httpx.get(f"{server.url}/readyz").json()["checks"]["shared_state"]["mode"])

    with ServerThread(settings) as server:
        run(server, 10)
        assert mode(server) == "redis" and client.keys("margin:rate:*")
        private_redis.stop()
        during = run(server, 20)
        assert mode(server) == "degraded"
        private_redis.start()  # empty: no persistence
        deadline = time.monotonic() + 5
        while mode(server) != "redis" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mode(server) == "redis"
        run(server, 5)
        client = redis.Redis.from_url(private_redis.url)
        keys = client.keys("margin:*")
        client.close()
    logged = capfd.readouterr().out
    warnings = logged.count("redis.unreachable")
    print(
        f"\nduring the outage: 20/20 served, slowest {max(during) * 1000:.0f} ms, {warnings} warning;",
        f"after it: keys {sorted(keys)[:3]}",
    )
    assert max(during) < 1.0
    assert warnings == 1 and logged.count("redis.recovered") == 1  # not one per request
    assert any(key.startswith(b"margin:rate:") for key in keys)  # the limits live in Redis again
