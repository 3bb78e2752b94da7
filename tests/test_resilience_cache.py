"""Response cache (keys, TTLs, bounds, sensitive answers) and single flight, in-process and shared."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

import msgspec
import pytest
import redis.asyncio
from redis_support import REDIS_URL, FakeClock, redis_prefix, shared_state

from margin.adapters.types import RecordContext, RecordRef
from margin.providers.base import ChatMessage, Finish, ProviderRequest, TextDelta
from margin.resilience.cache import CachedAnswer, LocalLRU, ResponseCache, cache_key, replay
from margin.resilience.config import CacheSettings
from margin.resilience.shared_state import SharedState
from margin.resilience.singleflight import FlightAbandoned, SingleFlight

__all__ = ["redis_prefix"]  # fixture

RECORD = RecordContext(ref=RecordRef(type="deal", id="D-1"), title="Renewal", version="v1")
ANSWER = CachedAnswer(text="The renewal is on track.", provider="openai", model="gpt", output_tokens=6)


def request_for(record: RecordContext = RECORD, **overrides: object) -> ProviderRequest:
    request = ProviderRequest(
        record=record,
        messages=(
            ChatMessage("system", "Summarize."),
            ChatMessage("user", f"{record.title} {record.version}"),
        ),
    )
    return msgspec.structs.replace(request, **overrides)


def key_for(request: ProviderRequest, **overrides: object) -> str:
    parts: dict[str, object] = {
        "tenant": "acme",
        "feature": "summarize",
        "prompt_version": "summarize.v1",
        "models": ["gpt"],
        **overrides,
    }
    return cache_key(request, **parts)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "redis"])
async def shared(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    if request.param == "memory":
        state = shared_state(None)
    else:
        state = shared_state(REDIS_URL, request.getfixturevalue("redis_prefix"))
    yield state
    await state.aclose()


def test_key_covers_everything_that_shapes_the_answer() -> None:
    base = key_for(request_for())
    assert key_for(request_for()) == base
    changed_record = msgspec.structs.replace(RECORD, version="v2")
    variants = [
        key_for(request_for(changed_record, messages=request_for().messages)),  # only the version differs
        key_for(request_for(), tenant="globex"),
        key_for(request_for(), feature="draft"),
        key_for(request_for(), prompt_version="summarize.v2"),
        key_for(request_for(), models=["claude"]),
        key_for(request_for(temperature=0.7)),
        key_for(request_for(max_tokens=50)),
        key_for(request_for(response_schema={"type": "object"})),
        key_for(request_for(messages=(ChatMessage("user", "other"),))),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
    schema_a = key_for(request_for(response_schema={"a": 1, "b": 2}))
    assert schema_a == key_for(request_for(response_schema={"b": 2, "a": 1}))


async def test_changed_record_version_misses(shared: SharedState) -> None:
    cache = ResponseCache(CacheSettings(), shared)
    await cache.put(key_for(request_for()), ANSWER, feature="summarize", sensitive=False)
    assert await cache.get(key_for(request_for()), sensitive=False) == ANSWER
    newer = msgspec.structs.replace(RECORD, version="v2")
    assert await cache.get(key_for(request_for(newer)), sensitive=False) is None


async def test_ttl_per_feature_and_zero_disables(shared: SharedState) -> None:
    cache = ResponseCache(CacheSettings(ttl_s=60, feature_ttl_s={"summarize": 0.05, "draft": 0}), shared)
    await cache.put("k1", ANSWER, feature="summarize", sensitive=False)
    await cache.put("k2", ANSWER, feature="draft", sensitive=False)
    await cache.put("k3", ANSWER, feature="query", sensitive=False)
    assert await cache.get("k1", sensitive=False) == ANSWER
    assert await cache.get("k2", sensitive=False) is None  # TTL 0: never stored
    await asyncio.sleep(0.08)
    assert await cache.get("k1", sensitive=False) is None  # expired
    assert await cache.get("k3", sensitive=False) == ANSWER


async def test_disabled_cache_stores_nothing(shared: SharedState) -> None:
    cache = ResponseCache(CacheSettings(enabled=False), shared)
    await cache.put("k", ANSWER, feature="summarize", sensitive=False)
    assert await cache.get("k", sensitive=False) is None


async def test_sensitive_answers_stay_out_of_the_shared_cache(redis_prefix: str) -> None:
    state = shared_state(REDIS_URL, redis_prefix)
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        cache = ResponseCache(CacheSettings(), state)
        await cache.put("secret", ANSWER, feature="summarize", sensitive=True)
        await cache.put("plain", ANSWER, feature="summarize", sensitive=False)
        assert await client.exists(state.key("cache", "secret")) == 0
        assert await client.exists(state.key("cache", "plain")) == 1
        assert await cache.get("secret", sensitive=True) == ANSWER  # from this replica's memory
        assert len(cache.local) == 1
        sharing = ResponseCache(CacheSettings(share_sensitive=True), state)
        await sharing.put("secret2", ANSWER, feature="summarize", sensitive=True)
        assert await client.exists(state.key("cache", "secret2")) == 1
    finally:
        await client.aclose()
        await state.aclose()


def test_local_lru_is_bounded_and_expires() -> None:
    clock = FakeClock()
    lru = LocalLRU(max_entries=3, max_bytes=100, clock=clock)
    for name in "abc":
        lru.put(name, b"x" * 10, ttl_s=60)
    assert lru.get("a") == b"x" * 10  # "a" is now the most recent
    lru.put("d", b"y" * 10, ttl_s=60)
    assert lru.get("b") is None and len(lru) == 3  # the least recently used went
    lru.put("big", b"z" * 80, ttl_s=60)  # over max_bytes: older entries make room
    assert lru.bytes <= 100 and lru.get("big") is not None and lru.get("c") is None
    lru.put("huge", b"z" * 101, ttl_s=60)  # bigger than the whole cache: not kept
    assert lru.get("huge") is None
    clock.advance(61)
    assert lru.get("big") is None
    for i in range(10_000):
        lru.put(f"k{i}", b"v" * 5, ttl_s=60)
    assert len(lru) == 3 and lru.bytes == 15


async def test_replay_streams_the_whole_answer() -> None:
    answer = msgspec.structs.replace(ANSWER, text="word " * 40 + "end.", finish="length")
    events = [event async for event in replay(answer, chunk_chars=16)]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 5 and "".join(d.text for d in deltas) == answer.text
    assert events[-1] == Finish("length")


async def test_single_flight_shares_one_producer() -> None:
    flights: SingleFlight[str] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def produce() -> AsyncGenerator[str, None]:
        nonlocal calls
        calls += 1
        yield "a"
        await release.wait()
        yield "b"

    subscriptions = [flights.join("k", produce) for _ in range(20)]
    assert [s.leader for s in subscriptions] == [True] + [False] * 19

    async def drain(events: AsyncGenerator[str, None]) -> list[str]:
        return [item async for item in events]

    tasks = [asyncio.create_task(drain(s.events)) for s in subscriptions]
    await asyncio.sleep(0.01)
    late = flights.join("k", produce)  # joins mid-stream: still gets everything from the start
    tasks.append(asyncio.create_task(drain(late.events)))
    release.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1 and results == [["a", "b"]] * 21 and len(flights) == 0
    assert (await drain(flights.join("k", produce).events)) == ["a", "b"] and calls == 2


async def test_single_flight_shares_errors_and_survives_a_leaving_subscriber() -> None:
    flights: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()

    async def produce() -> AsyncGenerator[str, None]:
        yield "a"
        await release.wait()
        raise RuntimeError("provider failed")

    first, second = flights.join("k", produce), flights.join("k", produce)
    assert await anext(first.events) == "a"
    await first.events.aclose()  # the leader's user left; the producer keeps going for the other
    release.set()
    with pytest.raises(RuntimeError, match="provider failed"):
        [item async for item in second.events]


async def test_single_flight_cancels_the_producer_when_everyone_left() -> None:
    flights: SingleFlight[str] = SingleFlight()
    cancelled = asyncio.Event()

    async def produce() -> AsyncGenerator[str, None]:
        try:
            yield "a"
            await asyncio.Event().wait()
            yield "never"
        finally:
            cancelled.set()

    subscription = flights.join("k", produce)
    assert await anext(subscription.events) == "a"
    await subscription.events.aclose()
    async with asyncio.timeout(1):
        await cancelled.wait()


async def test_a_lone_request_produces_in_its_own_task() -> None:
    """No hop per item while nobody shares the answer: the producer runs in the consumer's task."""
    flights: SingleFlight[asyncio.Task[object] | None] = SingleFlight()

    async def produce() -> AsyncGenerator[asyncio.Task[object] | None, None]:
        for _ in range(3):
            yield asyncio.current_task()

    producers = {task async for task in flights.join("k", produce).events}
    assert producers == {asyncio.current_task()}


async def test_a_follower_joining_mid_stream_moves_production_to_a_task() -> None:
    flights: SingleFlight[str] = SingleFlight()
    step = asyncio.Event()

    async def produce() -> AsyncGenerator[str, None]:
        yield "a"
        await step.wait()
        yield "b"
        yield "c"

    leader = flights.join("k", produce)
    assert await anext(leader.events) == "a"
    follower = flights.join("k", produce)
    step.set()
    assert await anext(leader.events) == "b"  # handed over after "a"; the task produced "b"
    await leader.events.aclose()  # the leader's user leaves; the follower still gets all of it
    assert [item async for item in follower.events] == ["a", "b", "c"]


async def test_followers_learn_when_the_leader_left_before_handing_over() -> None:
    flights: SingleFlight[str] = SingleFlight()

    async def produce() -> AsyncGenerator[str, None]:
        yield "a"
        await asyncio.Event().wait()
        yield "never"

    leader = flights.join("k", produce)
    assert await anext(leader.events) == "a"
    reading = asyncio.create_task(anext(leader.events))  # the leader waits on the provider
    await asyncio.sleep(0.01)
    follower = flights.join("k", produce)
    reading.cancel()  # the leader's client disconnects mid-wait
    with pytest.raises(FlightAbandoned):
        [item async for item in follower.events]
    assert len(flights) == 0


async def test_claim_shares_one_producer_across_replicas(redis_prefix: str) -> None:
    settings = CacheSettings(lock_wait_s=5, poll_s=0.01)
    states = [shared_state(REDIS_URL, redis_prefix) for _ in range(2)]
    replicas = [ResponseCache(settings, state) for state in states]
    produced = 0

    async def request(cache: ResponseCache) -> CachedAnswer:
        nonlocal produced
        async with cache.claim("k", sensitive=False, ttl=60) as claim:
            if claim.answer is not None:
                return claim.answer
            produced += 1
            await asyncio.sleep(0.1)  # the provider call
            await cache.put("k", ANSWER, feature="summarize", sensitive=False)
            return ANSWER

    try:
        answers = await asyncio.gather(*(request(replicas[i % 2]) for i in range(6)))
        assert answers == [ANSWER] * 6 and produced == 1
    finally:
        for state in states:
            await state.aclose()


async def test_claim_without_redis_or_for_sensitive_data_does_not_wait(redis_prefix: str) -> None:
    async with ResponseCache(CacheSettings(), shared_state(None)).claim(
        "k", sensitive=False, ttl=60
    ) as claim:
        assert claim.answer is None
    state = shared_state(REDIS_URL, redis_prefix)
    cache = ResponseCache(CacheSettings(lock_wait_s=5), state)
    try:
        async with (
            cache.claim("k", sensitive=False, ttl=60),
            asyncio.timeout(0.5),
            cache.claim("k", sensitive=True, ttl=60) as claim,  # in-process only: no shared lock to wait on
        ):
            assert claim.answer is None
    finally:
        await state.aclose()
