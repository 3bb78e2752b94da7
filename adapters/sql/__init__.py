"""The built-in ``sql`` adapter: a host's SQLite or PostgreSQL database described by configuration.

Record types map to tables, fields to columns (or columns of declared many-to-one joins), and an
owner column scopes rows to their owner. Connections are read-only, every value is a bound
parameter, and every identifier comes from configuration, quoted. No SQL text is ever
configured or generated from a model.
"""

from margin.adapters.sql.adapter import SqlAdapter
from margin.adapters.sql.config import (
    SqlAdapterConfig,
    SqlConfigError,
    SqlField,
    SqlJoin,
    SqlRecordType,
    SqlRelated,
    SqlScope,
    SqlTimeline,
    SqlTimelineSource,
)

__all__ = [
    "SqlAdapter",
    "SqlAdapterConfig",
    "SqlConfigError",
    "SqlField",
    "SqlJoin",
    "SqlRecordType",
    "SqlRelated",
    "SqlScope",
    "SqlTimeline",
    "SqlTimelineSource",
]
