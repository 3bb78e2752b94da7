"""OpenAIProvider and AnthropicProvider against the provider simulator and canned HTTP servers."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import shutil
import ssl
import subprocess
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Literal, cast

import msgspec
import pytest

from margin.providers import (
    ChatMessage,
    ContentFiltered,
    ContextTooLong,
    Finish,
    Provider,
    ProviderBadRequest,
    ProviderError,
    ProviderEvent,
    ProviderRateLimited,
    ProviderRequest,
    ProviderTimeout,
    ProviderUnavailable,
    TextDelta,
    Usage,
    build_provider,
)
from margin.providers.anthropic_provider import AnthropicProvider
from margin.providers.base import CapacityTimeout
from margin.providers.openai_provider import OpenAIProvider
from margin.providers.sdk_common import error_fields, retry_after, status_error
from margin.providers.settings import ProviderSettings
from margin.resilience.config import ProviderTimeouts
from margin.resilience.timeouts import with_timeouts
from margin.testing.simulator import ProviderSimulator, Scenario

Kind = Literal["openai", "openai_compatible", "anthropic"]
KINDS: list[Kind] = ["openai", "openai_compatible", "anthropic"]
SECRET = "Zanzibar-4471"  # appears in the prompt only; no error message may repeat it
ProviderFactory = Callable[..., Provider]


REQUEST = ProviderRequest(
    messages=(
        ChatMessage("system", "You summarize CRM records."),  # 4 words
        ChatMessage("user", f"Summarize deal {SECRET} please"),  # 4 words
    ),
)


def make_request(**overrides: object) -> ProviderRequest:
    return msgspec.structs.replace(REQUEST, **overrides)


@pytest.fixture
async def sim() -> AsyncIterator[ProviderSimulator]:
    async with ProviderSimulator(Scenario(total_tokens=6)) as simulator:
        yield simulator


@pytest.fixture(params=KINDS)
async def make_provider(
    request: pytest.FixtureRequest, sim: ProviderSimulator
) -> AsyncIterator[ProviderFactory]:
    """Builds providers of the parametrized kind pointed at the simulator; closes them after."""
    kind = request.param
    made: list[Provider] = []

    def make(**settings: object) -> Provider:
        base_url = sim.anthropic_base_url if kind == "anthropic" else sim.openai_base_url
        defaults = ProviderSettings(kind=kind, model="sim-model", api_key="sim-key", base_url=base_url)
        provider = build_provider(kind, msgspec.structs.replace(defaults, **settings))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


async def collect(
    provider: Provider, request: ProviderRequest | None = None, into: list[ProviderEvent] | None = None
) -> list[ProviderEvent]:
    """Every event of one stream, also appended to ``into`` as they come (kept if it fails)."""
    events = [] if into is None else into
    async for event in provider.stream(request or make_request()):
        events.append(event)
    return events


def text_of(events: list[ProviderEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_build_provider_dispatches_on_kind(make_provider: ProviderFactory) -> None:
    provider = make_provider(local=True)
    expected = AnthropicProvider if provider.kind == "anthropic" else OpenAIProvider
    assert isinstance(provider, expected)
    assert (provider.name, provider.model, provider.local, provider.degraded) == (
        provider.kind,
        "sim-model",
        True,
        False,
    )


async def test_build_provider_offline() -> None:
    provider = build_provider("offline", ProviderSettings(kind="offline", model="margin-offline-1"))
    try:
        assert (provider.name, provider.kind, provider.degraded) == ("offline", "offline", True)
    finally:
        await provider.aclose()


async def test_stream_assembles_text_usage_and_finish(
    make_provider: ProviderFactory, sim: ProviderSimulator
) -> None:
    events = await collect(make_provider())
    assert text_of(events) == "The customer renewed the annual plan"
    assert all(isinstance(e, TextDelta) for e in events[:6])
    assert events[6:] == [Usage(input_tokens=8, output_tokens=6), Finish("stop")]
    [record] = sim.requests
    assert record.completed
    assert record.body["stream"] is True
    assert record.headers["user-agent"].startswith(("AsyncOpenAI/", "AsyncAnthropic/"))


async def test_request_parameters(make_provider: ProviderFactory, sim: ProviderSimulator) -> None:
    provider = make_provider(max_tokens=50)
    await collect(provider, make_request(max_tokens=200, temperature=0.7))
    body = sim.requests[0].body
    if provider.kind == "anthropic":
        assert body["system"] == "You summarize CRM records."
        assert body["messages"] == [{"role": "user", "content": f"Summarize deal {SECRET} please"}]
        assert body["max_tokens"] == 50  # the provider's cap wins over the request's
        return
    assert body["messages"][0] == {"role": "system", "content": "You summarize CRM records."}
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.7
    limit = "max_tokens" if provider.kind == "openai_compatible" else "max_completion_tokens"
    assert body[limit] == 50


async def test_max_tokens_reached_finishes_with_length(
    make_provider: ProviderFactory, sim: ProviderSimulator
) -> None:
    sim.enqueue(Scenario(text="Renewal is likely but the legal review is still open."))
    events = await collect(make_provider(), make_request(max_tokens=4))
    assert text_of(events) == "Renewal is likely but"
    assert events[-1] == Finish("length")


async def test_response_schema_asks_for_json(make_provider: ProviderFactory, sim: ProviderSimulator) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    sim.enqueue(Scenario(text='{"answer": "Renewal is on track."}'))
    provider = make_provider()
    events = await collect(provider, make_request(response_schema=schema))
    assert json.loads(text_of(events)) == {"answer": "Renewal is on track."}
    assert events[-1] == Finish("stop")
    body = sim.requests[0].body
    if provider.kind == "anthropic":
        assert body["tools"][0]["input_schema"] == schema
        assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}
    else:
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"] == schema
        assert body["response_format"]["json_schema"]["strict"] is True


@pytest.mark.parametrize(
    ("scenario", "error", "message"),
    [
        (Scenario(fault="server_error"), ProviderUnavailable, "HTTP 500"),
        (Scenario(fault="unavailable"), ProviderUnavailable, "HTTP 503"),
        (Scenario(fault="unavailable", fault_after_tokens=2), ProviderUnavailable, "mid-stream"),
        (Scenario(fault="rate_limit", fault_after_tokens=2), ProviderRateLimited, "mid-stream"),
        (Scenario(fault="drop", fault_after_tokens=2), ProviderUnavailable, "connection lost"),
        (Scenario(fault="drop"), ProviderUnavailable, "connection lost"),
        (Scenario(fault="malformed", fault_after_tokens=2), ProviderUnavailable, "malformed stream chunk"),
    ],
)
async def test_faults_become_typed_errors(
    make_provider: ProviderFactory,
    sim: ProviderSimulator,
    scenario: Scenario,
    error: type[ProviderError],
    message: str,
) -> None:
    sim.enqueue(scenario)
    received: list[ProviderEvent] = []
    provider = make_provider()
    with pytest.raises(error) as caught:
        await collect(provider, into=received)
    assert type(caught.value) is error
    assert message in caught.value.message
    assert caught.value.provider == provider.name
    assert SECRET not in str(caught.value)
    assert text_of(received) == "The customer renewed the annual plan"[: len(text_of(received))]
    assert len(received) == scenario.fault_after_tokens


async def test_rate_limit_carries_retry_after(make_provider: ProviderFactory, sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(fault="rate_limit", retry_after_s=2.5))
    with pytest.raises(ProviderRateLimited) as caught:
        await collect(make_provider())
    assert caught.value.retry_after == 2.5
    assert caught.value.code == "rate_limited"


@pytest.mark.parametrize("after", [0, 2])
async def test_hang_times_out(make_provider: ProviderFactory, sim: ProviderSimulator, after: int) -> None:
    sim.enqueue(Scenario(fault="hang", fault_after_tokens=after))
    with pytest.raises(ProviderTimeout):
        await collect(make_provider(timeout_s=0.2))
    await sim.wait_until(lambda: sim.requests[0].client_disconnected, timeout=2)


async def test_slow_first_token_times_out(make_provider: ProviderFactory, sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(ttft_ms=2000))
    with pytest.raises(ProviderTimeout):
        await collect(make_provider(timeout_s=0.2))


async def test_connection_refused_is_unavailable(
    make_provider: ProviderFactory, sim: ProviderSimulator
) -> None:
    provider = make_provider()
    await sim.stop()
    with pytest.raises(ProviderUnavailable, match="could not connect"):
        await collect(provider)


async def test_unknown_endpoint_is_a_bad_request(
    make_provider: ProviderFactory, sim: ProviderSimulator
) -> None:
    with pytest.raises(ProviderBadRequest, match=r"not found \(HTTP 404"):
        await collect(make_provider(base_url=sim.base_url + "/nowhere"))


async def test_closing_the_stream_early_closes_the_connection(
    make_provider: ProviderFactory, sim: ProviderSimulator
) -> None:
    sim.enqueue(Scenario(total_tokens=400, tokens_per_s=400))
    stream = cast(AsyncGenerator[ProviderEvent, None], make_provider().stream(make_request()))
    async with contextlib.aclosing(stream):
        async for event in stream:
            assert isinstance(event, TextDelta)
            if event.text.strip() == "renewed":
                break
    record = sim.requests[0]
    await sim.wait_until(lambda: record.client_disconnected, timeout=1)
    assert 3 <= record.tokens_sent < 400
    assert not record.completed


async def test_cancelling_the_consumer_closes_the_connection(
    make_provider: ProviderFactory, sim: ProviderSimulator
) -> None:
    sim.enqueue(Scenario(total_tokens=400, tokens_per_s=400))
    provider = make_provider()
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.stream(make_request()):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = sim.requests[0]
    await sim.wait_until(lambda: record.client_disconnected, timeout=1)
    assert record.tokens_sent < 400


async def test_compatible_server_never_gets_the_openai_key_from_the_environment(
    sim: ProviderSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-7777")
    settings = ProviderSettings(
        kind="openai_compatible", model="llama", base_url=sim.openai_base_url, local=True
    )
    provider = build_provider("local", settings)
    try:
        await collect(provider)
    finally:
        await provider.aclose()
    assert sim.requests[0].headers["authorization"] != "***7777"


# -- Answers the simulator does not script, from a canned HTTP server -------------------------


def openai_chunk(delta: dict[str, object], finish: str | None = None, usage: bool = False) -> str:
    chunk: dict[str, object] = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        chunk["usage"] = {"prompt_tokens": 3, "completion_tokens": 2}
    return f"data: {json.dumps(chunk)}\n\n"


def anthropic_event(data: dict[str, object]) -> str:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n"


ANTHROPIC_START = anthropic_event(
    {
        "type": "message_start",
        "message": {
            "usage": {"input_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 7}
        },
    }
)


CannedServer = Callable[[str], Awaitable[str]]


@pytest.fixture
async def canned() -> AsyncIterator[CannedServer]:
    """``await canned(body)`` starts a server that answers with that SSE body and returns its URL."""
    servers: list[asyncio.Server] = []

    async def start(body: str) -> str:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
            writer.write(body.encode())
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def stream_canned(canned: CannedServer, kind: Kind, body: str) -> list[ProviderEvent]:
    url = await canned(body)
    settings = ProviderSettings(
        kind=kind, model="m", api_key="k", base_url=url if kind == "anthropic" else url + "/v1"
    )
    provider = build_provider(kind, settings)
    try:
        return await collect(provider)
    finally:
        await provider.aclose()


@pytest.mark.parametrize(
    "body",
    [
        openai_chunk({"content": "Sorry"}) + openai_chunk({}, "content_filter") + "data: [DONE]\n\n",
        openai_chunk({"refusal": "I can't help with that."}) + openai_chunk({}, "stop") + "data: [DONE]\n\n",
    ],
)
async def test_openai_filtered_or_refused_answer(canned: CannedServer, body: str) -> None:
    with pytest.raises(ContentFiltered):
        await stream_canned(canned, "openai", body)


async def test_anthropic_refusal(canned: CannedServer) -> None:
    body = ANTHROPIC_START + anthropic_event({"type": "message_delta", "delta": {"stop_reason": "refusal"}})
    with pytest.raises(ContentFiltered):
        await stream_canned(canned, "anthropic", body + anthropic_event({"type": "message_stop"}))


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("openai", openai_chunk({"content": "Half an ans"})),
        ("anthropic", ANTHROPIC_START + anthropic_event({"type": "ping"})),
    ],
)
async def test_stream_ending_without_a_finish_is_unavailable(
    canned: CannedServer, kind: Kind, body: str
) -> None:
    with pytest.raises(ProviderUnavailable, match="ended before"):
        await stream_canned(canned, kind, body)


async def test_openai_usage_on_every_chunk_is_reported_once(canned: CannedServer) -> None:
    body = openai_chunk({"content": "Hi"}, usage=True) + openai_chunk({}, "stop", usage=True)
    events = await stream_canned(canned, "openai_compatible", body)  # no [DONE]: some servers skip it
    assert events == [TextDelta("Hi"), Usage(3, 2), Finish("stop")]


async def test_anthropic_counts_cached_input_tokens(canned: CannedServer) -> None:
    body = ANTHROPIC_START + anthropic_event(
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}}
    )
    events = await stream_canned(canned, "anthropic", body + anthropic_event({"type": "message_stop"}))
    assert events == [Usage(112, 4), Finish("stop")]


# -- Failure mapping details (no network) ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "message", "error", "text"),
    [
        (401, "invalid_api_key", "Incorrect API key provided", ProviderBadRequest, "authentication failed"),
        (403, "permission_error", None, ProviderBadRequest, "permission denied"),
        (404, "model_not_found", None, ProviderBadRequest, "not found"),
        (422, None, None, ProviderBadRequest, "request rejected (HTTP 422)"),
        (400, "context_length_exceeded", "maximum context length is 8192 tokens", ContextTooLong, "context"),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            ContextTooLong,
            "",
        ),
        (400, None, "the request exceeds the available context size", ContextTooLong, ""),
        (413, "request_too_large", None, ContextTooLong, "HTTP 413"),
        (400, "content_policy_violation", None, ContentFiltered, "content filter"),
        (429, "insufficient_quota", None, ProviderUnavailable, "quota"),
        (408, None, None, ProviderTimeout, "timed out"),
        (502, None, None, ProviderUnavailable, "HTTP 502"),
        (529, "overloaded_error", None, ProviderUnavailable, "HTTP 529, overloaded_error"),
    ],
)
def test_status_error_mapping(
    status: int, code: str | None, message: str | None, error: type[ProviderError], text: str
) -> None:
    mapped = status_error("p", status, {}, code=code, message=message)
    assert type(mapped) is error
    assert text in mapped.message
    assert mapped.provider == "p"


def test_status_error_never_quotes_the_provider_message() -> None:
    mapped = status_error("p", 400, {}, code="invalid value: " + SECRET, message=f"bad content {SECRET}")
    assert SECRET not in mapped.message


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers) == expected


def test_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = retry_after({"retry-after": when})
    assert seconds is not None
    assert 25 <= seconds <= 30
    assert retry_after({"retry-after": "Mon, 01 Jan 2001 00:00:00 GMT"}) == 0.0


# -- The lean streaming client: same request as the SDK, pooled keep-alive connections ---------


def direct(kind: Kind, base_url: str, **options: Any) -> OpenAIProvider | AnthropicProvider:
    """A provider built by its class, for the options build_provider does not pass."""
    settings = ProviderSettings(kind=kind, model="sim-model", api_key="sim-key", base_url=base_url)
    for name in ("timeout_s", "connect_timeout_s", "max_tokens"):
        if name in options:
            settings = msgspec.structs.replace(settings, **{name: options.pop(name)})
    cls = AnthropicProvider if kind == "anthropic" else OpenAIProvider
    return cls(kind, settings, **options)


def sim_url(sim: ProviderSimulator, kind: Kind) -> str:
    return sim.anthropic_base_url if kind == "anthropic" else sim.openai_base_url


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("schema", [None, {"type": "object", "properties": {"answer": {"type": "string"}}}])
async def test_lean_path_sends_what_the_sdk_sends(
    sim: ProviderSimulator, kind: Kind, schema: dict[str, Any] | None
) -> None:
    request = make_request(max_tokens=5, temperature=0.4, response_schema=schema)
    streams: list[list[ProviderEvent]] = []
    for lean in (False, True):
        provider = direct(kind, sim_url(sim, kind), lean=lean)
        try:
            streams.append(await collect(provider, request))
        finally:
            await provider.aclose()
    sdk, lean_ = sim.requests
    assert streams[0] == streams[1]
    assert lean_.body == sdk.body
    assert list(lean_.body) == list(sdk.body)  # the same keys in the same order
    differ = {"accept-encoding", "x-stainless-timeout"}  # identity, not gzip; an SDK-only default
    assert {k: v for k, v in lean_.headers.items() if k not in differ} == {
        k: v for k, v in sdk.headers.items() if k not in differ
    }
    assert lean_.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lean", [True, False], ids=["lean", "sdk"])
async def test_waiting_for_a_pooled_connection_is_not_a_failure(
    sim: ProviderSimulator, kind: Kind, lean: bool
) -> None:
    sim.default = Scenario(total_tokens=6, tokens_per_s=30)  # about 200 ms per answer
    # A pool of one, and a read time limit below the wait (timeout_s bounded the SDK's pool wait).
    provider = direct(kind, sim_url(sim, kind), max_connections=1, timeout_s=0.09, lean=lean)
    try:
        first = asyncio.create_task(collect(provider))
        await sim.wait_until(lambda: sim.count() == 1)
        second = asyncio.create_task(collect(provider))
        await asyncio.sleep(0.03)
        assert sim.count() == 1  # the second stream waits for the only connection...
        events = await asyncio.gather(first, second)  # ...and neither fails
        assert sim.count() == 2
        assert all(record.completed for record in sim.requests)
        for stream in events:
            assert text_of(stream) == "The customer renewed the annual plan"
    finally:
        await provider.aclose()


async def test_a_time_limit_during_a_wait_for_margins_own_pool_does_not_blame_the_provider(
    sim: ProviderSimulator,
) -> None:
    sim.default = Scenario(total_tokens=6, tokens_per_s=20)  # about 300 ms per answer
    provider = direct("openai", sim.openai_base_url, max_connections=1)
    limits = ProviderTimeouts(ttft_s=0.1, idle_s=5, total_s=10)
    try:
        first = asyncio.create_task(collect(provider))
        await sim.wait_until(lambda: sim.count() == 1)
        with pytest.raises(CapacityTimeout, match="free connection") as caught:
            [event async for event in with_timeouts(provider.stream(REQUEST), limits, provider="gpt")]
        assert caught.value.blames_provider is False and caught.value.code == "timeout"
        await first
        late = [event async for event in with_timeouts(provider.stream(REQUEST), limits, provider="gpt")]
        assert text_of(late)  # the flag did not outlive the wait: a later call is judged normally
    finally:
        await provider.aclose()


async def test_a_cancelled_wait_for_a_connection_gives_nothing_away(sim: ProviderSimulator) -> None:
    sim.default = Scenario(total_tokens=6, tokens_per_s=60)
    provider = direct("openai", sim.openai_base_url, max_connections=1)
    try:
        first = asyncio.create_task(collect(provider))
        await sim.wait_until(lambda: sim.count() == 1)
        waiting = asyncio.create_task(collect(provider))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await first
        sim.default = Scenario(total_tokens=2)
        assert text_of(await asyncio.wait_for(collect(provider), 2)) == "The customer"
        assert sim.count() == 2
    finally:
        await provider.aclose()


async def test_aclose_ends_open_streams(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(total_tokens=400, tokens_per_s=200))
    provider = direct("anthropic", sim.anthropic_base_url)
    stream = asyncio.create_task(collect(provider))
    await sim.wait_until(lambda: sim.count() == 1 and sim.requests[0].tokens_sent > 0)
    await provider.aclose()
    with pytest.raises(ProviderUnavailable, match="connection lost"):
        await asyncio.wait_for(stream, 2)


async def test_a_long_answer_read_slowly(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(total_tokens=6000))
    provider = direct("openai", sim.openai_base_url, max_tokens=10_000)
    deltas = 0
    try:
        async for event in provider.stream(make_request(max_tokens=None)):
            if isinstance(event, TextDelta):
                deltas += 1
                if deltas % 1000 == 0:
                    await asyncio.sleep(0.05)  # the server gets ahead: reading pauses, then resumes
    finally:
        await provider.aclose()
    assert deltas == 6000
    assert sim.requests[0].completed


SSE_ANSWER = (
    openai_chunk({"content": "Hello"})
    + openai_chunk({"content": " there"})
    + openai_chunk({}, "stop", usage=True)
    + "data: [DONE]\n\n"
).encode()
EXPECTED = [TextDelta("Hello"), TextDelta(" there"), Usage(3, 2), Finish("stop")]


class KeepAliveServer:
    """Answers every request of a connection and keeps it open, as real providers do."""

    def __init__(
        self,
        body: bytes = SSE_ANSWER,
        *,
        framing: Literal["chunked", "length"] = "chunked",
        piece: int = 0,
        gzipped: bool = False,
        status: int = 200,
        headers: tuple[str, ...] = (),
        drop_request: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.body = gzip.compress(body) if gzipped else body
        self.framing = framing
        self.piece = piece  # > 0: send the answer in pieces of this many bytes, one at a time
        self.head = [f"HTTP/1.1 {status} X", *headers] + (["content-encoding: gzip"] if gzipped else [])
        self.drop_request = drop_request  # close without answering the request with this number
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://{'localhost' if self.tls else '127.0.0.1'}:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def answer(self) -> bytes:
        if self.framing == "length":
            head = [*self.head, f"content-length: {len(self.body)}"]
            return ("\r\n".join(head) + "\r\n\r\n").encode() + self.body
        head = "\r\n".join([*self.head, "transfer-encoding: chunked"]) + "\r\n\r\n"
        third = len(self.body) // 3 + 1
        parts = [self.body[i : i + third] for i in range(0, len(self.body), third)]
        chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts)
        return head.encode() + chunks + b"0\r\nx-trailer: yes\r\n\r\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: (\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                self.requests.append(head)
                if len(self.requests) == self.drop_request:
                    return
                data = self.answer()
                step = self.piece or len(data)
                for i in range(0, len(data), step):
                    writer.write(data[i : i + step])
                    await writer.drain()
                    if self.piece:
                        await asyncio.sleep(0.001)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)


async def stream_twice(url: str, **options: Any) -> list[list[ProviderEvent]]:
    provider = direct("openai", url + "/v1", **options)
    try:
        return [await collect(provider), await collect(provider)]
    finally:
        await provider.aclose()


@pytest.mark.parametrize(
    "server",
    [
        KeepAliveServer(),
        KeepAliveServer(framing="length"),
        KeepAliveServer(piece=7),  # chunk sizes, CRLFs and lines split across reads
        KeepAliveServer(framing="length", piece=5, gzipped=True),
        KeepAliveServer(gzipped=True),
    ],
    ids=["chunked", "length", "chunked-trickle", "gzip-trickle", "gzip-chunked"],
)
async def test_keep_alive_connection_is_reused(server: KeepAliveServer) -> None:
    async with server as url:
        assert await stream_twice(url) == [EXPECTED, EXPECTED]
    assert (server.connections, len(server.requests)) == (1, 2)
    assert server.requests[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")


async def test_a_connection_the_server_dropped_while_idle_is_retried() -> None:
    server = KeepAliveServer(drop_request=2)
    async with server as url:
        assert await stream_twice(url) == [EXPECTED, EXPECTED]
    assert (server.connections, len(server.requests)) == (2, 3)  # the second went out again


async def test_error_answer_on_a_kept_alive_connection() -> None:
    error = {"type": "rate_limit_error", "message": "slow down", "details": {"error_code": "x"}}
    body = json.dumps({"type": "error", "error": error}).encode()
    server = KeepAliveServer(body, framing="length", status=429, headers=("retry-after: 7",))
    async with server as url:
        provider = direct("anthropic", url)
        try:
            for _ in range(2):
                with pytest.raises(ProviderRateLimited, match=r"HTTP 429, x") as caught:
                    await collect(provider)
                assert caught.value.retry_after == 7.0
        finally:
            await provider.aclose()
    assert server.connections == 1  # an error answer read to its end keeps the connection


async def test_a_redirect_is_a_bad_request_naming_it() -> None:
    server = KeepAliveServer(b"", framing="length", status=308, headers=("location: https://elsewhere/v1",))
    async with server as url:
        provider = direct("openai", url + "/v1")
        try:
            with pytest.raises(ProviderBadRequest, match=r"redirect \(HTTP 308\); set base_url"):
                await collect(provider)
        finally:
            await provider.aclose()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error": {"message": "m", "type": "invalid_request", "code": "context_length_exceeded"}}',
            ("context_length_exceeded", "m"),
        ),
        (b'{"error": {"message": "m", "type": "server_error", "code": null}}', ("server_error", "m")),
        (
            b'{"type": "error", "error": {"type": "overloaded_error", "message": "o"}}',
            ("overloaded_error", "o"),
        ),
        (b'{"error": {"type": "t", "details": {"error_code": "quota"}}}', ("quota", None)),
        (b'{"message": "flat", "code": 5, "type": "upstream"}', ("upstream", "flat")),
        (b'{"error": "a string"}', (None, None)),
        (b"<html>Bad gateway</html>", (None, None)),
        (b"", (None, None)),
    ],
)
def test_error_fields(body: bytes, expected: tuple[str | None, str | None]) -> None:
    assert error_fields(body) == expected


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for ``localhost`` and its key (needs the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https(tls_files: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # trusted the way the SDKs' client trusts it
    server = KeepAliveServer(tls=context)
    async with server as url:
        assert await stream_twice(url) == [EXPECTED, EXPECTED]
    assert server.connections == 1


async def test_https_with_an_untrusted_certificate_is_unavailable(tls_files: tuple[str, str]) -> None:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with KeepAliveServer(tls=context) as url:
        provider = direct("openai", url + "/v1")
        try:
            with pytest.raises(ProviderUnavailable, match=r"could not connect.*SSLCertVerificationError"):
                await collect(provider)
        finally:
            await provider.aclose()


async def test_a_stalled_tls_handshake_is_a_connect_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = direct("openai", f"https://127.0.0.1:{port}/v1", connect_timeout_s=0.2)
    try:
        with pytest.raises(ProviderTimeout, match="did not answer in time"):
            await collect(provider)
    finally:
        await provider.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind HTTP(S)_PROXY the stream goes through the SDK, which knows how to use the proxy."""
    server = KeepAliveServer()
    async with server as proxy:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("http_proxy", proxy)
        provider = direct("openai", "http://llm.invalid/v1")
        try:
            assert await collect(provider) == EXPECTED
        finally:
            await provider.aclose()
    assert server.requests[0].startswith(b"POST http://llm.invalid/v1/chat/completions HTTP/1.1\r\n")


@pytest.mark.parametrize(
    ("scenario", "error", "message"),
    [
        (Scenario(fault="rate_limit", retry_after_s=3), ProviderRateLimited, "HTTP 429"),
        (Scenario(fault="drop", fault_after_tokens=2), ProviderUnavailable, "connection lost"),
        (Scenario(fault="malformed", fault_after_tokens=2), ProviderUnavailable, "malformed stream chunk"),
    ],
)
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_faults_on_the_sdk_path(
    sim: ProviderSimulator, kind: Kind, scenario: Scenario, error: type[ProviderError], message: str
) -> None:
    sim.enqueue(scenario)
    provider = direct(kind, sim_url(sim, kind), lean=False)
    try:
        with pytest.raises(error, match=message):
            await collect(provider)
    finally:
        await provider.aclose()
