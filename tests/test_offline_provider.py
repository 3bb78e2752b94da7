"""The offline provider streams deterministic text word by word, then usage, then finish."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from offline_fixtures import ACME_DEAL, GLOBEX_CASE, SCHEMA, TODAY

from margin.adapters import QueryPlan, RecordContext
from margin.providers import build_provider
from margin.providers.base import (
    ChatMessage,
    Finish,
    Provider,
    ProviderBadRequest,
    ProviderError,
    ProviderEvent,
    ProviderRequest,
    TextDelta,
    Usage,
)
from margin.providers.offline import OfflineProvider, parse_question, render_draft, summarize
from margin.providers.settings import ProviderSettings


def make(pace_ms: float = 0.0, model: str = "") -> OfflineProvider:
    return OfflineProvider("offline", ProviderSettings(kind="offline", model=model, pace_ms=pace_ms))


def summary(record: RecordContext) -> ProviderRequest:
    return ProviderRequest(
        messages=(ChatMessage("user", "ignored"),), record=record, offline=lambda: summarize(record)
    )


def draft(record: RecordContext, kind: str, instruction: str | None = None) -> ProviderRequest:
    return ProviderRequest(
        messages=(ChatMessage("user", "ignored"),),
        record=record,
        offline=lambda: render_draft(record, kind, instruction),
    )


def query(question: str) -> ProviderRequest:
    """Structured: the offline answer is JSON, streamed in pieces; input is the user's words."""
    return ProviderRequest(
        messages=(ChatMessage("system", "not counted"), ChatMessage("user", question)),
        response_schema={"type": "object"},
        offline=lambda: msgspec.json.encode(parse_question(question, SCHEMA, TODAY)).decode(),
    )


async def collect(provider: OfflineProvider, request: ProviderRequest) -> list[ProviderEvent]:
    return [event async for event in provider.stream(request)]


def split(events: list[ProviderEvent]) -> tuple[list[str], Usage, Finish]:
    *deltas, usage, finish = events
    assert all(isinstance(delta, TextDelta) for delta in deltas)
    assert isinstance(usage, Usage)
    assert isinstance(finish, Finish)
    return [delta.text for delta in deltas if isinstance(delta, TextDelta)], usage, finish


def test_it_describes_itself_as_local_and_degraded() -> None:
    provider: Provider = make()
    assert (provider.name, provider.kind, provider.model) == ("offline", "offline", "margin-offline-1")
    assert provider.local is True
    assert provider.degraded is True
    assert make(model="custom-offline").model == "custom-offline"


def test_the_factory_builds_it_from_configuration() -> None:
    provider = build_provider("fallback", ProviderSettings(kind="offline"))
    assert isinstance(provider, OfflineProvider)
    assert provider.name == "fallback"


async def test_a_summary_streams_word_by_word_then_usage_then_finish() -> None:
    deltas, usage, finish = split(await collect(make(), summary(ACME_DEAL)))
    assert len(deltas) > 50
    assert all(len(piece.split()) == 1 for piece in deltas)
    assert "".join(deltas) == summarize(ACME_DEAL)
    assert usage.output_tokens == len(deltas)
    assert usage.input_tokens > 150
    assert finish.reason == "stop"


async def test_a_draft_streams_the_rendered_template() -> None:
    task = draft(GLOBEX_CASE, "case_reply", "apologize for the delay")
    deltas, usage, _ = split(await collect(make(), task))
    assert "".join(deltas) == render_draft(GLOBEX_CASE, "case_reply", "apologize for the delay")
    assert "I'm sorry for the delay." in "".join(deltas)
    assert usage.output_tokens == len(deltas)


async def test_an_unknown_draft_kind_fails_with_a_bad_request() -> None:
    with pytest.raises(ProviderBadRequest, match="haiku"):
        await collect(make(), draft(ACME_DEAL, "haiku"))


async def test_a_request_without_an_offline_answer_is_a_bad_request() -> None:
    with pytest.raises(ProviderBadRequest, match="no offline answer"):
        await collect(make(), ProviderRequest(messages=(ChatMessage("user", "hello"),)))


async def test_a_failing_offline_answer_is_a_provider_error() -> None:
    def broken() -> str:
        raise KeyError("missing field")

    request = ProviderRequest(messages=(ChatMessage("user", "hello"),), offline=broken)
    with pytest.raises(ProviderError, match="offline provider failed"):
        await collect(make(), request)


async def test_a_question_streams_a_query_plan_as_json() -> None:
    question = "top 5 open deals closing this month"
    deltas, usage, finish = split(await collect(make(), query(question)))
    assert len(deltas) >= 3
    plan = msgspec.json.decode("".join(deltas), type=QueryPlan)
    assert plan == parse_question(question, SCHEMA, TODAY)
    assert plan.spec is not None
    assert plan.spec.limit == 5
    assert usage.input_tokens == 7
    assert finish.reason == "stop"


async def test_an_unanswerable_question_is_still_a_plan_not_an_error() -> None:
    deltas, _, _ = split(await collect(make(), query("deals by favourite colour")))
    plan = msgspec.json.decode("".join(deltas), type=QueryPlan)
    assert plan.spec is None
    assert plan.unanswerable is not None
    assert "favourite" in plan.unanswerable


async def test_answers_are_deterministic() -> None:
    task = summary(GLOBEX_CASE)
    assert await collect(make(), task) == await collect(make(), task)


async def test_pacing_sleeps_between_pieces_without_blocking_the_loop() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = draft(ACME_DEAL, "internal_note")
    pieces = len(split(await collect(make(), task))[0])
    background = asyncio.create_task(ticker())
    started = time.perf_counter()
    await collect(make(pace_ms=2), task)
    elapsed = time.perf_counter() - started
    background.cancel()
    assert elapsed >= (pieces - 1) * 0.002 * 0.9
    assert ticks > 3, "the event loop kept running while the provider paced its output"


async def test_without_pacing_it_answers_at_once() -> None:
    started = time.perf_counter()
    await collect(make(), summary(ACME_DEAL))
    assert time.perf_counter() - started < 0.5


async def test_aclose_is_harmless() -> None:
    provider = make()
    await provider.aclose()
    assert len(await collect(provider, summary(ACME_DEAL))) > 3
