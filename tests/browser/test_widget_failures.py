"""When things go wrong: backend down and back, providers failing, hostile model output."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ServerThread, make_settings

from browser.conftest import HostSite, PageErrors, artifact, events, open_panel, wait_answer, widget
from margin.testing.simulator import Scenario, SimulatorThread

with contextlib.suppress(ImportError):  # without it the browser fixture skips (or fails in CI)
    from playwright.sync_api import Page, Route, expect


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread() as sim:
        yield sim


def simulated_backend(tmp_path: Path, sim: SimulatorThread, chain: list[str]) -> ServerThread:
    """A backend whose model is the provider simulator (a local OpenAI-compatible server)."""
    gpu = {"kind": "openai_compatible", "model": "sim-llama", "base_url": sim.openai_base_url, "local": True}
    return ServerThread(make_settings(tmp_path, providers={"gpu": gpu}, chains={"default": chain}))


def test_backend_down_leaves_the_host_working_and_the_widget_recovers(
    page: Page, site: HostSite, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    server = ServerThread(settings).__enter__()
    page.goto(site.page("deal", server=server.url))
    expect(widget(page, "#t-summarize")).to_have_count(1)  # the feature list came in
    server.__exit__()

    open_panel(page)
    error = widget(page, "#p-summarize .err")
    expect(error).to_contain_text("Margin can't be reached")
    expect(error.get_by_role("button", name="Retry")).to_be_visible()
    assert events(page, "error")[0]["code"] == "offline"
    # The host page is unharmed: its own buttons and forms work.
    page.locator("#log-call").click()
    expect(page.locator("#timeline li.logged")).to_have_text("Call logged (1)")
    page.locator("#reply-body").fill("Hello Dana")
    page.locator("#send").click()
    expect(page.locator("#toast")).to_have_text("Sent: 10 characters")
    page.screenshot(path=artifact("widget-backend-down.png"))
    errors: PageErrors = page.errors  # type: ignore[attr-defined]
    errors.assert_clean()
    assert errors.network  # the refused connections, logged by the browser, not thrown

    with ServerThread(settings):  # back on the same port: the widget retries on its own
        expect(error).to_be_hidden(timeout=15_000)
        assert "Acme Corp platform renewal" in wait_answer(page)
    errors.assert_clean()


def test_backend_down_from_the_start_then_the_tabs_come_when_it_answers(
    page: Page, site: HostSite, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    server = ServerThread(settings)  # not started yet: GET /v1/features cannot connect
    page.goto(site.page("deal", server=server.url))
    open_panel(page)
    error = widget(page, ".boot .err")
    expect(error).to_contain_text("Margin can't be reached")
    expect(widget(page, "[role=tab]")).to_have_count(0)
    assert [(e["code"], e["feature"]) for e in events(page, "error")] == [("offline", None)]
    errors: PageErrors = page.errors  # type: ignore[attr-defined]
    errors.assert_clean()
    with server:  # the widget probes with back-off, then loads the tabs and runs the summary
        expect(error).to_be_hidden(timeout=15_000)
        expect(widget(page, "[role=tab]:visible")).to_have_text(["Summary", "Draft", "Ask"])
        assert "Acme Corp platform renewal" in wait_answer(page)
    errors.assert_clean()


def test_provider_down_then_fallback_notice_and_degraded_badge(
    page: Page, site: HostSite, tmp_path: Path, simulator: SimulatorThread
) -> None:
    simulator.default = Scenario(fault="unavailable")
    with simulated_backend(tmp_path / "a", simulator, ["gpu"]) as server:
        page.goto(site.page("deal", server=server.url))
        open_panel(page)
        wait_answer(page)
        expect(widget(page, "#p-summarize .err")).to_contain_text("The AI service is unavailable right now")
        assert events(page, "error")[-1]["code"] == "unavailable"
    with simulated_backend(tmp_path / "b", simulator, ["gpu", "offline"]) as server:
        page.goto(site.page("deal", server=server.url))
        open_panel(page)
        assert "Acme Corp platform renewal" in wait_answer(page)
        summary = widget(page, "#p-summarize")
        expect(summary.get_by_text("a backup took over")).to_be_visible()
        expect(summary.locator(".badge")).to_have_text("Degraded")
        assert [e["code"] for e in events(page, "error")] == []


def test_failure_mid_answer_restarts_on_offline_without_mixing_texts(
    page: Page, site: HostSite, tmp_path: Path, simulator: SimulatorThread
) -> None:
    partial = "PARTIAL-ANSWER-MARKER words that must not stay on screen"
    simulator.default = Scenario(
        text=partial + " and more", total_tokens=100, fault="drop", fault_after_tokens=4
    )
    with simulated_backend(tmp_path, simulator, ["gpu", "offline"]) as server:
        page.goto(site.page("deal", server=server.url))
        open_panel(page)
        text = wait_answer(page)
    assert "Acme Corp platform renewal" in text  # the offline provider started over
    assert "PARTIAL-ANSWER-MARKER" not in text  # what the failed provider sent was cleared
    assert [e["code"] for e in events(page, "error")] == []


def sse(*frames: dict[str, object]) -> str:
    events = (f"id: {i}\nevent: {f['type']}\ndata: {json.dumps(f)}\n\n" for i, f in enumerate(frames, 1))
    return ": heartbeat\n\n" + ": heartbeat\n\n".join(events)  # comments between events are skipped


META = {
    "type": "meta",
    "interaction_id": "0123abcd",
    "feature": "summarize",
    "provider": "gpt",
    "model": "gpt-x",
    "variant": "control",
    "degraded": False,
    "cached": False,
    "prompt_version": "summarize.v1",
}
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Expose-Headers": "Retry-After",  # else a cross-origin page cannot read it
}


def rejected(status: int, code: str, **headers: str) -> tuple[int, dict[str, str], str]:
    """An HTTP error response, as the backend writes it."""
    return status, headers, json.dumps({"status_code": status, "code": code, "detail": "…"})


def ended(*frames: dict[str, object]) -> tuple[int, dict[str, str], str]:
    """A 200 event stream: meta, then ``frames``."""
    return 200, {}, sse(META, *frames)


def failed(code: str, **extra: object) -> tuple[int, dict[str, str], str]:
    return ended({"type": "error", "code": code, "message": "(the server's words)", **extra})


FAILURES = {
    "rate-limited-event": (failed("rate_limited", retry_after=7), "Too many requests. Try again in 7 s."),
    "429": (rejected(429, "rate_limited", **{"Retry-After": "30"}), "Too many requests. Try again in 30 s."),
    "timeout-event": (failed("timeout"), "The AI service is unavailable right now"),
    "503": (rejected(503, "unavailable"), "The AI service is unavailable right now"),
    "host-timeout": (failed("host_timeout"), "Margin could not read this record from your app"),
    "filtered": (failed("content_filtered"), "blocked by the content filter"),
    "cut-short": (ended({"type": "delta", "text": "Half an ans"}), "The connection dropped"),
    "401": (rejected(401, "unauthorized"), "Your Margin session has expired"),
    "500": (rejected(500, "internal_error"), "Something went wrong in Margin"),
    "not-for-this-record": (rejected(422, "feature_unavailable"), "Not available for this record"),
    "quota": (rejected(429, "quota_exceeded"), "Your Margin usage limit is reached"),
    "sensitive-event": (failed("sensitive_data"), "no allowed AI service can take this record"),
    "unknown-code-event": (failed("brand_new_code"), "(the server's words)"),
}


@pytest.mark.parametrize("case", FAILURES)
def test_friendly_message_for_each_failure(page: Page, site: HostSite, case: str) -> None:
    (status, headers, body), message = FAILURES[case]

    def answer(route: Route) -> None:
        if route.request.method == "OPTIONS":
            route.fulfill(status=204, headers={**CORS, "Access-Control-Allow-Methods": "POST"})
        else:
            kind = "text/event-stream" if body.startswith(":") else "application/json"
            route.fulfill(status=status, headers={**CORS, **headers}, content_type=kind, body=body)

    page.route(re.compile(r"/v1/summarize$"), answer)
    page.goto(site.page("deal"))
    open_panel(page)
    wait_answer(page)
    error = widget(page, "#p-summarize .err")
    expect(error).to_contain_text(message)
    retry = error.get_by_role("button", name="Retry")
    if "Try again in" in message:  # Retry waits for Retry-After
        expect(retry).to_be_disabled()
    else:
        expect(retry).to_be_enabled()
    [reported] = events(page, "error")
    assert reported["message"] in error.inner_text() and reported["feature"] == "summarize"


HOSTILE = (
    "Here is <img src=x onerror=\"window.pwned='img'\"> and "
    "<script>window.pwned='script'</script> plus "
    "[a link](javascript:window.pwned='link') and [docs](https://example.com/docs) "
    "with **bold** `<b>code</b>`\n"
    "- <svg onload=\"window.pwned='svg'\"></svg>\n"
    "- [mail](mailto:ops@example.com) and [data](data:text/html,<script>window.pwned='data'</script>)"
)


def test_model_output_with_html_and_script_is_shown_as_text(
    page: Page, site: HostSite, tmp_path: Path, simulator: SimulatorThread
) -> None:
    simulator.default = Scenario(text=HOSTILE, total_tokens=1000)
    with simulated_backend(tmp_path, simulator, ["gpu"]) as server:
        page.goto(site.page("deal", server=server.url))
        open_panel(page)
        text = wait_answer(page)
    out = widget(page, "#p-summarize .md")
    assert "<img src=x onerror=" in text and "<script>window.pwned='script'</script>" in text
    assert "<svg onload=" in text
    assert out.locator("img, script, svg, iframe, b").count() == 0
    links = out.locator("a")
    assert links.evaluate_all("(as) => as.map((a) => a.href)") == [
        "https://example.com/docs",
        "mailto:ops@example.com",
    ]
    assert links.first.get_attribute("rel") == "noopener noreferrer"
    assert links.first.get_attribute("target") == "_blank"
    expect(out.locator("strong")).to_have_text("bold")
    expect(out.locator("code")).to_have_text("<b>code</b>")
    out.get_by_text("[a link](javascript:", exact=False).click()  # just text: clicking does nothing
    page.wait_for_timeout(200)
    assert page.evaluate("window.pwned") is None
