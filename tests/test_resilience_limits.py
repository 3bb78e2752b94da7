"""Rate limits and budgets: exact under concurrency (one process and two), in-process and in Redis."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator

import msgspec
import pytest
from redis_support import (
    REDIS_URL,
    FakeClock,
    PrivateRedis,
    private_redis,
    redis_prefix,
    shared_state,
    until,
)
from structlog.testing import capture_logs

from margin.adapters.types import User
from margin.providers.base import ChatMessage, ProviderRequest
from margin.providers.settings import ProviderSettings
from margin.resilience.config import LimitSettings, Quota, TenantQuotas
from margin.resilience.limits import Limits
from margin.resilience.pricing import Pricing, estimate_tokens
from margin.resilience.shared_state import SharedState

__all__ = ["private_redis", "redis_prefix"]  # fixtures

ALICE = User(tenant="acme", user_id="alice")
BOB = User(tenant="acme", user_id="bob")


@pytest.fixture(params=["memory", "redis"])
async def shared(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    if request.param == "memory":
        state = shared_state(None)
    else:
        state = shared_state(REDIS_URL, request.getfixturevalue("redis_prefix"))
    yield state
    await state.aclose()


def limits(shared: SharedState, clock: FakeClock | None = None, **settings: object) -> Limits:
    return Limits(LimitSettings(**settings), shared, clock=clock or FakeClock())  # type: ignore[arg-type]


async def test_rate_limit_refuses_with_retry_after_and_message(shared: SharedState) -> None:
    clock = FakeClock()
    lim = limits(shared, clock, per_user=Quota(requests_per_minute=3))
    for _ in range(3):
        assert (await lim.reserve(ALICE)).allowed
        clock.advance(10)
    refused = await lim.reserve(ALICE)
    assert not refused.allowed and refused.reservation is None
    assert (refused.scope, refused.limit, refused.retry_after_s) == ("user", "requests_per_minute", 30)
    assert refused.message == "You have reached 3 requests per minute; try again in 30 s."
    assert (await lim.reserve(BOB)).allowed  # per user
    clock.advance(30)  # the first request leaves the window
    assert (await lim.reserve(ALICE)).allowed
    assert not (await lim.reserve(ALICE)).allowed


async def test_tenant_rate_limit_and_overrides(shared: SharedState) -> None:
    lim = limits(
        shared,
        per_user=Quota(requests_per_minute=100),
        per_tenant=Quota(requests_per_minute=2),
        tenants={"globex": TenantQuotas(per_tenant=Quota(requests_per_minute=5))},
    )
    assert (await lim.reserve(ALICE)).allowed and (await lim.reserve(BOB)).allowed
    refused = await lim.reserve(BOB)
    assert refused.scope == "tenant"
    assert refused.message == "Your organisation has reached 2 requests per minute; try again in 1 min."
    globex = [await lim.reserve(User(tenant="globex", user_id=f"u{i}")) for i in range(6)]
    assert [d.allowed for d in globex] == [True] * 5 + [False]


async def test_token_budget_reserve_then_settle(shared: SharedState) -> None:
    lim = limits(shared, per_user=Quota(tokens_per_day=1000))
    first = await lim.reserve(ALICE, tokens=400)
    second = await lim.reserve(ALICE, tokens=400)
    assert first.allowed and second.allowed and first.reservation and second.reservation
    refused = await lim.reserve(ALICE, tokens=400)  # 800 reserved + 400 > 1000
    assert refused.limit == "tokens_per_day" and refused.message is not None
    assert refused.message.startswith("You have used the daily allowance of 1,000 AI tokens; try again in ")
    await lim.settle(first.reservation, tokens=100, cost_usd=0)  # 100 used + 400 reserved
    third = await lim.reserve(ALICE, tokens=400)
    assert third.allowed and third.reservation
    assert not (await lim.reserve(ALICE, tokens=200)).allowed  # 900 + 200 > 1000
    await lim.settle(third.reservation, tokens=0, cost_usd=0)  # the call failed: nothing used
    assert (await lim.reserve(ALICE, tokens=200)).allowed


async def test_cost_budget_per_month_and_reset(shared: SharedState) -> None:
    clock = FakeClock(1_751_328_000.0 - 3600)  # 2025-06-30 23:00 UTC
    lim = limits(shared, clock, per_tenant=Quota(usd_per_month=1.0))
    assert (await lim.reserve(ALICE, cost_usd=0.6)).allowed
    refused = await lim.reserve(BOB, cost_usd=0.6)
    assert refused.limit == "usd_per_month" and refused.retry_after_s == 3600
    assert refused.message == "Your organisation has used the monthly AI budget of $1.00; try again in 1 h."
    clock.advance(3600)  # July
    assert (await lim.reserve(BOB, cost_usd=0.6)).allowed


async def test_refusal_takes_nothing(shared: SharedState) -> None:
    lim = limits(shared, per_user=Quota(requests_per_minute=5, tokens_per_day=100))
    assert not (await lim.reserve(ALICE, tokens=150)).allowed  # over budget: no request slot taken
    assert [(await lim.reserve(ALICE, tokens=10)).allowed for _ in range(6)] == [True] * 5 + [False]


async def test_disabled_limits_allow_everything(shared: SharedState) -> None:
    lim = limits(shared, enabled=False, per_user=Quota(requests_per_minute=1))
    assert all([(await lim.reserve(ALICE)).allowed for _ in range(5)])


async def test_concurrent_reservations_in_one_process(shared: SharedState) -> None:
    lim = limits(shared, per_user=Quota(requests_per_minute=50, tokens_per_day=5000))
    decisions = await asyncio.gather(*(lim.reserve(ALICE, tokens=100) for _ in range(200)))
    assert sum(d.allowed for d in decisions) == 50


_WORKER = """
import asyncio, json, random, sys
import structlog
from margin.adapters.types import User
from margin.resilience.config import LimitSettings, Quota, RedisSettings
from margin.resilience.limits import Limits
from margin.resilience.shared_state import SharedState

async def spread(call):
    await asyncio.sleep(random.random() * 0.2)  # 100 calls over 200 ms, interleaved with the other process
    return await call

async def main():
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is the protocol
    # Generous timeouts: this test is about atomicity, and a CI machine may be busy.
    settings = RedisSettings(key_prefix=sys.argv[2], connect_timeout_s=2, socket_timeout_s=2)
    state = SharedState(sys.argv[1], settings)
    rate = Limits(LimitSettings(per_user=Quota(requests_per_minute=50)), state)
    budget = Limits(LimitSettings(per_user=Quota(tokens_per_day=5000)), state)
    await asyncio.gather(*(state.run(lambda redis: redis.ping(), lambda: None) for _ in range(16)))
    print("ready", flush=True)
    sys.stdin.readline()  # the start line
    rate_user, budget_user = User("acme", "rate-user"), User("acme", "budget-user")
    rated, budgeted = await asyncio.gather(
        asyncio.gather(*(spread(rate.reserve(rate_user)) for _ in range(100))),
        asyncio.gather(*(spread(budget.reserve(budget_user, tokens=100)) for _ in range(100))),
    )
    counts = {"rate": sum(d.allowed for d in rated), "budget": sum(d.allowed for d in budgeted)}
    print(json.dumps({**counts, "available": state.available}))
    await state.aclose()

asyncio.run(main())
"""


def test_two_processes_sharing_redis_cannot_overshoot(redis_prefix: str) -> None:
    """200 concurrent reservations from two processes against a limit of 50: exactly 50 pass."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, REDIS_URL, redis_prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        for worker in workers:  # both start together
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = [json.loads(worker.communicate(timeout=30)[0]) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    print(f"two processes: {results}")
    assert all(r["available"] for r in results)
    assert sum(r["rate"] for r in results) == 50 and sum(r["budget"] for r in results) == 50
    assert all(r["rate"] > 0 and r["budget"] > 0 for r in results)  # they really competed


async def test_redis_down_mid_run_falls_back_to_in_process(private_redis: PrivateRedis) -> None:
    state = shared_state(private_redis.url, recovery_interval_s=0.05)
    lim = Limits(LimitSettings(per_user=Quota(requests_per_minute=1000)), state)
    try:
        with capture_logs() as logs:
            before = [await lim.reserve(ALICE) for _ in range(10)]
            private_redis.stop()
            during = [await lim.reserve(ALICE) for _ in range(10)]
            private_redis.start()
            await until(lambda: state.available)
            after = [await lim.reserve(ALICE) for _ in range(10)]
        decisions = before + during + after
        assert all(d.allowed for d in decisions)
        assert [d.reservation.shared for d in decisions if d.reservation] == [True] * 10 + [False] * 10 + [
            True
        ] * 10
        events = [e["event"] for e in logs]
        assert events.count("redis.unreachable") == 1 and events.count("redis.recovered") == 1
    finally:
        await state.aclose()


def test_pricing_and_estimate() -> None:
    prices = {
        "openai": ProviderSettings(kind="openai", input_usd_per_mtok=0.15, output_usd_per_mtok=0.6),
        "offline": ProviderSettings(kind="offline"),
    }
    pricing = Pricing(prices)
    assert pricing.cost("openai", 1_000_000, 500_000) == pytest.approx(0.45)
    assert pricing.cost("offline", 10_000, 10_000) == 0
    assert pricing.estimate(["openai", "offline"], 1000, 1000) == pytest.approx(0.00075)
    request = ProviderRequest(
        record=None,
        messages=(ChatMessage("system", "x" * 30), ChatMessage("user", "y" * 60)),
        max_tokens=256,
    )
    assert estimate_tokens(request, provider_max_tokens=1024) == (30 + 8, 256)
    assert estimate_tokens(request, provider_max_tokens=100) == (30 + 8, 100)
    unbounded = msgspec.structs.replace(request, max_tokens=None)
    assert estimate_tokens(unbounded, provider_max_tokens=1024, chars_per_token=9) == (10 + 8, 1024)
