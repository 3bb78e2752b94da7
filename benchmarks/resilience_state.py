"""Latency of the resilience checks on the request path, in-process and through Redis.

Per operation: breaker check (open and closed), rate-limit + budget reservation and its
settlement, cache hit; each in-process and against Redis (``--redis``, default the local one;
keys under a unique prefix, deleted at the end). Prints microseconds per call, sequential
(median and p99), and reservations per second with 200 concurrent callers.

    .venv/bin/python benchmarks/resilience_state.py [--redis redis://127.0.0.1:6379/0] [--n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio

from margin.adapters.types import User
from margin.providers.base import ProviderUnavailable
from margin.resilience.breaker import Breakers
from margin.resilience.cache import CachedAnswer, ResponseCache
from margin.resilience.config import BreakerSettings, CacheSettings, LimitSettings, Quota, RedisSettings
from margin.resilience.limits import Limits
from margin.resilience.shared_state import SharedState

USER = User(tenant="acme", user_id="bench")
ANSWER = CachedAnswer(text="The renewal is on track. " * 40, provider="openai", model="gpt")


async def timed(label: str, call: Callable[[], Awaitable[object]], n: int) -> None:
    await call()
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1e6)
    p99 = statistics.quantiles(timings, n=100)[98]
    print(f"  {label:34} median {statistics.median(timings):8.1f} us   p99 {p99:8.1f} us")


async def bench(state: SharedState, n: int) -> None:
    breakers = Breakers(BreakerSettings(min_requests=1, open_s=3600), state)
    await timed("breaker check, closed", lambda: breakers.allow("ok", "m"), n)
    no_cache = Breakers(BreakerSettings(cache_s=0), state)
    await timed("breaker check, closed, cache_s=0", lambda: no_cache.allow("ok2", "m"), n)
    permit = await breakers.allow("down", "m")
    await breakers.record_failure(permit, ProviderUnavailable("503"))
    await timed("breaker check, open", lambda: breakers.allow("down", "m"), n)

    quota = Quota(requests_per_minute=10**9, tokens_per_day=10**12, usd_per_day=10**6)
    limits = Limits(LimitSettings(per_user=quota, per_tenant=quota), state)

    async def reserve_and_settle() -> None:
        decision = await limits.reserve(USER, tokens=2000, cost_usd=0.01)
        assert decision.reservation is not None
        await limits.settle(decision.reservation, tokens=1500, cost_usd=0.008)

    await timed("limits reserve + settle (6 checks)", reserve_and_settle, n)
    started = time.perf_counter()
    decisions = await asyncio.gather(*(limits.reserve(USER, tokens=10) for _ in range(200)))
    rate = len(decisions) / (time.perf_counter() - started)
    print(f"  {'limits reserve, 200 concurrent':34} {rate:8.0f} reservations/s")

    cache = ResponseCache(CacheSettings(), state)
    await cache.put("bench", ANSWER, feature="summarize", sensitive=False)
    await timed("cache hit (1 KB answer)", lambda: cache.get("bench", sensitive=False), n)


async def main(url: str, n: int) -> None:
    print("in-process")
    await bench(SharedState(None), n)
    prefix = f"margin-bench:{uuid.uuid4().hex[:8]}:"
    state = SharedState(url, RedisSettings(key_prefix=prefix))
    try:
        print(f"redis ({url})")
        await bench(state, n)
        if not state.available:
            print("  (Redis was not reachable: the figures above are the in-process fallback)")
    finally:
        await state.aclose()
        client = redis.asyncio.Redis.from_url(url)
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.redis, args.n))
