"""The events a feature streams to the widget (SSE ``event:`` names) and the JSON response."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from margin.exceptions import MarginError

MetaMode = Literal["start", "continue", "restart"]


class MetaEvent(msgspec.Struct, tag="meta", kw_only=True, gc=False):
    """Who answers. A later ``meta`` means another provider took over: with ``mode`` "start"
    before any text, "continue" after text it goes on from, "restart" after text to drop."""

    interaction_id: str
    feature: str
    provider: str
    model: str
    variant: str
    degraded: bool
    cached: bool
    prompt_version: str
    mode: MetaMode = "start"


class DeltaEvent(msgspec.Struct, tag="delta", gc=False):
    text: str


class ResultEvent(msgspec.Struct, tag="result", kw_only=True):
    """A feature's structured answer; ``kind`` (its descriptor's ``result``) says how to show
    ``data``: ``table`` for query, ``triage`` for triage, any other kind as plain key/value text."""

    kind: str
    data: Any


class ErrorEvent(msgspec.Struct, tag="error", kw_only=True):
    """The answer failed: ``code`` is stable (see docs/api.md), ``message`` is fit to show, and
    ``status`` is the HTTP status the same failure has as a JSON response."""

    code: str
    message: str
    status: int = 502
    retry_after: float | None = None

    @classmethod
    def of(cls, error: MarginError) -> ErrorEvent:
        return cls(
            code=error.code, message=error.detail(), status=error.status, retry_after=error.retry_after
        )


class UsageSummary(msgspec.Struct, gc=False):
    input_tokens: int = 0
    output_tokens: int = 0


class DoneEvent(msgspec.Struct, tag="done", kw_only=True):
    usage: UsageSummary
    latency_ms: float
    ttft_ms: float | None
    cost_usd: float


FeatureEvent = MetaEvent | DeltaEvent | ResultEvent | ErrorEvent | DoneEvent


class FeatureResponse(msgspec.Struct, kw_only=True):
    """The whole answer at once, for ``Accept: application/json``."""

    meta: MetaEvent
    text: str
    result: ResultEvent | None
    done: DoneEvent
