"""The demo's host pages (``margin demo``): a CRM and a case tool with Margin in them.

HTTP-level tests need no browser; the rest drive Chromium against a backend that serves the
pages and the widget itself; with ``UPDATE_SCREENSHOTS=1`` they also refresh the README's
screenshots in ``docs/screenshots/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from conftest import OTHER_SECRET, ServerThread, make_settings, token_for

from browser.conftest import RECORD_EVENTS, ROOT, PageErrors, artifact, events, settle, wait_answer, widget
from margin.auth import verify_token
from margin.config import Settings, load_settings
from margin.demo.cases_data import Case, Comment, Customer
from margin.demo.pages import page_tenant
from margin.demo.pages_cases import CATEGORIES, PRIORITIES, CasePage, CaseRow
from margin.demo.pages_crm import Deal, DealPage, Entry
from margin.demo.pages_render import render_page
from margin.testing.simulator import Scenario, SimulatorThread

with contextlib.suppress(ImportError):  # without it the browser fixture skips (or fails in CI)
    from playwright.sync_api import Browser, Page, expect

SCREENSHOTS = ROOT / "docs" / "screenshots"
DEMO_ADAPTERS = ["demo_crm", "demo_cases"]

# Every text the summary shows, as the browser paints it, until the answer is done.
WATCH_SUMMARY = """() => {
  const out = document.querySelector("margin-sidebar").shadowRoot.querySelector("#p-summarize .md");
  window.__texts = [];
  new MutationObserver(() => window.__done || window.__texts.push(out.textContent))
    .observe(out, {childList: true, subtree: true, characterData: true});
  window.addEventListener("margin:answer", () => (window.__done = true), {once: true});
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A demo backend whose offline provider streams a word every 15 ms, to watch it stream."""
    settings = make_settings(
        tmp_path_factory.mktemp("demo-pages"), providers={"offline": {"kind": "offline", "pace_ms": 15}}
    )
    with ServerThread(settings) as server:
        yield server


@pytest.fixture
def host_page(browser: Browser) -> Iterator[Page]:
    """A fresh page at the conftest's 1280x800; fails the test on any uncaught error in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = PageErrors(page)
    page.add_init_script(RECORD_EVENTS)
    yield page
    context.close()
    errors.assert_clean()


def open_panel(page: Page) -> None:
    """Open the panel once mounted. The pages' CSP forbids eval, so no ``wait_for_function`` here."""
    launch = widget(page, ".launch")
    expect(launch).to_be_visible()
    launch.click()
    settle(page)


def get(server: ServerThread, path: str) -> httpx.Response:
    return httpx.get(server.url + path, follow_redirects=False)


# --- HTTP: the pages, the token, escaping -------------------------------------------------------


def test_home_redirects_to_the_first_deal(demo: ServerThread) -> None:
    response = get(demo, "/")
    assert response.is_redirect and response.headers["location"] == "/crm/deals/D-1001"


def test_the_deal_page_shows_the_crm_record_and_one_widget_tag(demo: ServerThread) -> None:
    response = get(demo, "/crm/deals/D-1001")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"  # it carries a user token
    html = response.text
    assert "<title>Acme Corp platform renewal · Deals · Pipeline CRM</title>" in html
    facts = ("Dana Reyes, VP of Operations", "$84,000", "Negotiation", "70%", "Send the final order form")
    assert all(fact in html for fact in facts)
    # Activities and e-mails together, newest first.
    order = [html.index(text) for text in ("Legal agreed to the redlines", "Sent the SOC 2", "Intro call")]
    assert order == sorted(order)
    [tag] = re.findall(r"<script src=\"/widget.js\"[^>]*>", html)
    assert f'data-server="{demo.url}"' in tag and 'data-insert-target="#reply-body"' in tag
    assert 'data-record-type="deal" data-record-id="D-1001"' in tag
    assert_page_token(re.findall(r'data-token="([^"]+)"', tag)[0], demo.settings)
    assert 'id="reply-body"' in html


def test_the_case_page_shows_the_case_customer_and_comments(demo: ServerThread) -> None:
    html = get(demo, "/helpdesk/cases/C-2001").text
    assert "Invoices export fails with a timeout" in html and "Hank Scorpio" in html
    assert "hank.scorpio@globex.example" in html and "BUG-4411" in html
    order = [html.index(text) for text in ("Is there a workaround", "Root cause found", "Exporting")]
    assert order == sorted(order)  # newest first
    assert 'data-record-type="case" data-record-id="C-2001"' in html and 'id="reply-body"' in html
    # host.js mounts Margin there (its onApplyTriage is a callback), from the page's settings
    assert '<script src="/widget.js" async></script>' in html and 'id="margin-config"' in html
    assert_page_token(re.findall(r'data-token="([^"]+)"', html)[0], demo.settings)
    # the host's own triage fields, which Margin's Apply fills
    assert '<option value="high" selected>High</option>' in html  # the case's priority
    assert all(f'<option value="{value}">' in html for value, _ in CATEGORIES)
    assert 'id="triage-tags" name="tags" autocomplete="off" value="billing, export"' in html


def test_the_list_pages_list_every_record_and_mount_with_get_token(demo: ServerThread) -> None:
    deals = get(demo, "/crm/deals").text
    assert deals.count('<tr data-id="D-') == 60 and "Acme Corp platform renewal" in deals
    cases = get(demo, "/helpdesk/cases").text
    assert cases.count('<tr data-id="C-') == 22 and "SSO login loops back" in cases
    for html in (deals, cases):
        assert '<script src="/widget.js" async></script>' in html  # no token: host.js mounts it
        assert html.count('aria-current="true"') == 1 and html.count('class="card preview"') > 20
        assert 'href="/crm/deals"' in html and 'href="/helpdesk/cases"' in html  # the top nav


def test_unknown_records_get_a_404_page(demo: ServerThread) -> None:
    for path, text in (("/crm/deals/D-9999", "Deal D-9999 not found"), ("/helpdesk/cases/C-1", "Case C-1")):
        response = get(demo, path)
        assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
        assert text in response.text and "/widget.js" not in response.text


def test_the_token_endpoint_mints_a_token_for_the_demo_user(demo: ServerThread) -> None:
    response = get(demo, "/demo/token")
    assert response.status_code == 200 and "no-store" in response.headers["cache-control"]
    assert_page_token(response.json()["token"], demo.settings)


def test_static_files_are_served(demo: ServerThread) -> None:
    for name, media_type in (("host.css", "text/css"), ("host.js", "text/javascript")):
        response = get(demo, f"/demo/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(media_type)
    assert get(demo, "/demo/static/nope.js").status_code == 404


def assert_page_token(token: str, settings: Settings) -> None:
    user = verify_token(token, settings.tenants, settings.auth)
    assert (user.tenant, user.user_id, user.roles) == ("globex", "alice", ("manager",))  # "*" origins


def test_the_demo_tenant_signs_when_there_is_one(tmp_path: Path) -> None:
    settings = load_settings(env={}, overrides={"plugins": ["demo"], "data_dir": str(tmp_path)})
    assert page_tenant(settings) == "demo"


def test_without_a_tenant_for_any_origin_the_pages_work_without_margin(tmp_path: Path) -> None:
    origins = ["https://globex.example"]
    globex = {"secret": OTHER_SECRET, "allowed_origins": origins, "adapters": DEMO_ADAPTERS}
    with ServerThread(make_settings(tmp_path, tenants={"globex": globex})) as server:
        page = get(server, "/crm/deals/D-1001")
        token = get(server, "/demo/token")
        listing = get(server, "/helpdesk/cases")
    assert page.status_code == 200 and "Acme Corp platform renewal" in page.text
    assert "/widget.js" not in page.text and "Margin is off on these pages" in page.text
    assert "/widget.js" not in listing.text
    assert token.status_code == 404 and "No tenant allows pages on any origin" in token.json()["detail"]


HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def assert_escaped(html: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    for tag in re.findall(r"<script\b[^>]*>", html):  # host.js and the widget, nothing else
        assert tag.startswith(('<script src="/demo/static/host.js">', '<script src="/widget.js"')), tag


def test_record_text_is_escaped_on_crm_pages() -> None:
    deal = Deal(
        id="D-1" + HOSTILE,
        title=HOSTILE,
        stage="negotiation",
        amount=1,
        close_date=date(2030, 1, 1),
        owner=HOSTILE,
        probability=50,
        next_step=HOSTILE,
        account_id="A-1",
        account=HOSTILE,
        industry=HOSTILE,
        tier="smb",
        city=HOSTILE,
        contact=HOSTILE,
        contact_title=HOSTILE,
        contact_email=HOSTILE,
    )
    entry = Entry(at=datetime(2030, 1, 1), author=HOSTILE, kind="email", subject=HOSTILE, body=HOSTILE)
    page = DealPage(deal=deal, timeline=[entry], account_deals=[deal])
    html = render_page("deal.html", tool="crm", sidebar=True, page=page, server="http://m", token=HOSTILE)
    assert_escaped(html)
    assert 'href="/crm/deals/D-1%3Cscript%3E' in html  # ids in links are URL-encoded too
    assert_escaped(render_page("deals.html", tool="crm", sidebar=True, deals=[deal]))
    assert_escaped(render_page("not_found.html", tool="crm", sidebar=True, label="Deal", record_id=HOSTILE))


def test_record_text_is_escaped_on_helpdesk_pages() -> None:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    case = Case(
        id="C-1" + HOSTILE,
        subject=HOSTILE,
        status="open",
        priority="high",
        customer_id="CU-1",
        assignee=HOSTILE,
        created_at=at,
        updated_at=at,
        tags=(HOSTILE,),
    )
    customer = Customer(
        id="CU-1",
        name=HOSTILE,
        tier="business",
        country=HOSTILE,
        contact_name=HOSTILE,
        contact_email=HOSTILE,
        contact_phone=HOSTILE,
        since=HOSTILE,
    )
    comment = Comment(id=1, case_id="C-1", at=at, author=HOSTILE, role="customer", kind="note", body=HOSTILE)
    page = CasePage(case=case, customer=customer, comments=[comment], customer_cases=[case])
    html = render_page("case.html", tool="helpdesk", sidebar=True, page=page, server="http://m", token="t")
    assert_escaped(html)
    rows = [CaseRow(case=case, customer=customer)]
    assert_escaped(render_page("cases.html", tool="helpdesk", sidebar=True, cases=rows))


# --- In Chromium: the widget on the demo pages -------------------------------------------------

RECORD_PAGES = [  # the screenshot's name, the page, its record's title, its send button and its toast
    ("deal", "/crm/deals/D-1001", "Acme Corp platform renewal", "Send email", "Email sent to Dana Reyes."),
    (
        "case",
        "/helpdesk/cases/C-2001",
        "Invoices export fails with a timeout",
        "Send reply",
        "Posted to C-2001.",
    ),
]


@pytest.mark.parametrize(("name", "path", "title", "send", "sent"), RECORD_PAGES, ids=["deal", "case"])
def test_on_a_record_page_the_summary_streams_and_a_draft_goes_into_the_reply_box(
    host_page: Page, demo: ServerThread, name: str, path: str, title: str, send: str, sent: str
) -> None:
    page = host_page
    page.goto(demo.url + path)
    expect(widget(page, "#p-summarize")).to_have_count(1)  # mounted, tabs in: now watch the summary
    page.evaluate(WATCH_SUMMARY)
    open_panel(page)
    final = wait_answer(page)
    partial = list(dict.fromkeys(text for text in page.evaluate("window.__texts") if text))
    assert len(partial) >= 3, partial  # painted in several steps, not all at once
    assert [len(text) for text in partial] == sorted(len(text) for text in partial)  # it only grows
    assert len(partial[0]) < len(final) / 2 and title in final
    # The host makes room for the panel: nothing it needs is under it.
    reply = page.locator("#reply-body")
    box = reply.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1280 - 400
    page.screenshot(path=artifact(f"demo-{name}.png"))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":  # the README's; refreshed on request only
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"demo-{name}.png")

    widget(page).get_by_role("tab", name="Draft").click()
    draft_tab = widget(page, "#p-draft")
    draft_tab.get_by_label("Instruction (optional)").fill("Offer a call on Thursday.")
    draft_tab.get_by_role("button", name="Write draft").click()
    draft = wait_answer(page, "draft")
    assert "Offer a call on Thursday" in draft
    draft_tab.get_by_role("button", name="Insert").click()
    text = [a for a in events(page, "answer") if a["feature"] == "draft"][-1]["text"]
    expect(reply).to_have_value(text)
    expect(page.locator("#counter")).to_have_text(f"{len(text)} characters")  # host.js saw the input
    # The host page's own form still does its job.
    page.get_by_role("button", name=send).click()
    expect(page.locator("#toast")).to_have_text(sent)
    expect(reply).to_have_value("")
    expect(page.locator("#timeline li").first).to_contain_text(text.split("\n")[0])
    page.get_by_role("button", name=send).click()
    expect(page.locator("#toast")).to_have_text("Write a message first.")
    assert page.evaluate("window.__csp") == []  # nothing needed more than the strict policy


LIST_PAGES = [  # the page, the record to select (type, id, title), the preview's link to it
    ("/crm/deals", "deal", "D-1001", "Acme Corp platform renewal", "Open deal"),
    ("/helpdesk/cases", "case", "C-2003", "SSO login loops back to the sign-in page", "Open case"),
]


@pytest.mark.parametrize(
    ("path", "record_type", "record_id", "title", "open_link"), LIST_PAGES, ids=["deals", "cases"]
)
def test_on_a_list_page_the_widget_follows_the_selected_row(
    host_page: Page,
    demo: ServerThread,
    path: str,
    record_type: str,
    record_id: str,
    title: str,
    open_link: str,
) -> None:
    page = host_page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(demo.url + path)
    first = page.locator("tbody tr").first
    first_id = first.get_attribute("data-id")
    assert first_id != record_id
    expect(page.locator(f"#preview-{first_id}")).to_be_visible()
    open_panel(page)
    assert first.locator("a").inner_text() in wait_answer(page)
    assert f"{demo.url}/demo/token" in requested  # mounted with getToken

    row = page.locator(f'tbody tr[data-id="{record_id}"]')
    row.locator("a").click()  # a plain click selects the row: the page stays, Margin follows
    expect(row).to_have_attribute("aria-current", "true")
    expect(first).not_to_have_attribute("aria-current", "true")
    expect(widget(page, "#p-summarize .md")).to_contain_text(title)
    assert title in wait_answer(page)
    assert events(page, "record") == [{"record": {"type": record_type, "id": record_id}}]
    assert page.url == demo.url + path

    widget(page).get_by_role("button", name="Close").click()
    preview = page.locator(f"#preview-{record_id}")
    expect(preview).to_be_visible()
    expect(page.locator(f"#preview-{first_id}")).to_be_hidden()
    preview.get_by_role("link", name=open_link).click()
    expect(page).to_have_url(f"{demo.url}{path}/{record_id}")
    expect(page.locator("h1")).to_contain_text(title)


# Records what the page's onApplyTriage is called with: Margin.mount, as host.js calls it, is wrapped.
SPY_ON_APPLY_TRIAGE = """
window.__applied = [];
let margin;
Object.defineProperty(window, "Margin", {configurable: true, get: () => margin, set(real) {
  const mount = (cfg) => real.mount({...cfg, onApplyTriage: (values) => {
    window.__applied.push(values);
    return cfg.onApplyTriage(values);
  }});
  margin = Object.freeze({...real, mount});
}});
"""


def test_triage_on_the_case_page_fills_the_host_fields_through_on_apply_triage(
    host_page: Page, demo: ServerThread
) -> None:
    page = host_page
    page.add_init_script(SPY_ON_APPLY_TRIAGE)
    page.goto(demo.url + "/helpdesk/cases/C-2001")
    open_panel(page)
    wait_answer(page)  # the summary runs on open
    tabs = widget(page, "[role=tab]:visible")
    expect(tabs).to_have_text(["Summary", "Draft", "Ask", "Triage"])
    tabs.get_by_text("Triage").click()
    triage = widget(page, "#p-triage")
    triage.get_by_role("button", name="Suggest").click()
    wait_answer(page, "triage")
    [answer] = [a for a in events(page, "answer") if a["feature"] == "triage"]
    result = answer["result"]
    category, priority = result["category"]["value"], result["priority"]["value"]
    tags = [tag["value"] for tag in result["tags"]]
    assert category in dict(CATEGORIES) and priority in dict(PRIORITIES) and tags
    # Each value a label, its reason one line of text under it.
    expect(triage.locator("dl dt")).to_have_text(["Category", "Priority", "Tags"])
    expect(triage.locator("dd .tag")).to_have_text([category, priority, *tags])
    reasons = triage.locator("dd .mut").all_inner_texts()
    assert len(reasons) == 2 + len(tags) and all(reason.strip() for reason in reasons)
    assert reasons[0] == result["category"]["reason"]

    page.locator("#triage-category").select_option("")  # so that Apply visibly changes it
    triage.get_by_role("button", name="Apply").click()
    expect(triage.get_by_text("Applied to the record.")).to_be_visible()
    expect(page.locator("#triage-category")).to_have_value(category)
    expect(page.locator("#triage-priority")).to_have_value(priority)
    expect(page.locator("#triage-tags")).to_have_value(", ".join(tags))
    expect(page.locator("#triage-category")).to_have_class(re.compile(r"\bfilled\b"))
    expect(page.locator("#triage-toast")).to_contain_text("Margin filled in category")
    interaction_id = answer["meta"]["interaction_id"]
    [before] = events(page, "before-triage-apply")
    [applied] = events(page, "triage-apply")
    values = {"category": category, "priority": priority, "tags": tags, "interactionId": interaction_id}
    assert before == applied == {**values, "record": {"type": "case", "id": "C-2001"}}
    assert page.evaluate("window.__applied") == [values]  # what host.js's onApplyTriage got
    page.get_by_role("button", name="Save triage").click()  # the host's own form saves it
    expect(page.locator("#triage-toast")).to_have_text("Triage saved for C-2001.")
    page.screenshot(path=artifact("demo-case-triage.png"))

    triage.get_by_role("button", name="Good answer").click()
    expect(triage.get_by_text("Thanks for the feedback.")).to_be_visible()
    headers = {"Authorization": f"Bearer {token_for('globex', 'alice', ('manager',))}"}
    stored = httpx.get(f"{demo.url}/v1/feedback/{interaction_id}", headers=headers).json()
    assert stored["rating"] == "up"
    assert events(page, "feedback")[-1]["interaction_id"] == interaction_id
    assert page.evaluate("window.__csp") == []

    page.goto(demo.url + "/crm/deals/D-1001")  # a deal: triage is for cases only
    open_panel(page)
    expect(widget(page, "[role=tab]:visible")).to_have_text(["Summary", "Draft", "Ask"])
    expect(widget(page, "#t-triage")).to_be_hidden()


def test_triage_through_a_cloud_model_on_the_case_page(
    host_page: Page, tmp_path: Path, simulator: SimulatorThread
) -> None:
    """The same tab with a model answering through structured output (the simulator, OpenAI's wire)."""
    answer = {
        "category": {"value": "performance", "reason": "The invoice export times out after a minute."},
        "priority": {"value": "urgent", "reason": "Finance needs it for the month-end close on Friday."},
        "tags": [{"value": "export", "reason": "The CSV export fails."}],
    }
    simulator.default = Scenario(text=json.dumps(answer), total_tokens=10_000)
    llm = {"kind": "openai", "model": "gpt-sim", "api_key": "k", "base_url": simulator.openai_base_url}
    settings = make_settings(tmp_path, providers={"llm": llm}, chains={"default": ["llm", "offline"]})
    with ServerThread(settings) as server:
        page = host_page
        page.goto(server.url + "/helpdesk/cases/C-2001")  # nothing in it keeps it from a cloud model
        open_panel(page)
        widget(page, "[role=tab]:visible").get_by_text("Triage").click()
        triage = widget(page, "#p-triage")
        triage.get_by_role("button", name="Suggest").click()
        wait_answer(page, "triage")
        [shown] = [a for a in events(page, "answer") if a["feature"] == "triage"]
        assert shown["meta"]["provider"] == "llm" and shown["meta"]["degraded"] is False
        assert shown["result"] == answer
        expect(triage.locator("dd .tag")).to_have_text(["performance", "urgent", "export"])
        triage.get_by_role("button", name="Apply").click()
        expect(page.locator("#triage-priority")).to_have_value("urgent")
        expect(page.locator("#triage-tags")).to_have_value("export")
        sent = [r.body for r in simulator.requests if r.body.get("response_format")]
        assert sent and sent[-1]["response_format"]["json_schema"]["strict"] is True
