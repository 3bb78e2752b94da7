"""OpenAI chat completions through the official SDK; also any OpenAI-compatible server.

Kind ``openai_compatible`` (vLLM, llama.cpp server, Ollama) is the same code with ``base_url``
pointing at the self-hosted server. ``response_schema`` becomes ``response_format`` of type
``json_schema`` with ``strict: true``, so the schema must follow OpenAI's strict-mode rules.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable

import msgspec
import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

from margin.config import ProviderSettings
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
from margin.providers.sdk_common import NO_KEY, sse_data, status_error, stream_error, typed_errors


class _Delta(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None


class _Choice(msgspec.Struct):
    index: int = 0
    delta: _Delta = msgspec.field(default_factory=_Delta)
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Error(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None


class _Chunk(msgspec.Struct):
    """The few fields of a ``chat.completion.chunk`` that Margin reads."""

    choices: list[_Choice] = []
    usage: _Usage | None = None
    error: _Error | None = None


_decode_chunk = msgspec.json.Decoder(_Chunk).decode


class OpenAIProvider:
    """Streams from ``/chat/completions``; one long-lived SDK client, no SDK retries."""

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        self.name = name
        self.kind: str = settings.kind
        self.model = settings.model
        self.local = settings.local
        self.degraded = False
        self._max_tokens = settings.max_tokens
        self._client = openai.AsyncOpenAI(
            api_key=settings.api_key or NO_KEY,
            base_url=settings.base_url,
            timeout=openai.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            max_retries=0,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]:
        max_tokens = min(request.max_tokens or self._max_tokens, self._max_tokens)
        # OpenAI's newer models only take max_completion_tokens; self-hosted servers know max_tokens.
        compatible = self.kind == "openai_compatible"
        finish: str | None = None
        usage: _Usage | None = None
        refused = False
        with typed_errors(self.name, self._sdk_error):
            async with self._client.chat.completions.with_streaming_response.create(
                model=self.model,
                messages=_messages(request.messages),
                max_tokens=max_tokens if compatible else openai.omit,
                max_completion_tokens=openai.omit if compatible else max_tokens,
                temperature=request.temperature,
                response_format=_response_format(request.response_schema),
                stream=True,
                stream_options={"include_usage": True},
            ) as response:
                async for line in response.iter_lines():
                    data = sse_data(line)
                    if data is None or data == "[DONE]":
                        continue
                    try:
                        chunk = _decode_chunk(data)
                    except msgspec.DecodeError:
                        raise ProviderUnavailable("malformed stream chunk", provider=self.name) from None
                    if chunk.error is not None:
                        code = chunk.error.code if isinstance(chunk.error.code, str) else chunk.error.type
                        raise stream_error(self.name, code, chunk.error.message)
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


def _response_format(schema: dict[str, object] | None) -> ResponseFormatJSONSchema | openai.Omit:
    if schema is None:
        return openai.omit
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": True}}
