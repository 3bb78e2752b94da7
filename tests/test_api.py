"""The HTTP API end to end over a real loopback server, with the offline provider."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest
from conftest import OTHER_SECRET, TENANT_SECRET, ServerThread, free_port, make_settings, token_for
from helpers import events_of

from margin.auth import mint_token

SSE = {"Accept": "text/event-stream"}
DEAL = {"record": {"type": "deal", "id": "D-1001"}}
CASE = {"record": {"type": "case", "id": "C-2001"}}
EXPIRED = {"tenant": "acme", "sub": "alice", "iat": 1, "exp": 2}


def auth(tenant: str = "acme", **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(tenant)}", **extra}


def test_summarize_streams_meta_deltas_and_done(server: ServerThread) -> None:
    response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=auth(**SSE))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    events = events_of(response.text)
    names = [e.event for e in events]
    assert names[0] == "meta" and names[-1] == "done"
    assert names.count("delta") >= 5
    assert [e.id for e in events] == [str(n) for n in range(1, len(events) + 1)]
    meta = events[0].data
    assert meta["provider"] == "offline" and meta["degraded"] is True and meta["cached"] is False
    assert meta["feature"] == "summarize" and meta["prompt_version"] == "summarize.v1"
    text = "".join(e.data["text"] for e in events if e.event == "delta")
    assert "$84,000" in text and "Stage: Negotiation" in text and "Last activity: email by Dana Reyes" in text
    done = events[-1].data
    assert done["usage"]["output_tokens"] > 0 and done["latency_ms"] >= done["ttft_ms"] > 0
    assert done["cost_usd"] == 0


def test_summarize_case_as_json(server: ServerThread) -> None:
    response = httpx.post(f"{server.url}/v1/summarize", json=CASE, headers=auth(Accept="application/json"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["feature"] == "summarize"
    text = body["text"]
    assert "Customer: Globex" in text and "Status: Open" in text
    assert "Last activity: comment by Hank Scorpio" in text and "workaround until the fix ships" in text
    assert body["result"] is None and body["done"]["usage"]["output_tokens"] > 0


def test_draft_follow_up_email_uses_record_and_instruction(server: ServerThread) -> None:
    body = {**DEAL, "kind": "follow_up_email", "instruction": "Offer a call on Thursday"}
    response = httpx.post(f"{server.url}/v1/draft", json=body, headers=auth())
    assert response.status_code == 200, response.text
    text = response.json()["text"]
    assert "Acme" in text and "Thursday" in text
    assert response.json()["meta"]["prompt_version"] == "draft.v1"


def test_query_streams_a_result_table(server: ServerThread) -> None:
    body = {"question": "deals over $40,000, largest first"}
    response = httpx.post(f"{server.url}/v1/query", json=body, headers=auth(**SSE))
    events = events_of(response.text)
    result = next(e.data["data"] for e in events if e.event == "result" and e.data["kind"] == "table")
    amounts = [row[result["columns"].index("amount")] for row in result["rows"]]
    assert (
        amounts == sorted(amounts, reverse=True) and min(amounts) > 40000 and result["total"] == len(amounts)
    )
    assert result["description"]
    assert events[-1].event == "done"


def test_query_that_cannot_be_parsed_says_so(server: ServerThread) -> None:
    body = {"question": "deals by favourite colour"}
    response = httpx.post(f"{server.url}/v1/query", json=body, headers=auth())
    assert response.status_code == 200
    assert response.json()["result"] is None
    assert "couldn't turn that into a query" in response.json()["text"]


@pytest.mark.parametrize(
    ("path", "content", "status", "needle"),
    [
        ("/v1/summarize", b"{not json", 400, "not valid JSON"),
        ("/v1/summarize", b"{}", 400, "record"),
        ("/v1/summarize", b'{"record": {"type": "deal", "id": "D-1001"}, "colour": 1}', 400, "colour"),
        ("/v1/summarize", b'{"record": {"type": "deal", "id": 1001}}', 400, "Expected `str`"),
        ("/v1/summarize", b"[]", 400, "Expected `object`"),
        ("/v1/draft", b'{"record": {"type": "deal", "id": "D-1001"}, "kind": "poem"}', 400, "kind"),
        (
            "/v1/draft",
            b'{"record": {"type": "deal", "id": "D-1001"}, "kind": "case_reply", "instruction": ""}',
            400,
            "instruction",
        ),
        ("/v1/query", b'{"question": ""}', 400, "question"),
        ("/v1/summarize", b'{"record": {"type": "deal", "id": "D-9999"}}', 404, "D-9999"),
        ("/v1/summarize", b'{"record": {"type": "invoice", "id": "I-1"}}', 404, "invoice"),
        ("/v1/translate", b"{}", 404, "Unknown feature 'translate'"),
    ],
)
def test_bad_input_gets_a_clear_error(
    server: ServerThread, path: str, content: bytes, status: int, needle: str
) -> None:
    headers = auth(**{"Content-Type": "application/json"})
    response = httpx.post(f"{server.url}{path}", content=content, headers=headers)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status and body["code"]
    assert needle in body["detail"] or needle in str(body.get("extra")), body


def test_oversized_body_is_rejected_with_413(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, server={"max_body_bytes": 1024})
    with ServerThread(settings) as server:
        body = {"question": "x" * 900, "record": {"type": "deal", "id": "D-1001" + "y" * 400}}
        response = httpx.post(f"{server.url}/v1/query", json=body, headers=auth())
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


@pytest.mark.parametrize(
    ("headers", "status", "needle"),
    [
        ({}, 401, "Missing Authorization"),
        ({"Authorization": "Basic abc"}, 401, "Bearer"),
        ({"Authorization": "Bearer not-a-jwt"}, 401, "Malformed"),
        (
            {"Authorization": f"Bearer {mint_token(OTHER_SECRET, tenant='acme', user_id='mallory')}"},
            401,
            "signature",
        ),
        (
            {"Authorization": f"Bearer {jwt.encode(EXPIRED, TENANT_SECRET, algorithm='HS256')}"},
            401,
            "expired",
        ),
        (
            {"Authorization": f"Bearer {jwt.encode(EXPIRED | {'exp': 2**40}, TENANT_SECRET * 2, 'HS384')}"},
            401,
            "HS256",
        ),
    ],
)
def test_bad_tokens_are_refused(
    server: ServerThread, headers: dict[str, str], status: int, needle: str
) -> None:
    response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=headers)
    assert response.status_code == status
    assert needle in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_of_an_unknown_tenant_is_forbidden(server: ServerThread) -> None:
    forged = mint_token("z" * 40, tenant="initech", user_id="mallory")
    response = httpx.post(
        f"{server.url}/v1/summarize", json=DEAL, headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 403 and "initech" in response.json()["detail"]


def test_origin_must_be_allowed_for_the_tenant(server: ServerThread) -> None:
    allowed = auth(Origin="https://crm.acme.example")
    assert httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=allowed).status_code == 200
    other = auth(Origin="https://evil.example")
    response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=other)
    assert response.status_code == 403 and "evil.example" in response.json()["detail"]
    # globex allows any origin
    assert (
        httpx.post(
            f"{server.url}/v1/summarize", json=DEAL, headers=auth("globex", Origin="https://x.example")
        ).status_code
        == 200
    )


def test_cors_preflight_allows_configured_origins(server: ServerThread) -> None:
    response = httpx.options(
        f"{server.url}/v1/summarize",
        headers={
            "Origin": "https://crm.acme.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] in ("*", "https://crm.acme.example")


def test_health_readiness_and_openapi(server: ServerThread) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["interaction_store"] == "ok"
    schema = httpx.get(f"{server.url}/schema/openapi.json").json()
    assert {"/v1/summarize", "/v1/draft", "/v1/query"} <= set(schema["paths"])


def test_a_rep_cannot_read_someone_elses_deal(server: ServerThread) -> None:
    bob = {"Authorization": f"Bearer {token_for('acme', 'bob', roles=('rep',))}"}
    response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=bob)
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    manager = {"Authorization": f"Bearer {token_for('acme', 'bob', roles=('manager',))}"}
    assert httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=manager).status_code == 200


def test_a_rep_only_gets_their_own_deals_from_a_query(server: ServerThread) -> None:
    bob = {"Authorization": f"Bearer {token_for('acme', 'bob', roles=('rep',))}"}
    response = httpx.post(f"{server.url}/v1/query", json={"question": "all deals"}, headers=bob)
    result = response.json()["result"]["data"]
    owners = {row[result["columns"].index("owner")] for row in result["rows"]}
    assert owners == {"bob"}


def test_host_app_down_is_a_502(tmp_path: Path) -> None:
    ticket = {"label": "Ticket", "plural": "Tickets", "get": "/tickets/{id}", "title_field": "subject"}
    ticket["fields"] = {"subject": {"type": "string"}}
    dead = {"kind": "rest", "base_url": f"http://127.0.0.1:{free_port()}", "record_types": {"ticket": ticket}}
    tenants = {"acme": {"secret": TENANT_SECRET, "adapters": ["dead"]}}
    settings = make_settings(tmp_path, adapters={"dead": dead}, tenants=tenants)
    with ServerThread(settings) as server:
        body = {"record": {"type": "ticket", "id": "T-1"}}
        response = httpx.post(f"{server.url}/v1/summarize", json=body, headers=auth())
    assert response.status_code == 502 and response.json()["code"] == "host_unavailable"


def test_an_unexpected_exception_is_a_json_error_with_a_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from margin.features.summarize import Summarize

    async def crash(self: Summarize, body: object, context: object) -> None:
        raise ZeroDivisionError("a bug in a feature")

    monkeypatch.setattr(Summarize, "prepare", crash)
    with ServerThread(make_settings(tmp_path)) as server:
        response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=auth())
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error" and body["status_code"] == 500
    assert "ZeroDivisionError" not in body["detail"]  # the traceback goes to the log, not the user


@pytest.mark.parametrize("path", ["/v1/summarize", "/v1/query", "/v1/feedback"])
def test_json_nested_too_deeply_is_a_400(server: ServerThread, path: str) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = httpx.post(
        f"{server.url}{path}", content=body, headers={**auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert "nested too deeply" in response.json()["detail"]
    anonymous = httpx.post(f"{server.url}{path}", content=body, headers={"Content-Type": "application/json"})
    assert anonymous.status_code in (400, 401) and anonymous.json()["code"] in (
        "invalid_request",
        "unauthorized",
    )
