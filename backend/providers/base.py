"""The one streaming interface every provider implements, and its typed events and errors."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextvars import ContextVar
from typing import Any, ClassVar, Literal, Protocol

import msgspec

from margin.adapters.types import RecordContext
from margin.exceptions import MarginError


class ChatMessage(msgspec.Struct, frozen=True, gc=False):
    role: Literal["system", "user", "assistant"]
    content: str


class ProviderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider is asked to do: messages, and a JSON schema when the answer is structured.

    Model providers read ``messages`` (the rendered prompt); the offline provider calls
    ``offline``, the feature's own rule-based answer. ``response_schema`` asks for JSON output
    matching that schema. ``record`` is the data the prompt was built from: admission reads it
    for sensitive fields and the cache for the record's version; providers never read it.
    Nothing here names a feature.
    """

    messages: tuple[ChatMessage, ...]
    max_tokens: int | None = None
    """A cap for this request; the provider's own ``max_tokens`` setting applies either way."""
    temperature: float = 0.2
    response_schema: dict[str, Any] | None = None
    record: RecordContext | None = None
    offline: Callable[[], str] | None = None
    """The answer without a model: text, or JSON matching ``response_schema``."""


class TextDelta(msgspec.Struct, frozen=True, tag="delta", gc=False):
    text: str


class Usage(msgspec.Struct, frozen=True, tag="usage", gc=False):
    input_tokens: int
    output_tokens: int


class Finish(msgspec.Struct, frozen=True, tag="finish", gc=False):
    reason: str


ProviderEvent = TextDelta | Usage | Finish


class ProviderError(MarginError):
    """A provider failed. ``code`` is stable and reaches the widget; ``message`` names the cause
    for the log (status and error code, never the provider's text); ``user_message`` is shown."""

    code = "provider_error"
    status = 502
    user_message = "The AI provider failed."

    blames_provider: ClassVar[bool] = True
    """False when Margin itself caused it: the breaker records no failure."""

    def __init__(self, message: str, *, provider: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.provider = provider


WAITING_FOR_CAPACITY: ContextVar[bool] = ContextVar("margin_waiting_for_capacity", default=False)
"""True while a provider call waits for Margin's own connection pool, not for the provider:
a time limit that passes then is no verdict on the provider (see ``blames_provider``)."""


class ProviderTimeout(ProviderError):
    status = 504
    code = "timeout"
    user_message = "The AI provider took too long to answer."


class CapacityTimeout(ProviderTimeout):
    """A time limit passed while the call still waited for a free connection of Margin's own."""

    blames_provider = False


class ProviderRateLimited(ProviderError):
    status = 429
    code = "rate_limited"
    user_message = "The AI provider is busy right now. Please try again shortly."


class ProviderUnavailable(ProviderError):
    status = 503
    code = "unavailable"
    user_message = "The AI provider is unavailable right now."


class ProviderBadRequest(ProviderError):
    status = 502
    code = "bad_request"
    user_message = "The AI provider rejected the request."


class ContentFiltered(ProviderError):
    status = 422
    code = "content_filtered"
    user_message = "The AI provider declined to answer this request."


class ContextTooLong(ProviderError):
    status = 422
    code = "context_too_long"
    user_message = "This record is too large for the AI model."


class Provider(Protocol):
    """A source of streamed text. ``stream`` raises ProviderError subclasses, nothing else.

    Capability flags: ``local`` (fit for sensitive data), ``degraded`` (its answers are labelled
    so and never cached), ``continues`` (it can go on from another provider's partial answer;
    one that cannot restarts the answer after a mid-stream failover).
    """

    name: str
    kind: str
    model: str
    local: bool
    degraded: bool
    continues: bool

    def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]: ...

    async def aclose(self) -> None: ...
