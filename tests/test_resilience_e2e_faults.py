"""End to end over real HTTP: provider faults, mid-stream failover, circuit breakers.

The primary (``gpt``) and the secondary (``claude``) each talk to a simulator of their own,
so each can be scripted separately. Time limits are small (0.3 s) to keep the tests fast.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from conftest import ServerThread, make_settings, token_for
from helpers import SSEEvent, events_of, parse_sse

from margin.config import Settings
from margin.features.continuation import CONTINUE_INSTRUCTION, OverlapTrimmer
from margin.testing.simulator import Scenario, SimulatorThread

HEADERS = {"Authorization": f"Bearer {token_for()}", "Accept": "text/event-stream"}
DEAL = {"record": {"type": "deal", "id": "D-1001"}}
TIMEOUT_S = 0.3
ANSWER = "The Acme renewal is in negotiation at $84,000 and the champion wants a March start."
PARTIAL = "The Acme renewal is in"  # what the primary sends before a mid-stream fault (5 tokens)
CONTINUATION = "renewal is in negotiation at $84,000 and the champion wants a March start."
"""Repeats the partial answer's last three words, as models do; Margin must drop them."""


@pytest.fixture
def primary() -> Iterator[SimulatorThread]:
    with SimulatorThread() as sim:
        yield sim


@pytest.fixture
def secondary() -> Iterator[SimulatorThread]:
    with SimulatorThread(Scenario(text=ANSWER)) as sim:
        yield sim


def two_cloud_settings(
    tmp_path: Path, primary: SimulatorThread, secondary: SimulatorThread, **resilience: Any
) -> Settings:
    providers = {
        "gpt": {
            "kind": "openai",
            "model": "gpt-sim",
            "api_key": "sk-test",
            "base_url": primary.openai_base_url,
        },
        "claude": {
            "kind": "anthropic",
            "model": "claude-sim",
            "api_key": "sk-ant-test",
            "base_url": secondary.anthropic_base_url,
        },
    }
    config: dict[str, Any] = {
        "timeouts": {"ttft_s": TIMEOUT_S, "idle_s": TIMEOUT_S, "total_s": 10},
        "retry": {"base_delay_s": 0.05, "max_delay_s": 0.05},
        "cache": {"enabled": False},
        "limits": {"enabled": False},
        **resilience,
    }
    return make_settings(
        tmp_path, providers=providers, chains={"default": ["gpt", "claude", "offline"]}, resilience=config
    )


def summarize(server: ServerThread) -> tuple[list[SSEEvent], float]:
    started = time.perf_counter()
    response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=HEADERS, timeout=10)
    return events_of(response.text), time.perf_counter() - started


def text_of(events: list[SSEEvent]) -> str:
    text = ""
    for event in events:
        if event.event == "meta" and event.data["mode"] != "continue":
            text = ""  # what the widget does
        elif event.event == "delta":
            text += event.data["text"]
    return text


def repeated_span(text: str, words: int = 3) -> str | None:
    """A run of ``words`` words that occurs twice in ``text``, if any."""
    tokens = text.split()
    seen: set[tuple[str, ...]] = set()
    for i in range(len(tokens) - words + 1):
        gram = tuple(tokens[i : i + words])
        if gram in seen:
            return " ".join(gram)
        seen.add(gram)
    return None


FAULTS = {
    "ttft_timeout": Scenario(text=ANSWER, ttft_ms=3000),
    "rate_limit_429": Scenario(fault="rate_limit", retry_after_s=30),
    "server_error_500": Scenario(fault="server_error"),
    "unavailable_503": Scenario(fault="unavailable"),
    "hang": Scenario(fault="hang"),
    "drop_mid_stream": Scenario(text=ANSWER, fault="drop", fault_after_tokens=5),
    "malformed_chunk": Scenario(text=ANSWER, fault="malformed", fault_after_tokens=5),
    "hang_mid_stream": Scenario(text=ANSWER, fault="hang", fault_after_tokens=5),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_on_the_primary_ends_in_a_complete_answer(
    tmp_path: Path, primary: SimulatorThread, secondary: SimulatorThread, fault: str
) -> None:
    scenario = FAULTS[fault]
    mid_stream = scenario.fault_after_tokens > 0
    with ServerThread(two_cloud_settings(tmp_path, primary, secondary)) as server:
        summarize(server)  # warm up connections and imports
        _, baseline = summarize(server)  # primary healthy: the latency without a fault
        primary.simulator.default = scenario
        secondary.simulator.default = Scenario(text=CONTINUATION if mid_stream else ANSWER)
        events, elapsed = summarize(server)
    extra = elapsed - baseline
    print(f"\n{fault}: {elapsed * 1000:.0f} ms vs {baseline * 1000:.0f} ms healthy: +{extra * 1000:.0f} ms")
    metas = [e.data for e in events if e.event == "meta"]
    assert [m["provider"] for m in metas] == ["gpt", "claude"]
    assert metas[1]["mode"] == ("continue" if mid_stream else "start")
    assert events[-1].event == "done"
    assert text_of(events) == ANSWER
    assert extra <= TIMEOUT_S + 0.1


@pytest.mark.parametrize("fault", ["drop", "malformed"])
def test_mid_stream_failover_continues_without_repeating(
    tmp_path: Path, primary: SimulatorThread, secondary: SimulatorThread, fault: str
) -> None:
    primary.simulator.default = Scenario(text=ANSWER, fault=fault, fault_after_tokens=5)  # type: ignore[arg-type]
    secondary.simulator.default = Scenario(text=CONTINUATION)
    with ServerThread(two_cloud_settings(tmp_path, primary, secondary)) as server:
        events, _ = summarize(server)
        json_answer = httpx.post(
            f"{server.url}/v1/summarize", json=DEAL, headers={"Authorization": HEADERS["Authorization"]}
        ).json()
    deltas = [e.data["text"] for e in events if e.event == "delta"]
    final = "".join(deltas)  # the widget keeps the text on a "continue" meta
    print(f"\nshown: {final!r}")
    assert "".join(deltas[:5]) == PARTIAL
    assert final == ANSWER and repeated_span(final) is None
    assert json_answer["text"] == ANSWER and json_answer["meta"]["mode"] == "continue"
    asked = secondary.simulator.requests[0].body["messages"]
    assert asked[-2] == {"role": "assistant", "content": PARTIAL}
    assert asked[-1] == {"role": "user", "content": CONTINUE_INSTRUCTION}


def test_restart_mode_starts_over_with_a_notice(
    tmp_path: Path, primary: SimulatorThread, secondary: SimulatorThread
) -> None:
    primary.simulator.default = Scenario(text=ANSWER, fault="drop", fault_after_tokens=5)
    settings = two_cloud_settings(tmp_path, primary, secondary, failover="restart")
    with ServerThread(settings) as server:
        events, _ = summarize(server)
    metas = [e.data for e in events if e.event == "meta"]
    assert metas[1]["mode"] == "restart"
    assert text_of(events) == ANSWER  # the widget dropped the partial text on "restart"
    assert len(secondary.simulator.requests[0].body["messages"]) == 1  # the original prompt only


def test_offline_after_output_restarts(
    tmp_path: Path, primary: SimulatorThread, secondary: SimulatorThread
) -> None:
    primary.simulator.default = Scenario(text=ANSWER, fault="drop", fault_after_tokens=5)
    secondary.simulator.default = Scenario(fault="server_error")
    with ServerThread(two_cloud_settings(tmp_path, primary, secondary)) as server:
        events, _ = summarize(server)
    metas = [e.data for e in events if e.event == "meta"]
    assert [m["provider"] for m in metas][-1] == "offline" and metas[-1]["mode"] == "restart"
    assert events[-1].event == "done" and "84,000" in text_of(events)


def time_to_meta(server: ServerThread) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    metas: list[tuple[dict[str, Any], float]] = []
    with httpx.stream("POST", f"{server.url}/v1/summarize", json=DEAL, headers=HEADERS) as response:
        for item in parse_sse(response.iter_lines()):  # read to the end: the answer completes
            if isinstance(item, SSEEvent) and item.event == "meta":
                metas.append((item.data, time.perf_counter() - started))
    return metas[0]


def breakers(server: ServerThread) -> dict[str, dict[str, Any]]:
    ready = httpx.get(f"{server.url}/readyz").json()
    return {b["provider"]: b for b in ready["checks"]["breakers"]}


def test_open_breaker_skips_the_provider_at_once_then_recovers(
    tmp_path: Path, primary: SimulatorThread, secondary: SimulatorThread
) -> None:
    breaker = {"min_requests": 2, "failure_rate": 0.5, "open_s": 1.0, "bucket_s": 1.0, "window_s": 10.0}
    settings = two_cloud_settings(tmp_path, primary, secondary, breaker=breaker, retry={"max_attempts": 1})
    with ServerThread(settings) as server:
        _, healthy = time_to_meta(server)
        _, healthy = time_to_meta(server)  # warm
        primary.simulator.default = Scenario(fault="server_error")
        for _ in range(2):
            summarize(server)
        assert breakers(server)["gpt"]["state"] == "open"
        calls = primary.simulator.count()
        timings = []
        for _ in range(5):
            meta, elapsed = time_to_meta(server)
            assert meta["provider"] == "claude"
            timings.append(elapsed)
        assert primary.simulator.count() == calls  # skipped, not tried
        skip = min(timings) - healthy
        print(f"\nfirst meta: {min(timings) * 1000:.1f} ms with gpt skipped, {healthy * 1000:.1f} ms healthy")
        assert skip < 0.010

        primary.simulator.default = Scenario(text=ANSWER)
        time.sleep(1.05)  # open_s: the next call is the half-open probe
        events, _ = summarize(server)
        assert [e.data["provider"] for e in events if e.event == "meta"] == ["gpt"]
        assert breakers(server)["gpt"]["state"] == "closed"


def test_a_tenant_chain_replaces_the_global_one(
    tmp_path: Path, primary: SimulatorThread, secondary: SimulatorThread
) -> None:
    settings = two_cloud_settings(tmp_path, primary, secondary)
    globex = msgspec.structs.replace(settings.tenants["globex"], chains={"summarize": ["claude", "offline"]})
    settings = msgspec.structs.replace(settings, tenants={**settings.tenants, "globex": globex})
    headers = {**HEADERS, "Authorization": f"Bearer {token_for('globex')}"}
    with ServerThread(settings) as server:
        globex_events = events_of(httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=headers).text)
        acme_events, _ = summarize(server)
    assert [e.data["provider"] for e in globex_events if e.event == "meta"] == ["claude"]
    assert [e.data["provider"] for e in acme_events if e.event == "meta"] == ["gpt"]


@pytest.mark.parametrize(
    ("previous", "deltas", "shown"),
    [
        ("The renewal is in", [" negotiation", " now."], " negotiation now."),  # no repeat
        ("The renewal is in", ["renewal", " is in", " negotiation."], " negotiation."),
        ("The renewal is in ", ["is in negotiation."], "negotiation."),
        ("The renewal is in", [" in", "side sales."], " inside sales."),  # "in" vs "inside": a new word
        ("The renewal is in", ["The renewal is in"], ""),  # only a repeat
        ("Call «EMAIL_1» now", ["now, then", " wait."], ", then wait."),
    ],
)
def test_overlap_trimmer_drops_only_a_repeated_run_of_whole_words(
    previous: str, deltas: list[str], shown: str
) -> None:
    trimmer = OverlapTrimmer(previous)
    assert "".join(trimmer.feed(delta) for delta in deltas) + trimmer.flush() == shown
