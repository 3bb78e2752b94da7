"""The one streaming interface every provider implements, and its typed events and errors."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, ClassVar, Literal, Protocol, get_args

import msgspec

from margin.adapters.types import QuerySpec, RecordContext, RecordTypeSchema

DraftKind = Literal["follow_up_email", "case_reply", "internal_note", "meeting_request"]
DRAFT_KINDS: tuple[str, ...] = get_args(DraftKind)
"""Every draft kind; each has a prompt section and an offline template."""


class ChatMessage(msgspec.Struct, frozen=True):
    role: Literal["system", "user", "assistant"]
    content: str


class SummarizeTask(msgspec.Struct, frozen=True, tag="summarize"):
    record: RecordContext


class DraftTask(msgspec.Struct, frozen=True, tag="draft"):
    record: RecordContext
    kind: str
    instruction: str | None = None


class QueryTask(msgspec.Struct, frozen=True, tag="query"):
    """Turn ``question`` into a QuerySpec (JSON) over ``schema``."""

    question: str
    schema: tuple[RecordTypeSchema, ...]
    record: RecordContext | None = None


Task = SummarizeTask | DraftTask | QueryTask


class QueryPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a provider answers to a QueryTask, as JSON: a spec, or why there can be none."""

    spec: QuerySpec | None = None
    unanswerable: str | None = None


class ProviderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider is asked to do.

    Model providers read ``messages`` (the rendered prompt); the offline provider reads the
    structured ``task``. ``response_schema`` asks for JSON output matching that JSON schema.
    """

    task: Task
    messages: tuple[ChatMessage, ...]
    max_tokens: int | None = None
    """A cap for this request; the provider's own ``max_tokens`` setting applies either way."""
    temperature: float = 0.2
    response_schema: dict[str, Any] | None = None


class TextDelta(msgspec.Struct, frozen=True, tag="delta"):
    text: str


class Usage(msgspec.Struct, frozen=True, tag="usage"):
    input_tokens: int
    output_tokens: int


class Finish(msgspec.Struct, frozen=True, tag="finish"):
    reason: str


ProviderEvent = TextDelta | Usage | Finish


class ProviderError(Exception):
    """A provider failed. ``code`` is stable and reaches the widget; ``message`` is fit to show."""

    code: ClassVar[str] = "provider_error"
    user_message: ClassVar[str] = "The AI provider failed."

    def __init__(self, message: str, *, provider: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.retry_after = retry_after


class ProviderTimeout(ProviderError):
    code = "timeout"
    user_message = "The AI provider took too long to answer."


class ProviderRateLimited(ProviderError):
    code = "rate_limited"
    user_message = "The AI provider is busy right now. Please try again shortly."


class ProviderUnavailable(ProviderError):
    code = "unavailable"
    user_message = "The AI provider is unavailable right now."


class ProviderBadRequest(ProviderError):
    code = "bad_request"
    user_message = "The AI provider rejected the request."


class ContentFiltered(ProviderError):
    code = "content_filtered"
    user_message = "The AI provider declined to answer this request."


class ContextTooLong(ProviderError):
    code = "context_too_long"
    user_message = "This record is too large for the AI model."


class Provider(Protocol):
    """A source of streamed text. ``stream`` raises ProviderError subclasses, nothing else."""

    name: str
    kind: str
    model: str
    local: bool
    degraded: bool

    def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]: ...

    async def aclose(self) -> None: ...
