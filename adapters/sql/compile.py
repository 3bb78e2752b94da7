"""A validated QuerySpec as one parameterised SELECT.

Identifiers come only from configuration (quoted); every value from the spec is bound. The
semantics follow :mod:`margin.adapters.memory`: text compares without regard to case, ``!=``
keeps rows where the field is empty, ties keep id order, groups are ranked by their aggregate.
Two deliberate refinements: a date-only value compared with a datetime field compares calendar
days, so "created in March" includes March 31 at 15:00; and empty values sort last either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from margin.adapters.sql.config import SqlScope
from margin.adapters.sql.dialect import Params
from margin.adapters.sql.tables import RecordTable
from margin.adapters.sql.values import to_scalar
from margin.adapters.types import FieldSchema, Filter, Period, QuerySpec, RecordTypeSchema, Scalar, User
from margin.adapters.validation import NUMERIC, TEXTUAL, InvalidQueryError, result_columns

Convert = Callable[[Any], Scalar]


@dataclass(frozen=True)
class Statement:
    """SQL text, its bound values, the result columns' names and how to convert each value.

    Every row carries one more value at the end: the total matching rows (or groups).
    """

    sql: str
    params: tuple[object, ...]
    columns: tuple[str, ...]
    converters: tuple[Convert, ...]


def compile_query(
    spec: QuerySpec,
    schema: RecordTypeSchema,
    table: RecordTable,
    *,
    user: User,
    scope: SqlScope,
    today: date,
    row_limit: int,
) -> Statement:
    params = Params(table.dialect)
    conditions = [_condition(item, _field(schema, item.field), table, params, today) for item in spec.filters]
    if (owner := table.scope_condition(user, scope, params)) is not None:
        conditions.append(owner)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    limit = min(spec.limit, row_limit)
    if spec.aggregate is None:
        shown = result_columns(schema)
        order = [_order(table, _field(schema, s.field), s.direction) for s in spec.sort]
        select = ", ".join(table.field(f.name) for f in shown)
        sql = (
            f"SELECT {select}, COUNT(*) OVER () {table.from_clause()}{where} "
            f"ORDER BY {', '.join([*order, table.id])} LIMIT {params.add(limit)}"
        )
        return Statement(
            sql, tuple(params.values), tuple(f.name for f in shown), tuple(_converter(f) for f in shown)
        )
    agg = spec.aggregate
    value = _aggregate(agg.fn, table.field(agg.field) if agg.field else None)
    label = agg.fn if agg.field is None else f"{agg.fn}_{agg.field}"
    convert = _average if agg.fn == "avg" else to_scalar
    if spec.group_by is None:
        sql = f"SELECT {value}, 1 {table.from_clause()}{where}"
        return Statement(sql, tuple(params.values), (label,), (convert,))
    key = table.field(spec.group_by)
    sql = (
        f"SELECT {key}, {value}, COUNT(*) OVER () {table.from_clause()}{where} GROUP BY {key} "
        f"ORDER BY {value} DESC NULLS LAST, MIN({table.id}) LIMIT {params.add(limit)}"
    )
    group = _converter(_field(schema, spec.group_by))
    return Statement(sql, tuple(params.values), (spec.group_by, label), (group, convert))


def _converter(field: FieldSchema) -> Convert:
    return lambda value: to_scalar(value, field.type)


def _average(value: Any) -> Scalar:
    """Rounded like the in-memory reference, in Python, so both engines agree to the cent."""
    return None if value is None else round(float(value), 2)


def _field(schema: RecordTypeSchema, name: str) -> FieldSchema:
    field = schema.field(name)
    assert field is not None  # validate_spec ran first
    return field


def _aggregate(fn: str, expr: str | None) -> str:
    if fn == "count" or expr is None:
        return "COUNT(*)"
    return f"COALESCE(SUM({expr}), 0)" if fn == "sum" else f"AVG({expr})"


def _order(table: RecordTable, field: FieldSchema, direction: str) -> str:
    expr = table.field(field.name)
    if field.type in TEXTUAL:
        expr = table.dialect.text_order(expr)
    return f"{expr} {direction.upper()} NULLS LAST"


Bind = Callable[[Scalar], str]


def _condition(item: Filter, field: FieldSchema, table: RecordTable, params: Params, today: date) -> str:
    raw = table.field(field.name)
    value = item.value
    if isinstance(value, Period):
        first, last = value.resolve(today)
        expr = table.dialect.day(raw) if field.type == "datetime" else raw
        low, high = (params.add(table.dialect.bind_date(day)) for day in (first, last))
        return f"{expr} BETWEEN {low} AND {high}"
    if item.op == "contains":
        if not isinstance(value, str):
            raise InvalidQueryError(f"'contains' on {field.name!r} needs some text")
        return (
            f"{table.dialect.text(raw)} {table.dialect.like} {params.add(_like_pattern(value))} ESCAPE '\\'"
        )
    values = value if isinstance(value, list) else [value]
    expr, bind = _operand(field, raw, values, table, params)
    if item.op == "in":
        present = [v for v in values if v is not None]
        parts = [f"{expr} IN ({', '.join(bind(v) for v in present)})"] if present else []
        if len(present) < len(values):
            parts.append(f"{raw} IS NULL")
        return f"({' OR '.join(parts)})"
    if any(v is None for v in values):
        if item.op == "=":
            return f"{raw} IS NULL"
        if item.op == "!=":
            return f"{raw} IS NOT NULL"
        raise InvalidQueryError(f"{item.op!r} on {field.name!r} needs a value")
    if item.op == "!=":
        return f"({raw} IS NULL OR {expr} <> {bind(values[0])})"
    if item.op == "between":
        return f"{expr} BETWEEN {bind(values[0])} AND {bind(values[1])}"
    return f"{expr} {item.op} {bind(values[0])}"


def _operand(
    field: FieldSchema, raw: str, values: Sequence[Scalar], table: RecordTable, params: Params
) -> tuple[str, Bind]:
    """The column as compared, and how to bind a value against it, by the field's type."""
    dialect = table.dialect
    if field.type in TEXTUAL:
        return f"LOWER({dialect.text(raw)})", lambda v: f"LOWER({params.add(v)})"
    if field.type in NUMERIC:
        return raw, lambda v: dialect.numeric(params.add(v))
    if field.type == "date" or (field.type == "datetime" and all(_is_day(v) for v in values)):
        expr = dialect.day(raw) if field.type == "datetime" else raw
        return expr, lambda v: params.add(dialect.bind_date(date.fromisoformat(str(v))))
    if field.type == "datetime":
        return raw, lambda v: params.add(dialect.bind_datetime(datetime.fromisoformat(str(v))))
    return raw, params.add


def _is_day(value: Scalar) -> bool:
    if not isinstance(value, str):
        return value is None
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _like_pattern(text: str) -> str:
    """``%text%`` with the text's own ``\\``, ``%`` and ``_`` matching only themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
