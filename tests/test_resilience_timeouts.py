"""Provider time limits against the simulator (through the real OpenAIProvider), and retry backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import msgspec
import pytest
from redis_support import FakeClock

from margin.adapters.types import RecordContext, RecordRef
from margin.providers import (
    ChatMessage,
    Provider,
    ProviderBadRequest,
    ProviderEvent,
    ProviderRateLimited,
    ProviderRequest,
    ProviderTimeout,
    ProviderUnavailable,
    TextDelta,
    build_provider,
)
from margin.providers.settings import ProviderSettings
from margin.resilience.config import ProviderTimeouts, RetrySettings
from margin.resilience.retry import Backoff
from margin.resilience.timeouts import with_timeouts
from margin.testing.simulator import ProviderSimulator, Scenario

REQUEST = ProviderRequest(
    record=RecordContext(ref=RecordRef(type="deal", id="D-1"), title="Renewal", version="1"),
    messages=(ChatMessage("system", "Summarize."), ChatMessage("user", "Summarize this deal.")),
)
LIMITS = ProviderTimeouts(ttft_s=0.3, idle_s=0.2, total_s=0.6)
SLACK_S = 0.1


@pytest.fixture
async def sim() -> AsyncIterator[ProviderSimulator]:
    async with ProviderSimulator(Scenario(total_tokens=6)) as simulator:
        yield simulator


@pytest.fixture
async def provider(sim: ProviderSimulator) -> AsyncIterator[Provider]:
    settings = ProviderSettings(kind="openai", model="sim", api_key="sim", base_url=sim.openai_base_url)
    built = build_provider("openai", settings)
    yield built
    await built.aclose()


async def drain(events: AsyncIterator[ProviderEvent]) -> list[ProviderEvent]:
    return [event async for event in events]


async def test_a_healthy_stream_passes_through(provider: Provider) -> None:
    events = [e async for e in with_timeouts(provider.stream(REQUEST), LIMITS, provider="openai")]
    assert (
        "".join(e.text for e in events if isinstance(e, TextDelta)) == "The customer renewed the annual plan"
    )


@pytest.mark.parametrize(
    ("scenario", "limit_s", "message"),
    [
        (Scenario(ttft_ms=5000), LIMITS.ttft_s, "no first token within 0.3 s"),
        (Scenario(fault="hang"), LIMITS.ttft_s, "no first token within 0.3 s"),
        (Scenario(fault="hang", fault_after_tokens=2), None, "no new token for 0.2 s"),
        (Scenario(tokens_per_s=2, total_tokens=10), None, "no new token for 0.2 s"),
        (Scenario(tokens_per_s=10, total_tokens=100), LIMITS.total_s, "answer not complete within 0.6 s"),
    ],
    ids=["slow-first-token", "hang-before-output", "hang-mid-stream", "slow-tokens", "too-long"],
)
async def test_limits_raise_provider_timeout_and_close_the_stream(
    provider: Provider, sim: ProviderSimulator, scenario: Scenario, limit_s: float | None, message: str
) -> None:
    sim.enqueue(scenario)
    started = time.perf_counter()
    with pytest.raises(ProviderTimeout) as caught:
        await drain(with_timeouts(provider.stream(REQUEST), LIMITS, provider="openai"))
    elapsed = time.perf_counter() - started
    assert caught.value.message == message and caught.value.provider == "openai"
    print(f"{message}: raised after {elapsed * 1000:.0f} ms")
    if limit_s is not None:
        assert limit_s <= elapsed < limit_s + SLACK_S
    [record] = sim.requests
    await sim.wait_until(lambda: record.client_disconnected, timeout=0.5)  # the connection was closed


async def test_idle_clock_ignores_a_slow_consumer(provider: Provider, sim: ProviderSimulator) -> None:
    """Time spent by the consumer between events is not provider silence (``total_s`` is wall time)."""
    sim.enqueue(Scenario(total_tokens=3))
    received = []
    limits = ProviderTimeouts(ttft_s=0.3, idle_s=0.05, total_s=10)
    async for event in with_timeouts(provider.stream(REQUEST), limits, provider="openai"):
        received.append(event)
        await asyncio.sleep(0.1)  # longer than idle_s
    assert len([e for e in received if isinstance(e, TextDelta)]) == 3


def backoff(clock: FakeClock, **settings: object) -> Backoff:
    defaults = {"max_attempts": 3, "base_delay_s": 0.2, "max_delay_s": 1.0, "budget_s": 5.0}
    return Backoff(msgspec.convert({**defaults, **settings}, RetrySettings), clock=clock, rng=lambda: 1.0)


def test_backoff_is_exponential_and_capped() -> None:
    policy = backoff(FakeClock(), max_attempts=10, max_delay_s=1.0, budget_s=100)
    error = ProviderUnavailable("503")
    assert [policy.delay(error, attempts=n, produced=False) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_backoff_jitter_stays_under_the_ceiling() -> None:
    values = iter([0.0, 0.5, 0.999])
    policy = Backoff(RetrySettings(base_delay_s=1, max_attempts=5), rng=lambda: next(values))
    delays = [policy.delay(ProviderUnavailable("503"), attempts=1, produced=False) for _ in range(3)]
    assert delays == [0.0, 0.5, 0.999]


def test_backoff_honours_retry_after() -> None:
    policy = backoff(FakeClock())
    error = ProviderRateLimited("429", retry_after=2.5)
    assert policy.delay(error, attempts=1, produced=False) == 2.5


def test_no_retry_after_output_for_request_errors_or_timeouts_or_attempts_used_up() -> None:
    policy = backoff(FakeClock())
    assert policy.delay(ProviderUnavailable("503"), attempts=1, produced=True) is None
    assert policy.delay(ProviderBadRequest("400"), attempts=1, produced=False) is None
    assert policy.delay(ProviderTimeout("ttft"), attempts=1, produced=False) is None
    assert policy.delay(ProviderUnavailable("503"), attempts=3, produced=False) is None


def test_no_retry_beyond_the_request_budget() -> None:
    clock = FakeClock()
    policy = backoff(clock, budget_s=3.0)
    assert policy.delay(ProviderRateLimited("429", retry_after=2.5), attempts=1, produced=False) == 2.5
    clock.advance(1)
    assert policy.remaining_s() == 2.0
    assert policy.delay(ProviderRateLimited("429", retry_after=2.5), attempts=1, produced=False) is None
    assert policy.delay(ProviderUnavailable("503"), attempts=1, produced=False) == 0.2
