"""The provider simulator, spoken to over raw HTTP/1.1 sockets."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from margin.testing.simulator import ProviderSimulator, Scenario, SimulatorThread

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
USER = [{"role": "user", "content": "Summarize the deal for me"}]  # 5 words


class Reply(msgspec.Struct):
    status: int
    headers: dict[str, str]
    body: bytes
    complete: bool  # False when the connection ended before the (chunked) body did

    def json(self) -> Any:
        return json.loads(self.body)

    def sse(self) -> list[tuple[str | None, str]]:
        """(event name, data) for every SSE event in the body."""
        events = []
        for block in self.body.decode().split("\n\n"):
            if not block:
                continue
            name = None
            data = ""
            for line in block.split("\n"):
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
            events.append((name, data))
        return events


async def request(
    sim: ProviderSimulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request on a fresh connection; reads until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", int(sim.base_url.rsplit(":", 1)[1]))
    payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    head = [f"{method} {path} HTTP/1.1", "host: sim", f"content-length: {len(payload)}"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    data = await reader.read()  # until EOF: the simulator always closes
    writer.close()
    await writer.wait_closed()
    return _parse(data)


def _parse(data: bytes) -> Reply:
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") != "chunked":
        return Reply(status, headers, rest, len(rest) == int(headers.get("content-length", len(rest))))
    body = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return Reply(status, headers, body, True)
        body += rest[:size]
        rest = rest[size + 2 :]
    return Reply(status, headers, body, False)


@pytest.fixture
async def sim() -> AsyncIterator[ProviderSimulator]:
    async with ProviderSimulator(Scenario(total_tokens=6)) as simulator:
        yield simulator


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-sim", "messages": USER, **extra}


# -- OpenAI -----------------------------------------------------------------------------------


async def test_openai_stream_with_usage(sim: ProviderSimulator) -> None:
    reply = await request(sim, "POST", CHAT, chat_body(stream=True, stream_options={"include_usage": True}))
    assert reply.status == 200
    assert reply.complete
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.headers["connection"] == "close"
    events = [data for _, data in reply.sse()]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(data) for data in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-sim" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "The customer renewed the annual plan"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    [record] = sim.requests
    assert (record.api, record.model, record.tokens_sent, record.completed) == ("openai", "gpt-sim", 6, True)
    assert not record.client_disconnected


async def test_openai_stream_without_usage_option_has_no_usage_chunk(sim: ProviderSimulator) -> None:
    reply = await request(sim, "POST", CHAT, chat_body(stream=True))
    chunks = [json.loads(data) for _, data in reply.sse()[:-1]]
    assert all("usage" not in chunk for chunk in chunks)


async def test_openai_non_streaming(sim: ProviderSimulator) -> None:
    reply = await request(sim, "POST", CHAT, chat_body())
    assert reply.status == 200
    answer = reply.json()
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "The customer renewed the annual plan"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["completion_tokens"] == 6


async def test_scripted_text_keeps_spaces_and_max_tokens_cuts_it(sim: ProviderSimulator) -> None:
    text = "Deal  D-1 is\nat risk. "
    sim.enqueue(Scenario(text=text), Scenario(text=text))
    full = await request(sim, "POST", CHAT, chat_body(stream=True))
    pieces = [json.loads(d)["choices"][0]["delta"].get("content") for _, d in full.sse()[1:-2]]
    assert pieces == ["Deal", "  D-1", " is", "\nat", " risk.", " "]
    cut = await request(sim, "POST", CHAT, chat_body(stream=True, max_completion_tokens=2))
    chunks = [json.loads(d) for _, d in cut.sse()[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Deal  D-1"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


async def test_json_mode_generates_json(sim: ProviderSimulator) -> None:
    body = chat_body(response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": {}}})
    answer = (await request(sim, "POST", CHAT, body)).json()
    assert json.loads(answer["choices"][0]["message"]["content"]) == {
        "answer": "The customer renewed the annual plan"
    }


# -- Anthropic --------------------------------------------------------------------------------


async def test_anthropic_stream_events(sim: ProviderSimulator) -> None:
    body = {
        "model": "claude-sim",
        "max_tokens": 100,
        "system": "Be brief now",
        "messages": USER,
        "stream": True,
    }
    reply = await request(sim, "POST", MESSAGES, body)
    assert reply.status == 200
    assert reply.complete
    events = reply.sse()
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 6,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(d) for _, d in events]
    assert all(d["type"] == name for d, name in zip(data, names, strict=True))
    assert data[0]["message"]["usage"]["input_tokens"] == 8  # system words count too
    assert "".join(d["delta"]["text"] for d in data[3:9]) == "The customer renewed the annual plan"
    assert data[-2]["delta"]["stop_reason"] == "end_turn"
    assert data[-2]["usage"]["output_tokens"] == 6


async def test_anthropic_forced_tool_streams_input_json(sim: ProviderSimulator) -> None:
    body = {
        "model": "claude-sim",
        "max_tokens": 100,
        "messages": USER,
        "stream": True,
        "tools": [{"name": "respond", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "respond"},
    }
    data = [json.loads(d) for _, d in (await request(sim, "POST", MESSAGES, body)).sse()]
    assert data[1]["content_block"]["type"] == "tool_use"
    assert data[1]["content_block"]["name"] == "respond"
    deltas = [d["delta"] for d in data if d["type"] == "content_block_delta"]
    assert {d["type"] for d in deltas} == {"input_json_delta"}
    assert json.loads("".join(d["partial_json"] for d in deltas))["answer"].startswith("The customer")
    assert data[-2]["delta"]["stop_reason"] == "tool_use"


async def test_anthropic_non_streaming_and_max_tokens(sim: ProviderSimulator) -> None:
    body = {"model": "claude-sim", "max_tokens": 3, "messages": USER}
    answer = (await request(sim, "POST", MESSAGES, body)).json()
    assert answer["type"] == "message"
    assert answer["content"] == [{"type": "text", "text": "The customer renewed"}]
    assert answer["stop_reason"] == "max_tokens"
    assert answer["usage"] == {"input_tokens": 5, "output_tokens": 3}


# -- Faults -----------------------------------------------------------------------------------


async def test_status_faults_use_each_api_error_shape(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(fault="rate_limit", retry_after_s=2.5), Scenario(fault="unavailable"))
    limited = await request(sim, "POST", CHAT, chat_body(stream=True))
    assert limited.status == 429
    assert limited.headers["retry-after"] == "2.5"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    overloaded = await request(sim, "POST", MESSAGES, {"model": "c", "max_tokens": 5, "messages": USER})
    assert overloaded.status == 503
    assert overloaded.json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded (simulated)."},
    }
    sim.default = Scenario(fault="server_error")
    assert (await request(sim, "POST", CHAT, chat_body())).json()["error"]["type"] == "server_error"


async def test_status_fault_after_tokens_is_an_error_event_mid_stream(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(fault="unavailable", fault_after_tokens=2))
    reply = await request(
        sim, "POST", MESSAGES, {"model": "c", "max_tokens": 50, "messages": USER, "stream": True}
    )
    assert reply.status == 200
    assert reply.complete
    name, data = reply.sse()[-1]
    assert name == "error"
    assert json.loads(data)["error"]["type"] == "overloaded_error"
    assert sim.requests[0].tokens_sent == 2


async def test_drop_cuts_the_connection_mid_body(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(fault="drop", fault_after_tokens=3))
    reply = await request(sim, "POST", CHAT, chat_body(stream=True))
    assert reply.status == 200
    assert not reply.complete
    assert len(reply.sse()) == 4  # the role chunk and three tokens
    [record] = sim.requests
    assert (record.tokens_sent, record.completed, record.client_disconnected) == (3, False, False)


async def test_malformed_sends_a_line_that_is_not_json(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(fault="malformed", fault_after_tokens=1))
    reply = await request(sim, "POST", CHAT, chat_body(stream=True))
    *good, (_, bad) = reply.sse()
    assert [json.loads(data)["object"] for _, data in good] == ["chat.completion.chunk"] * 2
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad)


async def test_hang_keeps_quiet_until_the_client_leaves(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(fault="hang", fault_after_tokens=2))
    reader, writer = await asyncio.open_connection("127.0.0.1", int(sim.base_url.rsplit(":", 1)[1]))
    body = json.dumps(chat_body(stream=True)).encode()
    writer.write(b"POST %s HTTP/1.1\r\ncontent-length: %d\r\n\r\n%s" % (CHAT.encode(), len(body), body))
    await reader.readuntil(b'" customer"},"finish_reason":null}]}\n\n\r\n')  # the end of token 2's chunk
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.2)
    writer.close()
    await writer.wait_closed()
    await sim.wait_until(lambda: sim.requests[0].client_disconnected, timeout=2)
    assert (sim.requests[0].tokens_sent, sim.requests[0].completed) == (2, False)


async def test_stop_cuts_hanging_streams(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(fault="hang"))
    pending = asyncio.create_task(request(sim, "POST", CHAT, chat_body(stream=True)))
    await sim.wait_until(lambda: sim.count() == 1)
    started = time.monotonic()
    await sim.stop()
    reply = await asyncio.wait_for(pending, 2)
    assert not reply.complete
    assert time.monotonic() - started < 1


async def test_ttft_and_pacing(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(ttft_ms=100, tokens_per_s=100, total_tokens=6))
    started = time.monotonic()
    reply = await request(sim, "POST", CHAT, chat_body(stream=True))
    elapsed = time.monotonic() - started
    assert reply.complete
    assert 0.14 <= elapsed < 1.0  # 100 ms to the first token, then 5 gaps of 10 ms


# -- Scenario selection and control endpoints --------------------------------------------------


async def test_header_overrides_queue_and_default(sim: ProviderSimulator) -> None:
    sim.enqueue(Scenario(total_tokens=1))
    header = {"x-margin-sim": json.dumps({"fault": "rate_limit", "retry_after_s": 7})}
    assert (await request(sim, "POST", CHAT, chat_body(), headers=header)).status == 429
    assert (await request(sim, "POST", CHAT, chat_body())).json()["usage"]["completion_tokens"] == 1
    assert (await request(sim, "POST", CHAT, chat_body())).json()["usage"]["completion_tokens"] == 6
    assert [r.scenario.fault for r in sim.requests] == ["rate_limit", "none", "none"]


async def test_bad_scenario_header_is_rejected(sim: ProviderSimulator) -> None:
    reply = await request(sim, "POST", CHAT, chat_body(), headers={"x-margin-sim": '{"fault": "fire"}'})
    assert reply.status == 400
    assert "x-margin-sim" in reply.json()["error"]["message"]
    assert sim.count() == 0


async def test_credentials_are_redacted_in_records(sim: ProviderSimulator) -> None:
    await request(sim, "POST", CHAT, chat_body(), headers={"authorization": "Bearer sk-secret-9876"})
    assert sim.requests[0].headers["authorization"] == "***9876"


async def test_control_endpoints(sim: ProviderSimulator) -> None:
    new_default = {"total_tokens": 2, "ttft_ms": 0}
    assert (await request(sim, "PUT", "/_sim/default", new_default)).json()["total_tokens"] == 2
    enqueued = await request(sim, "POST", "/_sim/enqueue", [{"total_tokens": 1}, {"fault": "server_error"}])
    assert enqueued.json() == {"queued": 2}
    await request(sim, "POST", MESSAGES, {"model": "c", "max_tokens": 9, "messages": USER})
    listed = (await request(sim, "GET", "/_sim/requests")).json()
    assert len(listed) == 1
    assert listed[0]["api"] == "anthropic"
    assert listed[0]["scenario"]["total_tokens"] == 1
    assert listed[0]["completed"] is True
    assert (await request(sim, "POST", "/_sim/reset")).json() == {"reset": True}
    assert sim.count() == 0
    assert sim.default == Scenario(total_tokens=6)
    assert (await request(sim, "POST", CHAT, chat_body())).status == 200  # the queue was emptied


@pytest.mark.parametrize(
    ("method", "path", "payload", "expected"),
    [
        ("PUT", "/_sim/default", b"{not json", "invalid scenario JSON"),
        ("PUT", "/_sim/default", b'{"fault": "fire"}', "fault"),
        ("PUT", "/_sim/default", b'{"speed": 3}', "unknown field `speed`"),
        ("PUT", "/_sim/default", b'{"ttft_ms": -1}', "ttft_ms: must be >= 0"),
        ("POST", "/_sim/enqueue", b'{"total_tokens": 1}', "Expected `array`"),
    ],
)
async def test_control_endpoints_reject_bad_json(
    sim: ProviderSimulator, method: str, path: str, payload: bytes, expected: str
) -> None:
    reply = await request(sim, method, path, raw=payload)
    assert reply.status == 400
    assert expected in reply.json()["error"]["message"]
    assert sim.default == Scenario(total_tokens=6)


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "expected"),
    [
        ("POST", CHAT, b"not json", 400, "not valid JSON"),
        ("POST", CHAT, b"[1, 2]", 400, "must be a JSON object"),
        ("POST", MESSAGES, b'{"model": "c"}', 400, "messages: required"),
        ("GET", CHAT, b"", 405, "use POST"),
        ("POST", "/v2/elsewhere", b"{}", 404, "no such endpoint"),
        ("GET", "/_sim/nothing", b"", 404, "no such control endpoint"),
    ],
)
async def test_bad_requests_get_clear_errors(
    sim: ProviderSimulator, method: str, path: str, payload: bytes, status: int, expected: str
) -> None:
    reply = await request(sim, method, path, raw=payload)
    assert reply.status == status
    assert expected in reply.json()["error"]["message"]
    assert sim.count() == 0


async def test_malformed_http_is_rejected(sim: ProviderSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(sim.base_url.rsplit(":", 1)[1]))
    writer.write(b"NONSENSE\r\n\r\n")
    reply = _parse(await reader.read())
    writer.close()
    await writer.wait_closed()
    assert reply.status == 400
    assert reply.json()["error"]["message"] == "malformed request line"


def test_simulator_thread_serves_synchronous_callers() -> None:
    with SimulatorThread(Scenario(total_tokens=3)) as sim:
        sim.enqueue(Scenario(fault="unavailable"))
        host, port = sim.base_url.removeprefix("http://").split(":")
        statuses = []
        for _ in range(2):
            connection = http.client.HTTPConnection(host, int(port), timeout=5)
            connection.request(
                "POST", CHAT, body=json.dumps(chat_body()), headers={"content-type": "application/json"}
            )
            statuses.append(connection.getresponse().status)
            connection.close()
        assert statuses == [503, 200]
        assert sim.count("openai") == 2
        assert sim.count("anthropic") == 0
        sim.wait_until(lambda: sim.requests[-1].completed)
        sim.default = Scenario(total_tokens=1)
        assert sim.default.total_tokens == 1
        sim.reset()
        assert sim.requests == []
        assert sim.default.total_tokens == 3
