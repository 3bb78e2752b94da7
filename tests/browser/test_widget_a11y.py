"""Accessibility and looks: keyboard only, contrast in both themes, reduced motion, French, screenshots."""

from __future__ import annotations

import contextlib

import pytest

from browser.conftest import HostSite, artifact, open_panel, wait_answer, widget

with contextlib.suppress(ImportError):  # without it the browser fixture skips (or fails in CI)
    from playwright.sync_api import Page, expect

# What has focus: "host:<id>" for a host element, else the widget control's id, label or text.
FOCUSED = """() => {
  const host = document.querySelector("margin-sidebar");
  const active = document.activeElement;
  if (active !== host) return "host:" + (active && active.id);
  const el = host.shadowRoot.activeElement;
  return el.id || el.getAttribute("aria-label") || el.textContent.trim();
}"""
# Every visible control in the open panel, named the same way.
CONTROLS = """() => [...document.querySelector("margin-sidebar").shadowRoot.querySelectorAll(
    ".panel button, .panel input, .panel select, .panel textarea, .panel [tabindex='0']")]
  .filter((el) => el.checkVisibility())
  .map((el) => el.id || el.getAttribute("aria-label") || el.textContent.trim())"""


def tab_through(page: Page) -> list[str]:
    """Press Tab until focus leaves the widget; the controls it visited, in order."""
    seen = [page.evaluate(FOCUSED)]
    for _ in range(40):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        if now.startswith("host:"):
            return seen
        seen.append(now)
    raise AssertionError(f"focus never left the panel: {seen}")


def test_keyboard_only(page: Page, site: HostSite) -> None:
    page.goto(site.page("deal"))
    expect(widget(page, "#t-summarize")).to_have_count(1)  # mounted, the feature list in
    page.locator("#reply-subject").focus()
    page.keyboard.press("Alt+Shift+M")
    expect(widget(page, ".panel")).to_be_visible()
    assert page.evaluate(FOCUSED) == "t-summarize"  # focus moved into the panel
    wait_answer(page)  # the summary streamed on open

    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED) == "Close"
    page.keyboard.press("Tab")
    visited = tab_through(page)
    assert set(page.evaluate(CONTROLS)) == {"Close", *visited}
    assert visited[:4] == ["t-summarize", "t-draft", "t-query", "Summarize again"]
    assert "Good answer" in visited and "Poor answer" in visited

    for key, panel, expected in [
        ("ArrowRight", "draft", {"i-draft-kind", "i-draft-instruction", "Write draft"}),
        ("End", "query", {"i-query-question", "Ask"}),  # triage is for cases: no tab on a deal
    ]:
        for _ in visited:  # Shift+Tab back to the selected tab
            page.keyboard.press("Shift+Tab")
        assert page.evaluate(FOCUSED) == visited[0]
        page.keyboard.press(key)  # arrow keys, Home and End move along the tabs
        expect(widget(page, f"#p-{panel}")).to_be_visible()
        visited = tab_through(page)
        assert visited[0] == f"t-{panel}" and expected <= set(visited)
        assert set(page.evaluate(CONTROLS)) <= {"Close", "t-summarize", "t-draft", *visited}

    for _ in visited:
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Home")  # back to Summary, then run it again from the keyboard
    assert page.evaluate(FOCUSED) == "t-summarize"
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "Summarize again"
    page.keyboard.press("Enter")
    expect(widget(page, "#p-summarize .md")).to_have_attribute("aria-busy", "true")
    assert "Acme Corp platform renewal" in wait_answer(page)
    expect(widget(page, ".sr")).to_have_text("Answer complete.")  # the polite live region

    page.keyboard.press("Escape")
    expect(widget(page, ".panel")).to_be_hidden()
    assert page.evaluate(FOCUSED) == "host:reply-subject"  # focus is back where it was
    page.keyboard.press("Alt+Shift+M")
    expect(widget(page, ".panel")).to_be_visible()
    page.keyboard.press("Alt+Shift+M")
    expect(widget(page, ".panel")).to_be_hidden()


# WCAG contrast of every visible text in the panel against its effective background.
CONTRAST = """() => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = (c) => { const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const back = (el) => { for (let e = el; e; e = e.parentElement || e.getRootNode().host) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c;
  } return [255, 255, 255]; };
  const ratio = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
  const root = document.querySelector("margin-sidebar").shadowRoot;
  const found = [];
  for (const el of root.querySelectorAll(".panel *")) {
    if (el.disabled || !el.checkVisibility()) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.data.trim());
    const placeholder = el.placeholder ? getComputedStyle(el, "::placeholder").color : null;
    if (own) found.push([el.tagName + "." + el.className, ratio(rgb(getComputedStyle(el).color), back(el))]);
    if (placeholder) found.push(["placeholder", ratio(rgb(placeholder), back(el))]);
  }
  return found;
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_contrast_meets_wcag_aa_in_both_themes(page: Page, site: HostSite, theme: str) -> None:
    page.emulate_media(color_scheme=theme)  # the page says nothing: the widget follows the system
    page.goto(site.page("deal"))
    open_panel(page)
    wait_answer(page)
    assert widget(page, ".root").evaluate("(el) => el.classList.contains('dark')") is (theme == "dark")
    widget(page, "#p-summarize").get_by_role("button", name="Good answer").click()
    widget(page, "#p-summarize").get_by_role("button", name="Saved time").click()  # a pressed chip
    page.screenshot(path=artifact(f"widget-deal-{theme}.png"))
    checked = page.evaluate(CONTRAST)
    low = [(name, round(ratio, 2)) for name, ratio in checked if ratio < 4.5]
    assert len(checked) > 20 and low == []
    widget(page).get_by_role("tab", name="Ask").click()  # the placeholder, too
    low = [(name, round(ratio, 2)) for name, ratio in page.evaluate(CONTRAST) if ratio < 4.5]
    assert low == []


def test_reduced_motion_is_honoured(page: Page, site: HostSite) -> None:
    page.goto(site.page("deal"))
    open_panel(page)
    assert widget(page, ".panel").evaluate("(el) => getComputedStyle(el).animationName") == "in"
    widget(page).get_by_role("button", name="Close").click()
    page.emulate_media(reduced_motion="reduce")
    open_panel(page)
    assert widget(page, ".panel").evaluate("(el) => getComputedStyle(el).animationName") == "none"


def test_french_from_the_page_language(page: Page, site: HostSite) -> None:
    page.goto(site.page("deal", lang="fr"))
    page.wait_for_function("window.__events.some((e) => e.name === 'mount')")
    expect(widget(page, ".launch")).to_have_attribute("aria-label", "Ouvrir l'assistant Margin (Alt+Shift+M)")
    open_panel(page)
    expect(widget(page, "[role=tab]:visible")).to_have_text(["Résumé", "Brouillon", "Question"])
    wait_answer(page)
    expect(widget(page, "#p-summarize").get_by_role("button", name="Bonne réponse")).to_be_visible()
    widget(page).get_by_role("tab", name="Brouillon").click()  # the server's labels, overridden
    draft = widget(page, "#p-draft")
    expect(draft.get_by_label("Type").locator("option").first).to_have_text("E-mail de relance")
    expect(draft.get_by_label("Consigne (facultatif)")).to_be_visible()
    expect(draft.get_by_role("button", name="Rédiger")).to_be_visible()


@pytest.mark.parametrize(
    ("name", "title"), [("deal", "Acme Corp platform renewal"), ("case", "Invoices export")]
)
def test_both_host_pages_stream_a_summary_screenshot(
    page: Page, site: HostSite, name: str, title: str
) -> None:
    page.goto(site.page(name))
    open_panel(page)
    assert title in wait_answer(page)
    page.screenshot(path=artifact(f"widget-{name}.png"))
