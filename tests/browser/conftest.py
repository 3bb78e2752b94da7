"""Browser tests: the widget in real Chromium (Debian's, driven by Playwright) against a real backend.

Host pages (``pages/``) are Jinja templates served from their own loopback origin by
:class:`HostSite`, so every widget call is cross-origin, as in production. Without Playwright or
a Chromium binary these tests are skipped, unless ``REQUIRE_TEST_SERVICES=1`` (CI), where they
fail instead. ``CHROMIUM_PATH`` names another Chromium binary.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jinja2
import pytest
from conftest import ServerThread, make_settings, token_for

try:
    from playwright.sync_api import (
        Browser,
        ConsoleMessage,
        Error,
        Locator,
        Page,
        Playwright,
        expect,
        sync_playwright,
    )
except ImportError:  # the browser fixture skips (or fails in CI)
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).resolve().parent / "pages"
WIDGET = ROOT / "widget" / "margin.js"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TENANT = "globex"  # allows any page origin; "acme" allows only https://crm.acme.example
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}


def require(reason: str) -> None:
    if os.environ.get("REQUIRE_TEST_SERVICES") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


class HostSite:
    """The host app: its pages, its static files and its token endpoint, on its own origin.

    ``/deal``, ``/case`` and ``/spa`` render ``pages/<name>.html``; query parameters: ``server``
    (Margin's URL), ``widget=0`` (no widget), ``theme``, ``locale``, ``lang``, ``csp=1`` (a strict
    Content-Security-Policy), ``tenant``. ``/token`` mints a user token, as a host backend would;
    the first ``bad_tokens`` it hands out are garbage (an expired session).
    """

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.bad_tokens = 0
        self.token_calls = 0
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(PAGES), autoescape=True)
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.handle(self)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def page(self, name: str, **params: object) -> str:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{self.url}/{name}" + (f"?{query}" if query else "")

    def widget_src(self, server: str) -> str:
        """The backend's /widget.js when it serves one, else our copy of widget/margin.js."""
        try:
            if httpx.get(f"{server}/widget.js", timeout=2).status_code == 200:
                return f"{server}/widget.js"
        except httpx.HTTPError:
            pass
        return f"{self.url}/widget.js"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        headers = {"Cache-Control": "no-store"}
        if path in ("/deal", "/case", "/spa"):
            server = params.get("server", self.server_url)
            tenant = params.get("tenant", TENANT)
            body = self.templates.get_template(f"{path[1:]}.html").render(
                widget=params.get("widget") != "0",
                widget_src=self.widget_src(server),
                server=server,
                token=token_for(tenant),
                theme=params.get("theme"),
                locale=params.get("locale"),
                lang=params.get("lang"),
            )
            headers["Content-Type"] = "text/html; charset=utf-8"
            if params.get("csp") == "1":
                headers["Content-Security-Policy"] = (
                    f"default-src 'none'; script-src 'self' {server}; connect-src {server}; "
                    "style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'"
                )
            data = body.encode()
        elif path == "/widget.js":
            data, headers["Content-Type"] = WIDGET.read_bytes(), "text/javascript"
        elif path.startswith("/static/") and Path(path).suffix in STATIC_TYPES and "/.." not in path:
            file = PAGES / Path(path).name
            if not file.is_file():
                request.send_error(404)
                return
            data, headers["Content-Type"] = file.read_bytes(), STATIC_TYPES[file.suffix]
        elif path == "/token":
            self.token_calls += 1
            token = (
                "expired.session.token" if self.bad_tokens > 0 else token_for(params.get("tenant", TENANT))
            )
            self.bad_tokens -= 1
            data, headers["Content-Type"] = json.dumps({"token": token}).encode(), "application/json"
        else:
            request.send_error(404)
            return
        request.send_response(200)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def __enter__(self) -> HostSite:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class PageErrors:
    """Uncaught exceptions and console errors of one page (network failures listed apart)."""

    def __init__(self, page: Page) -> None:
        self.uncaught: list[str] = []
        self.console: list[str] = []
        self.network: list[str] = []
        page.on("pageerror", lambda error: self.uncaught.append(str(error)))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = message.text
        # A refused connection is logged by the browser itself, not thrown by any script.
        (self.network if text.startswith("Failed to load resource") else self.console).append(text)

    def assert_clean(self) -> None:
        assert self.uncaught == [], f"uncaught errors in the page: {self.uncaught}"
        assert self.console == [], f"console errors: {self.console}"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module: the sync API runs an event loop on this thread while it is started, which
    would break the async tests that run after the browser tests."""
    if sync_playwright is None:
        require("Playwright for Python is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        require(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    try:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Error as exc:
        require(f"Chromium at {CHROMIUM} did not start: {exc}")
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A real Margin server shared by the session; the offline provider paces its words a little."""
    settings = make_settings(
        tmp_path_factory.mktemp("backend"), providers={"offline": {"kind": "offline", "pace_ms": 2}}
    )
    with ServerThread(settings) as server:
        yield server


@pytest.fixture
def slow_backend(tmp_path: Path) -> Iterator[ServerThread]:
    """A fresh server whose offline provider streams a word every 15 ms, to watch it stream."""
    settings = make_settings(tmp_path, providers={"offline": {"kind": "offline", "pace_ms": 15}})
    with ServerThread(settings) as server:
        yield server


@pytest.fixture(scope="session")
def site(backend: ServerThread) -> Iterator[HostSite]:
    with HostSite(backend.url) as running:
        yield running


@pytest.fixture
def page(browser: Browser, site: HostSite) -> Iterator[Page]:
    """A fresh browser context and page; fails the test on any uncaught error in the page."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.errors = PageErrors(page)  # type: ignore[attr-defined]
    page.add_init_script(RECORD_EVENTS)
    yield page
    errors: PageErrors = page.errors  # type: ignore[attr-defined]
    context.close()
    assert errors.uncaught == [], f"uncaught errors in the page: {errors.uncaught}"


RECORD_EVENTS = """
window.__events = [];
for (const name of ["ready", "mount", "open", "close", "before-open", "before-close", "answer", "error",
                    "feedback", "draft-insert", "before-draft-insert", "triage-apply", "before-triage-apply",
                    "record", "unmount"]) {
  window.addEventListener("margin:" + name, (e) => window.__events.push({name, detail: e.detail}));
}
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


SHADOW = "document.querySelector('margin-sidebar').shadowRoot"


def widget(page: Page, selector: str = "") -> Locator:
    """A locator inside the widget (Playwright's CSS pierces its open shadow root)."""
    return page.locator(f"margin-sidebar {selector}".strip())


def open_panel(page: Page) -> None:
    page.wait_for_function("window.__events.some((e) => e.name === 'mount')")
    widget(page, ".launch").click()
    settle(page)


def settle(page: Page) -> None:
    """Wait until the panel is shown and its slide-in animation is over."""
    panel = widget(page, ".panel")
    expect(panel).to_be_visible()
    panel.evaluate("(el) => Promise.all(el.getAnimations().map((a) => a.finished))")


def wait_answer(page: Page, feature: str = "summarize", timeout: float = 15_000) -> str:
    """Wait for the tab's request to end; returns its rendered text."""
    out = widget(page, f"#p-{feature} .md")
    expect(out).to_have_attribute("aria-busy", "false", timeout=timeout)
    return out.inner_text()


def events(page: Page, name: str) -> list[Any]:
    return page.evaluate(
        "(name) => window.__events.filter((e) => e.name === name).map((e) => e.detail)", name
    )
