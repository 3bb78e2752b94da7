"""The offline provider: no network, no keys, deterministic text streamed word by word."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from datetime import date
from typing import assert_never

import msgspec

from margin.adapters.types import RecordContext
from margin.config import ProviderSettings
from margin.providers.base import (
    DraftTask,
    Finish,
    ProviderError,
    ProviderEvent,
    ProviderRequest,
    QueryTask,
    SummarizeTask,
    Task,
    TextDelta,
    Usage,
)

from .drafts import render_draft
from .query_parser import parse_question
from .summarize import summarize
from .text import count_words, word_pieces

DEFAULT_MODEL = "margin-offline-1"
JSON_PIECE_CHARS = 32


class OfflineProvider:
    """Extractive summaries, template drafts and rule-based query plans.

    It is the embedded default and the last step of every fallback chain, so it must always
    answer: the text is built by pure functions first, then streamed.
    """

    def __init__(
        self, name: str, settings: ProviderSettings, *, today: Callable[[], date] = date.today
    ) -> None:
        self.name = name
        self.kind = "offline"
        self.model = settings.model or DEFAULT_MODEL
        self.local = True
        self.degraded = True
        self._pace_s = max(settings.pace_ms, 0.0) / 1000
        self._today = today

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]:
        pieces, input_tokens = self._answer(request.task)
        for index, piece in enumerate(pieces):
            if index and self._pace_s > 0:
                await asyncio.sleep(self._pace_s)
            yield TextDelta(piece)
        yield Usage(input_tokens=input_tokens, output_tokens=len(pieces))
        yield Finish("stop")

    async def aclose(self) -> None:
        """Nothing to release."""

    def _answer(self, task: Task) -> tuple[list[str], int]:
        """The pieces to stream and the size of the input in words."""
        try:
            match task:
                case SummarizeTask(record=record):
                    return word_pieces(summarize(record)), _record_words(record)
                case DraftTask(record=record, kind=kind, instruction=instruction):
                    text = render_draft(record, kind, instruction)
                    return word_pieces(text), _record_words(record) + count_words(instruction or "")
                case QueryTask(question=question, schema=schema):
                    plan = msgspec.json.encode(parse_question(question, schema, self._today())).decode()
                    pieces = [plan[i : i + JSON_PIECE_CHARS] for i in range(0, len(plan), JSON_PIECE_CHARS)]
                    return pieces, count_words(question)
                case _:
                    assert_never(task)
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(f"The offline provider failed: {exc}", provider=self.name) from exc


def _record_words(record: RecordContext) -> int:
    values = (str(item.value) for item in record.fields if item.value is not None)
    return count_words(record.title, *values, *(entry.text for entry in record.timeline))
