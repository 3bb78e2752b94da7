"""``RestAdapter``: a host's JSON/REST API, described by configuration alone.

Queries: the filters the API understands are sent as parameters (or search terms), pages are
read up to ``max_pages``, and everything else (all filters again, sorting, grouping, the row
limit and row scoping) runs in memory with the semantics of :mod:`margin.adapters.memory`.

``QueryResult.total`` is exact when every page was read. When pages were left unread it is
the host's reported total if the host applied every filter itself and reports one; otherwise
it counts the matches within the pages read (a lower bound, logged as a warning).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar

import msgspec
import structlog

from margin.adapters.base import AdapterBase
from margin.adapters.errors import AdapterError, ForbiddenError, HostUnavailableError, RecordNotFoundError
from margin.adapters.memory import run_query_in_memory
from margin.adapters.rest.auth import auth_headers
from margin.adapters.rest.client import HostClient
from margin.adapters.rest.config import RestAdapterConfig, RestRecordType
from margin.adapters.rest.pages import Limits, fetch_listing
from margin.adapters.rest.presets import expand_preset
from margin.adapters.rest.pushdown import plan_query
from margin.adapters.rest.records import (
    Link,
    Row,
    author_names,
    field_values,
    links_of,
    required,
    row_of,
    timeline_entries,
    version_of,
)
from margin.adapters.rest.schema import schema_of
from margin.adapters.rest.templates import fill, fill_path
from margin.adapters.types import (
    Filter,
    QueryResult,
    QuerySpec,
    RecordContext,
    RecordRef,
    RecordTypeSchema,
    RelatedRecord,
    TimelineEntry,
    User,
)
from margin.adapters.validation import validate_spec

log = structlog.get_logger("margin.adapters.rest")

#: Related records named per relation; more would cost a request each for little context.
MAX_RELATED = 10


class RestAdapter(AdapterBase):
    """Reads a host through its REST API; ``env`` (default: the process environment) holds secrets."""

    config_type: ClassVar[type[msgspec.Struct]] = RestAdapterConfig

    def __init__(
        self, config: RestAdapterConfig, *, env: Mapping[str, str] | None = None, today: date | None = None
    ) -> None:
        self.config = expand_preset(config)
        headers = auth_headers(self.config.auth, os.environ if env is None else env)
        self._client = HostClient(self.config.base_url, headers, self.config.timeouts)
        self._schemas = tuple(schema_of(name, rt) for name, rt in self.config.record_types.items())
        self._today = today

    async def start(self) -> None:
        await self._client.start()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def describe(self) -> tuple[RecordTypeSchema, ...]:
        return self._schemas

    async def fetch_context(self, ref: RecordRef, user: User) -> RecordContext:
        record_type = self.config.record_types.get(ref.type)
        if record_type is None:
            known = ", ".join(self.config.record_types)
            raise RecordNotFoundError(f"Unknown record type {ref.type!r}; expected one of: {known}")
        item = await self._get(record_type, ref.id)
        row = row_of(record_type, item)
        if not self._may_see(record_type, row, user):
            raise ForbiddenError(f"You may not see {record_type.label.lower()} {ref.id!r}")
        (timeline, raw_timeline), related = await asyncio.gather(
            self._timeline(record_type, ref.id), self._related(record_type, item, user)
        )
        title = row.get(record_type.title_field)
        return RecordContext(
            ref=ref,
            title=str(title) if title not in (None, "") else f"{record_type.label} {ref.id}",
            version=version_of(record_type, item, raw_timeline),
            fields=field_values(record_type, row),
            timeline=tuple(timeline),
            related=tuple(related),
        )

    async def run_query(self, spec: QuerySpec, user: User) -> QueryResult:
        schema = validate_spec(spec, self._schemas)
        record_type = self.config.record_types[schema.name]
        filters = list(spec.filters)
        scoped = bool(record_type.owner_field) and not self._sees_all(user)
        if scoped:
            filters.append(Filter(field=record_type.owner_field, op="=", value=user.user_id))
        plan = plan_query(record_type, filters)
        all_pushed = len(plan.pushed) == len(filters)
        # Unsorted, host-filtered queries need only their first ``limit`` rows and the host's total.
        early = all_pushed and not spec.sort and spec.aggregate is None and bool(plan.listing.total_path)
        limits = Limits(self.config.page_size, self.config.max_pages, spec.limit if early else None)
        fetched = await fetch_listing(
            self._client,
            plan.listing,
            limits,
            what=f"the list of {record_type.plural}",
            params=plan.params,
            body=plan.body,
        )
        rows = [row_of(record_type, item) for item in fetched.items]
        if scoped:
            rows = [row for row in rows if self._may_see(record_type, row, user)]
        result = run_query_in_memory(spec, schema, rows, self._today or date.today())
        if not fetched.complete:
            if all_pushed and spec.aggregate is None and fetched.total is not None:
                result = msgspec.structs.replace(result, total=fetched.total)
            else:
                log.warning("rest.total_within_fetched_pages", record_type=schema.name, rows=len(rows))
        log.debug(
            "rest.query",
            record_type=schema.name,
            pages=len(fetched.documents),
            pushed=len(plan.pushed),
            filters=len(filters),
            complete=fetched.complete,
        )
        return result

    def _sees_all(self, user: User) -> bool:
        return any(role in self.config.see_all_roles for role in user.roles)

    def _may_see(self, record_type: RestRecordType, row: Row, user: User) -> bool:
        """Row scoping; fails closed: a record with no owner is visible only to see-all roles."""
        if not record_type.owner_field or self._sees_all(user):
            return True
        owner = row.get(record_type.owner_field)
        return owner not in (None, "") and str(owner) == user.user_id

    async def _get(self, record_type: RestRecordType, record_id: str) -> Any:
        what = f"{record_type.label.lower()} {record_id!r}"
        values = {"id": record_id}
        try:
            url = fill_path(record_type.get, values)
        except ValueError:
            raise RecordNotFoundError(f"No {what}: that is not a valid id") from None
        params = {name: fill(value, values) for name, value in record_type.get_params.items()}
        document = await self._client.fetch_json("GET", url, what=what, params=params or None)
        item = required(document, record_type.item_path, what)
        if not isinstance(item, dict):
            where = f"at {record_type.item_path!r}" if record_type.item_path else "as its answer"
            raise HostUnavailableError(f"The host did not send an object {where} for {what}")
        return item

    async def _timeline(
        self, record_type: RestRecordType, record_id: str
    ) -> tuple[list[TimelineEntry], list[Any]]:
        config = record_type.timeline
        if config is None:
            return [], []
        fetched = await fetch_listing(
            self._client,
            config,
            Limits(self.config.page_size, self.config.max_pages),
            what=f"the timeline of {record_type.label.lower()} {record_id!r}",
            values={"id": record_id},
        )
        authors: dict[str, str] = {}
        for document in fetched.documents:
            authors.update(author_names(config, document))
        return timeline_entries(config, fetched.items, authors), fetched.items

    async def _related(self, record_type: RestRecordType, item: Any, user: User) -> list[RelatedRecord]:
        links = links_of(record_type, item, MAX_RELATED)
        titles = await asyncio.gather(*(self._title_of(link, user) for link in links))
        return [
            RelatedRecord(type=link.type, id=link.id, title=title, relation=link.relation)
            for link, title in zip(links, titles, strict=True)
        ]

    async def _title_of(self, link: Link, user: User) -> str:
        """The related record's title, fetched when the record itself does not carry it.

        A related record this user may not see, or cannot be read, is named by type and id only.
        """
        target = self.config.record_types[link.type]
        fallback = f"{target.label} {link.id}"
        if link.title is not None:
            return link.title
        try:
            row = row_of(target, await self._get(target, link.id))
        except AdapterError as exc:
            log.info("rest.related_title_unavailable", record_type=link.type, error=exc.code)
            return fallback
        title = row.get(target.title_field)
        if not self._may_see(target, row, user) or title in (None, ""):
            return fallback
        return str(title)
