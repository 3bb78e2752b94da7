"""SharedState: in-process without a URL, Redis when up, one warning and recovery around outages."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis
from redis_support import (
    REDIS_URL,
    PrivateRedis,
    free_port,
    private_redis,
    redis_prefix,
    shared_state,
    until,
)
from structlog.testing import capture_logs

__all__ = ["private_redis", "redis_prefix"]  # fixtures


async def where(redis: Redis) -> str:
    await redis.ping()
    return "redis"


def local() -> str:
    return "local"


async def test_without_url_everything_is_in_process() -> None:
    state = shared_state(None)
    assert not state.configured and not state.available
    assert await state.run(where, local) == "local"
    assert state.status().mode == "in_process"
    await state.aclose()


async def test_redis_when_up_and_keys_cannot_collide(redis_prefix: str) -> None:
    state = shared_state(REDIS_URL, redis_prefix)
    try:
        assert await state.run(where, local) == "redis"
        assert state.status().mode == "redis"
        assert state.key("a:b", "c") != state.key("a", "b:c")
        assert state.key("x", "y") == f"{redis_prefix}x:y"
    finally:
        await state.aclose()


async def test_outage_one_warning_fallback_then_recovery(private_redis: PrivateRedis) -> None:
    state = shared_state(private_redis.url, recovery_interval_s=0.1)
    try:
        assert await state.run(where, local) == "redis"
        with capture_logs() as logs:
            private_redis.stop()
            started = time.perf_counter()
            answers = [await state.run(where, local) for _ in range(50)]
            elapsed_ms = (time.perf_counter() - started) * 1000
            assert answers == ["local"] * 50
            assert state.status().mode == "degraded"
            print(f"50 calls with Redis down: {elapsed_ms:.1f} ms in all")
            assert elapsed_ms < 500
            await asyncio.sleep(0.35)  # a few recovery pings fail: still one warning
            private_redis.start()
            await until(lambda: state.available)
            assert await state.run(where, local) == "redis"
        events = [(entry["event"], entry["log_level"]) for entry in logs]
        assert events.count(("redis.unreachable", "warning")) == 1
        assert events.count(("redis.recovered", "info")) == 1
    finally:
        await state.aclose()


async def test_unreachable_from_the_start() -> None:
    state = shared_state(f"redis://127.0.0.1:{free_port()}/0", recovery_interval_s=60)
    try:
        with capture_logs() as logs:
            assert [await state.run(where, local) for _ in range(5)] == ["local"] * 5
        assert [entry["event"] for entry in logs] == ["redis.unreachable"]
    finally:
        await state.aclose()


async def test_slow_redis_times_out_within_100_ms(private_redis: PrivateRedis) -> None:
    state = shared_state(private_redis.url, recovery_interval_s=60)
    try:
        assert await state.run(where, local) == "redis"
        blocker = asyncio.create_task(asyncio.to_thread(private_redis.command, "DEBUG", "SLEEP", "0.6"))
        await asyncio.sleep(0.05)  # the server is now busy for 0.6 s
        started = time.perf_counter()
        with capture_logs() as logs:
            assert await state.run(where, local) == "local"
        elapsed_ms = (time.perf_counter() - started) * 1000
        print(f"fallback from a stalled Redis after {elapsed_ms:.0f} ms")
        assert elapsed_ms < 250
        assert [entry["event"] for entry in logs] == ["redis.unreachable"]
        await blocker
    finally:
        await state.aclose()


async def test_command_errors_do_not_mark_redis_down(redis_prefix: str) -> None:
    state = shared_state(REDIS_URL, redis_prefix)

    async def broken(redis: Redis) -> str:
        await redis.execute_command("NO-SUCH-COMMAND")
        return "redis"

    try:
        with capture_logs() as logs:
            assert await state.run(broken, local) == "local"
        assert [entry["event"] for entry in logs] == ["redis.command_failed"]
        assert state.available
    finally:
        await state.aclose()
