"""The demo's host pages: a CRM ("Pipeline CRM") and a case tool ("Helpdesk") with Margin in them.

They stand in for a real host app, so they do what an integrator's app does: mint a token for
the signed-in user (``alice``, a manager) on every render and embed the widget with one script
tag, or (on the list pages) mount it with ``getToken`` and follow the selected row with
``Margin.setRecord``. Their own behaviour lives in ``static/host.js``: no inline scripts, so
they are served under a strict Content-Security-Policy.

    GET /                      -> redirect to /crm/deals/D-1001
    GET /crm/deals             list of deals, with a preview of the selected one
    GET /crm/deals/{id}        a deal: facts, activity, an e-mail compose box
    GET /helpdesk/cases        list of cases, with a preview of the selected one
    GET /helpdesk/cases/{id}   a case: facts, customer, comments, a reply box
    GET /demo/token            {"token": ...} for the signed-in user
    GET /demo/static/*         the pages' CSS and JavaScript
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec
from litestar import MediaType, Request, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from margin.auth import mint_token
from margin.config import Settings
from margin.demo import demo_crm_path
from margin.demo.pages_cases import case_page, list_cases
from margin.demo.pages_crm import deal_page, list_deals
from margin.demo.pages_render import render_page

HOME = "/crm/deals/D-1001"
STATIC_PATH = "/demo/static"
USER = "alice"
ROLES = ("manager",)
TOKEN_TTL_S = 3600
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The widget needs nothing more than the page's own origin, which serves it."""

Tool = Literal["crm", "helpdesk"]


class TokenOut(msgspec.Struct, frozen=True):
    token: str


def page_tenant(settings: Settings) -> str | None:
    """``demo`` when configured, else the first tenant that allows pages on any origin."""
    if "demo" in settings.tenants:
        return "demo"
    return next((name for name, t in settings.tenants.items() if "*" in t.allowed_origins), None)


def page_token(settings: Settings) -> str | None:
    tenant = page_tenant(settings)
    if tenant is None:
        return None
    ttl_s = min(TOKEN_TTL_S, settings.auth.max_ttl_s)
    return mint_token(settings.tenants[tenant].secret, tenant=tenant, user_id=USER, roles=ROLES, ttl_s=ttl_s)


@get("/")
async def home() -> Redirect:
    return Redirect(HOME)


@get("/crm/deals")
async def deals(settings: NamedDependency[Settings]) -> Response[str]:
    rows = await list_deals(demo_crm_path(settings.data_dir))
    return _html("deals.html", settings, tool="crm", deals=rows)


@get("/crm/deals/{deal_id:str}")
async def deal(
    deal_id: FromPath[str], request: Request[Any, Any, Any], settings: NamedDependency[Settings]
) -> Response[str]:
    page = await deal_page(demo_crm_path(settings.data_dir), deal_id)
    if page is None:
        return _not_found(settings, "crm", "Deal", deal_id)
    return _html(
        "deal.html", settings, tool="crm", page=page, server=_server(request), token=page_token(settings)
    )


@get("/helpdesk/cases")
async def cases(settings: NamedDependency[Settings]) -> Response[str]:
    return _html("cases.html", settings, tool="helpdesk", cases=list_cases())


@get("/helpdesk/cases/{case_id:str}")
async def case(
    case_id: FromPath[str], request: Request[Any, Any, Any], settings: NamedDependency[Settings]
) -> Response[str]:
    page = case_page(case_id)
    if page is None:
        return _not_found(settings, "helpdesk", "Case", case_id)
    return _html(
        "case.html", settings, tool="helpdesk", page=page, server=_server(request), token=page_token(settings)
    )


@get("/demo/token", cache_control=CacheControlHeader(no_store=True))
async def token(settings: NamedDependency[Settings]) -> TokenOut:
    minted = page_token(settings)
    if minted is None:
        raise NotFoundException("No tenant allows pages on any origin, so the demo pages have no token")
    return TokenOut(token=minted)


def demo_pages_router() -> Router:
    static = create_static_files_router(path=STATIC_PATH, directories=[Path(__file__).parent / "static"])
    return Router(
        path="/",
        route_handlers=[home, deals, deal, cases, case, token, static],
        include_in_schema=False,
        tags=["demo host"],
    )


def _server(request: Request[Any, Any, Any]) -> str:
    """Margin's URL for the script tag: this server, as the browser reached it."""
    return str(request.base_url).rstrip("/")


def _html(template: str, settings: Settings, *, status: int = 200, **context: object) -> Response[str]:
    body = render_page(template, sidebar=page_tenant(settings) is not None, **context)
    return Response(
        body,
        status_code=status,
        media_type=MediaType.HTML,
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )


def _not_found(settings: Settings, tool: Tool, label: str, record_id: str) -> Response[str]:
    return _html("not_found.html", settings, status=404, tool=tool, label=label, record_id=record_id)
