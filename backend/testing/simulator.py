"""A scripted fake of the OpenAI and Anthropic streaming APIs, on raw asyncio.

Tests, benchmarks and ``margin simulate-provider`` use it to rehearse slow models and outages
without keys or network. It speaks just enough HTTP/1.1 for the official SDKs: one request per
connection (``Connection: close``), streams as chunked server-sent events.

What each request gets is a :class:`Scenario`: the ``x-margin-sim`` header (a Scenario as
JSON) if present, else the next queued one (:meth:`ProviderSimulator.enqueue`), else the
default. Every request is recorded as a :class:`SimRequest`, which the stream updates as it
goes (``tokens_sent``, ``completed``, ``client_disconnected``).

The answer is ``Scenario.text`` split into words (each keeps its leading whitespace), or
deterministic filler words; a request for JSON (OpenAI ``response_format``, Anthropic forced
``tool_choice`` or ``output_config.format``) gets ``{"answer": "<filler>"}`` instead, and a
forced Anthropic tool streams it as ``input_json_delta``. The request's ``max_tokens`` cuts
the answer short with the API's "length" stop reason.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TypeVar

import msgspec
import structlog

log = structlog.get_logger(__name__)

Fault = Literal["none", "rate_limit", "server_error", "unavailable", "drop", "malformed", "hang"]
Api = Literal["openai", "anthropic"]
T = TypeVar("T")

SIM_HEADER = "x-margin-sim"
MAX_BODY_BYTES = 16 * 1024 * 1024
_BATCH_TOKENS = 128
_REDACTED_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})
_STATUS_FAULTS = {"rate_limit": 429, "server_error": 500, "unavailable": 503}
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_LAST_CHUNK = b"0\r\n\r\n"
_TOKEN_RE = re.compile(r"\s*\S+|\s+")
_FILLER = (
    "The customer renewed the annual plan after a short call about pricing and onboarding. "
    "Support closed two open tickets and the account owner booked a review for next week. "
    "The main risk is a delayed integration, so the team agreed to send a status update on Friday. "
    "Usage grew steadily this quarter and the champion asked for a training session for new staff."
)
_WORDS = _FILLER.split()
_encode = msgspec.json.encode
_encode_text = functools.lru_cache(maxsize=8192)(_encode)


class Scenario(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How the simulator answers one request.

    ``rate_limit`` / ``server_error`` / ``unavailable`` answer 429 / 500 / 503 before any
    token, or, with ``fault_after_tokens > 0``, send the provider's in-stream error event after
    that many tokens. ``drop`` aborts the TCP connection, ``malformed`` sends a ``data:`` line
    that is not JSON and ends the body, ``hang`` goes silent until the client leaves; all three
    happen after ``fault_after_tokens`` tokens (0: right after the headers).
    """

    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0
    total_tokens: int = 12
    text: str | None = None
    fault: Fault = "none"
    fault_after_tokens: int = 0
    retry_after_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("ttft_ms", "tokens_per_s", "total_tokens", "fault_after_tokens", "retry_after_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0")


class SimRequest(msgspec.Struct):
    """One request the simulator received, and how far its answer got.

    Header names are lower-cased; credentials (``authorization``, ``x-api-key``) keep only
    their last four characters.
    """

    api: Api
    path: str
    model: str
    body: dict[str, Any]
    headers: dict[str, str]
    scenario: Scenario
    tokens_sent: int = 0
    completed: bool = False
    client_disconnected: bool = False


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ProviderSimulator:
    """The simulator server. ``async with ProviderSimulator() as sim:`` starts and stops it."""

    def __init__(self, default: Scenario | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.default = default or Scenario()
        self.requests: list[SimRequest] = []
        self._initial_default = self.default
        self._queue: deque[Scenario] = deque()
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[tuple[asyncio.Task[None], asyncio.StreamWriter]] = set()
        self._seq = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cut every open connection (hanging streams included)."""
        if self._server is None:
            return
        self._server.close()
        connections = list(self._connections)
        for task, writer in connections:
            writer.transport.abort()
            task.cancel()
        await asyncio.gather(*(task for task, _ in connections), return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> ProviderSimulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    def enqueue(self, *scenarios: Scenario) -> None:
        """The next requests (without an ``x-margin-sim`` header) get these, in order."""
        self._queue.extend(scenarios)

    def count(self, api: str | None = None) -> int:
        return sum(1 for r in self.requests if api is None or r.api == api)

    def reset(self) -> None:
        """Forget requests and queued scenarios; restore the default given at construction."""
        self.requests.clear()
        self._queue.clear()
        self.default = self._initial_default

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll ``predicate`` on this loop until it holds; TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - a plain predicate has nothing to await
                await asyncio.sleep(0.005)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        entry = (task, writer)
        self._connections.add(entry)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            writer.transport.abort()
        except Exception:
            log.exception("simulator request failed")
            writer.transport.abort()
        finally:
            self._connections.discard(entry)
            if not writer.transport.is_closing():
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path, headers, body = await _read_request(reader, writer)
        except _BadRequest as exc:
            await _respond_json(writer, exc.status, _plain_error(exc.message))
            return
        route = (method, path)
        if route == ("POST", "/v1/chat/completions"):
            await self._model_request("openai", path, headers, body, reader, writer)
        elif route == ("POST", "/v1/messages"):
            await self._model_request("anthropic", path, headers, body, reader, writer)
        elif path.startswith("/_sim/"):
            status, payload = self._control(method, path, body)
            await _respond_json(writer, status, payload)
        elif path in ("/v1/chat/completions", "/v1/messages"):
            await _respond_json(writer, 405, _plain_error(f"method {method} not allowed on {path}; use POST"))
        else:
            message = (
                f"no such endpoint: {method} {path}; the API is POST /v1/chat/completions, POST /v1/messages"
            )
            await _respond_json(writer, 404, _plain_error(message))

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        try:
            if (method, path) == ("GET", "/_sim/requests"):
                return 200, self.requests
            if (method, path) == ("PUT", "/_sim/default"):
                self.default = _decode_scenarios(body, Scenario)
                return 200, self.default
            if (method, path) == ("POST", "/_sim/enqueue"):
                scenarios = _decode_scenarios(body, list[Scenario])
                self.enqueue(*scenarios)
                return 200, {"queued": len(self._queue)}
            if (method, path) == ("POST", "/_sim/reset"):
                self.reset()
                return 200, {"reset": True}
        except _BadRequest as exc:
            return exc.status, _plain_error(exc.message)
        endpoints = "GET /_sim/requests, PUT /_sim/default, POST /_sim/enqueue, POST /_sim/reset"
        return 404, _plain_error(f"no such control endpoint: {method} {path} ({endpoints})")

    async def _model_request(
        self,
        api: Api,
        path: str,
        headers: dict[str, str],
        raw_body: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        dialect_cls = _OpenAIDialect if api == "openai" else _AnthropicDialect
        try:
            body = _decode_body(raw_body)
            scenario = self._scenario_for(headers)
        except _BadRequest as exc:
            await _respond_json(writer, exc.status, dialect_cls.error_body("invalid_request", exc.message))
            return
        self._seq += 1
        model = str(body.get("model", ""))
        record = SimRequest(
            api=api,
            path=path,
            model=model,
            body=body,
            headers={k: (_redact(v) if k in _REDACTED_HEADERS else v) for k, v in headers.items()},
            scenario=scenario,
        )
        self.requests.append(record)
        dialect = dialect_cls(self._seq, model, body)
        log.info("simulator request", api=api, model=model, fault=scenario.fault, stream=dialect.stream)
        tokens, finish = _answer_tokens(scenario, dialect.json_mode, dialect.max_tokens(body))
        connection = _Connection(reader, writer)
        connection.watch()
        try:
            if scenario.fault in _STATUS_FAULTS and (scenario.fault_after_tokens == 0 or not dialect.stream):
                status = _STATUS_FAULTS[scenario.fault]
                extra = {"retry-after": _seconds(scenario.retry_after_s)} if status == 429 else {}
                await _respond_json(writer, status, dialect.error_body(scenario.fault, ""), extra)
                connection.ended = True
            elif dialect.stream:
                await _stream(connection, record, dialect, tokens, finish)
            else:
                await _respond_whole(connection, record, dialect, tokens, finish)
        except asyncio.CancelledError:
            connection.ended = True  # stop() cut it
            raise
        finally:
            record.client_disconnected = connection.gone and not connection.ended
            connection.unwatch()

    def _scenario_for(self, headers: dict[str, str]) -> Scenario:
        override = headers.get(SIM_HEADER)
        if override is not None:
            try:
                return msgspec.json.decode(override, type=Scenario)
            except msgspec.DecodeError as exc:
                raise _BadRequest(400, f"invalid {SIM_HEADER} header: {exc}") from None
        return self._queue.popleft() if self._queue else self.default


class _Connection:
    """One client connection; notices promptly when the client goes away mid-answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport
        self.left = asyncio.Event()
        # Set once the simulator itself ended the answer: a close after that is not the client leaving.
        self.ended = False
        self._watcher: asyncio.Task[None] | None = None

    def watch(self) -> None:
        self._watcher = asyncio.create_task(self._watch_eof())

    def unwatch(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    async def _watch_eof(self) -> None:
        # The client sends nothing after its request, so any read that ends means it left.
        with contextlib.suppress(ConnectionError):
            while await self.reader.read(65536):
                pass
        self.left.set()

    @property
    def gone(self) -> bool:
        return self.left.is_set() or self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.gone:
            self.transport.write(data)

    async def drain(self) -> bool:
        """Apply back-pressure and let other connections run; False if the client left."""
        try:
            await self.writer.drain()
            await asyncio.sleep(0)
        except ConnectionError:
            self.left.set()
        return not self.gone

    async def sleep(self, seconds: float) -> bool:
        """Sleep, waking early if the client leaves; False if it left."""
        if seconds > 0 and not self.gone:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self.left.wait()
        return not self.gone

    def finish(self, data: bytes) -> None:
        """Write the last bytes of the answer."""
        self.write(data)
        self.ended = True

    async def abort(self) -> None:
        """Cut the connection (RST-like), after what was already written reached the socket."""
        for _ in range(1000):  # at most about a second
            if not self.transport.get_write_buffer_size() or self.gone:
                break
            await asyncio.sleep(0.001)
        self.ended = True
        self.transport.abort()


class _Dialect(abc.ABC):
    """The wire format of one API, pre-encoded per request so streaming stays cheap."""

    finish_stop: str
    finish_length: str

    def __init__(self, seq: int, model: str, body: dict[str, Any]) -> None:
        self.seq = seq
        self.model = model
        self.stream = body.get("stream") is True
        self.json_mode = False
        self.input_tokens = _count_words(body.get("messages")) + _count_words(body.get("system"))

    @staticmethod
    def max_tokens(body: dict[str, Any]) -> int | None:
        value = body.get("max_tokens")
        return value if isinstance(value, int) else None

    @staticmethod
    @abc.abstractmethod
    def error_body(kind: str, message: str) -> dict[str, Any]: ...

    def stream_headers(self) -> bytes:
        return (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n"
            b"x-request-id: sim-%d\r\nrequest-id: sim-%d\r\n\r\n" % (self.seq, self.seq)
        )

    @abc.abstractmethod
    def preamble(self) -> bytes: ...

    @abc.abstractmethod
    def token(self, text: str) -> bytes: ...

    @abc.abstractmethod
    def ending(self, finish: str, output_tokens: int) -> bytes: ...

    @abc.abstractmethod
    def malformed(self) -> bytes: ...

    @abc.abstractmethod
    def stream_error(self, fault: str) -> bytes: ...

    @abc.abstractmethod
    def whole(self, text: str, finish: str, output_tokens: int) -> dict[str, Any]: ...


class _OpenAIDialect(_Dialect):
    finish_stop = "stop"
    finish_length = "length"
    _ERRORS = {
        "rate_limit": ("Rate limit reached for requests (simulated).", "requests", "rate_limit_exceeded"),
        "server_error": ("The server had an error (simulated).", "server_error", None),
        "unavailable": ("The engine is overloaded (simulated).", "server_error", "service_unavailable"),
    }

    def __init__(self, seq: int, model: str, body: dict[str, Any]) -> None:
        super().__init__(seq, model, body)
        answer_format = body.get("response_format")
        self.json_mode = isinstance(answer_format, dict) and answer_format.get("type") in (
            "json_schema",
            "json_object",
        )
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.created = int(time.time())
        self._head = b'{"id":"chatcmpl-sim-%d","object":"chat.completion.chunk","created":%d,"model":%s,' % (
            seq,
            self.created,
            _encode(model),
        )
        self._token_prefix = b"data: " + self._head + b'"choices":[{"index":0,"delta":{"content":'
        self._token_suffix = b'},"finish_reason":null}]}\n\n'

    @staticmethod
    def max_tokens(body: dict[str, Any]) -> int | None:
        value = body.get("max_completion_tokens", body.get("max_tokens"))
        return value if isinstance(value, int) else None

    @staticmethod
    def error_body(kind: str, message: str) -> dict[str, Any]:
        default, type_, code = _OpenAIDialect._ERRORS.get(kind, ("", "invalid_request_error", None))
        return {"error": {"message": message or default, "type": type_, "param": None, "code": code}}

    def _chunk(self, choices: bytes, usage: bytes = b"") -> bytes:
        return b"data: " + self._head + b'"choices":' + choices + usage + b"}\n\n"

    def preamble(self) -> bytes:
        return self._chunk(b'[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]')

    def token(self, text: str) -> bytes:
        return self._token_prefix + _encode_text(text) + self._token_suffix

    def ending(self, finish: str, output_tokens: int) -> bytes:
        out = self._chunk(b'[{"index":0,"delta":{},"finish_reason":%s}]' % _encode(finish))
        if self.include_usage:
            out += self._chunk(b"[]", b',"usage":' + _encode(self._usage(output_tokens)))
        return out + b"data: [DONE]\n\n"

    def malformed(self) -> bytes:
        return b'data: {"choices": [{"delta": {"content": "oops\n\n'

    def stream_error(self, fault: str) -> bytes:
        return b"data: " + _encode(self.error_body(fault, "")) + b"\n\n"

    def whole(self, text: str, finish: str, output_tokens: int) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-sim-{self.seq}",
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            ],
            "usage": self._usage(output_tokens),
        }

    def _usage(self, output_tokens: int) -> dict[str, int]:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": self.input_tokens + output_tokens,
        }


class _AnthropicDialect(_Dialect):
    """Messages API. A forced ``tool_choice`` gets a tool_use block streamed as input_json_delta."""

    finish_stop = "end_turn"
    finish_length = "max_tokens"
    _ERRORS = {
        "rate_limit": ("rate_limit_error", "Number of requests has exceeded your rate limit (simulated)."),
        "server_error": ("api_error", "Internal server error (simulated)."),
        "unavailable": ("overloaded_error", "Overloaded (simulated)."),
    }

    def __init__(self, seq: int, model: str, body: dict[str, Any]) -> None:
        super().__init__(seq, model, body)
        choice = body.get("tool_choice")
        forced = isinstance(choice, dict) and choice.get("type") == "tool"
        self.tool_name = str(body["tool_choice"].get("name", "")) if forced else None
        self.tool_id = f"toolu_sim_{seq}"
        output_config = body.get("output_config")
        self.json_mode = self.tool_name is not None or (
            isinstance(output_config, dict) and output_config.get("format") is not None
        )
        delta = (
            b'"type":"input_json_delta","partial_json":' if self.tool_name else b'"type":"text_delta","text":'
        )
        if self.tool_name is not None:
            self.finish_stop = "tool_use"
        self._token_prefix = (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{' + delta
        )

    @staticmethod
    def error_body(kind: str, message: str) -> dict[str, Any]:
        type_, default = _AnthropicDialect._ERRORS.get(kind, ("invalid_request_error", ""))
        return {"type": "error", "error": {"type": type_, "message": message or default}}

    @staticmethod
    def _event(name: str, data: dict[str, Any]) -> bytes:
        return b"event: %s\ndata: %s\n\n" % (name.encode(), _encode(data))

    def preamble(self) -> bytes:
        message: dict[str, Any] = {
            "id": f"msg_sim_{self.seq}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 1},
        }
        block = self._block({}, "")
        return (
            self._event("message_start", {"type": "message_start", "message": message})
            + self._event(
                "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
            )
            + self._event("ping", {"type": "ping"})
        )

    def _block(self, tool_input: Any, text: str) -> dict[str, Any]:
        if self.tool_name is not None:
            return {"type": "tool_use", "id": self.tool_id, "name": self.tool_name, "input": tool_input}
        return {"type": "text", "text": text}

    def token(self, text: str) -> bytes:
        return self._token_prefix + _encode_text(text) + b"}}\n\n"

    def ending(self, finish: str, output_tokens: int) -> bytes:
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": finish, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        }
        return (
            self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + self._event("message_delta", delta)
            + self._event("message_stop", {"type": "message_stop"})
        )

    def malformed(self) -> bytes:
        return b"event: content_block_delta\ndata: {this is not json\n\n"

    def stream_error(self, fault: str) -> bytes:
        return self._event("error", self.error_body(fault, ""))

    def whole(self, text: str, finish: str, output_tokens: int) -> dict[str, Any]:
        tool_input: Any = None
        if self.tool_name is not None:
            try:
                tool_input = msgspec.json.decode(text)
            except msgspec.DecodeError:
                tool_input = {"answer": text}
        return {
            "id": f"msg_sim_{self.seq}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [self._block(tool_input, text)],
            "stop_reason": finish,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": output_tokens},
        }


def _answer_tokens(scenario: Scenario, json_mode: bool, max_tokens: int | None) -> tuple[list[str], str]:
    """The answer's pieces and whether it stops normally or at ``max_tokens``.

    Scripted text is split into words that keep their spaces; otherwise deterministic filler
    words, wrapped in a JSON object when the request asked for JSON.
    """
    if scenario.text is not None:
        tokens = _TOKEN_RE.findall(scenario.text)
    else:
        words = [_WORDS[i % len(_WORDS)] for i in range(scenario.total_tokens)]
        if json_mode:
            tokens = _TOKEN_RE.findall(_encode({"answer": " ".join(words)}).decode())
        else:
            tokens = [word if i == 0 else " " + word for i, word in enumerate(words)]
    if max_tokens is not None and len(tokens) > max_tokens:
        return tokens[:max_tokens], "length"
    return tokens, "stop"


async def _stream(
    connection: _Connection, record: SimRequest, dialect: _Dialect, tokens: list[str], finish: str
) -> None:
    scenario = record.scenario
    faulty = scenario.fault != "none"
    if faulty:
        tokens = tokens[: scenario.fault_after_tokens]
    connection.write(dialect.stream_headers() + _chunked(dialect.preamble()))
    if not await connection.drain():
        return
    if scenario.fault == "hang" and not tokens:
        await connection.left.wait()
        return
    if not await connection.sleep(scenario.ttft_ms / 1000):
        return
    if not await _send_tokens(connection, record, dialect, tokens, scenario.tokens_per_s):
        return
    if not faulty:
        reason = dialect.finish_stop if finish == "stop" else dialect.finish_length
        connection.finish(_chunked(dialect.ending(reason, len(tokens))) + _LAST_CHUNK)
        record.completed = await connection.drain()
    elif scenario.fault == "drop":
        await connection.abort()
    elif scenario.fault == "hang":
        await connection.left.wait()
    else:
        last = dialect.malformed() if scenario.fault == "malformed" else dialect.stream_error(scenario.fault)
        connection.finish(_chunked(last) + _LAST_CHUNK)
        await connection.drain()


async def _send_tokens(
    connection: _Connection, record: SimRequest, dialect: _Dialect, tokens: list[str], tokens_per_s: float
) -> bool:
    """Send ``tokens`` paced at ``tokens_per_s`` (0: flat out), batching whatever is due."""
    loop = asyncio.get_running_loop()
    interval = 1.0 / tokens_per_s if tokens_per_s > 0 else 0.0
    start = loop.time()
    sent = 0
    while sent < len(tokens):
        end = min(len(tokens), sent + _BATCH_TOKENS)
        if interval:
            due = int((loop.time() - start) / interval) + 1
            if due <= sent:
                if not await connection.sleep(start + sent * interval - loop.time()):
                    return False
                continue
            end = min(end, due)
        connection.write(_chunked(b"".join([dialect.token(t) for t in tokens[sent:end]])))
        sent = record.tokens_sent = end
        if not await connection.drain():
            return False
    return True


async def _respond_whole(
    connection: _Connection, record: SimRequest, dialect: _Dialect, tokens: list[str], finish: str
) -> None:
    scenario = record.scenario
    if scenario.fault == "hang":
        await connection.left.wait()
        return
    delay = scenario.ttft_ms / 1000 + (len(tokens) / scenario.tokens_per_s if scenario.tokens_per_s else 0.0)
    if not await connection.sleep(delay):
        return
    if scenario.fault == "drop":
        await connection.abort()
        return
    if scenario.fault == "malformed":
        body = b"this is not json"
    else:
        reason = dialect.finish_stop if finish == "stop" else dialect.finish_length
        body = _encode(dialect.whole("".join(tokens), reason, len(tokens)))
        record.tokens_sent = len(tokens)
    connection.finish(_response_head(200, len(body)) + body)
    record.completed = await connection.drain() and scenario.fault == "none"


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, str, dict[str, str], bytes]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise _BadRequest(431, "request headers too large") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadRequest(400, "malformed header line")
        headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise _BadRequest(411, "chunked request bodies are not supported; send Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _BadRequest(400, "invalid Content-Length") from None
    if length < 0:
        raise _BadRequest(400, "invalid Content-Length")
    if length > MAX_BODY_BYTES:
        raise _BadRequest(413, f"request body over {MAX_BODY_BYTES} bytes")
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await reader.readexactly(length) if length else b""
    return parts[0], parts[1].split("?", 1)[0], headers, body


def _decode_body(raw: bytes) -> dict[str, Any]:
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise _BadRequest(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _BadRequest(400, "request body must be a JSON object")
    if not isinstance(body.get("messages"), list):
        raise _BadRequest(400, "messages: required, a list of messages")
    return body


def _decode_scenarios(raw: bytes, type_: type[T]) -> T:
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.DecodeError as exc:
        raise _BadRequest(400, f"invalid scenario JSON: {exc}") from None


def _count_words(value: Any) -> int:
    """Rough input token count: words in message contents, however they are nested."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_count_words(item) for item in value)
    if isinstance(value, dict):
        return _count_words(value.get("content")) + _count_words(value.get("text"))
    return 0


def _redact(secret: str) -> str:
    """Keep only the last 4 characters of a credential: enough to tell keys apart in a test."""
    return "***" + secret[-4:]


def _seconds(value: float) -> str:
    """Retry-After text: whole seconds as an integer, as the RFC has it, fractions as they are."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _plain_error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error"}}


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _response_head(status: int, length: int, extra: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", "content-type: application/json"]
    lines += [f"content-length: {length}", "connection: close"]
    lines += [f"{name}: {value}" for name, value in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _respond_json(
    writer: asyncio.StreamWriter, status: int, payload: Any, extra: dict[str, str] | None = None
) -> None:
    body = _encode(payload)
    writer.write(_response_head(status, len(body), extra) + body)
    await writer.drain()


class SimulatorThread:
    """A ProviderSimulator on its own event loop in a daemon thread, for synchronous callers.

    ``with SimulatorThread() as sim:`` starts it; the methods mirror ProviderSimulator's and
    run on the simulator's loop, so they are safe to call from any thread.
    """

    def __init__(self, default: Scenario | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = ProviderSimulator(default, host, port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(),), daemon=True, name="simulator"
        )
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._thread is None or self._loop is None or self._stopped is None:
            return
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        try:
            await self.simulator.start()
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._started.set()
        try:
            await self._stopped.wait()
        finally:
            await self.simulator.stop()

    def _call(self, fn: Callable[[], T]) -> T:
        assert self._loop is not None, "SimulatorThread is not started"

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=5)

    @property
    def base_url(self) -> str:
        return self.simulator.base_url

    @property
    def openai_base_url(self) -> str:
        return self.simulator.openai_base_url

    @property
    def anthropic_base_url(self) -> str:
        return self.simulator.anthropic_base_url

    @property
    def default(self) -> Scenario:
        return self.simulator.default

    @default.setter
    def default(self, scenario: Scenario) -> None:
        self._call(functools.partial(setattr, self.simulator, "default", scenario))

    @property
    def requests(self) -> list[SimRequest]:
        """A snapshot of the requests so far (the records themselves keep updating)."""
        return self._call(lambda: list(self.simulator.requests))

    def enqueue(self, *scenarios: Scenario) -> None:
        self._call(functools.partial(self.simulator.enqueue, *scenarios))

    def count(self, api: str | None = None) -> int:
        return self._call(functools.partial(self.simulator.count, api))

    def reset(self) -> None:
        self._call(self.simulator.reset)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(0.005)


def run_simulator(host: str, port: int, default: Scenario) -> None:
    """Serve until interrupted (``margin simulate-provider``)."""

    async def main() -> None:
        async with ProviderSimulator(default, host, port) as simulator:
            log.info(
                "provider simulator listening",
                openai_base_url=simulator.openai_base_url,
                anthropic_base_url=simulator.anthropic_base_url,
                scenario=msgspec.to_builtins(default),
            )
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


__all__ = ["ProviderSimulator", "Scenario", "SimRequest", "SimulatorThread", "run_simulator"]
