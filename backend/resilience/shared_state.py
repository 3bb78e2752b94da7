"""Redis as optional shared state: configured but maybe down or slow, never blocking a request.

Callers hand :meth:`SharedState.run` a Redis operation and an in-process fallback. The
fallback runs when no Redis URL is configured, while Redis is known to be down, and when the
operation fails. The first failure marks Redis down (one warning) and starts one background
task that pings every ``recovery_interval_s``; requests never wait for a reconnect. When a ping
answers, Redis is marked up again (one info line) and the next operations use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import msgspec
import structlog
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from margin.resilience.config import RedisSettings

log = structlog.get_logger("margin.resilience")
T = TypeVar("T")

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
"""Errors that mean Redis cannot be reached (OSError covers socket and timeout errors)."""


class SharedStatus(msgspec.Struct, frozen=True):
    """For ``/readyz``: ``mode`` is ``in_process`` (no Redis configured), ``redis`` or ``degraded``."""

    mode: str
    down_since: float | None = None


class LuaScript:
    """A Lua script run by SHA, loaded on first use and again after a Redis restart."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, redis: Redis, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)


class SharedState:
    """One Redis client for the process (or none), its health, and the fallback rule."""

    def __init__(
        self,
        url: str | None,
        settings: RedisSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or RedisSettings()
        self._url = url
        self._clock = clock
        self._redis: Redis | None = None
        if url:
            self._redis = Redis.from_url(
                url,
                socket_connect_timeout=self.settings.connect_timeout_s,
                socket_timeout=self.settings.socket_timeout_s,
                max_connections=self.settings.max_connections,
                # One immediate retry on a broken pooled connection (Redis restarted), none on a timeout.
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            )
        self._down_since: float | None = None
        self._recovery: asyncio.Task[None] | None = None
        # Callers queue here rather than in redis-py, whose full pool raises an error.
        self._connections = asyncio.Semaphore(self.settings.max_connections)

    @property
    def configured(self) -> bool:
        return self._redis is not None

    @property
    def available(self) -> bool:
        """Redis is configured and not known to be down."""
        return self._redis is not None and self._down_since is None

    def key(self, *parts: str) -> str:
        """``prefix`` + parts joined by ``:`` (escaped inside parts, so keys cannot collide)."""
        return self.settings.key_prefix + ":".join(p.replace("%", "%25").replace(":", "%3A") for p in parts)

    def status(self) -> SharedStatus:
        if self._redis is None:
            return SharedStatus("in_process")
        if self._down_since is not None:
            return SharedStatus("degraded", down_since=self._down_since)
        return SharedStatus("redis")

    async def run(self, op: Callable[[Redis], Awaitable[T]], fallback: Callable[[], T]) -> T:
        """``op`` against Redis when it is available, else (or when ``op`` fails) ``fallback()``."""
        redis = self._redis
        if redis is None or self._down_since is not None:
            return fallback()
        async with self._connections:
            if self._down_since is not None:  # it went down while this call waited
                return fallback()
            try:
                return await op(redis)
            except _UNREACHABLE as exc:
                self._mark_down(exc)
            except RedisError as exc:  # a bug in a command or script: serve the request anyway
                log.error("redis.command_failed", error=_describe(exc))
        return fallback()

    async def aclose(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        if self._redis is not None:
            await self._redis.aclose()

    def _mark_down(self, exc: BaseException) -> None:
        if self._down_since is not None:
            return
        self._down_since = self._clock()
        log.warning(
            "redis.unreachable",
            url=_masked(self._url or ""),
            error=_describe(exc),
            fallback="in_process",
            retry_every_s=self.settings.recovery_interval_s,
        )
        self._recovery = asyncio.create_task(self._recover(), name="margin-redis-recovery")

    async def _recover(self) -> None:
        """Ping until Redis answers; only this task touches Redis while it is down."""
        assert self._redis is not None
        while True:
            await asyncio.sleep(self.settings.recovery_interval_s)
            # Connections from before the outage are dead; start the pool afresh.
            await self._redis.connection_pool.disconnect()
            try:
                await self._redis.ping()
            except _UNREACHABLE:
                continue
            except RedisError as exc:
                log.error("redis.command_failed", error=_describe(exc))
                continue
            down_for = self._clock() - (self._down_since or 0.0)
            self._down_since = None
            self._recovery = None
            log.info("redis.recovered", url=_masked(self._url or ""), down_for_s=round(down_for, 1))
            return


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def _masked(url: str) -> str:
    return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)
