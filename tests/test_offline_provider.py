"""The offline provider streams deterministic text word by word, then usage, then finish."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from offline_fixtures import ACME_DEAL, GLOBEX_CASE, SCHEMA, TODAY

from margin.config import ProviderSettings
from margin.providers import build_provider
from margin.providers.base import (
    ChatMessage,
    DraftTask,
    Finish,
    Provider,
    ProviderBadRequest,
    ProviderEvent,
    ProviderRequest,
    QueryPlan,
    QueryTask,
    SummarizeTask,
    Task,
    TextDelta,
    Usage,
)
from margin.providers.offline import OfflineProvider, parse_question, render_draft, summarize


def make(pace_ms: float = 0.0, model: str = "") -> OfflineProvider:
    settings = ProviderSettings(kind="offline", model=model, pace_ms=pace_ms)
    return OfflineProvider("offline", settings, today=lambda: TODAY)


def request(task: Task) -> ProviderRequest:
    return ProviderRequest(task=task, messages=(ChatMessage("user", "ignored by the offline provider"),))


async def collect(provider: OfflineProvider, task: Task) -> list[ProviderEvent]:
    return [event async for event in provider.stream(request(task))]


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
    deltas, usage, finish = split(await collect(make(), SummarizeTask(record=ACME_DEAL)))
    assert len(deltas) > 50
    assert all(len(piece.split()) == 1 for piece in deltas)
    assert "".join(deltas) == summarize(ACME_DEAL)
    assert usage.output_tokens == len(deltas)
    assert usage.input_tokens > 150
    assert finish.reason == "stop"


async def test_a_draft_streams_the_rendered_template() -> None:
    task = DraftTask(record=GLOBEX_CASE, kind="case_reply", instruction="apologize for the delay")
    deltas, usage, _ = split(await collect(make(), task))
    assert "".join(deltas) == render_draft(GLOBEX_CASE, "case_reply", "apologize for the delay")
    assert "I'm sorry for the delay." in "".join(deltas)
    assert usage.output_tokens == len(deltas)


async def test_an_unknown_draft_kind_fails_with_a_bad_request() -> None:
    with pytest.raises(ProviderBadRequest, match="haiku"):
        await collect(make(), DraftTask(record=ACME_DEAL, kind="haiku"))


async def test_a_question_streams_a_query_plan_as_json() -> None:
    question = "top 5 open deals closing this month"
    deltas, usage, finish = split(await collect(make(), QueryTask(question=question, schema=SCHEMA)))
    assert len(deltas) >= 3
    plan = msgspec.json.decode("".join(deltas), type=QueryPlan)
    assert plan == parse_question(question, SCHEMA, TODAY)
    assert plan.spec is not None
    assert plan.spec.limit == 5
    assert usage.input_tokens == 7
    assert finish.reason == "stop"


async def test_an_unanswerable_question_is_still_a_plan_not_an_error() -> None:
    deltas, _, _ = split(
        await collect(make(), QueryTask(question="deals by favourite colour", schema=SCHEMA))
    )
    plan = msgspec.json.decode("".join(deltas), type=QueryPlan)
    assert plan.spec is None
    assert plan.unanswerable is not None
    assert "favourite" in plan.unanswerable


async def test_answers_are_deterministic() -> None:
    task = SummarizeTask(record=GLOBEX_CASE)
    assert await collect(make(), task) == await collect(make(), task)


async def test_pacing_sleeps_between_pieces_without_blocking_the_loop() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = DraftTask(record=ACME_DEAL, kind="internal_note")
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
    await collect(make(), SummarizeTask(record=ACME_DEAL))
    assert time.perf_counter() - started < 0.5


async def test_aclose_is_harmless() -> None:
    provider = make()
    await provider.aclose()
    assert len(await collect(provider, SummarizeTask(record=ACME_DEAL))) > 3
