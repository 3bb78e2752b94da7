"""How the REST adapter reports a host that fails: each failure maps to one clear AdapterError."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from conftest import free_port
from fixtures_rest import LoopbackServer, faults_app

from margin.adapters import (
    ForbiddenError,
    HostTimeoutError,
    HostUnavailableError,
    QuerySpec,
    RecordNotFoundError,
    RecordRef,
    User,
)
from margin.adapters.errors import AdapterError
from margin.adapters.rest import (
    CursorPages,
    RestAdapter,
    RestAdapterConfig,
    RestField,
    RestList,
    RestRecordType,
    Timeouts,
)

ADMIN = User(tenant="acme", user_id="zed", roles=("admin",))


def things_config(base_url: str) -> RestAdapterConfig:
    thing = RestRecordType(
        label="Thing",
        plural="things",
        get="/things/{id}",
        item_path="thing",
        title_field="name",
        fields={"id": RestField(), "name": RestField()},
        list_=RestList(path="/things", items_path="things", pagination=CursorPages(next_path="next")),
    )
    return RestAdapterConfig(
        base_url=base_url, timeouts=Timeouts(connect=1, read=0.3), record_types={"thing": thing}
    )


@pytest.fixture(scope="module")
def faults_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(faults_app()) as server:
        yield server


@pytest.fixture
async def things(faults_server: LoopbackServer) -> AsyncIterator[RestAdapter]:
    faults_server.recording.seen.clear()
    adapter = RestAdapter(things_config(faults_server.url))
    await adapter.start()
    yield adapter
    await adapter.aclose()


async def test_a_healthy_answer_reads_fine(things: RestAdapter) -> None:
    context = await things.fetch_context(RecordRef(type="thing", id="ok"), ADMIN)
    assert context.title == "A fine thing"


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("missing", RecordNotFoundError, "The host has no thing 'missing'"),
        ("unauthorized", ForbiddenError, r"The host refused access to thing 'unauthorized' \(HTTP 401\)"),
        ("locked", ForbiddenError, r"The host refused access to thing 'locked' \(HTTP 403\)"),
        ("broken", HostUnavailableError, r"The host failed while reading thing 'broken' \(HTTP 500\)"),
        ("busy", HostUnavailableError, r"rate limiting .* \(HTTP 429\)"),
        ("slow", HostTimeoutError, "did not answer in time while reading thing 'slow'"),
        ("garbled", HostUnavailableError, "The host's answer for thing 'garbled' is not JSON"),
        ("shapeless", HostUnavailableError, "The host's answer for thing 'shapeless' has no 'thing'"),
        ("scalar", HostUnavailableError, "did not send an object at 'thing'"),
    ],
)
async def test_host_failures_map_to_adapter_errors(
    things: RestAdapter, name: str, error: type[AdapterError], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        await things.fetch_context(RecordRef(type="thing", id=name), ADMIN)
    assert type(caught.value) is error


async def test_status_codes_match_the_api_errors(things: RestAdapter) -> None:
    with pytest.raises(HostTimeoutError) as caught:
        await things.fetch_context(RecordRef(type="thing", id="slow"), ADMIN)
    assert (caught.value.status, caught.value.code) == (504, "host_timeout")


async def test_a_host_that_is_not_listening_is_unavailable() -> None:
    adapter = RestAdapter(things_config(f"http://127.0.0.1:{free_port()}"))
    await adapter.start()
    try:
        with pytest.raises(HostUnavailableError, match="Could not reach the host"):
            await adapter.fetch_context(RecordRef(type="thing", id="ok"), ADMIN)
    finally:
        await adapter.aclose()


async def test_next_page_links_to_another_host_are_not_followed(
    things: RestAdapter, faults_server: LoopbackServer
) -> None:
    with pytest.raises(HostUnavailableError, match="points at another host"):
        await things.run_query(QuerySpec(record_type="thing"), ADMIN)
    assert [seen.path for seen in faults_server.recording.seen] == ["/things"]


async def test_the_adapter_must_be_started_first(faults_server: LoopbackServer) -> None:
    adapter = RestAdapter(things_config(faults_server.url))
    with pytest.raises(RuntimeError, match=r"start\(\)"):
        await adapter.fetch_context(RecordRef(type="thing", id="ok"), ADMIN)
