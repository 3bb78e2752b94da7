"""Streaming behaviour over real HTTP: SDK providers behind Margin, disconnects, heartbeats, fallback."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from conftest import ServerThread, make_settings, token_for
from helpers import SSEEvent, events_of, parse_sse, stored_interactions

from margin.testing.simulator import Scenario, SimulatorThread

HEADERS = {"Authorization": f"Bearer {token_for()}", "Accept": "text/event-stream"}
DEAL = {"record": {"type": "deal", "id": "D-1001"}}


def cloud_settings(tmp_path: Path, sim: SimulatorThread, **overrides: object):  # type: ignore[no-untyped-def]
    providers = {
        "gpt": {
            "kind": "openai",
            "model": "gpt-sim",
            "api_key": "sk-test",
            "base_url": sim.openai_base_url,
            "input_usd_per_mtok": 1.0,
            "output_usd_per_mtok": 4.0,
        },
        "claude": {
            "kind": "anthropic",
            "model": "claude-sim",
            "api_key": "sk-ant-test",
            "base_url": sim.anthropic_base_url,
        },
    }
    overrides.setdefault("chains", {"default": ["gpt", "offline"]})
    return make_settings(tmp_path, providers=providers, **overrides)


@pytest.mark.parametrize("first", ["gpt", "claude"])
def test_sdk_provider_streams_through_margin(tmp_path: Path, simulator: SimulatorThread, first: str) -> None:
    simulator.default = Scenario(text="Acme renewal is in negotiation at $84,000.", total_tokens=100)
    settings = cloud_settings(tmp_path, simulator, chains={"default": [first, "offline"]})
    with ServerThread(settings) as server:
        response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=HEADERS)
    events = events_of(response.text)
    assert events[0].data["provider"] == first and events[0].data["degraded"] is False
    text = "".join(e.data["text"] for e in events if e.event == "delta")
    assert text == "Acme renewal is in negotiation at $84,000."
    done = events[-1].data
    assert done["usage"]["output_tokens"] > 0 and done["usage"]["input_tokens"] > 0
    if first == "gpt":
        expected = (done["usage"]["input_tokens"] * 1.0 + done["usage"]["output_tokens"] * 4.0) / 1e6
        assert done["cost_usd"] == pytest.approx(expected, abs=1e-6)
    sent = simulator.requests[0].body
    prompt = str(sent)
    assert "<record>" in prompt and "dana.reyes@acme.example" not in prompt  # sensitive field left out


def test_client_disconnect_closes_the_upstream_call(tmp_path: Path, simulator: SimulatorThread) -> None:
    simulator.default = Scenario(total_tokens=400, tokens_per_s=50)
    with ServerThread(cloud_settings(tmp_path, simulator)) as server:
        with httpx.stream("POST", f"{server.url}/v1/summarize", json=DEAL, headers=HEADERS) as response:
            deltas = 0
            for item in parse_sse(response.iter_lines()):
                if isinstance(item, SSEEvent) and item.event == "delta":
                    deltas += 1
                    if deltas == 3:
                        break
        deadline = time.monotonic() + 5
        while not simulator.requests[0].client_disconnected and time.monotonic() < deadline:
            time.sleep(0.02)
        upstream = simulator.requests[0]
        assert upstream.client_disconnected and not upstream.completed
        assert upstream.tokens_sent < 400
        deadline = time.monotonic() + 5
        while not stored_interactions(server.settings) and time.monotonic() < deadline:
            time.sleep(0.02)
    [interaction] = stored_interactions(server.settings)
    assert interaction["status"] == "cancelled" and interaction["provider"] == "gpt"


def test_heartbeats_keep_a_silent_stream_alive(tmp_path: Path, simulator: SimulatorThread) -> None:
    simulator.default = Scenario(ttft_ms=400, total_tokens=3)
    settings = cloud_settings(tmp_path, simulator, server={"heartbeat_s": 0.1})
    with ServerThread(settings) as server:
        response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=HEADERS)
    items = list(parse_sse(response.text.splitlines()))
    heartbeats = [item for item in items if item == ": heartbeat"]
    assert len(heartbeats) >= 2
    assert [i.event for i in items if isinstance(i, SSEEvent)][-1] == "done"


@pytest.mark.parametrize(
    "fault",
    [
        Scenario(fault="unavailable"),
        Scenario(fault="rate_limit", retry_after_s=3),
        Scenario(fault="drop"),
        Scenario(fault="server_error"),
    ],
    ids=["503", "429", "drop", "500"],
)
def test_failure_before_output_falls_back_to_offline(
    tmp_path: Path, simulator: SimulatorThread, fault: Scenario
) -> None:
    simulator.default = fault
    with ServerThread(cloud_settings(tmp_path, simulator)) as server:
        response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=HEADERS)
    events = events_of(response.text)
    metas = [e.data for e in events if e.event == "meta"]
    assert [m["provider"] for m in metas] == ["gpt", "offline"]
    assert metas[1]["degraded"] is True and metas[0]["interaction_id"] == metas[1]["interaction_id"]
    assert events[-1].event == "done"
    assert "84,000" in "".join(e.data["text"] for e in events if e.event == "delta")


def test_failure_after_output_ends_with_an_error_event(tmp_path: Path, simulator: SimulatorThread) -> None:
    """With no provider left to fail over to (see test_resilience_e2e for failover)."""
    simulator.default = Scenario(total_tokens=50, fault="drop", fault_after_tokens=5)
    with ServerThread(cloud_settings(tmp_path, simulator, chains={"default": ["gpt"]})) as server:
        response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=HEADERS)
        json_response = httpx.post(
            f"{server.url}/v1/summarize", json=DEAL, headers={"Authorization": HEADERS["Authorization"]}
        )
    events = events_of(response.text)
    assert [e.event for e in events].count("delta") == 5
    assert events[-1].event == "error" and events[-1].data["code"] == "unavailable"
    assert "unavailable" in events[-1].data["message"]
    assert json_response.status_code == 503 and json_response.json()["code"] == "unavailable"


def test_rate_limit_as_json_carries_retry_after(tmp_path: Path, simulator: SimulatorThread) -> None:
    simulator.default = Scenario(fault="rate_limit", retry_after_s=7)
    settings = cloud_settings(tmp_path, simulator, chains={"default": ["gpt"]})
    with ServerThread(settings) as server:
        response = httpx.post(
            f"{server.url}/v1/summarize", json=DEAL, headers={"Authorization": HEADERS["Authorization"]}
        )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["code"] == "rate_limited"


def test_a_rate_limit_mid_stream_as_json_still_says_when_to_retry(
    tmp_path: Path, simulator: SimulatorThread
) -> None:
    """Announced inside the stream (no headers there), the provider's 429 has no Retry-After."""
    simulator.default = Scenario(fault="rate_limit", fault_after_tokens=3)
    settings = cloud_settings(tmp_path, simulator, chains={"default": ["gpt"]})
    with ServerThread(settings) as server:
        response = httpx.post(
            f"{server.url}/v1/summarize", json=DEAL, headers={"Authorization": HEADERS["Authorization"]}
        )
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    assert response.headers["retry-after"] == str(round(settings.resilience.retry.max_delay_s))


def test_interactions_survive_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with ServerThread(settings) as server:
        body = httpx.post(
            f"{server.url}/v1/summarize", json=DEAL, headers={"Authorization": HEADERS["Authorization"]}
        ).json()
    interaction_id = body["meta"]["interaction_id"]
    with ServerThread(settings) as server:
        httpx.post(
            f"{server.url}/v1/summarize", json=DEAL, headers={"Authorization": HEADERS["Authorization"]}
        )
    records = {r["id"]: r for r in stored_interactions(settings)}
    assert len(records) == 2
    record = records[interaction_id]
    assert record["status"] == "completed" and record["prompt_version"] == "summarize.v1"
    assert record["record_id"] == "D-1001" and record["tenant"] == "acme" and record["output_tokens"] > 0
