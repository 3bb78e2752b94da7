"""The adapter interface: how Margin reads a host app's records and runs read-only queries.

An adapter is one small class with three async methods (``describe``, ``fetch_context``,
``run_query``). Everything it exchanges with Margin is a msgspec Struct defined in
:mod:`margin.adapters.types`.
"""

from margin.adapters.base import AdapterBase
from margin.adapters.errors import (
    AdapterError,
    ForbiddenError,
    HostTimeoutError,
    HostUnavailableError,
    RecordNotFoundError,
)
from margin.adapters.protocol import Adapter, RecordSource
from margin.adapters.types import (
    Aggregate,
    FieldSchema,
    FieldValue,
    Filter,
    Period,
    QueryPlan,
    QueryResult,
    QuerySpec,
    RecordContext,
    RecordRef,
    RecordTypeSchema,
    RelatedRecord,
    Relation,
    Sort,
    TimelineEntry,
    User,
)

__all__ = [
    "Adapter",
    "AdapterBase",
    "AdapterError",
    "Aggregate",
    "FieldSchema",
    "FieldValue",
    "Filter",
    "ForbiddenError",
    "HostTimeoutError",
    "HostUnavailableError",
    "Period",
    "QueryPlan",
    "QueryResult",
    "QuerySpec",
    "RecordContext",
    "RecordNotFoundError",
    "RecordRef",
    "RecordSource",
    "RecordTypeSchema",
    "RelatedRecord",
    "Relation",
    "Sort",
    "TimelineEntry",
    "User",
]
