"""The interface every adapter implements."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from margin.adapters.types import QueryResult, QuerySpec, RecordContext, RecordRef, RecordTypeSchema, User


@runtime_checkable
class RecordSource(Protocol):
    """What the features read: record types, one record's context, read-only queries.

    Every method is async and must not block the event loop.
    """

    async def describe(self) -> tuple[RecordTypeSchema, ...]:
        """The record types this host has, their fields and relations."""
        ...

    async def fetch_context(self, ref: RecordRef, user: User) -> RecordContext:
        """The record ``ref`` as ``user`` may see it; raises RecordNotFoundError or ForbiddenError."""
        ...

    async def run_query(self, spec: QuerySpec, user: User) -> QueryResult:
        """Run a validated, read-only, row-limited query scoped to what ``user`` may see."""
        ...


@runtime_checkable
class Adapter(RecordSource, Protocol):
    """Reads one host app: a RecordSource with a lifecycle.

    Subclass :class:`margin.adapters.AdapterBase` to get do-nothing ``start``, ``aclose``
    and ``legacy``.
    """

    async def start(self) -> None:
        """Open pools or clients; called once before the first request."""
        ...

    async def aclose(self) -> None:
        """Release what ``start`` opened; called once at shutdown."""
        ...

    async def legacy(self, feature: str, request: Any, user: User) -> str | None:
        """What the host shows today without AI (the rollout control path); None if nothing."""
        ...
