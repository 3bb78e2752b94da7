"""The REST adapter against the demo case-management API, served for real on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import msgspec
import pytest
from fixtures_rest import LoopbackServer
from litestar import Litestar

from margin.adapters import (
    Aggregate,
    Filter,
    ForbiddenError,
    Period,
    QuerySpec,
    RecordNotFoundError,
    RecordRef,
    Sort,
    User,
)
from margin.adapters.rest import RestAdapter, RestAdapterConfig
from margin.adapters.validation import InvalidQueryError
from margin.demo.cases_api import cases_router
from margin.demo.cases_config import demo_cases_config
from margin.demo.cases_data import CASES

TODAY = date(2026, 11, 20)
ADMIN = User(tenant="acme", user_id="zed", roles=("admin",))
MANAGER = User(tenant="acme", user_id="mia", roles=("manager",))
ALICE = User(tenant="acme", user_id="alice", roles=("rep",))
NOBODY = User(tenant="acme", user_id="", roles=("rep",))


@pytest.fixture(scope="module")
def cases_server() -> Iterator[LoopbackServer]:
    app = Litestar(route_handlers=[cases_router("/demo/api")], logging_config=None)
    with LoopbackServer(app) as server:
        yield server


def cases_config(server: LoopbackServer, **changes: object) -> RestAdapterConfig:
    config = demo_cases_config(f"{server.url}/demo/api")
    return msgspec.structs.replace(config, **changes)


@pytest.fixture
async def cases(cases_server: LoopbackServer) -> AsyncIterator[RestAdapter]:
    cases_server.recording.seen.clear()
    adapter = RestAdapter(cases_config(cases_server), today=TODAY)
    await adapter.start()
    yield adapter
    await adapter.aclose()


async def paged(server: LoopbackServer, **changes: object) -> RestAdapter:
    adapter = RestAdapter(cases_config(server, **changes), today=TODAY)
    await adapter.start()
    return adapter


def ids(rows: tuple[tuple[Any, ...], ...]) -> list[Any]:
    return [row[0] for row in rows]


async def test_describe_reports_the_configured_record_types(cases: RestAdapter) -> None:
    case, customer = await cases.describe()
    assert (case.name, case.plural, case.title_field) == ("case", "cases", "subject")
    status = case.field("status")
    assert status is not None and status.allowed_values == ("new", "open", "pending", "solved", "closed")
    created = case.field("created_at")
    assert created is not None and created.type == "date"
    assert [(r.name, r.target) for r in case.relations] == [("customer", "customer")]
    email = customer.field("contact_email")
    assert email is not None and email.sensitive and not email.queryable


async def test_fetch_context_of_c2001_names_its_facts_timeline_and_version(
    cases: RestAdapter, cases_server: LoopbackServer
) -> None:
    context = await cases.fetch_context(RecordRef(type="case", id="C-2001"), ALICE)

    assert context.title == "Invoices export fails with a timeout"
    values = {f.name: f.value for f in context.fields}
    assert values["status"] == "open"
    assert values["priority"] == "high"
    assert values["customer"] == "Globex"
    assert values["assignee"] == "alice"
    assert values["created_at"] == "2026-11-16"
    assert [(e.author, e.kind) for e in context.timeline] == [
        ("Hank Scorpio", "comment"),
        ("alice", "comment"),
        ("engineering", "note"),
        ("Hank Scorpio", "comment"),
    ]
    assert "workaround" in context.timeline[-1].text
    assert context.version == "2026-11-18T10:03:00Z"
    assert [(r.type, r.id, r.title, r.relation) for r in context.related] == [
        ("customer", "CU-103", "Globex", "customer")
    ]
    paths = [seen.path for seen in cases_server.recording.seen]
    assert paths == ["/demo/api/cases/C-2001", "/demo/api/cases/C-2001/comments"]


async def test_timeline_is_read_across_pages(cases_server: LoopbackServer) -> None:
    cases_server.recording.seen.clear()
    adapter = await paged(cases_server, page_size=3)
    try:
        context = await adapter.fetch_context(RecordRef(type="case", id="C-2001"), ADMIN)
    finally:
        await adapter.aclose()
    assert len(context.timeline) == 4
    pages = [
        (seen.param("page"), seen.param("per_page"))
        for seen in cases_server.recording.requests("/demo/api/cases/")
    ]
    assert pages == [(None, None), ("1", "3"), ("2", "3")]


async def test_customer_context_marks_contact_details_sensitive(cases: RestAdapter) -> None:
    context = await cases.fetch_context(RecordRef(type="customer", id="CU-103"), ADMIN)
    assert context.title == "Globex"
    email = context.field("contact_email")
    assert email is not None and email.sensitive and email.value == "hank.scorpio@globex.example"
    assert context.timeline == ()


async def test_unknown_case_is_record_not_found(cases: RestAdapter) -> None:
    with pytest.raises(RecordNotFoundError, match="C-9999"):
        await cases.fetch_context(RecordRef(type="case", id="C-9999"), ADMIN)


async def test_unknown_record_type_is_record_not_found(cases: RestAdapter) -> None:
    with pytest.raises(RecordNotFoundError, match="expected one of: case, customer"):
        await cases.fetch_context(RecordRef(type="invoice", id="1"), ADMIN)


async def test_rep_cannot_open_a_case_assigned_to_someone_else(cases: RestAdapter) -> None:
    with pytest.raises(ForbiddenError):
        await cases.fetch_context(RecordRef(type="case", id="C-2003"), ALICE)  # carol's
    with pytest.raises(ForbiddenError):
        await cases.fetch_context(RecordRef(type="case", id="C-2009"), ALICE)  # unassigned: fails closed
    context = await cases.fetch_context(RecordRef(type="case", id="C-2003"), MANAGER)
    assert context.title.startswith("SSO")


@pytest.mark.parametrize("record_id", ["../admin", "..", "C-2001/../../admin", "a//b", ""])
async def test_ids_that_could_leave_the_path_are_refused_without_a_request(
    cases: RestAdapter, cases_server: LoopbackServer, record_id: str
) -> None:
    with pytest.raises(RecordNotFoundError, match="not a valid id"):
        await cases.fetch_context(RecordRef(type="case", id=record_id), ADMIN)
    assert cases_server.recording.seen == []


async def test_ids_are_encoded_as_one_path_segment(cases: RestAdapter, cases_server: LoopbackServer) -> None:
    with pytest.raises(RecordNotFoundError):
        await cases.fetch_context(RecordRef(type="case", id="a/b?c=1#d"), ADMIN)
    (seen,) = cases_server.recording.seen
    assert seen.raw_path == "/demo/api/cases/a%2Fb%3Fc%3D1%23d"
    assert seen.query == {}


async def test_equality_filter_is_sent_to_the_host(cases: RestAdapter, cases_server: LoopbackServer) -> None:
    spec = QuerySpec(record_type="case", filters=(Filter(field="status", op="=", value="open"),), limit=50)
    result = await cases.run_query(spec, ADMIN)

    (seen,) = cases_server.recording.seen
    assert seen.param("status") == "open"
    expected = sorted(c.id for c in CASES.values() if c.status == "open")
    assert sorted(ids(result.rows)) == expected
    assert result.total == len(expected)
    assert result.columns[:3] == ("id", "subject", "status")


async def test_in_filter_is_sent_as_a_comma_separated_list(
    cases: RestAdapter, cases_server: LoopbackServer
) -> None:
    spec = QuerySpec(
        record_type="case",
        filters=(
            Filter(field="status", op="in", value=["open", "pending"]),
            Filter(field="priority", op="=", value="urgent"),
        ),
    )
    result = await cases.run_query(spec, ADMIN)
    (seen,) = cases_server.recording.seen
    assert (seen.param("status"), seen.param("priority")) == ("open,pending", "urgent")
    assert sorted(ids(result.rows)) == ["C-2003", "C-2013", "C-2021"]


async def test_filters_the_api_lacks_run_in_memory(cases: RestAdapter, cases_server: LoopbackServer) -> None:
    spec = QuerySpec(
        record_type="case",
        filters=(
            Filter(field="subject", op="contains", value="EXPORT"),
            Filter(field="customer", op="=", value="globex"),
        ),
    )
    result = await cases.run_query(spec, ADMIN)
    (seen,) = cases_server.recording.seen
    assert set(seen.query) == {"page", "per_page"}
    assert ids(result.rows) == ["C-2001"]
    assert result.total == 1


async def test_relative_dates_sort_and_limit(cases: RestAdapter) -> None:
    spec = QuerySpec(
        record_type="case",
        filters=(Filter(field="created_at", op="between", value=Period(name="last_n_days", n=7)),),
        sort=(Sort(field="updated_at", direction="desc"),),
        limit=3,
    )
    result = await cases.run_query(spec, ADMIN)
    recent = sorted(
        (c for c in CASES.values() if "2026-11-14" <= c.created_at.date().isoformat() <= "2026-11-20"),
        key=lambda c: c.updated_at,
        reverse=True,
    )
    assert ids(result.rows) == [c.id for c in recent[:3]]
    assert result.total == len(recent)


async def test_group_by_counts_every_page(cases_server: LoopbackServer) -> None:
    adapter = await paged(cases_server, page_size=4)
    try:
        spec = QuerySpec(record_type="case", group_by="status", aggregate=Aggregate(fn="count"))
        result = await adapter.run_query(spec, ADMIN)
    finally:
        await adapter.aclose()
    counts = {row[0]: row[1] for row in result.rows}
    for status in ("new", "open", "pending", "solved", "closed"):
        assert counts[status] == sum(1 for c in CASES.values() if c.status == status)
    assert result.columns == ("status", "count")


async def test_page_number_pagination_reads_every_page(cases_server: LoopbackServer) -> None:
    cases_server.recording.seen.clear()
    adapter = await paged(cases_server, page_size=5)
    try:
        spec = QuerySpec(record_type="case", sort=(Sort(field="id"),), limit=200)
        result = await adapter.run_query(spec, ADMIN)
    finally:
        await adapter.aclose()
    assert ids(result.rows) == sorted(CASES)
    assert result.total == len(CASES) == 22
    assert [seen.param("page") for seen in cases_server.recording.seen] == ["1", "2", "3", "4", "5"]


async def test_unsorted_host_filtered_query_stops_at_its_limit_and_reports_the_hosts_total(
    cases_server: LoopbackServer,
) -> None:
    cases_server.recording.seen.clear()
    adapter = await paged(cases_server, page_size=5)
    try:
        result = await adapter.run_query(QuerySpec(record_type="case", limit=3), ADMIN)
    finally:
        await adapter.aclose()
    assert len(result.rows) == 3
    assert result.total == 22
    assert len(cases_server.recording.seen) == 1


async def test_max_pages_caps_the_reading(cases_server: LoopbackServer) -> None:
    cases_server.recording.seen.clear()
    adapter = await paged(cases_server, page_size=5, max_pages=2)
    try:
        sorted_spec = QuerySpec(record_type="case", sort=(Sort(field="id"),), limit=200)
        result = await adapter.run_query(sorted_spec, ADMIN)
        assert len(cases_server.recording.seen) == 2
        assert ids(result.rows) == sorted(CASES)[:10]
        assert result.total == 22  # every filter ran on the host, which reports the total

        in_memory = QuerySpec(
            record_type="case", filters=(Filter(field="subject", op="contains", value="e"),)
        )
        result = await adapter.run_query(in_memory, ADMIN)
        assert result.total <= 10  # only the pages read could be checked
    finally:
        await adapter.aclose()


async def test_rep_sees_only_own_cases(cases: RestAdapter, cases_server: LoopbackServer) -> None:
    result = await cases.run_query(QuerySpec(record_type="case", limit=200), ALICE)
    (seen,) = cases_server.recording.seen
    assert seen.param("assignee") == "alice"
    expected = sorted(c.id for c in CASES.values() if c.assignee == "alice")
    assert sorted(ids(result.rows)) == expected
    assert result.total == len(expected)


async def test_scoping_holds_when_the_host_cannot_filter_by_owner(cases_server: LoopbackServer) -> None:
    config = cases_config(cases_server)
    case = config.record_types["case"]
    assert case.list_ is not None
    no_owner_param = msgspec.structs.replace(
        case.list_, filter_params=tuple(p for p in case.list_.filter_params if p.field != "assignee")
    )
    config = msgspec.structs.replace(
        config,
        record_types={**config.record_types, "case": msgspec.structs.replace(case, list_=no_owner_param)},
    )
    adapter = RestAdapter(config, today=TODAY)
    await adapter.start()
    try:
        mine = await adapter.run_query(QuerySpec(record_type="case", limit=200), ALICE)
        nothing = await adapter.run_query(QuerySpec(record_type="case", limit=200), NOBODY)
        everything = await adapter.run_query(QuerySpec(record_type="case", limit=200), MANAGER)
    finally:
        await adapter.aclose()
    assert {row[mine.columns.index("assignee")] for row in mine.rows} == {"alice"}
    assert nothing.rows == () and nothing.total == 0
    assert everything.total == len(CASES)


@pytest.mark.parametrize("role", ["admin", "manager"])
async def test_no_role_sees_every_case_unless_the_configuration_lists_it(
    cases_server: LoopbackServer, role: str
) -> None:
    section = msgspec.to_builtins(cases_config(cases_server))
    del section["see_all_roles"]  # as written by someone who never mentions see_all_roles
    unlisted = msgspec.convert(section, RestAdapterConfig)
    listed = msgspec.structs.replace(unlisted, see_all_roles=(role,))
    user = User(tenant="acme", user_id="alice", roles=(role,))
    mine = sorted(c.id for c in CASES.values() if c.assignee == "alice")
    other = next(c.id for c in CASES.values() if c.assignee != "alice")
    for settings, expected in ((unlisted, mine), (listed, sorted(CASES))):
        adapter = RestAdapter(settings, today=TODAY)
        await adapter.start()
        try:
            result = await adapter.run_query(QuerySpec(record_type="case", limit=200), user)
            assert sorted(ids(result.rows)) == expected and result.total == len(expected)
            if settings is unlisted:
                with pytest.raises(ForbiddenError):
                    await adapter.fetch_context(RecordRef(type="case", id=other), user)
            else:
                assert (await adapter.fetch_context(RecordRef(type="case", id=other), user)).title
        finally:
            await adapter.aclose()


async def test_invalid_specs_are_rejected_before_any_request(
    cases: RestAdapter, cases_server: LoopbackServer
) -> None:
    with pytest.raises(InvalidQueryError, match="no field 'colour'"):
        await cases.run_query(
            QuerySpec(record_type="case", filters=(Filter(field="colour", op="=", value="red"),)), ADMIN
        )
    with pytest.raises(InvalidQueryError, match="cannot be queried"):
        await cases.run_query(
            QuerySpec(record_type="customer", filters=(Filter(field="contact_email", op="=", value="x"),)),
            ADMIN,
        )
    assert cases_server.recording.seen == []


async def test_customers_can_be_queried_with_a_pushed_tier_filter(
    cases: RestAdapter, cases_server: LoopbackServer
) -> None:
    spec = QuerySpec(record_type="customer", filters=(Filter(field="tier", op="=", value="enterprise"),))
    result = await cases.run_query(spec, ALICE)
    assert cases_server.recording.seen[0].param("tier") == "enterprise"
    assert sorted(str(row[1]) for row in result.rows) == ["Acme Corp", "Globex", "Umbrella Health"]


def test_the_demo_api_answers_bad_requests_clearly(cases_server: LoopbackServer) -> None:
    with httpx.Client(base_url=f"{cases_server.url}/demo/api") as client:
        bad_status = client.get("/cases", params={"status": "open,bogus"})
        too_many = client.get("/cases", params={"per_page": 500})
        missing = client.get("/customers/CU-999")
        second_page = client.get("/cases", params={"per_page": 20, "page": 2}).json()
    assert bad_status.status_code == 400 and "'bogus' is not one of" in bad_status.text
    assert too_many.status_code == 400
    assert missing.status_code == 404 and "CU-999" in missing.text
    assert [item["id"] for item in second_page["items"]] == ["C-2021", "C-2022"]
    assert second_page["total"] == 22
