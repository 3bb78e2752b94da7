"""Circuit breakers, in-process and through Redis (the same state machine, run twice)."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator

import pytest
from redis_support import (
    REDIS_URL,
    FakeClock,
    PrivateRedis,
    private_redis,
    redis_prefix,
    shared_state,
)
from structlog.testing import capture_logs

from margin.providers.base import ProviderBadRequest, ProviderRateLimited, ProviderUnavailable
from margin.resilience.breaker import Breakers
from margin.resilience.config import BreakerSettings
from margin.resilience.shared_state import SharedState

__all__ = ["private_redis", "redis_prefix"]  # fixtures

SETTINGS = BreakerSettings(
    window_s=10, bucket_s=1, min_requests=4, failure_rate=0.5, open_s=5, max_open_s=60, cache_s=0
)
FAIL = ProviderUnavailable("HTTP 503", provider="p")


@pytest.fixture(params=["memory", "redis"])
async def shared(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    if request.param == "memory":
        state = shared_state(None)
    else:
        state = shared_state(REDIS_URL, request.getfixturevalue("redis_prefix"))
    yield state
    await state.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def breakers(shared: SharedState, clock: FakeClock, settings: BreakerSettings = SETTINGS) -> Breakers:
    return Breakers(settings, shared, clock=clock, monotonic=clock)


async def call(b: Breakers, ok: bool, error: Exception = FAIL) -> bool:
    permit = await b.allow("p", "m")
    if permit.allowed:
        if ok:
            await b.record_success(permit)
        else:
            assert isinstance(error, ProviderUnavailable | ProviderRateLimited | ProviderBadRequest)
            await b.record_failure(permit, error)
    return permit.allowed


async def test_opens_on_failure_rate_after_min_requests(shared: SharedState, clock: FakeClock) -> None:
    b = breakers(shared, clock)
    with capture_logs() as logs:
        for ok in (True, True, False):
            assert await call(b, ok)
        assert (await b.allow("p", "m")).state == "closed"  # 3 calls: fewer than min_requests
        assert await call(b, ok=False)  # 4 calls, 2 failures: rate 0.5 reached
        permit = await b.allow("p", "m")
    assert not permit.allowed and permit.state == "open"
    assert permit.retry_at == pytest.approx(clock.now + 5)
    [opened] = [e for e in logs if e["event"] == "breaker.opened"]
    assert opened["reason"] == "failure_rate" and (opened["requests"], opened["failures"]) == (4, 2)
    assert opened["log_level"] == "warning"


async def test_stays_closed_below_the_rate(shared: SharedState, clock: FakeClock) -> None:
    b = breakers(shared, clock)
    for ok in [True] * 6 + [False] * 4:
        assert await call(b, ok)
    assert (await b.allow("p", "m")).allowed
    [status] = await b.snapshot()
    assert (status.state, status.requests, status.failures) == ("closed", 10, 4)


async def test_failures_leave_the_sliding_window(shared: SharedState, clock: FakeClock) -> None:
    b = breakers(shared, clock)
    for _ in range(3):
        await call(b, ok=False)
    clock.advance(10.5)  # past the 10 s window
    await call(b, ok=False)
    assert (await b.allow("p", "m")).allowed  # 1 call in the window, not 4
    clock.advance(5)
    for _ in range(3):
        await call(b, ok=False)  # 4 failures within 10 s
    assert not (await b.allow("p", "m")).allowed


async def test_429_with_retry_after_opens_at_once_then_half_open_probe_closes(
    shared: SharedState, clock: FakeClock
) -> None:
    b = breakers(shared, clock)
    with capture_logs() as logs:
        await call(b, ok=False, error=ProviderRateLimited("429", provider="p", retry_after=20))
        denied = await b.allow("p", "m")
        assert (denied.allowed, denied.state, denied.retry_at) == (False, "open", clock.now + 20)
        clock.advance(19)
        assert not (await b.allow("p", "m")).allowed
        clock.advance(1)
        probe = await b.allow("p", "m")
        assert (probe.allowed, probe.state, probe.probe_slot) == (True, "half_open", 0)
        other = await b.allow("p", "m")
        assert (other.allowed, other.state) == (False, "half_open")  # one probe at a time
        await b.record_success(probe)
        assert (await b.allow("p", "m")).state == "closed"
    events = [e["event"] for e in logs]
    assert events == ["breaker.opened", "breaker.half_open", "breaker.closed"]
    assert logs[0]["reason"] == "rate_limited"


async def test_retry_after_is_capped(shared: SharedState, clock: FakeClock) -> None:
    b = breakers(shared, clock)
    await call(b, ok=False, error=ProviderRateLimited("429", provider="p", retry_after=3600))
    assert (await b.allow("p", "m")).retry_at == clock.now + 60


async def test_failed_probe_opens_again(shared: SharedState, clock: FakeClock) -> None:
    b = breakers(shared, clock)
    for _ in range(4):
        await call(b, ok=False)
    clock.advance(5)
    with capture_logs() as logs:
        assert await call(b, ok=False)  # the probe fails
    assert logs[-1]["event"] == "breaker.opened" and logs[-1]["reason"] == "probe_failed"
    permit = await b.allow("p", "m")
    assert not permit.allowed and permit.retry_at == clock.now + 5


async def test_request_errors_are_not_provider_faults(shared: SharedState, clock: FakeClock) -> None:
    b = breakers(shared, clock)
    for _ in range(10):
        await call(b, ok=False, error=ProviderBadRequest("400", provider="p"))
    assert (await b.allow("p", "m")).allowed


async def test_released_and_expired_probes_free_their_slot(shared: SharedState, clock: FakeClock) -> None:
    b = breakers(shared, clock, BreakerSettings(min_requests=1, open_s=1, probe_ttl_s=30, cache_s=0))
    await call(b, ok=False)
    clock.advance(1)
    probe = await b.allow("p", "m")
    assert probe.allowed and not (await b.allow("p", "m")).allowed
    await b.release(probe)  # the user left: no verdict, slot free
    lost = await b.allow("p", "m")
    assert lost.allowed and lost.probe_slot == 0
    clock.advance(31)  # that probe never reports back: its lease runs out
    assert (await b.allow("p", "m")).allowed


async def test_breakers_are_per_provider_and_model(shared: SharedState, clock: FakeClock) -> None:
    b = breakers(shared, clock)
    for _ in range(4):
        await call(b, ok=False)
    assert not (await b.allow("p", "m")).allowed
    assert (await b.allow("p", "other-model")).allowed
    assert (await b.allow("q", "m")).allowed
    states = {(s.provider, s.model): s.state for s in await b.snapshot([("r", "x")])}
    assert states == {
        ("p", "m"): "open",
        ("p", "other-model"): "closed",
        ("q", "m"): "closed",
        ("r", "x"): "closed",
    }


async def test_two_replicas_share_breakers_through_redis(redis_prefix: str) -> None:
    clock = FakeClock()
    settings = BreakerSettings(min_requests=4, open_s=5, cache_s=1.0)
    state_a, state_b = shared_state(REDIS_URL, redis_prefix), shared_state(REDIS_URL, redis_prefix)
    a, b = breakers(state_a, clock, settings), breakers(state_b, clock, settings)
    try:
        assert (await b.allow("p", "m")).allowed  # B now trusts "closed" for 1 s
        for _ in range(4):
            await call(a, ok=False)
        assert (await b.allow("p", "m")).allowed  # still within B's cache_s
        clock.advance(1.01)
        denied = await b.allow("p", "m")
        assert not denied.allowed and denied.state == "open"
        clock.advance(5)
        probe = await a.allow("p", "m")
        assert probe.allowed and probe.state == "half_open"
        assert not (await b.allow("p", "m")).allowed  # the probe slot is taken, cluster-wide
        await a.record_success(probe)
        assert (await b.allow("p", "m")).allowed
        [status] = await b.snapshot()
        assert status.state == "closed"
    finally:
        await state_a.aclose()
        await state_b.aclose()


async def test_open_breaker_check_is_fast(redis_prefix: str) -> None:
    """With Redis, the check on an open breaker costs no round trip."""
    state = shared_state(REDIS_URL, redis_prefix)
    b = Breakers(BreakerSettings(min_requests=1), state)
    try:
        await call(b, ok=False)
        timings = []
        for _ in range(1000):
            started = time.perf_counter()
            permit = await b.allow("p", "m")
            timings.append((time.perf_counter() - started) * 1000)
            assert not permit.allowed
        p99 = statistics.quantiles(timings, n=100)[98]
        print(
            f"open breaker check: median {statistics.median(timings) * 1000:.1f} us, p99 {p99 * 1000:.1f} us"
        )
        assert max(timings) < 10
    finally:
        await state.aclose()


async def test_breakers_keep_working_while_redis_is_down(private_redis: PrivateRedis) -> None:
    clock = FakeClock()
    state = shared_state(private_redis.url, recovery_interval_s=0.05)
    b = breakers(state, clock, BreakerSettings(min_requests=2, cache_s=0))
    try:
        assert await call(b, ok=True)
        private_redis.stop()
        with capture_logs() as logs:
            for _ in range(2):
                assert await call(b, ok=False)  # recorded in-process
            assert not (await b.allow("p", "m")).allowed
        assert [e["event"] for e in logs].count("redis.unreachable") == 1
    finally:
        await state.aclose()
