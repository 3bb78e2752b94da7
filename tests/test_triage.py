"""Triage: category, priority and tags from declared lists, offline and through a model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ServerThread, make_settings, token_for
from helpers import events_of

from margin.adapters import FieldValue, RecordContext, RecordRef, TimelineEntry
from margin.demo import CASE_TRIAGE
from margin.features.triage_rules import TriageLists, suggest
from margin.testing.simulator import Scenario, SimulatorThread

MANAGER = {"Authorization": f"Bearer {token_for(roles=('manager',))}", "Accept": "text/event-stream"}
CASE = {"record": {"type": "case", "id": "C-2001"}}


def triage_result(events: list[Any]) -> dict[str, Any]:
    return next(e.data["data"] for e in events if e.event == "result" and e.data["kind"] == "triage")


def test_offline_triage_explains_each_suggestion(server: ServerThread) -> None:
    events = events_of(httpx.post(f"{server.url}/v1/triage", json=CASE, headers=MANAGER).text)
    assert events[0].event == "meta" and events[-1].event == "done"
    assert events[0].data["degraded"] is True and events[0].data["prompt_version"] == "triage.v1"
    result = triage_result(events)
    # C-2001: "Exporting the October invoices to CSV fails after about a minute with a timeout error."
    assert result["category"]["value"] in CASE_TRIAGE["categories"]
    assert "“" in result["category"]["reason"]  # it quotes the words that led to it
    assert result["priority"]["value"] in CASE_TRIAGE["priorities"]
    assert {"invoice", "export"} <= {tag["value"] for tag in result["tags"]}
    assert all(item["reason"] for item in [result["category"], result["priority"], *result["tags"]])
    text = "".join(e.data["text"] for e in events if e.event == "delta")
    assert text.startswith("Suggested: category ")


def test_triage_of_a_deal_is_unavailable(server: ServerThread) -> None:
    body = {"record": {"type": "deal", "id": "D-1001"}}
    response = httpx.post(
        f"{server.url}/v1/triage", json=body, headers={"Authorization": MANAGER["Authorization"]}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "feature_unavailable" and "'deal'" in response.json()["detail"]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_model_triages_through_structured_output(
    tmp_path: Path, simulator: SimulatorThread, kind: str
) -> None:
    answer = {
        "category": {"value": "performance", "reason": "The export times out."},
        "priority": {"value": "high", "reason": "Month-end close is blocked."},
        "tags": [
            {"value": "export", "reason": "Invoice export."},
            {"value": "made-up-tag", "reason": "Not in the list: dropped."},
        ],
    }
    simulator.default = Scenario(text=json.dumps(answer), total_tokens=10_000)
    base_url = simulator.openai_base_url if kind == "openai" else simulator.anthropic_base_url
    provider = {"kind": kind, "model": "m", "api_key": "k", "base_url": base_url, "local": True}
    settings = make_settings(tmp_path, providers={"llm": provider}, chains={"default": ["llm", "offline"]})
    with ServerThread(settings) as server:
        events = events_of(httpx.post(f"{server.url}/v1/triage", json=CASE, headers=MANAGER).text)
    assert [e.data["provider"] for e in events if e.event == "meta"] == ["llm"]
    result = triage_result(events)
    assert result["category"] == answer["category"] and result["priority"] == answer["priority"]
    assert [tag["value"] for tag in result["tags"]] == ["export"]
    request = simulator.requests[0].body
    schema_text = json.dumps(request)
    assert '"enum": ["billing", "bug", "how_to"' in schema_text  # the declared lists reach the model
    assert "made-up-tag" not in json.dumps(triage_result(events))


def test_an_answer_that_breaks_the_schema_hands_over_to_offline(
    tmp_path: Path, simulator: SimulatorThread
) -> None:
    simulator.default = Scenario(text='{"category": "billing"}', total_tokens=10_000)
    provider = {
        "kind": "openai",
        "model": "m",
        "api_key": "k",
        "base_url": simulator.openai_base_url,
        "local": True,
    }
    settings = make_settings(tmp_path, providers={"llm": provider}, chains={"default": ["llm", "offline"]})
    with ServerThread(settings) as server:
        events = events_of(httpx.post(f"{server.url}/v1/triage", json=CASE, headers=MANAGER).text)
    assert [e.data["provider"] for e in events if e.event == "meta"] == ["llm", "offline"]
    assert triage_result(events)["category"] is not None and events[-1].event == "done"


def test_thumbs_on_a_triage_answer(server: ServerThread) -> None:
    events = events_of(httpx.post(f"{server.url}/v1/triage", json=CASE, headers=MANAGER).text)
    interaction_id = events[0].data["interaction_id"]
    vote = {"interaction_id": interaction_id, "rating": "up"}
    response = httpx.post(
        f"{server.url}/v1/feedback", json=vote, headers={"Authorization": MANAGER["Authorization"]}
    )
    assert response.status_code == 201, response.text


def test_priorities_come_from_the_adapters_enum_field_when_not_configured(tmp_path: Path) -> None:
    lists = {"categories": ["billing", "bug"], "tags": ["invoice"]}
    settings = make_settings(tmp_path, features={"triage": {"record_types": {"case": lists}}})
    with ServerThread(settings) as server:
        events = events_of(httpx.post(f"{server.url}/v1/triage", json=CASE, headers=MANAGER).text)
    result = triage_result(events)
    assert result["priority"]["value"] in ("low", "normal", "high", "urgent")  # the demo API's priority enum
    assert result["category"]["value"] in ("billing", "bug")


def case(title: str, *comments: str, tier: str = "business") -> RecordContext:
    at = datetime(2026, 11, 16, tzinfo=UTC)
    return RecordContext(
        ref=RecordRef("case", "C-1"),
        title=title,
        version="1",
        fields=(FieldValue("customer_tier", "Tier", tier),),
        timeline=tuple(TimelineEntry(at, "customer", "comment", text) for text in comments),
    )


LISTS = TriageLists(
    categories=("billing", "bug", "how_to", "account"),
    priorities=("low", "normal", "high", "urgent"),
    tags=("invoice", "sso", "refund"),
    keywords={"refund": ("money back",)},
)


@pytest.mark.parametrize(
    ("record", "category", "priority", "tags"),
    [
        (
            case("Charged twice", "I was charged twice on my invoice, I want my money back."),
            "billing",
            "normal",
            ["invoice", "refund"],
        ),
        (
            case("Login loop", "SSO login is broken for all users, production is down!"),
            "account",
            "urgent",
            ["sso"],
        ),
        (case("Question", "How do I export a report? No rush, just wondering."), "how_to", "low", []),
        (case("Crash", "The app crashes with an error.", tier="enterprise"), "bug", "high", []),
        (case("Hello", "Hi there."), "billing", "normal", []),
    ],
)
def test_offline_rules(record: RecordContext, category: str, priority: str, tags: list[str]) -> None:
    answer = suggest(record, LISTS)
    assert answer.category is not None and answer.priority is not None
    assert (answer.category.value, answer.priority.value, [t.value for t in answer.tags]) == (
        category,
        priority,
        tags,
    )


def test_offline_rules_without_lists_suggest_nothing() -> None:
    answer = suggest(case("Crash", "error"), TriageLists())
    assert (answer.category, answer.priority, answer.tags) == (None, None, ())
