"""Plain-language questions answered through a model's structured output (JSON plan), not SQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ServerThread, make_settings, token_for
from helpers import events_of

from margin.adapters import QueryPlan
from margin.features.base import strict_json_schema
from margin.testing.simulator import Scenario, SimulatorThread

HEADERS = {"Authorization": f"Bearer {token_for()}", "Accept": "text/event-stream"}


def plan(spec: dict[str, Any] | None, unanswerable: str | None = None) -> str:
    return json.dumps({"spec": spec, "unanswerable": unanswerable})


BIG_DEALS = {
    "record_type": "deal",
    "filters": [{"field": "amount", "op": ">", "value": 100000}],
    "sort": [{"field": "amount", "direction": "desc"}],
    "limit": 5,
    "group_by": None,
    "aggregate": None,
}


def ask(tmp_path: Path, sim: SimulatorThread, question: str, kind: str = "openai") -> list[Any]:
    provider = {"kind": kind, "model": "m", "api_key": "k"}
    provider["base_url"] = sim.openai_base_url if kind == "openai" else sim.anthropic_base_url
    settings = make_settings(tmp_path, providers={"llm": provider}, chains={"default": ["llm", "offline"]})
    with ServerThread(settings) as server:
        response = httpx.post(f"{server.url}/v1/query", json={"question": question}, headers=HEADERS)
    return events_of(response.text)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_model_plan_runs_against_the_adapter(tmp_path: Path, simulator: SimulatorThread, kind: str) -> None:
    simulator.default = Scenario(text=plan(BIG_DEALS), total_tokens=10_000)
    events = ask(tmp_path, simulator, "our five biggest deals over 100k", kind)
    assert [e.data["provider"] for e in events if e.event == "meta"] == ["llm"]
    result = next(e.data["data"] for e in events if e.event == "result" and e.data["kind"] == "table")
    amounts = [row[result["columns"].index("amount")] for row in result["rows"]]
    assert 0 < len(amounts) <= 5 and amounts == sorted(amounts, reverse=True) and min(amounts) > 100000
    assert events[-1].event == "done"
    body = simulator.requests[0].body
    if kind == "openai":
        assert body["response_format"]["json_schema"]["schema"] == strict_json_schema(QueryPlan)
        assert body["response_format"]["json_schema"]["strict"] is True
    else:
        assert body["tool_choice"]["type"] == "tool"
    assert "SELECT" not in json.dumps(body)  # the model is never asked for SQL


def test_strict_schema_requires_every_property() -> None:
    for definition in [strict_json_schema(QueryPlan), *strict_json_schema(QueryPlan)["$defs"].values()]:
        assert definition["additionalProperties"] is False
        assert sorted(definition["required"]) == sorted(definition["properties"])
        assert all("default" not in prop for prop in definition["properties"].values())


def test_plan_naming_an_undeclared_field_is_refused(tmp_path: Path, simulator: SimulatorThread) -> None:
    spec = {**BIG_DEALS, "filters": [{"field": "password_hash", "op": "=", "value": "x"}]}
    simulator.default = Scenario(text=plan(spec), total_tokens=10_000)
    events = ask(tmp_path, simulator, "deals by password")
    assert not [e for e in events if e.event == "result"]
    text = "".join(e.data["text"] for e in events if e.event == "delta")
    assert "couldn't turn that into a query" in text and "password_hash" in text


def test_model_that_says_unanswerable_is_shown_as_is(tmp_path: Path, simulator: SimulatorThread) -> None:
    simulator.default = Scenario(
        text=plan(None, "I can only answer questions about deals."), total_tokens=10_000
    )
    events = ask(tmp_path, simulator, "what is the weather")
    assert "I can only answer questions about deals." in "".join(
        e.data["text"] for e in events if e.event == "delta"
    )


def test_invalid_plan_hands_over_to_the_offline_parser(tmp_path: Path, simulator: SimulatorThread) -> None:
    simulator.default = Scenario(text="SELECT * FROM deals", total_tokens=10_000)
    events = ask(tmp_path, simulator, "deals over $100,000, largest first")
    assert [e.data["provider"] for e in events if e.event == "meta"] == ["llm", "offline"]
    result = next(e.data["data"] for e in events if e.event == "result" and e.data["kind"] == "table")
    assert result["total"] > 0
