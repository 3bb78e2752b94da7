"""The offline provider: no network, no keys, deterministic text streamed word by word."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from margin.providers.base import (
    Finish,
    ProviderBadRequest,
    ProviderError,
    ProviderEvent,
    ProviderRequest,
    TextDelta,
    Usage,
)
from margin.providers.settings import ProviderSettings

from .text import count_words, word_pieces

DEFAULT_MODEL = "margin-offline-1"
JSON_PIECE_CHARS = 32


class OfflineProvider:
    """Streams the feature's own rule-based answer (``request.offline``): extractive summaries,
    template drafts, rule-based query plans and triage.

    It is the embedded default and the last step of every fallback chain, so it must always
    answer: the text is built by pure functions first, then streamed.
    """

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        self.name = name
        self.kind = "offline"
        self.model = settings.model or DEFAULT_MODEL
        self.local = True
        self.degraded = True
        self.continues = False  # its answer is built whole from the record, not from text so far
        self._pace_s = max(settings.pace_ms, 0.0) / 1000

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]:
        if request.offline is None:
            raise ProviderBadRequest("this request has no offline answer", provider=self.name)
        try:
            text = request.offline()
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(f"The offline provider failed: {exc}", provider=self.name) from exc
        if request.response_schema is not None:  # JSON: no words to pace, just pieces
            pieces = [text[i : i + JSON_PIECE_CHARS] for i in range(0, len(text), JSON_PIECE_CHARS)]
        else:
            pieces = word_pieces(text)
        for index, piece in enumerate(pieces):
            if index and self._pace_s > 0:
                await asyncio.sleep(self._pace_s)
            yield TextDelta(piece)
        yield Usage(input_tokens=_input_words(request), output_tokens=len(pieces))
        yield Finish("stop")

    async def aclose(self) -> None:
        """Nothing to release."""


def _input_words(request: ProviderRequest) -> int:
    """The size of what the answer was made from, in words: the record, else the user's turn."""
    record = request.record
    if record is None:
        return count_words(*(m.content for m in request.messages if m.role == "user"))
    values = (str(item.value) for item in record.fields if item.value is not None)
    return count_words(record.title, *values, *(entry.text for entry in record.timeline))
