"""Reading one record, its timeline and its related records into a RecordContext."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec

from margin.adapters.errors import ForbiddenError, RecordNotFoundError
from margin.adapters.sql.config import SqlRelated, SqlScope, SqlTimeline, SqlTimelineSource
from margin.adapters.sql.dialect import Dialect, Params, quote
from margin.adapters.sql.drivers import Driver, Row, Statement
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
        timeline, related = await self._timeline_and_related(table, row, user)
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
            related=related,
        )
        stamp = to_scalar(row[f"column:{config.version_column}"]) if config.version_column else None
        if stamp is None:
            stamp = hashlib.sha256(msgspec.json.encode(context)).hexdigest()[:16]
        return msgspec.structs.replace(context, version=str(stamp))

    async def _timeline_and_related(
        self, table: RecordTable, row: Mapping[str, Any], user: User
    ) -> tuple[tuple[TimelineEntry, ...], tuple[RelatedRecord, ...]]:
        """Every timeline source and related record type in one batch: one round trip."""
        timeline = table.config.timeline
        sources = timeline.sources if timeline is not None else ()
        statements = [
            self._timeline_statement(table.dialect, source, row["key"], timeline) for source in sources
        ]
        wanted = [
            (item, statement)
            for item in table.config.related
            if (statement := self._related_statement(item, row, user))
        ]
        statements += [statement for _, statement in wanted]
        results = await self._driver.fetch_many(statements) if statements else []
        entries = sorted(
            (
                entry
                for source, rows in zip(sources, results, strict=False)
                for entry in _entries(source, rows)
            ),
            key=lambda entry: entry.at,
        )
        ordered: tuple[TimelineEntry, ...] = ()
        if timeline is not None:
            kept = entries[-timeline.limit :]
            ordered = tuple(reversed(kept)) if timeline.order == "desc" else tuple(kept)
        related = tuple(
            RelatedRecord(
                type=item.record_type,
                id=_text(id),
                title=_text(title),
                relation=item.relation or item.record_type,
            )
            for (item, _), rows in zip(wanted, results[len(sources) :], strict=True)
            for id, title in rows
        )
        return ordered, related

    @staticmethod
    def _timeline_statement(
        dialect: Dialect, source: SqlTimelineSource, key: object, timeline: SqlTimeline | None
    ) -> Statement:
        """The source's ``limit`` most recent entries."""
        assert timeline is not None
        columns = [source.at_column, source.author_column, source.kind_column, source.text_column]
        select = ", ".join(quote(column) if column else "NULL" for column in columns)
        params = Params(dialect)
        at = quote(source.at_column)
        sql = (
            f"SELECT {select} FROM {quote(source.table)} "
            f"WHERE {quote(source.foreign_key)} = {params.add(key)} AND {at} IS NOT NULL "
            f"ORDER BY {at} DESC LIMIT {params.add(timeline.limit)}"
        )
        return sql, params.values

    def _related_statement(self, item: SqlRelated, row: Mapping[str, Any], user: User) -> Statement | None:
        target = self._tables[item.record_type]
        local = row[f"column:{item.local_column}"] if item.local_column else row["key"]
        if local is None:
            return None
        params = Params(target.dialect)
        remote = target.column(item.remote_column or target.config.id_column)
        conditions = [f"{remote} = {params.add(local)}"]
        if (owner := target.scope_condition(user, self._scope, params)) is not None:
            conditions.append(owner)
        sql = (
            f"SELECT {target.id}, {target.column(target.config.title_column)} {target.from_clause()} "
            f"WHERE {' AND '.join(conditions)} ORDER BY {target.id} LIMIT {params.add(item.limit)}"
        )
        return sql, params.values


def _entries(source: SqlTimelineSource, rows: list[Row]) -> list[TimelineEntry]:
    entries = []
    for at_value, author, kind, text in rows:
        when = to_datetime(at_value)
        if when is not None:
            entries.append(TimelineEntry(when, _text(author), _text(kind) or source.kind, _text(text)))
    return entries


def _text(value: Any) -> str:
    scalar = to_scalar(value)
    return "" if scalar is None else str(scalar)
