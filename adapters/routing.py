"""One tenant, several adapters: each record type is served by the adapter that declares it."""

from __future__ import annotations

from collections.abc import Sequence

from margin.adapters.errors import RecordNotFoundError
from margin.adapters.protocol import Adapter
from margin.adapters.types import QueryResult, QuerySpec, RecordContext, RecordRef, RecordTypeSchema, User
from margin.adapters.validation import InvalidQueryError


class RecordTypeRouter:
    """An Adapter over several adapters; ``load`` must run once before use."""

    def __init__(self, adapters: Sequence[tuple[str, Adapter]]) -> None:
        self._adapters = adapters
        self._schemas: tuple[RecordTypeSchema, ...] = ()
        self._by_type: dict[str, Adapter] = {}

    async def load(self) -> None:
        """Read every adapter's record types; a type declared twice is a configuration error."""
        owners: dict[str, str] = {}
        schemas: list[RecordTypeSchema] = []
        for name, adapter in self._adapters:
            for schema in await adapter.describe():
                if schema.name in owners:
                    first = owners[schema.name]
                    raise ValueError(f"record type {schema.name!r} is in adapters {first!r} and {name!r}")
                owners[schema.name] = name
                self._by_type[schema.name] = adapter
                schemas.append(schema)
        self._schemas = tuple(schemas)

    async def describe(self) -> tuple[RecordTypeSchema, ...]:
        return self._schemas

    async def fetch_context(self, ref: RecordRef, user: User) -> RecordContext:
        adapter = self._by_type.get(ref.type)
        if adapter is None:
            raise RecordNotFoundError(f"Unknown record type {ref.type!r}; known: {', '.join(self._by_type)}")
        return await adapter.fetch_context(ref, user)

    async def run_query(self, spec: QuerySpec, user: User) -> QueryResult:
        adapter = self._by_type.get(spec.record_type)
        if adapter is None:
            raise InvalidQueryError(f"Unknown record type {spec.record_type!r}")
        return await adapter.run_query(spec, user)
