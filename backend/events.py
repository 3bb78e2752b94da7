"""The events a feature streams to the widget (SSE ``event:`` names) and the JSON response."""

from __future__ import annotations

from typing import Literal

import msgspec

from margin.adapters.types import Scalar

MetaMode = Literal["start", "continue", "restart"]


class MetaEvent(msgspec.Struct, tag="meta", kw_only=True):
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


class DeltaEvent(msgspec.Struct, tag="delta"):
    text: str


class ResultEvent(msgspec.Struct, tag="result", kw_only=True):
    """A structured payload: for ``query``, the table and the spec restated as a sentence."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Scalar, ...], ...]
    total: int
    description: str


class ErrorEvent(msgspec.Struct, tag="error", kw_only=True):
    code: str
    message: str
    retry_after: float | None = None


class UsageSummary(msgspec.Struct):
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
