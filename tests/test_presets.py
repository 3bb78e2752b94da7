"""The Zendesk and HubSpot presets against local servers answering in those APIs' documented shapes."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import msgspec
import pytest
from fixtures_rest import HUBSPOT_DEALS, ZENDESK_TICKETS, LoopbackServer, hubspot_app, zendesk_app

from margin.adapters import (
    Aggregate,
    Filter,
    ForbiddenError,
    QuerySpec,
    RecordNotFoundError,
    RecordRef,
    Sort,
    User,
)
from margin.adapters.rest import RestAdapter, RestAdapterConfig, hubspot_config, zendesk_config

TODAY = date(2026, 11, 20)
ADMIN = User(tenant="globex", user_id="1", roles=("admin",))
ZENDESK_ENV = {"ZENDESK_TOKEN": "zd-secret"}
HUBSPOT_ENV = {"HUBSPOT_TOKEN": "hs-secret"}


@pytest.fixture(scope="module")
def zendesk() -> Iterator[LoopbackServer]:
    with LoopbackServer(zendesk_app()) as server:
        yield server


@pytest.fixture(scope="module")
def hubspot() -> Iterator[LoopbackServer]:
    with LoopbackServer(hubspot_app()) as server:
        yield server


async def started(config: RestAdapterConfig, env: dict[str, str], **changes: Any) -> RestAdapter:
    adapter = RestAdapter(msgspec.structs.replace(config, **changes), env=env, today=TODAY)
    await adapter.start()
    return adapter


@pytest.fixture
async def tickets(zendesk: LoopbackServer) -> AsyncIterator[RestAdapter]:
    zendesk.recording.seen.clear()
    config = zendesk_config(zendesk.url, email="agent@globex.example", token_env="ZENDESK_TOKEN")
    adapter = await started(config, ZENDESK_ENV, page_size=2)
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def deals(hubspot: LoopbackServer) -> AsyncIterator[RestAdapter]:
    hubspot.recording.seen.clear()
    adapter = await started(hubspot_config("HUBSPOT_TOKEN", base_url=hubspot.url), HUBSPOT_ENV, page_size=2)
    yield adapter
    await adapter.aclose()


def column(result: Any, name: str) -> list[Any]:
    index = result.columns.index(name)
    return [row[index] for row in result.rows]


# Zendesk -------------------------------------------------------------------------------------


async def test_zendesk_describe_has_tickets_users_and_organizations(tickets: RestAdapter) -> None:
    schemas = {schema.name: schema for schema in await tickets.describe()}
    assert set(schemas) == {"ticket", "user", "organization"}
    email = schemas["user"].field("email")
    assert email is not None and email.sensitive
    assert {r.name for r in schemas["ticket"].relations} == {"requester", "assignee", "organization"}


async def test_zendesk_ticket_context(tickets: RestAdapter, zendesk: LoopbackServer) -> None:
    context = await tickets.fetch_context(RecordRef(type="ticket", id="1"), ADMIN)

    assert context.title == "Invoices export fails with a timeout"
    values = {f.name: f.value for f in context.fields}
    assert (values["id"], values["status"], values["priority"]) == (1, "open", "high")
    assert values["tags"] == "billing, export"
    assert context.version == "2026-11-18T10:03:00Z"
    assert [(e.author, e.kind) for e in context.timeline] == [
        ("Hank Scorpio", "comment"),
        ("Alice Agent", "comment"),
        ("Alice Agent", "internal note"),
        ("Hank Scorpio", "comment"),
    ]
    assert {(r.relation, r.title) for r in context.related} == {
        ("requester", "Hank Scorpio"),
        ("assignee", "Alice Agent"),
        ("organization", "Globex"),
    }
    comments = zendesk.recording.requests("/api/v2/tickets/1/comments.json")
    assert [(c.param("page"), c.param("include")) for c in comments] == [(None, "users"), ("2", "users")]
    assert all(seen.headers["authorization"].startswith("Basic ") for seen in zendesk.recording.seen)


async def test_zendesk_wrong_token_is_refused(zendesk: LoopbackServer) -> None:
    config = zendesk_config(zendesk.url, email="agent@globex.example", token_env="ZENDESK_TOKEN")
    adapter = await started(config, {"ZENDESK_TOKEN": "wrong"})
    try:
        with pytest.raises(ForbiddenError, match=r"refused access to ticket '1' \(HTTP 401\)"):
            await adapter.fetch_context(RecordRef(type="ticket", id="1"), ADMIN)
    finally:
        await adapter.aclose()


async def test_zendesk_missing_ticket(tickets: RestAdapter) -> None:
    with pytest.raises(RecordNotFoundError, match="ticket '999'"):
        await tickets.fetch_context(RecordRef(type="ticket", id="999"), ADMIN)


async def test_zendesk_filters_go_to_the_search_api(tickets: RestAdapter, zendesk: LoopbackServer) -> None:
    spec = QuerySpec(
        record_type="ticket",
        filters=(
            Filter(field="status", op="!=", value="solved"),
            Filter(field="priority", op="=", value="high"),
        ),
    )
    result = await tickets.run_query(spec, ADMIN)

    searches = zendesk.recording.requests("/api/v2/search.json")
    assert searches[0].param("query") == "type:ticket -status:solved priority:high"
    expected = [t["id"] for t in ZENDESK_TICKETS if t["status"] != "solved" and t["priority"] == "high"]
    assert sorted(column(result, "id")) == expected
    assert result.total == len(expected)


async def test_zendesk_search_follows_next_page_links(tickets: RestAdapter, zendesk: LoopbackServer) -> None:
    spec = QuerySpec(
        record_type="ticket",
        filters=(Filter(field="status", op="=", value="open"),),
        sort=(Sort(field="id"),),
    )
    result = await tickets.run_query(spec, ADMIN)
    assert column(result, "id") == [1, 3, 5]
    pages = [seen.param("page") for seen in zendesk.recording.requests("/api/v2/search.json")]
    assert pages == [None, "2"]


async def test_zendesk_unfilterable_queries_read_the_ticket_list(
    tickets: RestAdapter, zendesk: LoopbackServer
) -> None:
    spec = QuerySpec(
        record_type="ticket",
        filters=(Filter(field="subject", op="contains", value="export"),),
        sort=(Sort(field="created_at", direction="desc"),),
    )
    result = await tickets.run_query(spec, ADMIN)
    assert column(result, "id") == [1]
    assert [seen.path for seen in zendesk.recording.seen] == ["/api/v2/tickets.json"] * 3
    assert zendesk.recording.seen[0].param("per_page") == "2"


async def test_zendesk_group_by_reads_every_page(tickets: RestAdapter) -> None:
    spec = QuerySpec(record_type="ticket", group_by="status", aggregate=Aggregate(fn="count"))
    result = await tickets.run_query(spec, ADMIN)
    assert {row[0]: row[1] for row in result.rows} == {"open": 3, "solved": 1, "pending": 1}


async def test_zendesk_scope_by_owner(zendesk: LoopbackServer) -> None:
    zendesk.recording.seen.clear()
    config = zendesk_config(
        zendesk.url, email="agent@globex.example", token_env="ZENDESK_TOKEN", scope_by_owner=True
    )
    adapter = await started(config, ZENDESK_ENV)
    agent = User(tenant="globex", user_id="201", roles=("rep",))
    try:
        result = await adapter.run_query(QuerySpec(record_type="ticket"), agent)
        with pytest.raises(ForbiddenError):
            await adapter.fetch_context(RecordRef(type="ticket", id="3"), agent)
    finally:
        await adapter.aclose()
    assert zendesk.recording.seen[0].param("query") == "type:ticket assignee:201"
    assert sorted(column(result, "id")) == [1, 4]


async def test_zendesk_preset_from_toml_alone(zendesk: LoopbackServer) -> None:
    text = f"""
    max_pages = 3
    page_size = 2

    [preset]
    name = "zendesk"
    base_url = "{zendesk.url}"
    email = "agent@globex.example"
    token_env = "ZENDESK_TOKEN"
    """
    config = msgspec.convert(tomllib.loads(text), RestAdapterConfig)
    adapter = RestAdapter(config, env=ZENDESK_ENV)
    assert (adapter.config.max_pages, adapter.config.page_size) == (3, 2)
    await adapter.start()
    try:
        context = await adapter.fetch_context(RecordRef(type="ticket", id="1"), ADMIN)
    finally:
        await adapter.aclose()
    assert context.title == "Invoices export fails with a timeout"


# HubSpot -------------------------------------------------------------------------------------


async def test_hubspot_deal_context(deals: RestAdapter, hubspot: LoopbackServer) -> None:
    context = await deals.fetch_context(RecordRef(type="deal", id="1001"), ADMIN)

    assert context.title == "Acme Corp platform renewal"
    values = {f.name: f.value for f in context.fields}
    assert values["amount"] == 84000
    assert values["stage"] == "contractsent"
    assert values["close_date"] == "2026-12-15"
    assert values["owner"] == "501"
    assert context.version == HUBSPOT_DEALS[0]["updatedAt"]
    assert [e.text.split()[0] for e in context.timeline] == ["Intro", "Sent", "Legal"]
    assert {e.kind for e in context.timeline} == {"note"}
    assert [(r.type, r.id, r.title) for r in context.related] == [("company", "9001", "Acme Corp")]

    (get,) = hubspot.recording.requests("/crm/v3/objects/deals/1001")
    assert "dealname" in (get.param("properties") or "").split(",")
    assert get.param("associations") == "companies"
    notes = hubspot.recording.requests("/crm/v3/objects/notes/search")
    assert [note.body.get("after") for note in notes] == [None, "2"]
    assert notes[0].body["filterGroups"][0]["filters"][0]["value"] == "1001"
    assert all(seen.headers["authorization"] == "Bearer hs-secret" for seen in hubspot.recording.seen)


async def test_hubspot_missing_deal(deals: RestAdapter) -> None:
    with pytest.raises(RecordNotFoundError, match="deal '4242'"):
        await deals.fetch_context(RecordRef(type="deal", id="4242"), ADMIN)


async def test_hubspot_filters_go_to_the_search_endpoint(deals: RestAdapter, hubspot: LoopbackServer) -> None:
    spec = QuerySpec(
        record_type="deal",
        filters=(
            Filter(field="amount", op=">", value=30000),
            Filter(field="stage", op="in", value=["contractsent", "qualifiedtobuy", "presentationscheduled"]),
        ),
        sort=(Sort(field="amount", direction="desc"),),
    )
    result = await deals.run_query(spec, ADMIN)

    assert column(result, "name") == [
        "Acme Corp platform renewal",
        "Umbrella Health pilot",
        "Globex support seats expansion",
    ]
    assert result.total == 3
    searches = hubspot.recording.requests("/crm/v3/objects/deals/search")
    assert [seen.method for seen in searches] == ["POST", "POST"]
    (group,) = searches[0].body["filterGroups"]
    assert group["filters"] == [
        {"propertyName": "amount", "operator": "GT", "value": "30000"},
        {
            "propertyName": "dealstage",
            "operator": "IN",
            "values": ["contractsent", "qualifiedtobuy", "presentationscheduled"],
        },
    ]
    assert (searches[0].body["limit"], searches[1].body["after"]) == (2, "2")


async def test_hubspot_unfiltered_queries_page_with_the_after_cursor(
    deals: RestAdapter, hubspot: LoopbackServer
) -> None:
    result = await deals.run_query(QuerySpec(record_type="deal", sort=(Sort(field="close_date"),)), ADMIN)
    assert column(result, "id") == ["1003", "1001", "1004", "1002", "1005"]
    assert column(result, "amount")[-1] is None  # HubSpot sends "" for an empty amount
    lists = hubspot.recording.requests("/crm/v3/objects/deals")
    assert [seen.param("after") for seen in lists] == [None, "2", "4"]


async def test_hubspot_group_by_stage(deals: RestAdapter) -> None:
    spec = QuerySpec(record_type="deal", group_by="stage", aggregate=Aggregate(fn="sum", field="amount"))
    result = await deals.run_query(spec, ADMIN)
    assert {row[0]: row[1] for row in result.rows}["contractsent"] == 84000


async def test_hubspot_scope_by_owner(hubspot: LoopbackServer) -> None:
    hubspot.recording.seen.clear()
    config = hubspot_config("HUBSPOT_TOKEN", base_url=hubspot.url, scope_by_owner=True)
    adapter = await started(config, HUBSPOT_ENV)
    rep = User(tenant="acme", user_id="502", roles=("rep",))
    try:
        result = await adapter.run_query(QuerySpec(record_type="deal"), rep)
    finally:
        await adapter.aclose()
    assert sorted(column(result, "id")) == ["1002", "1005"]
    (search,) = hubspot.recording.seen
    assert search.body["filterGroups"][0]["filters"] == [
        {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "502"}
    ]


async def test_hubspot_preset_from_toml_alone(hubspot: LoopbackServer) -> None:
    text = f"""
    see_all_roles = ["admin"]
    preset = {{ name = "hubspot", token_env = "HUBSPOT_TOKEN", base_url = "{hubspot.url}" }}
    """
    config = msgspec.convert(tomllib.loads(text), RestAdapterConfig)
    adapter = RestAdapter(config, env=HUBSPOT_ENV)
    await adapter.start()
    try:
        result = await adapter.run_query(
            QuerySpec(record_type="deal", filters=(Filter(field="stage", op="=", value="closedwon"),)), ADMIN
        )
    finally:
        await adapter.aclose()
    assert column(result, "name") == ["Initech onboarding package"]
