"""Redis for the resilience tests (no tests here): the shared server and private, stoppable ones.

The shared server on 127.0.0.1:6379 is never flushed: each test gets its own key prefix and
deletes its keys afterwards. Outage tests start their own ``redis-server`` on a free port and
stop it. Without a reachable server (or the binary) those tests are skipped, unless
``REQUIRE_TEST_SERVICES=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from margin.resilience.config import RedisSettings
from margin.resilience.shared_state import SharedState

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    """A settable clock for breakers, limits and caches (wall and monotonic alike)."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:  # noqa: ASYNC109
    """Poll ``predicate`` until it holds; TimeoutError after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - a plain predicate has nothing to await
            await asyncio.sleep(0.02)


def unavailable(message: str) -> None:
    if os.environ.get("REQUIRE_TEST_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix unique to the test on the shared Redis; its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    prefix = f"margin-test:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def shared_state(url: str | None, prefix: str = "margin:", **settings: Any) -> SharedState:
    return SharedState(url, RedisSettings(key_prefix=prefix, **settings))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A throwaway ``redis-server`` on a free port, without persistence; stop and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed")
            return
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "local",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 5
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None

    def command(self, *args: str) -> Any:
        client = redis.Redis(port=self.port, socket_timeout=5)
        try:
            return client.execute_command(*args)
        finally:
            client.close()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
