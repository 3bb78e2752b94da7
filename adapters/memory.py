"""Running a validated QuerySpec over rows already in memory.

Used by adapters whose host has no query language of its own (a small REST API, fixtures) and
as the reference semantics the SQL adapter's tests compare against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from margin.adapters.types import Filter, Period, QueryResult, QuerySpec, RecordTypeSchema, Scalar
from margin.adapters.validation import result_columns

Row = Mapping[str, Any]


def run_query_in_memory(
    spec: QuerySpec, schema: RecordTypeSchema, rows: Iterable[Row], today: date
) -> QueryResult:
    matching = [row for row in rows if all(_matches(row, item, today) for item in spec.filters)]
    if spec.aggregate is not None:
        return _aggregate(spec, matching)
    for sort in reversed(spec.sort):
        field, descending = sort.field, sort.direction == "desc"
        present = [row for row in matching if row.get(field) is not None]
        present.sort(key=lambda row: row[field], reverse=descending)
        matching = present + [row for row in matching if row.get(field) is None]  # empty values last
    columns = tuple(f.name for f in result_columns(schema))
    rows_out = tuple(tuple(row.get(c) for c in columns) for row in matching[: spec.limit])
    return QueryResult(columns=columns, rows=rows_out, total=len(matching))


def _matches(row: Row, item: Filter, today: date) -> bool:
    actual = row.get(item.field)
    value = item.value
    if isinstance(value, Period):
        first, last = value.resolve(today)
        return actual is not None and first.isoformat() <= str(actual)[:10] <= last.isoformat()
    if item.op == "=":
        return _same(actual, value)
    if item.op == "!=":
        return not _same(actual, value)
    if item.op == "in":
        return isinstance(value, list) and any(_same(actual, v) for v in value)
    if item.op == "contains":
        return isinstance(actual, str) and str(value).casefold() in actual.casefold()
    if actual is None:
        return False
    if item.op == "between":
        assert isinstance(value, list)  # guaranteed by validate_spec
        return bool(value[0] <= actual <= value[1])
    ops = {"<": actual < value, "<=": actual <= value, ">": actual > value, ">=": actual >= value}
    return bool(ops[item.op])


def _same(actual: Scalar, value: Any) -> bool:
    if isinstance(actual, str) and isinstance(value, str):
        return actual.casefold() == value.casefold()
    return bool(actual == value)


def _aggregate(spec: QuerySpec, rows: list[Row]) -> QueryResult:
    agg = spec.aggregate
    assert agg is not None
    label = agg.fn if agg.field is None else f"{agg.fn}_{agg.field}"
    groups: dict[Scalar, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.get(spec.group_by) if spec.group_by else None].append(row)
    if not spec.group_by:
        groups.setdefault(None, [])
    results = [(key, _apply(agg.fn, agg.field, members)) for key, members in groups.items()]
    results.sort(key=lambda pair: (pair[1] is not None, pair[1] or 0), reverse=True)
    if spec.group_by is None:
        return QueryResult(columns=(label,), rows=((results[0][1],),), total=1)
    limited = tuple((key, value) for key, value in results[: spec.limit])
    return QueryResult(columns=(spec.group_by, label), rows=limited, total=len(results))


def _apply(fn: str, field: str | None, rows: list[Row]) -> Scalar:
    if fn == "count":
        return len(rows)
    values: list[float] = [row[field] for row in rows if field and isinstance(row.get(field), int | float)]
    if fn == "sum":
        return sum(values)
    return round(sum(values) / len(values), 2) if values else None
