"""Real HTTP servers on loopback for the REST adapter tests.

``zendesk_app`` and ``hubspot_app`` answer with the response shapes of the public Zendesk
Support v2 and HubSpot CRM v3 documentation (envelopes, ``next_page`` links, ``paging.next.after``
cursors, string-typed HubSpot properties, sideloaded users). ``faults_app`` misbehaves on purpose.
Every app is wrapped in ``Recording``, which keeps each request so tests can check what the
host was actually asked.
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import msgspec
import uvicorn
from conftest import free_port

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

ZENDESK_AUTH = "Basic " + base64.b64encode(b"agent@globex.example/token:zd-secret").decode()
HUBSPOT_AUTH = "Bearer hs-secret"


@dataclass(frozen=True)
class Seen:
    """One request as the server received it (``raw_path`` still percent-encoded)."""

    method: str
    path: str
    raw_path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class Recording:
    """An ASGI wrapper that records every HTTP request before passing it on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[Seen] = []

    def requests(self, path_prefix: str = "") -> list[Seen]:
        return [seen for seen in self.seen if seen.path.startswith(path_prefix)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        self.seen.append(
            Seen(
                method=scope["method"],
                path=scope["path"],
                raw_path=scope["raw_path"].decode("latin-1"),
                query=parse_qs(scope["query_string"].decode("latin-1")),
                body=msgspec.json.decode(raw) if raw else None,
                headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            )
        )
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)


class LoopbackServer:
    """Serves an ASGI app with uvicorn on 127.0.0.1 from a thread, for the duration of a ``with``."""

    def __init__(self, app: ASGIApp) -> None:
        self.recording = Recording(app)
        self.port = free_port()
        config = uvicorn.Config(
            self.recording,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fixture server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# A tiny router for the raw fixture apps ------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    match: re.Match[str]

    def param(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]

    def url(self, path: str, **params: str | int) -> str:
        """An absolute URL on this server, as hosts write their next-page links."""
        return f"http://{self.headers['host']}{path}?{urlencode(params)}"


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "application/json"


def json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(msgspec.json.encode(data), status)


Handler = Callable[[Request], Awaitable[Reply]]


@dataclass
class FixtureApp:
    """Routes ``(method, path regex)`` to handlers; ``auth`` is the Authorization header it demands."""

    routes: list[tuple[str, str, Handler]]
    auth: str | None = None
    not_found: Any = field(default_factory=lambda: {"error": "not found"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        body = message.get("body", b"")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        reply = await self._dispatch(scope, headers, msgspec.json.decode(body) if body else None)
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(b"content-type", reply.content_type.encode())],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})

    async def _dispatch(self, scope: Scope, headers: dict[str, str], body: Any) -> Reply:
        if self.auth is not None and headers.get("authorization") != self.auth:
            return json_reply({"error": "Couldn't authenticate you"}, 401)
        for method, pattern, handler in self.routes:
            match = re.fullmatch(pattern, scope["path"])
            if match and scope["method"] == method:
                query = parse_qs(scope["query_string"].decode("latin-1"))
                return await handler(Request(scope["method"], scope["path"], query, body, headers, match))
        return json_reply(self.not_found, 404)


def page_of(items: list[Any], request: Request, default_size: int = 100) -> tuple[list[Any], int, int]:
    page = int(request.param("page", "1"))
    size = int(request.param("per_page", str(default_size)))
    return items[(page - 1) * size : page * size], page, size


# Zendesk Support API v2 ----------------------------------------------------------------------

ZENDESK_USERS = [
    {
        "id": 101,
        "name": "Hank Scorpio",
        "email": "hank@globex.example",
        "role": "end-user",
        "organization_id": 11,
    },
    {
        "id": 201,
        "name": "Alice Agent",
        "email": "alice@support.example",
        "role": "agent",
        "organization_id": None,
    },
    {
        "id": 202,
        "name": "Bob Agent",
        "email": "bob@support.example",
        "role": "agent",
        "organization_id": None,
    },
]
ZENDESK_ORGS = [
    {"id": 11, "name": "Globex", "domain_names": ["globex.example"], "created_at": "2022-11-20T09:00:00Z"},
    {"id": 12, "name": "Initech", "domain_names": ["initech.example"], "created_at": "2024-06-15T09:00:00Z"},
]


def _ticket(
    tid: int, subject: str, status: str, priority: str, assignee: int | None, org: int, day: int
) -> Any:
    return {
        "id": tid,
        "url": f"https://globex.zendesk.com/api/v2/tickets/{tid}.json",
        "subject": subject,
        "description": f"{subject}. More details inside.",
        "status": status,
        "priority": priority,
        "type": "incident",
        "requester_id": 101,
        "assignee_id": assignee,
        "organization_id": org,
        "tags": ["billing", "export"] if tid == 1 else [],
        "created_at": f"2026-11-{day:02d}T08:12:00Z",
        "updated_at": f"2026-11-{day + 2:02d}T10:03:00Z",
        "due_at": None,
        "via": {"channel": "email"},
    }


ZENDESK_TICKETS = [
    _ticket(1, "Invoices export fails with a timeout", "open", "high", 201, 11, 16),
    _ticket(2, "Add a second admin user", "solved", "low", 202, 12, 10),
    _ticket(3, "SSO login loops", "open", "urgent", 202, 11, 12),
    _ticket(4, "Webhook deliveries delayed", "pending", "high", 201, 12, 8),
    _ticket(5, "Dashboard loads slowly", "open", "normal", None, 11, 5),
]
ZENDESK_COMMENTS = [
    {
        "id": 9001,
        "author_id": 101,
        "public": True,
        "body": "Exporting the October invoices fails.",
        "plain_body": "Exporting the October invoices to CSV fails after a minute with a timeout error.",
        "created_at": "2026-11-16T08:12:00Z",
    },
    {
        "id": 9002,
        "author_id": 201,
        "public": True,
        "plain_body": "Reproduced: exports over 10,000 rows time out. Escalated to engineering as BUG-4411.",
        "created_at": "2026-11-16T09:40:00Z",
    },
    {
        "id": 9003,
        "author_id": 201,
        "public": False,
        "plain_body": "Root cause: missing index on invoice date; fix ships November 24.",
        "created_at": "2026-11-17T17:25:00Z",
    },
    {
        "id": 9004,
        "author_id": 101,
        "public": True,
        "plain_body": "Is there a workaround until the fix ships?",
        "created_at": "2026-11-18T10:03:00Z",
    },
]


def _zendesk_page(request: Request, key: str, items: list[Any], extra: dict[str, str]) -> Reply:
    chunk, page, size = page_of(items, request)
    more = page * size < len(items)
    next_page = request.url(request.path, **extra, page=page + 1, per_page=size) if more else None
    return json_reply({key: chunk, "next_page": next_page, "previous_page": None, "count": len(items)})


def _zendesk_matches(ticket: Any, terms: list[str]) -> bool:
    keywords = {"ticket_type": "type", "assignee": "assignee_id", "requester": "requester_id"}
    keywords |= {"organization": "organization_id"}
    for term in terms:
        negate = term.startswith("-")
        key, _, value = term.lstrip("-").partition(":")
        if key == "type":
            continue
        actual = str(ticket.get(keywords.get(key, key)))
        if (actual == value) == negate:
            return False
    return True


async def _zendesk_ticket(request: Request) -> Reply:
    for ticket in ZENDESK_TICKETS:
        if str(ticket["id"]) == request.match["id"]:
            return json_reply({"ticket": ticket})
    return json_reply({"error": "RecordNotFound", "description": "Not found"}, 404)


async def _zendesk_tickets(request: Request) -> Reply:
    return _zendesk_page(request, "tickets", ZENDESK_TICKETS, {})


async def _zendesk_search(request: Request) -> Reply:
    query = request.param("query")
    terms = query.split()
    results = [dict(t, result_type="ticket") for t in ZENDESK_TICKETS if _zendesk_matches(t, terms)]
    return _zendesk_page(request, "results", results, {"query": query})


async def _zendesk_comments(request: Request) -> Reply:
    if request.match["id"] != "1":
        return json_reply({"comments": [], "next_page": None, "previous_page": None, "count": 0})
    chunk, page, size = page_of(ZENDESK_COMMENTS, request)
    more = page * size < len(ZENDESK_COMMENTS)
    include = request.param("include")
    next_page = request.url(request.path, include=include, page=page + 1, per_page=size) if more else None
    authors = {comment["author_id"] for comment in chunk}
    body: dict[str, Any] = {"comments": chunk, "next_page": next_page, "count": len(ZENDESK_COMMENTS)}
    if include == "users":
        body["users"] = [{"id": u["id"], "name": u["name"]} for u in ZENDESK_USERS if u["id"] in authors]
    return json_reply(body)


def _zendesk_by_id(key: str, items: list[Any]) -> Handler:
    async def handler(request: Request) -> Reply:
        for item in items:
            if str(item["id"]) == request.match["id"]:
                return json_reply({key: item})
        return json_reply({"error": "RecordNotFound"}, 404)

    return handler


def zendesk_app() -> FixtureApp:
    return FixtureApp(
        routes=[
            ("GET", r"/api/v2/tickets/(?P<id>[^/]+)\.json", _zendesk_ticket),
            ("GET", r"/api/v2/tickets\.json", _zendesk_tickets),
            ("GET", r"/api/v2/search\.json", _zendesk_search),
            ("GET", r"/api/v2/tickets/(?P<id>[^/]+)/comments\.json", _zendesk_comments),
            ("GET", r"/api/v2/users/(?P<id>[^/]+)\.json", _zendesk_by_id("user", ZENDESK_USERS)),
            (
                "GET",
                r"/api/v2/organizations/(?P<id>[^/]+)\.json",
                _zendesk_by_id("organization", ZENDESK_ORGS),
            ),
        ],
        auth=ZENDESK_AUTH,
        not_found={"error": "InvalidEndpoint", "description": "Not found"},
    )


# HubSpot CRM v3 ------------------------------------------------------------------------------

_HUBSPOT_DEFAULT_PROPERTIES = ("createdate", "hs_lastmodifieddate", "hs_object_id")


def _deal(did: str, name: str, amount: str, stage: str, owner: str, close: str) -> dict[str, Any]:
    return {
        "id": did,
        "properties": {
            "dealname": name,
            "amount": amount,
            "dealstage": stage,
            "pipeline": "default",
            "closedate": f"{close}T00:00:00Z",
            "hubspot_owner_id": owner,
            "createdate": "2026-10-01T09:00:00Z",
            "hs_lastmodifieddate": "2026-11-18T11:05:00Z",
            "hs_object_id": did,
        },
        "createdAt": "2026-10-01T09:00:00Z",
        "updatedAt": f"2026-11-{int(did) % 20 + 1:02d}T11:05:00Z",
        "archived": False,
    }


HUBSPOT_DEALS = [
    _deal("1001", "Acme Corp platform renewal", "84000", "contractsent", "501", "2026-12-15"),
    _deal("1002", "Globex support seats expansion", "36000", "presentationscheduled", "502", "2027-01-20"),
    _deal("1003", "Initech onboarding package", "12500", "closedwon", "501", "2026-11-10"),
    _deal("1004", "Umbrella Health pilot", "58000", "qualifiedtobuy", "503", "2026-12-30"),
    _deal("1005", "Hooli analytics add-on", "", "appointmentscheduled", "502", "2027-02-01"),
]
HUBSPOT_COMPANIES = [
    {
        "id": "9001",
        "properties": {
            "name": "Acme Corp",
            "domain": "acme.example",
            "industry": "SOFTWARE",
            "city": "Austin",
        },
        "createdAt": "2023-03-01T09:00:00Z",
        "updatedAt": "2026-11-01T09:00:00Z",
        "archived": False,
    }
]
HUBSPOT_NOTES = [
    ("7001", "1001", "2026-11-12T13:20:00Z", "Sent the SOC 2 report and a proposal at $84,000 per year."),
    ("7002", "1001", "2026-10-02T15:04:00.000Z", "Intro call with Dana Reyes, Acme's VP of Operations."),
    ("7003", "1001", "2026-11-18T11:05:00Z", "Legal agreed to the redlines; order form due December 5."),
    ("7004", "1002", "2026-11-01T10:00:00Z", "Globex wants 25 more seats for their Lisbon team."),
]
_NOT_FOUND = {"status": "error", "message": "Object not found.", "category": "OBJECT_NOT_FOUND"}


def _note(note_id: str, at: str, text: str) -> dict[str, Any]:
    return {
        "id": note_id,
        "properties": {"hs_note_body": text, "hs_timestamp": at, "hubspot_owner_id": "501"},
        "createdAt": at,
        "updatedAt": at,
        "archived": False,
    }


def _with_properties(item: dict[str, Any], requested: list[str]) -> dict[str, Any]:
    """HubSpot returns only the properties asked for, plus a few defaults."""
    wanted = set(requested) | set(_HUBSPOT_DEFAULT_PROPERTIES)
    return dict(item, properties={k: v for k, v in item["properties"].items() if k in wanted})


def _compare(actual: str | None, expected: str) -> int | None:
    if actual is None or actual == "":
        return None
    try:
        left, right = float(actual), float(expected)
    except ValueError:
        left_text, right_text = actual.casefold(), expected.casefold()
        return (left_text > right_text) - (left_text < right_text)
    return (left > right) - (left < right)


def _hubspot_matches(properties: dict[str, str], condition: dict[str, Any]) -> bool:
    actual = properties.get(condition["propertyName"])
    operator = condition["operator"]
    if operator == "IN":
        return any(_compare(actual, value) == 0 for value in condition["values"])
    if operator == "BETWEEN":
        low, high = _compare(actual, condition["value"]), _compare(actual, condition["highValue"])
        return low is not None and high is not None and low >= 0 and high <= 0
    order = _compare(actual, condition["value"])
    if operator == "NEQ":
        return order != 0
    checks = {"EQ": (0,), "LT": (-1,), "LTE": (-1, 0), "GT": (1,), "GTE": (0, 1)}
    return order in checks[operator]


def _hubspot_page(items: list[Any], limit: int, after: str, request: Request) -> dict[str, Any]:
    start = int(after or 0)
    body: dict[str, Any] = {"results": items[start : start + limit]}
    if start + limit < len(items):
        link = request.url(request.path, after=start + limit, limit=limit)
        body["paging"] = {"next": {"after": str(start + limit), "link": link}}
    return body


async def _hubspot_deals(request: Request) -> Reply:
    requested = request.param("properties").split(",")
    deals = [_with_properties(deal, requested) for deal in HUBSPOT_DEALS]
    return json_reply(
        _hubspot_page(deals, int(request.param("limit", "10")), request.param("after"), request)
    )


async def _hubspot_deal(request: Request) -> Reply:
    for deal in HUBSPOT_DEALS:
        if deal["id"] == request.match["id"]:
            found = _with_properties(deal, request.param("properties").split(","))
            if "companies" in request.param("associations").split(",") and deal["id"] == "1001":
                association = {"id": "9001", "type": "deal_to_company"}
                found["associations"] = {"companies": {"results": [association]}}
            return json_reply(found)
    return json_reply(_NOT_FOUND, 404)


async def _hubspot_deal_search(request: Request) -> Reply:
    groups = request.body.get("filterGroups", [])
    matching = [
        _with_properties(deal, request.body.get("properties", []))
        for deal in HUBSPOT_DEALS
        if not groups
        or any(all(_hubspot_matches(deal["properties"], c) for c in g["filters"]) for g in groups)
    ]
    body = _hubspot_page(matching, int(request.body.get("limit", 10)), request.body.get("after", ""), request)
    return json_reply({"total": len(matching), **body})


async def _hubspot_note_search(request: Request) -> Reply:
    (condition,) = request.body["filterGroups"][0]["filters"]
    assert condition["propertyName"] == "associations.deal" and condition["operator"] == "EQ"
    notes = [_note(nid, at, text) for nid, deal, at, text in HUBSPOT_NOTES if deal == condition["value"]]
    notes.sort(key=lambda note: note["properties"]["hs_timestamp"])
    body = _hubspot_page(notes, int(request.body.get("limit", 10)), request.body.get("after", ""), request)
    return json_reply({"total": len(notes), **body})


async def _hubspot_company(request: Request) -> Reply:
    for company in HUBSPOT_COMPANIES:
        if company["id"] == request.match["id"]:
            return json_reply(_with_properties(company, request.param("properties").split(",")))
    return json_reply(_NOT_FOUND, 404)


def hubspot_app() -> FixtureApp:
    return FixtureApp(
        routes=[
            ("GET", r"/crm/v3/objects/deals", _hubspot_deals),
            ("POST", r"/crm/v3/objects/deals/search", _hubspot_deal_search),
            ("GET", r"/crm/v3/objects/deals/(?P<id>[^/]+)", _hubspot_deal),
            ("POST", r"/crm/v3/objects/notes/search", _hubspot_note_search),
            ("GET", r"/crm/v3/objects/companies/(?P<id>[^/]+)", _hubspot_company),
        ],
        auth=HUBSPOT_AUTH,
        not_found=_NOT_FOUND,
    )


# A host that misbehaves ----------------------------------------------------------------------


async def _fault(request: Request) -> Reply:
    name = request.match["name"]
    if name == "slow":
        await asyncio.sleep(1)
    replies = {
        "ok": json_reply({"thing": {"id": "ok", "name": "A fine thing"}}),
        "locked": json_reply({"error": "forbidden"}, 403),
        "unauthorized": json_reply({"error": "unauthorized"}, 401),
        "broken": json_reply({"error": "internal"}, 500),
        "busy": json_reply({"error": "slow down"}, 429),
        "garbled": Reply(b"<html>Service temporarily unavailable</html>", 200, "text/html"),
        "shapeless": json_reply({"data": {"id": "shapeless"}}),
        "scalar": json_reply({"thing": "just a string"}),
        "slow": json_reply({"thing": {"id": "slow", "name": "Too late"}}),
    }
    return replies.get(name, json_reply({"error": "not found"}, 404))


async def _fault_list(request: Request) -> Reply:
    """A list whose next-page link points at another host (it must not be followed)."""
    return json_reply(
        {"things": [{"id": "ok", "name": "A fine thing"}], "next": "http://evil.example/things?page=2"}
    )


def faults_app() -> FixtureApp:
    return FixtureApp(
        routes=[("GET", r"/things/(?P<name>[^/]+)", _fault), ("GET", r"/things", _fault_list)],
    )
