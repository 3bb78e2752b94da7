"""The panel's features against a real backend: streaming, Stop, drafts, queries, feedback, SPA hosts."""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

import httpx
from conftest import ServerThread, token_for
from helpers import stored_interactions

from browser.conftest import TENANT, HostSite, artifact, events, open_panel, settle, wait_answer, widget

with contextlib.suppress(ImportError):  # without it the browser fixture skips (or fails in CI)
    from playwright.sync_api import Page, expect

# Every text the summary shows, as the browser paints it, stamped with the time.
WATCH_SUMMARY = """() => {
  const out = document.querySelector("margin-sidebar").shadowRoot.querySelector("#p-summarize .md");
  window.__texts = [];
  new MutationObserver(() => window.__texts.push([performance.now(), out.textContent]))
    .observe(out, {childList: true, subtree: true, characterData: true});
  window.addEventListener("margin:answer", () => window.__doneAt = performance.now());
}"""


def last_answer(page: Page, feature: str) -> dict[str, Any]:
    answer: dict[str, Any] = [a for a in events(page, "answer") if a["feature"] == feature][-1]
    return answer


def test_summary_streams_on_open_through_many_partial_texts(
    page: Page, site: HostSite, slow_backend: ServerThread
) -> None:
    page.goto(site.page("deal", server=slow_backend.url))
    expect(widget(page, "#p-summarize")).to_have_count(1)  # mounted, its tabs from GET /v1/features
    page.evaluate(WATCH_SUMMARY)
    open_panel(page)
    final = wait_answer(page)
    texts, done_at = page.evaluate("[window.__texts, window.__doneAt]")
    partial = [text for at, text in texts if at < done_at and text]
    distinct = list(dict.fromkeys(partial))
    assert len(distinct) >= 5, distinct  # painted token by token, not all at once
    assert [len(t) for t in distinct] == sorted(len(t) for t in distinct)  # it only grows
    assert len(distinct[0]) < len(final) / 3
    assert "Acme Corp platform renewal" in final
    [answer] = events(page, "answer")
    assert answer["meta"]["degraded"] is True and answer["done"]["latency_ms"] > 0
    expect(widget(page, "#p-summarize .badge")).to_have_text("Degraded")


def test_stop_mid_stream_stops_the_text_and_cancels_the_request(
    page: Page, site: HostSite, slow_backend: ServerThread
) -> None:
    page.goto(site.page("deal", server=slow_backend.url))
    open_panel(page)
    out = widget(page, "#p-summarize .md")
    page.wait_for_function(
        "() => document.querySelector('margin-sidebar').shadowRoot"
        ".querySelector('#p-summarize .md').textContent.length > 30"
    )
    widget(page, "#p-summarize").get_by_role("button", name="Stop").click()
    expect(out).to_have_attribute("aria-busy", "false")
    stopped = out.inner_text()
    page.wait_for_timeout(500)
    assert out.inner_text() == stopped and "Last activity" not in stopped
    expect(widget(page, "#p-summarize").get_by_text("Stopped.")).to_be_visible()
    focused = "document.querySelector('margin-sidebar').shadowRoot.activeElement.textContent"
    assert page.evaluate(focused) == "Summarize again"  # Stop hid itself; focus stayed close by
    deadline = time.monotonic() + 5
    while not stored_interactions(slow_backend.settings) and time.monotonic() < deadline:
        time.sleep(0.05)
    [interaction] = stored_interactions(slow_backend.settings)
    assert interaction["status"] == "cancelled" and interaction["feature"] == "summarize"


def test_a_draft_is_inserted_into_the_host_reply_box(page: Page, site: HostSite) -> None:
    page.goto(site.page("deal"))
    open_panel(page)
    widget(page).get_by_role("tab", name="Draft").click()
    draft_tab = widget(page, "#p-draft")
    expect(draft_tab.get_by_label("Kind")).to_have_value("follow_up_email")  # chosen for a deal
    draft_tab.get_by_label("Instruction (optional)").fill("Offer a call on Thursday about the order form.")
    draft_tab.get_by_role("button", name="Write draft").click()
    text = wait_answer(page, "draft")
    assert "Offer a call on Thursday" in text
    draft_tab.get_by_role("button", name="Insert").click()
    reply = page.locator("#reply-body")
    draft = last_answer(page, "draft")["text"]
    expect(reply).to_have_value(draft)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    draft_tab.get_by_role("button", name="Copy").click()
    expect(widget(page, ".sr")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == draft
    expect(page.locator("#counter")).not_to_have_text("0 characters")  # the host saw an input event
    [inserted] = events(page, "draft-insert")
    assert inserted["record"] == {"type": "deal", "id": "D-1001"} and inserted["kind"] == "follow_up_email"
    page.locator("#send").click()  # the host's own form still does its job
    expect(page.locator("#toast")).to_contain_text("Sent:")


def test_a_question_shows_a_table_with_rows(page: Page, site: HostSite) -> None:
    page.goto(site.page("deal"))
    open_panel(page)
    widget(page).get_by_role("tab", name="Ask").click()
    ask = widget(page, "#p-query")
    expect(ask.get_by_label("Question")).to_have_attribute("maxlength", "1000")  # the server's limit
    ask.get_by_label("Question").fill("open deals over $40,000, largest first")
    ask.get_by_label("Question").press("Enter")
    narrative = wait_answer(page, "query")
    assert "Open deals over $40,000" in narrative
    table = ask.locator("table")
    expect(table.locator("caption")).to_have_text(re.compile("Open deals over"))
    headers = table.locator("th").all_inner_texts()
    assert "Amount" in headers and "Title" in headers
    rows = table.locator("tbody tr")
    assert rows.count() >= 2
    amounts = [
        int(re.sub(r"\D", "", cell))
        for cell in table.locator(f"tbody td:nth-child({headers.index('Amount') + 1})").all_inner_texts()
    ]
    assert amounts == sorted(amounts, reverse=True) and min(amounts) > 40_000
    assert "false" not in ask.inner_text() and "null" not in ask.inner_text()  # no stray values
    page.screenshot(path=artifact("widget-deal-ask.png"))


def test_thumbs_up_with_a_reason_is_stored_in_the_backend(
    page: Page, site: HostSite, backend: ServerThread
) -> None:
    page.goto(site.page("deal"))
    open_panel(page)
    wait_answer(page)
    interaction_id = last_answer(page, "summarize")["meta"]["interaction_id"]
    summary = widget(page, "#p-summarize")
    summary.get_by_role("button", name="Good answer").click()
    expect(summary.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("window.__events.filter((e) => e.name === 'feedback').length === 1")
    headers = {"Authorization": f"Bearer {token_for(TENANT)}"}
    stored = httpx.get(f"{backend.url}/v1/feedback/{interaction_id}", headers=headers).json()
    assert stored["rating"] == "up" and stored["reasons"] == []
    summary.get_by_role("button", name="Saved time").click()
    summary.get_by_label("Comment (optional)").fill("Exactly what I needed before the call.")
    summary.get_by_role("button", name="Send").click()
    expect(summary.get_by_text("Thanks for the feedback.")).to_be_visible()
    stored = httpx.get(f"{backend.url}/v1/feedback/{interaction_id}", headers=headers).json()
    assert stored["rating"] == "up" and stored["reasons"] == ["saved_time"]
    assert stored["comment"] == "Exactly what I needed before the call."


def test_single_page_host_get_token_again_set_record_and_on_insert_draft(page: Page, site: HostSite) -> None:
    site.bad_tokens, site.token_calls = 1, 0  # the first token the host hands out has expired
    page.goto(site.page("spa"))
    open_panel(page)
    assert "Acme Corp platform renewal" in wait_answer(page)
    assert site.token_calls == 2  # Margin answered 401, the widget asked getToken again
    assert events(page, "error") == []

    page.get_by_role("link", name="D-1038 Northwind Traders").click()
    expect(widget(page, ".rec")).to_have_text("deal D-1038")
    assert "Northwind Traders" in wait_answer(page)

    page.get_by_role("link", name="D-1002 Globex support seats").click()  # another rep's deal
    wait_answer(page)
    expect(widget(page, "#p-summarize .err")).to_contain_text("You don't have access to this record")
    assert events(page, "error")[-1]["code"] == "forbidden"

    page.get_by_role("link", name="D-9999 (deleted deal)").click()
    wait_answer(page)
    expect(widget(page, "#p-summarize .err")).to_contain_text("could not find this record")
    assert events(page, "error")[-1]["code"] == "record_not_found"

    page.get_by_role("link", name="D-1001 Acme Corp platform renewal").click()
    widget(page).get_by_role("tab", name="Draft").click()
    widget(page, "#p-draft").get_by_role("button", name="Write draft").click()
    wait_answer(page, "draft")
    widget(page, "#p-draft").get_by_role("button", name="Insert").click()
    expect(page.locator("#reply-body")).to_have_value(last_answer(page, "draft")["text"])


def test_only_one_global_and_unmount_removes_everything(page: Page, site: HostSite) -> None:
    page.goto(site.page("deal", widget="0"))
    before = set(page.evaluate("Object.keys(window)"))
    page.goto(site.page("deal"))
    page.wait_for_function("window.__events.some((e) => e.name === 'mount')")
    added = set(page.evaluate("Object.keys(window)")) - before
    assert added == {"Margin"}
    assert page.evaluate("Object.isFrozen(window.Margin)")
    open_panel(page)
    page.wait_for_function("window.__events.some((e) => e.name === 'open')")
    page.evaluate("window.Margin.unmount()")  # mid-stream
    page.wait_for_timeout(300)
    assert events(page, "error") == [] and events(page, "answer") == []
    expect(page.locator("margin-sidebar")).to_have_count(0)
    page.keyboard.press("Alt+Shift+M")  # the shortcut listener went with it
    assert page.evaluate("window.Margin.isOpen()") is False
    page.evaluate("window.Margin.mount({record: {type: 'deal'}})")  # bad input: reported, not thrown
    assert events(page, "error")[-1]["code"] == "invalid_request"


def test_mount_options_position_theme_locale_features(
    page: Page, site: HostSite, backend: ServerThread
) -> None:
    page.goto(site.page("deal", widget="0"))
    page.add_script_tag(url=site.widget_src(backend.url))
    page.evaluate(
        """([server, token]) => Margin.mount({server, token, record: {type: "deal", id: "D-1001"},
            position: "left", theme: "dark", locale: "fr-CA", features: ["query", "draft"],
            shortcut: "Ctrl+Shift+K", open: true})""",
        [backend.url, token_for(TENANT)],
    )
    settle(page)
    assert widget(page, ".panel").bounding_box() == {"x": 0, "y": 0, "width": 400, "height": 800}
    expect(widget(page, "[role=tab]")).to_have_text(["Question", "Brouillon"])  # the server's, filtered
    expect(widget(page, "#p-query").get_by_role("button", name="Demander")).to_be_visible()
    assert widget(page, ".root").evaluate("(el) => el.classList.contains('dark')")
    page.add_style_tag(content="margin-sidebar { --margin-accent-dark: #ffb86b; }")  # host theming
    selected = widget(page, "[aria-selected=true]")
    assert selected.evaluate("(el) => getComputedStyle(el).borderBottomColor") == "rgb(255, 184, 107)"
    assert events(page, "answer") == []  # no Summary tab, so nothing ran on open
    page.keyboard.press("Control+Shift+K")
    expect(widget(page, ".panel")).to_be_hidden()
    expect(widget(page, ".launch")).to_have_attribute(
        "aria-label", "Ouvrir l'assistant Margin (Ctrl+Shift+K)"
    )
