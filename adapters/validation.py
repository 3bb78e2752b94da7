"""Checking a QuerySpec against an adapter's ``describe()`` before anything runs it.

Specs come from a model or the offline parser, so they are untrusted: every field, operator and
value type is checked here, once, for every adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from margin.adapters.types import FieldSchema, Filter, Period, QuerySpec, RecordTypeSchema, Scalar

MAX_LIMIT = 200
NUMERIC = frozenset({"integer", "number", "money"})
DATES = frozenset({"date", "datetime"})
ORDERED = NUMERIC | DATES
TEXTUAL = frozenset({"string", "text", "enum"})


class InvalidQueryError(ValueError):
    """The spec cannot run against this schema; the message says why, fit to show a user."""


def find_type(spec: QuerySpec, schemas: Sequence[RecordTypeSchema]) -> RecordTypeSchema:
    for schema in schemas:
        if schema.name == spec.record_type:
            return schema
    raise InvalidQueryError(f"Unknown record type {spec.record_type!r}")


def validate_spec(spec: QuerySpec, schemas: Sequence[RecordTypeSchema]) -> RecordTypeSchema:
    """Return the spec's record type schema, or raise InvalidQueryError naming the problem."""
    schema = find_type(spec, schemas)
    if not 1 <= spec.limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit must be between 1 and {MAX_LIMIT}")
    for item in spec.filters:
        _check_filter(item, _queryable(schema, item.field))
    for sort in spec.sort:
        _queryable(schema, sort.field)
    if spec.group_by is not None:
        _queryable(schema, spec.group_by)
    if spec.aggregate is not None and spec.aggregate.fn != "count":
        if spec.aggregate.field is None:
            raise InvalidQueryError(f"{spec.aggregate.fn} needs a field")
        target = _queryable(schema, spec.aggregate.field)
        if target.type not in NUMERIC:
            raise InvalidQueryError(f"Cannot {spec.aggregate.fn} {target.name!r}: it is not a number")
    if spec.group_by is not None and spec.aggregate is None:
        raise InvalidQueryError("group_by needs an aggregate (count, sum or avg)")
    return schema


def result_columns(schema: RecordTypeSchema) -> tuple[FieldSchema, ...]:
    """The columns a plain (non-aggregate) query returns: queryable, non-sensitive, not long text."""
    return tuple(f for f in schema.fields if f.queryable and not f.sensitive and f.type != "text")


def _queryable(schema: RecordTypeSchema, name: str) -> FieldSchema:
    field = schema.field(name)
    if field is None:
        raise InvalidQueryError(f"{schema.plural.capitalize()} have no field {name!r}")
    if not field.queryable or field.sensitive:
        raise InvalidQueryError(f"Field {name!r} of {schema.plural} cannot be queried")
    return field


def _check_filter(item: Filter, field: FieldSchema) -> None:
    op, value = item.op, item.value
    if isinstance(value, Period):
        if op != "between" or field.type not in DATES:
            raise InvalidQueryError(
                f"A relative date range only applies to a date field with 'between', not {field.name!r}"
            )
        return
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2):
            raise InvalidQueryError(f"'between' on {field.name!r} needs two values")
        for bound in value:
            if bound is None:
                raise InvalidQueryError(f"'between' on {field.name!r} needs two values")
            _check_value(field, bound)
        if field.type not in ORDERED:
            raise InvalidQueryError(f"'between' needs a number or date field, not {field.name!r}")
        return
    if op == "in":
        if not isinstance(value, list) or not value:
            raise InvalidQueryError(f"'in' on {field.name!r} needs a non-empty list of values")
        for member in value:
            _check_value(field, member)
        return
    if isinstance(value, list):
        raise InvalidQueryError(f"{op!r} on {field.name!r} takes one value, not a list")
    if value is None and op not in ("=", "!="):
        raise InvalidQueryError(f"{op!r} on {field.name!r} needs a value")
    if op == "contains" and field.type not in ("string", "text"):
        raise InvalidQueryError(f"'contains' needs a text field, not {field.name!r}")
    if op in ("<", "<=", ">", ">=") and field.type not in ORDERED:
        raise InvalidQueryError(f"{op!r} needs a number or date field, not {field.name!r}")
    _check_value(field, value)


def _check_value(field: FieldSchema, value: Scalar) -> None:
    expected = field.type
    if value is None:
        return
    if expected in NUMERIC:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected == "boolean":
        ok = isinstance(value, bool)
    elif expected in DATES:
        ok = isinstance(value, str) and _is_iso(value, expected)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise InvalidQueryError(f"Value {value!r} does not fit field {field.name!r} ({expected})")
    if expected == "enum" and field.allowed_values and value not in field.allowed_values:
        allowed = ", ".join(field.allowed_values)
        raise InvalidQueryError(f"{value!r} is not a valid {field.name}; expected one of: {allowed}")


def _is_iso(value: str, kind: str) -> bool:
    try:
        (date.fromisoformat if kind == "date" else datetime.fromisoformat)(value)
    except ValueError:
        return False
    return True
