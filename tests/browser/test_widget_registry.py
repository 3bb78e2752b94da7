"""The panel is built from the backend's feature descriptors (``GET /v1/features``), any feature alike.

These tests answer ``GET /v1/features`` and the features' calls with Playwright routes: a
feature the widget has never heard of (a plugin's) gets its tab, its form and its result from
its descriptor alone.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ServerThread, make_settings
from plugin_packages import install_echo_feature

from browser.conftest import HostSite, artifact, events, open_panel, wait_answer, widget

with contextlib.suppress(ImportError):  # without it the browser fixture skips (or fails in CI)
    from playwright.sync_api import Page, Route, expect

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*"}


def text_input(name: str, label: str, required: bool, max_length: int | None) -> dict[str, Any]:
    return {
        "name": name,
        "type": "text",
        "label": label,
        "required": required,
        "max_length": max_length,
        "choices": [],
    }


def descriptor(name: str, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "path": f"/v1/{name}",
        "summary": title,
        "record": "required",
        "record_types": [],
        "auto_run": False,
        "result": None,
        "actions": [],
        "inputs": [],
        **extra,
    }


KINDS = [("follow_up_email", "Follow-up e-mail"), ("case_reply", "Reply to the customer")]
BUILT_IN = [
    descriptor("summarize", "Summary", auto_run=True, actions=["copy"]),
    descriptor(
        "draft",
        "Draft",
        actions=["insert", "copy"],
        inputs=[
            {
                "name": "kind",
                "type": "choice",
                "label": "Kind",
                "required": True,
                "max_length": None,
                "choices": [{"value": v, "label": label} for v, label in KINDS],
            },
            text_input("instruction", "Instruction", False, 2000),
        ],
    ),
    descriptor(
        "query",
        "Ask",
        record="optional",
        result="table",
        inputs=[text_input("question", "Question", True, 1000)],
    ),
    descriptor("triage", "Triage", record_types=["case"], result="triage", actions=["apply"]),
]
# A plugin's feature: nothing in margin.js knows its name, its inputs or its result's kind.
FORECAST = descriptor(
    "forecast",
    "Forecast",
    record="optional",
    record_types=["deal"],
    result="forecast",
    actions=["copy"],
    inputs=[
        {
            "name": "horizon",
            "type": "choice",
            "label": "Horizon",
            "required": True,
            "max_length": None,
            "choices": [{"value": "30d", "label": "30 days"}, {"value": "90d", "label": "90 days"}],
        },
        text_input("note", "Note", False, 200),
    ],
)
REASONS = {  # what a thumb may carry, as the server lists them
    "up": [{"value": "accurate", "label": "Accurate"}],
    "down": [
        {"value": "inaccurate", "label": "Inaccurate"},
        {"value": "wrong_numbers", "label": "Wrong numbers"},
    ],
}
META = {
    "type": "meta",
    "interaction_id": "fc0001",
    "feature": "forecast",
    "provider": "plugin",
    "model": "forecast-v2",
    "variant": "control",
    "degraded": False,
    "cached": False,
    "prompt_version": "forecast.v1",
}
HOSTILE = "<img src=x onerror=\"window.pwned='img'\">"
FORECAST_RESULT = {
    "type": "result",
    "kind": "forecast",
    "data": {
        "close_probability": 0.72,
        "close_by": "2030-09-30",
        "drivers": ["legal", "budget"],
        "risk": HOSTILE,
    },
}
DONE = {
    "type": "done",
    "usage": {"input_tokens": 10, "output_tokens": 5},
    "latency_ms": 120.0,
    "ttft_ms": 40.0,
    "cost_usd": 0,
}


def sse(*frames: dict[str, Any]) -> str:
    return "".join(f"event: {f['type']}\ndata: {json.dumps(f)}\n\n" for f in frames)


class FakeBackend:
    """Answers the widget's calls: the feature list, one feature's stream, feedback."""

    def __init__(self, page: Page, features: list[dict[str, Any]], stream: str) -> None:
        self.features = features
        self.stream = stream
        self.bodies: dict[str, list[Any]] = {}
        self.calls: list[str] = []
        page.route(re.compile(r"/v1/(features|forecast|feedback|summarize|triage)$"), self.answer)

    def answer(self, route: Route) -> None:
        request = route.request
        if request.method == "OPTIONS":
            route.fulfill(status=204, headers={**CORS, "Access-Control-Allow-Methods": "GET, POST"})
            return
        name = request.url.rsplit("/", 1)[1]
        self.calls.append(name)
        if name == "features":
            assert request.headers["authorization"].startswith("Bearer ")
            route.fulfill(
                headers=CORS,
                content_type="application/json",
                body=json.dumps({"features": self.features, "feedback_reasons": REASONS}),
            )
        elif name == "feedback":
            self.bodies.setdefault(name, []).append(request.post_data_json)
            route.fulfill(headers=CORS, content_type="application/json", body=request.post_data or "{}")
        else:
            self.bodies.setdefault(name, []).append(request.post_data_json)
            route.fulfill(headers=CORS, content_type="text/event-stream", body=self.stream)


def test_a_plugin_feature_gets_its_tab_form_and_generic_result_from_its_descriptor(
    page: Page, site: HostSite
) -> None:
    summary = sse({**META, "feature": "summarize"}, {"type": "delta", "text": "A summary."}, DONE)
    fake = FakeBackend(page, [*BUILT_IN, FORECAST], summary)
    page.goto(site.page("deal"))
    open_panel(page)
    # Server order; triage is for cases only, so a deal page has no Triage tab.
    expect(widget(page, "[role=tab]:visible")).to_have_text(["Summary", "Draft", "Ask", "Forecast"])
    assert wait_answer(page) == "A summary."
    assert fake.bodies["summarize"] == [{"record": {"type": "deal", "id": "D-1001"}}]

    fake.stream = sse(
        META, {"type": "delta", "text": "Likely to close **in Q3**. " + HOSTILE}, FORECAST_RESULT, DONE
    )
    widget(page).get_by_role("tab", name="Forecast").click()
    tab = widget(page, "#p-forecast")
    expect(tab.get_by_label("Horizon")).to_have_value("30d")
    assert tab.get_by_label("Horizon").locator("option").all_inner_texts() == ["30 days", "90 days"]
    expect(tab.get_by_label("Note (optional)")).to_have_attribute("maxlength", "200")
    tab.get_by_label("Horizon").select_option("90d")
    tab.get_by_role("button", name="Run").click()
    text = wait_answer(page, "forecast")
    assert fake.bodies["forecast"] == [
        {"record": {"type": "deal", "id": "D-1001"}, "horizon": "90d"}
    ]  # empty note left out
    assert text.startswith("Likely to close in Q3.") and HOSTILE in text
    expect(tab.locator(".md strong")).to_have_text("in Q3")
    terms = tab.locator("dl dt").all_inner_texts()
    assert terms == ["Close probability", "Close by", "Drivers", "Risk"]
    assert tab.locator("dl dd").all_inner_texts() == ["0.72", "2030-09-30", '["legal","budget"]', HOSTILE]
    assert tab.locator("img").count() == 0 and page.evaluate("window.pwned") is None  # text, never HTML
    expect(tab.get_by_role("button", name="Copy")).to_be_visible()  # its descriptor's action
    [answer] = [a for a in events(page, "answer") if a["feature"] == "forecast"]
    assert answer["result"] == FORECAST_RESULT["data"] and answer["meta"]["variant"] == "control"

    tab.get_by_role("button", name="Poor answer").click()
    expect(tab.get_by_text("Thanks for the feedback.")).to_be_visible()
    assert fake.bodies["feedback"][-1]["interaction_id"] == "fc0001"
    assert fake.bodies["feedback"][-1]["rating"] == "down"
    chips = tab.locator("[data-reason]")
    expect(chips).to_have_text(["Inaccurate", "Wrong numbers"])  # the server's reasons and labels
    tab.get_by_role("button", name="Wrong numbers").click()
    tab.get_by_role("button", name="Send").click()
    expect(chips).to_have_count(0)
    assert fake.bodies["feedback"][-1]["reasons"] == ["wrong_numbers"]
    page.screenshot(path=artifact("widget-plugin-feature.png"))

    tab.get_by_label("Note (optional)").fill("  after the board meeting ")
    tab.get_by_role("button", name="Run").click()
    wait_answer(page, "forecast")
    assert fake.bodies["forecast"][-1]["note"] == "after the board meeting"
    assert fake.calls.count("features") == 1  # fetched once per mount, then cached


def test_the_features_option_filters_and_orders_and_tabs_follow_the_record_type(
    page: Page, site: HostSite
) -> None:
    FakeBackend(page, [*BUILT_IN, FORECAST], sse(META, DONE))
    page.goto(site.page("deal", widget="0"))
    page.add_script_tag(url=site.widget_src(site.server_url))
    page.evaluate(
        """(server) => Margin.mount({server, token: "t", record: {type: "case", id: "C-2001"},
            features: ["triage", "nope", "forecast", "draft"], open: true})""",
        site.server_url,
    )
    tabs = widget(page, "[role=tab]:visible")
    expect(tabs).to_have_text(["Triage", "Draft"])  # forecast is for deals; unknown names are ignored
    expect(widget(page, "#p-triage")).to_be_visible()
    expect(widget(page, "#p-triage").get_by_role("button", name="Suggest")).to_be_visible()  # no inputs
    expect(widget(page, "#p-draft").get_by_label("Kind", exact=True)).to_have_value(
        "case_reply"
    )  # for a case
    page.evaluate("Margin.setRecord({type: 'deal', id: 'D-1001'})")
    expect(tabs).to_have_text(["Forecast", "Draft"])
    expect(widget(page, "#p-forecast")).to_be_visible()  # the selected tab went: the first one left
    expect(widget(page, "#p-draft").get_by_label("Kind", exact=True)).to_have_value("follow_up_email")
    page.evaluate("Margin.setRecord(null)")
    expect(tabs).to_have_text(["Draft"])
    widget(page, "#p-draft").get_by_role("button", name="Write draft").click()
    expect(widget(page, "#p-draft")).to_contain_text("Open a record to use this.")
    assert events(page, "error") == []


def test_the_feature_list_failing_shows_a_friendly_message_and_retry(page: Page, site: HostSite) -> None:
    statuses = [401, 503]

    def answer(route: Route) -> None:
        if route.request.method == "OPTIONS":
            route.fulfill(status=204, headers={**CORS, "Access-Control-Allow-Methods": "GET"})
            return
        if statuses:
            status = statuses.pop(0)
            code = {401: "unauthorized", 503: "unavailable"}[status]
            body = json.dumps({"status_code": status, "code": code, "detail": "…"})
            route.fulfill(status=status, headers=CORS, content_type="application/json", body=body)
        else:
            route.fulfill(
                headers=CORS, content_type="application/json", body=json.dumps({"features": BUILT_IN})
            )

    page.route(re.compile(r"/v1/features$"), answer)
    page.goto(site.page("deal"))
    open_panel(page)
    error = widget(page, ".boot .err")
    expect(error).to_contain_text("Your Margin session has expired")
    expect(widget(page, "[role=tab]")).to_have_count(0)
    assert [(e["code"], e["feature"]) for e in events(page, "error")] == [("unauthorized", None)]
    error.get_by_role("button", name="Retry").click()
    expect(error).to_contain_text("The AI service is unavailable right now")
    error.get_by_role("button", name="Retry").click()
    expect(error).to_be_hidden()
    expect(widget(page, "[role=tab]")).to_have_text(["Summary", "Draft", "Ask", "Triage"])
    expect(widget(page, "[role=tab]:visible")).to_have_count(3)
    assert "Acme Corp platform renewal" in wait_answer(page)  # the summary runs once the tabs are in
    assert [e["code"] for e in events(page, "error")] == ["unauthorized", "unavailable"]


def test_a_feature_from_an_installed_package_gets_its_tab_in_the_widget(
    page: Page, site: HostSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No route faking here: a real package with a ``margin.features`` entry point, a real server."""
    install_echo_feature(tmp_path / "site", monkeypatch)
    with ServerThread(make_settings(tmp_path)) as server:
        page.goto(site.page("deal", server=server.url))
        open_panel(page)
        expect(widget(page, "[role=tab]:visible")).to_have_text(["Summary", "Draft", "Ask", "Echo"])
        widget(page).get_by_role("tab", name="Echo").click()
        tab = widget(page, "#p-echo")
        tab.get_by_label("Phrase").fill("hello there")
        tab.get_by_label("Tone (optional)").select_option("loud")
        tab.get_by_role("button", name="Run").click()
        assert wait_answer(page, "echo") == "You said: HELLO THERE"
        [answer] = [a for a in events(page, "answer") if a["feature"] == "echo"]
        assert answer["meta"]["provider"] == "offline" and answer["meta"]["variant"] == "control"
