"""Checking at start-up that every table and column the configuration names exists."""

from __future__ import annotations

from margin.adapters.sql.config import SqlAdapterConfig, SqlConfigError, split_column
from margin.adapters.sql.drivers import Driver

Catalog = dict[str, dict[str, str]]
"""Table -> column -> declared type, for the tables the configuration uses."""


def required_columns(config: SqlAdapterConfig) -> dict[str, dict[str, str]]:
    """Table -> column -> where the configuration names it (for the error message)."""
    needed: dict[str, dict[str, str]] = {}

    def need(table: str, column: str, where: str) -> None:
        if column:
            needed.setdefault(table, {}).setdefault(column, where)

    for name, record in config.record_types.items():
        own = f"record type {name!r}"
        for key in ("id_column", "title_column", "owner_column", "version_column"):
            need(record.table, getattr(record, key), f"{own}, {key}")
        for join_name, join in record.joins.items():
            need(record.table, join.foreign_key, f"{own}, join {join_name!r}")
            need(join.table, join.key, f"{own}, join {join_name!r}")
        for field_name, field in record.fields.items():
            via, column = split_column(field_name, field)
            table = record.joins[via].table if via else record.table
            need(table, column, f"{own}, field {field_name!r}")
        for source in record.timeline.sources if record.timeline else ():
            for key in ("foreign_key", "at_column", "text_column", "author_column", "kind_column"):
                need(source.table, getattr(source, key), f"{own}, timeline {key}")
        for related in record.related:
            target = config.record_types[related.record_type]
            where = f"{own}, related {related.record_type!r}"
            need(record.table, related.local_column, where)
            need(target.table, related.remote_column, where)
    return needed


async def verify(config: SqlAdapterConfig, driver: Driver) -> Catalog:
    """The columns of every configured table; SqlConfigError naming the first one missing."""
    catalog: Catalog = {}
    for table, columns in required_columns(config).items():
        found = await driver.columns(table)
        if not found:
            where = next(iter(columns.values()))
            raise SqlConfigError(f"SQL adapter: table {table!r} does not exist ({where})")
        for column, where in columns.items():
            if column not in found:
                raise SqlConfigError(f"SQL adapter: table {table!r} has no column {column!r} ({where})")
        catalog[table] = found
    return catalog
