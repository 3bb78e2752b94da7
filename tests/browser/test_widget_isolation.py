"""The host and the widget leave each other alone: hostile host CSS, host layout, a strict CSP."""

from __future__ import annotations

import contextlib

from browser.conftest import HostSite, artifact, open_panel, wait_answer, widget

with contextlib.suppress(ImportError):  # without it the browser fixture skips (or fails in CI)
    from playwright.sync_api import Page, expect

HOSTILE_CSS = """
* { all: unset !important; }
div { display: none !important; }
html { font-size: 64px !important; }
body { font-size: 48px !important; line-height: 3 !important; letter-spacing: 6px !important; }
section, button, span, p, ul, li, table, h2, h4 { font-size: 40px !important; color: red !important; }
"""
HOST_PARTS = [".topbar", ".sidebar", "main", "h1", "#facts", "#activity", "#timeline", "#reply-body", "#send"]


def test_hostile_host_css_does_not_break_the_panel(page: Page, site: HostSite) -> None:
    page.goto(site.page("deal"))
    page.add_style_tag(content=HOSTILE_CSS)
    open_panel(page)
    assert "Acme Corp platform renewal" in wait_answer(page)
    panel = widget(page, ".panel").bounding_box()
    assert panel == {"x": 1280 - 400, "y": 0, "width": 400, "height": 800}
    style = widget(page, "#p-summarize .md").evaluate(
        "(el) => ['fontSize', 'color', 'letterSpacing', 'display'].map((k) => getComputedStyle(el)[k])"
    )
    assert style == ["14px", "rgb(31, 35, 40)", "normal", "block"]
    for name in ("Summary", "Draft", "Ask"):
        tab = widget(page).get_by_role("tab", name=name).bounding_box()
        assert tab is not None and 20 < tab["height"] < 50 and tab["x"] >= 880
    widget(page).get_by_role("tab", name="Ask").click()
    expect(widget(page, "#p-query").get_by_label("Question")).to_be_visible()
    page.screenshot(path=artifact("widget-hostile-css.png"))


def boxes(page: Page) -> dict[str, object]:
    parts = {sel: page.locator(sel).bounding_box() for sel in HOST_PARTS}
    parts["scroll"] = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    parts["body"] = page.evaluate(
        "[getComputedStyle(document.body).font, getComputedStyle(document.body).margin]"
    )
    return parts


def test_the_widget_does_not_change_the_host_layout(page: Page, site: HostSite) -> None:
    page.goto(site.page("deal", widget="0"))
    without = boxes(page)
    page.goto(site.page("deal"))
    open_panel(page)
    wait_answer(page)
    assert boxes(page) == without
    assert page.locator("margin-sidebar").bounding_box() in (None, {"x": 0, "y": 0, "width": 0, "height": 0})
    widget(page).get_by_role("button", name="Close").click()
    assert boxes(page) == without


def test_works_under_a_strict_content_security_policy(page: Page, site: HostSite) -> None:
    page.goto(site.page("deal", csp="1"))
    open_panel(page)
    assert "Acme Corp platform renewal" in wait_answer(page)
    expect(widget(page, ".launch")).to_be_hidden()
    radius = widget(page, ".panel").evaluate("(el) => getComputedStyle(el).position")
    assert radius == "fixed"  # the shadow root's styles applied
    assert page.evaluate("window.__csp") == []
