"""Reading one record, its timeline and its related records into a RecordContext."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec

from margin.adapters.errors import ForbiddenError, RecordNotFoundError
from margin.adapters.sql.config import SqlRelated, SqlScope, SqlTimeline, SqlTimelineSource
from margin.adapters.sql.dialect import Dialect, Params, quote
from margin.adapters.sql.drivers import Driver
from margin.adapters.sql.tables import RecordTable
from margin.adapters.sql.values import to_datetime, to_scalar
from margin.adapters.types import (
    FieldValue,
    RecordContext,
    RecordRef,
    RecordTypeSchema,
    RelatedRecord,
    TimelineEntry,
    User,
)


class ContextReader:
    """Scoped users asking for a record they do not own get ForbiddenError (403), not a 404.

    The host already showed them the record's id, so its existence is no secret; "you don't have
    access" is the honest answer, and no field of the record is read into Margin.
    """

    def __init__(self, tables: Mapping[str, RecordTable], scope: SqlScope, driver: Driver) -> None:
        self._tables = tables
        self._scope = scope
        self._driver = driver

    async def read(
        self, table: RecordTable, schema: RecordTypeSchema, ref: RecordRef, key: object, user: User
    ) -> RecordContext:
        config = table.config
        selected = {f"field:{name}": table.field(name) for name in config.fields}
        selected |= {"key": table.id, "title": table.column(config.title_column)}
        for extra in (config.owner_column, config.version_column, *(r.local_column for r in config.related)):
            if extra:
                selected[f"column:{extra}"] = table.column(extra)
        params = Params(table.dialect)
        sql = (
            f"SELECT {', '.join(selected.values())} {table.from_clause()} "
            f"WHERE {table.id} = {params.add(key)} LIMIT 1"
        )
        rows = await self._driver.fetch(sql, params.values)
        if not rows:
            raise RecordNotFoundError(f"No {schema.label.lower()} with id {ref.id!r}")
        row = dict(zip(selected, rows[0], strict=True))
        if table.is_scoped(user, self._scope) and str(row[f"column:{config.owner_column}"]) != user.user_id:
            raise ForbiddenError(f"You don't have access to {schema.label.lower()} {ref.id}")
        timeline, related = await asyncio.gather(
            self._timeline(table, config.timeline, row["key"]),
            asyncio.gather(*(self._related(item, row, user) for item in config.related)),
        )
        fields = tuple(
            FieldValue(f.name, f.label, to_scalar(row[f"field:{f.name}"], f.type), f.type, f.sensitive)
            for f in schema.fields
        )
        context = RecordContext(
            ref=ref,
            title=_text(row["title"]),
            version="",
            fields=fields,
            timeline=timeline,
            related=tuple(record for group in related for record in group),
        )
        stamp = to_scalar(row[f"column:{config.version_column}"]) if config.version_column else None
        if stamp is None:
            stamp = hashlib.sha256(msgspec.json.encode(context)).hexdigest()[:16]
        return msgspec.structs.replace(context, version=str(stamp))

    async def _timeline(
        self, table: RecordTable, timeline: SqlTimeline | None, key: object
    ) -> tuple[TimelineEntry, ...]:
        if timeline is None:
            return ()
        found = await asyncio.gather(
            *(
                self._timeline_source(table.dialect, source, key, timeline.limit)
                for source in timeline.sources
            )
        )
        entries = sorted((entry for group in found for entry in group), key=lambda entry: entry.at)
        kept = entries[-timeline.limit :]
        return tuple(reversed(kept)) if timeline.order == "desc" else tuple(kept)

    async def _timeline_source(
        self, dialect: Dialect, source: SqlTimelineSource, key: object, limit: int
    ) -> list[TimelineEntry]:
        """The source's ``limit`` most recent entries, oldest first."""
        columns = [source.at_column, source.author_column, source.kind_column, source.text_column]
        select = ", ".join(quote(column) if column else "NULL" for column in columns)
        params = Params(dialect)
        at = quote(source.at_column)
        sql = (
            f"SELECT {select} FROM {quote(source.table)} "
            f"WHERE {quote(source.foreign_key)} = {params.add(key)} AND {at} IS NOT NULL "
            f"ORDER BY {at} DESC LIMIT {params.add(limit)}"
        )
        entries = []
        for at_value, author, kind, text in reversed(await self._driver.fetch(sql, params.values)):
            when = to_datetime(at_value)
            if when is not None:
                entries.append(TimelineEntry(when, _text(author), _text(kind) or source.kind, _text(text)))
        return entries

    async def _related(self, item: SqlRelated, row: Mapping[str, Any], user: User) -> list[RelatedRecord]:
        target = self._tables[item.record_type]
        local = row[f"column:{item.local_column}"] if item.local_column else row["key"]
        if local is None:
            return []
        params = Params(target.dialect)
        remote = target.column(item.remote_column or target.config.id_column)
        conditions = [f"{remote} = {params.add(local)}"]
        if (owner := target.scope_condition(user, self._scope, params)) is not None:
            conditions.append(owner)
        sql = (
            f"SELECT {target.id}, {target.column(target.config.title_column)} {target.from_clause()} "
            f"WHERE {' AND '.join(conditions)} ORDER BY {target.id} LIMIT {params.add(item.limit)}"
        )
        relation = item.relation or item.record_type
        return [
            RelatedRecord(type=item.record_type, id=_text(id), title=_text(title), relation=relation)
            for id, title in await self._driver.fetch(sql, params.values)
        ]


def _text(value: Any) -> str:
    scalar = to_scalar(value)
    return "" if scalar is None else str(scalar)
