"""OpenAI chat completions; also any OpenAI-compatible server.

The official SDK builds the client (base URL, key, headers); the streamed call goes through
Margin's lean HTTP client (:mod:`margin.providers.http_stream`) with the body the SDK would
send, or through the SDK itself where a proxy applies (see :mod:`margin.providers.sdk_common`).

Kind ``openai_compatible`` (vLLM, llama.cpp server, Ollama) is the same code with ``base_url``
pointing at the self-hosted server. ``response_schema`` becomes ``response_format`` of type
``json_schema`` with ``strict: true``, so the schema must follow OpenAI's strict-mode rules.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Any

import msgspec
import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

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


class _Delta(msgspec.Struct, gc=False):
    content: str | None = None
    refusal: str | None = None


class _Choice(msgspec.Struct, gc=False):
    index: int = 0
    delta: _Delta = msgspec.field(default_factory=_Delta)
    finish_reason: str | None = None


class _Usage(msgspec.Struct, gc=False):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Error(msgspec.Struct, gc=False):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None


class _Chunk(msgspec.Struct, gc=False):
    """The few fields of a ``chat.completion.chunk`` that Margin reads."""

    choices: list[_Choice] = []
    usage: _Usage | None = None
    error: _Error | None = None


_decode_chunk = msgspec.json.Decoder(_Chunk).decode


class OpenAIProvider:
    """Streams from ``/chat/completions``: the SDK builds the client, Margin's pool streams.

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
        # OpenAI's newer models only take max_completion_tokens; self-hosted servers know max_tokens.
        self._limit_key = "max_tokens" if self.kind == "openai_compatible" else "max_completion_tokens"
        self._client = openai.AsyncOpenAI(
            api_key=settings.api_key or NO_KEY,
            base_url=settings.base_url,
            # No time limit on a wait for a pooled connection: that wait is Margin's, not the provider's.
            timeout=openai.Timeout(settings.timeout_s, connect=settings.connect_timeout_s, pool=None),
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(limits=sdk_limits(max_connections)),
        )
        self._transport = StreamTransport(
            name, self._client, "chat/completions", settings, max_connections=max_connections, lean=lean
        )

    async def aclose(self) -> None:
        await self._transport.aclose()
        await self._client.close()

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]:
        finish: str | None = None
        usage: _Usage | None = None
        refused = False
        with typed_errors(self.name, self._sdk_error):
            body = self._body(request)
            async with self._transport.open(
                body, lambda: self._client.chat.completions.with_streaming_response.create(**body)
            ) as batches:
                async for lines in batches:
                    for line in lines:
                        if not line.startswith(b"data:"):
                            continue
                        try:
                            chunk = _decode_chunk(line[5:])
                        except msgspec.DecodeError:
                            if line[5:].strip() == b"[DONE]":
                                continue
                            raise ProviderUnavailable("malformed stream chunk", provider=self.name) from None
                        if chunk.error is not None:
                            error = chunk.error
                            raise stream_error(
                                self.name,
                                error.code if isinstance(error.code, str) else error.type,
                                error.message,
                            )
                        for choice in chunk.choices:
                            if choice.index != 0:
                                continue
                            if choice.delta.content:
                                yield TextDelta(choice.delta.content)
                            if choice.delta.refusal:
                                refused = True
                            if choice.finish_reason:
                                finish = choice.finish_reason
                        if chunk.usage is not None:  # some servers repeat it on every chunk: keep the last
                            usage = chunk.usage
        if finish is None:
            raise ProviderUnavailable("the stream ended before the answer finished", provider=self.name)
        if refused or finish == "content_filter":
            raise ContentFiltered("the provider declined to answer", provider=self.name)
        if usage is not None:
            yield Usage(usage.prompt_tokens, usage.completion_tokens)
        yield Finish(finish)

    def _body(self, request: ProviderRequest) -> dict[str, Any]:
        """The request body, exactly as the SDK would send it."""
        body: dict[str, Any] = {
            "model": self.model,
            "stream": True,
            "messages": _messages(request.messages),
            self._limit_key: min(request.max_tokens or self._max_tokens, self._max_tokens),
        }
        if request.response_schema is not None:
            body["response_format"] = _response_format(request.response_schema)
        body["stream_options"] = {"include_usage": True}
        body["temperature"] = request.temperature
        return body

    def _sdk_error(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            code = body.get("code") or body.get("type")
            message = body.get("message")
            return status_error(
                self.name,
                exc.status_code,
                exc.response.headers,
                code=code if isinstance(code, str) else None,
                message=message if isinstance(message, str) else None,
            )
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout("the provider did not answer in time", provider=self.name)
        if isinstance(exc, openai.APIConnectionError):
            return ProviderUnavailable("could not connect to the provider", provider=self.name)
        return None


def _messages(messages: Iterable[ChatMessage]) -> list[ChatCompletionMessageParam]:
    out: list[ChatCompletionMessageParam] = []
    for message in messages:
        if message.role == "system":
            out.append({"role": "system", "content": message.content})
        elif message.role == "user":
            out.append({"role": "user", "content": message.content})
        else:
            out.append({"role": "assistant", "content": message.content})
    return out


def _response_format(schema: dict[str, Any]) -> ResponseFormatJSONSchema:
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": True}}
