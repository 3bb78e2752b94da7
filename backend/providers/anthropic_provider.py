"""Anthropic messages.

The official SDK builds the client (base URL, key, headers); the streamed call goes through
Margin's lean HTTP client (:mod:`margin.providers.http_stream`) with the body the SDK would
send, or through the SDK itself where a proxy applies (see :mod:`margin.providers.sdk_common`).

System messages go to the ``system`` parameter. ``response_schema`` becomes a single tool with
that ``input_schema`` and a ``tool_choice`` forcing it: every Claude model supports forced tool
use (structured ``output_config`` formats need recent models), and the tool's arguments stream
as ``input_json_delta`` pieces, which are passed on as TextDelta text.

``request.temperature`` is not sent: the Messages API of the installed SDK has no such
parameter any more.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Any

import anthropic
import msgspec
from anthropic.types import MessageParam, ToolChoiceToolParam, ToolParam

from margin.providers.base import (
    ChatMessage,
    ContentFiltered,
    Finish,
    ProviderError,
    ProviderEvent,
    ProviderRequest,
    ProviderTimeout,
    ProviderUnavailable,
    TextDelta,
    Usage,
)
from margin.providers.http_stream import DEFAULT_MAX_CONNECTIONS
from margin.providers.sdk_common import (
    NO_KEY,
    StreamTransport,
    sdk_limits,
    status_error,
    stream_error,
    typed_errors,
)
from margin.providers.settings import ProviderSettings

TOOL_NAME = "respond"
_TOOL_DESCRIPTION = "Give the answer as JSON that matches input_schema."
_FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "stop", "max_tokens": "length"}


class _Usage(msgspec.Struct, gc=False):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class _Message(msgspec.Struct, gc=False):
    usage: _Usage = msgspec.field(default_factory=_Usage)


class _Delta(msgspec.Struct, gc=False):
    type: str | None = None
    text: str | None = None
    partial_json: str | None = None
    stop_reason: str | None = None


class _Error(msgspec.Struct, gc=False):
    type: str | None = None
    message: str | None = None


class _Event(msgspec.Struct, gc=False):
    """Any stream event, with the few fields Margin reads; unknown event types are skipped."""

    type: str
    message: _Message | None = None
    delta: _Delta | None = None
    usage: _Usage | None = None
    error: _Error | None = None


_decode_event = msgspec.json.Decoder(_Event).decode


class AnthropicProvider:
    """Streams from ``/v1/messages``: the SDK builds the client, Margin's pool streams.

    ``max_connections`` caps the pool per host; ``lean`` forces (True) or avoids (False) the
    lean client, by default it is used unless a proxy from the environment applies.
    """

    def __init__(
        self,
        name: str,
        settings: ProviderSettings,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        lean: bool | None = None,
    ) -> None:
        self.name = name
        self.kind: str = settings.kind
        self.model = settings.model
        self.local = settings.local
        self.degraded = False
        self.continues = True
        self._max_tokens = settings.max_tokens
        self._client = anthropic.AsyncAnthropic(
            api_key=settings.api_key or NO_KEY,
            base_url=settings.base_url,
            # No time limit on a wait for a pooled connection: that wait is Margin's, not the provider's.
            timeout=anthropic.Timeout(settings.timeout_s, connect=settings.connect_timeout_s, pool=None),
            max_retries=0,
            http_client=anthropic.DefaultAsyncHttpxClient(limits=sdk_limits(max_connections)),
        )
        self._transport = StreamTransport(
            name, self._client, "v1/messages", settings, max_connections=max_connections, lean=lean
        )

    async def aclose(self) -> None:
        await self._transport.aclose()
        await self._client.close()

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]:
        input_tokens = output_tokens = 0
        stop_reason: str | None = None
        stopped = False
        with typed_errors(self.name, self._sdk_error):
            body = self._body(request)
            async with self._transport.open(
                body, lambda: self._client.messages.with_streaming_response.create(**body)
            ) as batches:
                async for lines in batches:
                    for line in lines:
                        if not line.startswith(b"data:"):
                            continue
                        try:
                            event = _decode_event(line[5:])
                        except msgspec.DecodeError:
                            raise ProviderUnavailable("malformed stream chunk", provider=self.name) from None
                        kind = event.type
                        if kind == "content_block_delta" and event.delta is not None:
                            piece = event.delta.text or event.delta.partial_json
                            if piece:
                                yield TextDelta(piece)
                        elif kind == "message_start" and event.message is not None:
                            input_tokens = _input_tokens(event.message.usage)
                        elif kind == "message_delta":
                            if event.delta is not None and event.delta.stop_reason:
                                stop_reason = event.delta.stop_reason
                            if event.usage is not None:  # cumulative counts, some of them possibly absent
                                input_tokens = max(input_tokens, _input_tokens(event.usage))
                                output_tokens = event.usage.output_tokens or output_tokens
                        elif kind == "message_stop":
                            stopped = True
                        elif kind == "error":
                            error = event.error or _Error()
                            raise stream_error(self.name, error.type, error.message)
        if not stopped or stop_reason is None:
            raise ProviderUnavailable("the stream ended before the answer finished", provider=self.name)
        if stop_reason == "refusal":
            raise ContentFiltered("the provider declined to answer", provider=self.name)
        yield Usage(input_tokens, output_tokens)
        yield Finish(_FINISH_REASONS.get(stop_reason, stop_reason))

    def _body(self, request: ProviderRequest) -> dict[str, Any]:
        """The request body, exactly as the SDK would send it."""
        body: dict[str, Any] = {
            "max_tokens": min(request.max_tokens or self._max_tokens, self._max_tokens),
            "messages": _messages(request.messages),
            "model": self.model,
            "stream": True,
        }
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        if system:
            body["system"] = system
        schema = request.response_schema
        if schema is not None:
            choice: ToolChoiceToolParam = {"type": "tool", "name": TOOL_NAME}
            tool: ToolParam = {"name": TOOL_NAME, "description": _TOOL_DESCRIPTION, "input_schema": schema}
            body["tool_choice"] = choice
            body["tools"] = [tool]
        return body

    def _sdk_error(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, anthropic.APIStatusError):
            return status_error(
                self.name,
                exc.status_code,
                exc.response.headers,
                code=exc.error_code or exc.type,
                message=exc.api_message,
            )
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderTimeout("the provider did not answer in time", provider=self.name)
        if isinstance(exc, anthropic.APIConnectionError):
            return ProviderUnavailable("could not connect to the provider", provider=self.name)
        return None


def _messages(messages: Iterable[ChatMessage]) -> list[MessageParam]:
    out: list[MessageParam] = []
    for message in messages:
        if message.role == "user":
            out.append({"role": "user", "content": message.content})
        elif message.role == "assistant":
            out.append({"role": "assistant", "content": message.content})
    return out


def _input_tokens(usage: _Usage) -> int:
    """Anthropic counts cached prompt tokens apart from ``input_tokens``; Margin wants them all."""
    return (
        (usage.input_tokens or 0)
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
    )
