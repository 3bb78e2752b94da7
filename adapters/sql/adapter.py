"""``SqlAdapter``: a host's own SQLite or PostgreSQL database, described by configuration alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import ClassVar

import msgspec
import structlog

from margin.adapters.base import AdapterBase
from margin.adapters.errors import RecordNotFoundError
from margin.adapters.sql.compile import compile_query
from margin.adapters.sql.config import SqlAdapterConfig
from margin.adapters.sql.context import ContextReader
from margin.adapters.sql.drivers import driver_for
from margin.adapters.sql.tables import RecordTable
from margin.adapters.sql.verify import verify
from margin.adapters.types import QueryResult, QuerySpec, RecordContext, RecordRef, RecordTypeSchema, User
from margin.adapters.validation import validate_spec

log = structlog.get_logger("margin.adapters.sql")


class SqlAdapter(AdapterBase):
    """Read-only, row-limited, row-scoped access to the record types its configuration declares.

    ``today`` anchors relative periods ("this month"); tests pin it.
    """

    config_type: ClassVar[type[msgspec.Struct]] = SqlAdapterConfig

    def __init__(self, config: SqlAdapterConfig, *, today: Callable[[], date] = date.today) -> None:
        self.config = config
        self._today = today
        self._driver = driver_for(config)
        self._tables = {
            name: RecordTable(record, self._driver.dialect) for name, record in config.record_types.items()
        }
        self._schemas = tuple(record.schema(name) for name, record in config.record_types.items())
        self._schema_of = {schema.name: schema for schema in self._schemas}
        self._reader = ContextReader(self._tables, config.scope, self._driver)
        self._integer_ids: frozenset[str] = frozenset()

    async def start(self) -> None:
        """Open the pool and check every configured table and column exists (SqlConfigError if not)."""
        await self._driver.open()
        try:
            catalog = await verify(self.config, self._driver)
        except BaseException:
            await self._driver.close()
            raise
        self._integer_ids = frozenset(
            name
            for name, record in self.config.record_types.items()
            if self._driver.dialect.is_integer(catalog[record.table][record.id_column])
        )
        log.info("sql adapter started", engine=self._driver.dialect.name, record_types=list(self._tables))

    async def aclose(self) -> None:
        await self._driver.close()

    async def describe(self) -> tuple[RecordTypeSchema, ...]:
        return self._schemas

    async def fetch_context(self, ref: RecordRef, user: User) -> RecordContext:
        table = self._tables.get(ref.type)
        if table is None:
            raise RecordNotFoundError(f"Unknown record type {ref.type!r}")
        schema = self._schema_of[ref.type]
        key: object = ref.id
        if ref.type in self._integer_ids:
            if not ref.id.isascii() or not ref.id.lstrip("-").isdigit():
                raise RecordNotFoundError(f"No {schema.label.lower()} with id {ref.id!r}")
            key = int(ref.id)
        return await self._reader.read(table, schema, ref, key, user)

    async def run_query(self, spec: QuerySpec, user: User) -> QueryResult:
        """InvalidQueryError (before any SQL runs) when the spec does not fit ``describe()``."""
        schema = validate_spec(spec, self._schemas)
        statement = compile_query(
            spec,
            schema,
            self._tables[schema.name],
            user=user,
            scope=self.config.scope,
            today=self._today(),
            row_limit=self.config.row_limit,
        )
        started = time.perf_counter()
        rows = await self._driver.fetch(statement.sql, statement.params)
        log.debug(
            "sql query",
            record_type=schema.name,
            rows=len(rows),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        converted = tuple(
            tuple(convert(value) for convert, value in zip(statement.converters, row[:-1], strict=True))
            for row in rows
        )
        return QueryResult(columns=statement.columns, rows=converted, total=int(rows[0][-1]) if rows else 0)
