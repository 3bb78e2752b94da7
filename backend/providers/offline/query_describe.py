"""A QuerySpec restated as one plain sentence, shown to the user next to the results."""

from __future__ import annotations

from collections.abc import Sequence

from margin.adapters.types import FieldSchema, Filter, Period, QuerySpec, RecordTypeSchema, Scalar, Sort

from .formatting import format_day, format_money, format_number, parse_when
from .query_vocab import (
    DEFAULT_LIMIT,
    NUMERIC_TYPES,
    created_field,
    field_label,
    field_words,
    is_status,
    money_field,
    open_values,
    title_field,
    words,
)
from .text import one_line

_PERIOD_TEXT = {
    "today": "today",
    "yesterday": "yesterday",
    "tomorrow": "tomorrow",
    "this_week": "this week",
    "last_week": "last week",
    "next_week": "next week",
    "this_month": "this month",
    "last_month": "last month",
    "next_month": "next month",
    "this_quarter": "this quarter",
    "last_quarter": "last quarter",
    "next_quarter": "next quarter",
    "this_year": "this year",
    "last_year": "last year",
}
_COMPARISONS = {">": "over", "<": "under", ">=": "at least", "<=": "at most", "=": "of exactly"}
_DATE_COMPARISONS = {">": "after", "<": "before", ">=": "on or after", "<=": "on or before", "=": "on"}


def describe_spec(spec: QuerySpec, schema: Sequence[RecordTypeSchema]) -> str:
    """E.g. "Open deals over $50,000 closing this month, largest first"."""
    record_type = next((rt for rt in schema if rt.name == spec.record_type), None)
    if record_type is None:
        return f"Records of type {spec.record_type}"
    adjectives: list[str] = []
    qualifiers: list[str] = []
    for item in spec.filters:
        adjective = _adjective(record_type, item)
        if adjective is not None:
            adjectives.append(adjective)
        else:
            qualifiers.append(_qualifier(record_type, item))
    head = " ".join([*adjectives, record_type.plural.lower()])
    aggregate = spec.aggregate
    if aggregate is not None:
        measured = _label(record_type, aggregate.field or "")
        head = {"count": "number of", "sum": f"total {measured} of", "avg": f"average {measured} of"}[
            aggregate.fn
        ] + (f" {head}")
    elif spec.limit != DEFAULT_LIMIT:
        head = f"{'top' if spec.sort else 'first'} {spec.limit} {head}"
    text = " ".join([head, *qualifiers])
    if spec.group_by:
        text += f" by {_label(record_type, spec.group_by)}"
    if spec.sort:
        order = _order(record_type, spec.sort[0])
        text += (" " if order.startswith("by ") else ", ") + order
    return text[:1].upper() + text[1:]


def _adjective(record_type: RecordTypeSchema, item: Filter) -> str | None:
    """Enum equality reads best before the noun: "open deals", "high priority cases"."""
    field = record_type.field(item.field)
    if field is None or field.type != "enum" or item.op not in ("=", "in"):
        return None
    values = item.value if isinstance(item.value, list) else [item.value]
    if item.op == "in" and tuple(values) == open_values(field):
        words = "open"
    else:
        words = " or ".join(str(value) for value in values)
    return words if is_status(field) else f"{words} {field_label(field)}"


def _qualifier(record_type: RecordTypeSchema, item: Filter) -> str:
    field = record_type.field(item.field)
    label = _label(record_type, item.field)
    value = item.value
    if isinstance(value, Period):
        return f"{_date_subject(record_type, item.field)} {_period(value)}"
    if field is not None and field.type in ("date", "datetime"):
        subject = _date_subject(record_type, item.field)
        if isinstance(value, list):
            first, last = (_value(record_type, item.field, bound) for bound in (value[0], value[-1]))
            return f"{subject} between {first} and {last}"
        return f"{subject} {_DATE_COMPARISONS.get(item.op, item.op)} {_value(record_type, item.field, value)}"
    subject = "" if field is not None and _is_amount(record_type, field) else f"with {label} "
    if item.op == "between" and isinstance(value, list):
        low, high = (_value(record_type, item.field, v) for v in (value[0], value[-1]))
        return f"{subject}between {low} and {high}"
    if item.op in _COMPARISONS and field is not None and field.type in NUMERIC_TYPES:
        return f"{subject}{_COMPARISONS[item.op]} {_value(record_type, item.field, value)}"
    if item.op == "contains":
        if field is not None and field == title_field(record_type) and "name" not in words(field.name):
            return f"mentioning {_quoted(value)}"
        return f"with {label} containing {_quoted(value)}"
    if item.op == "!=":
        return f"with {label} other than {_quoted(value) if field and field.type != 'enum' else value}"
    if item.op == "in" and isinstance(value, list):
        return f"with {label} {' or '.join(_quoted(v) for v in value)}"
    return f"with {label} {_quoted(value)}"


def _is_amount(record_type: RecordTypeSchema, field: FieldSchema) -> bool:
    """The money field that "over $50,000" needs no name for: the only one, called amount or value."""
    return field == money_field(record_type) and bool(field_words(field) & {"amount", "value"})


def _order(record_type: RecordTypeSchema, sort: Sort) -> str:
    field = record_type.field(sort.field)
    descending = sort.direction == "desc"
    if field is not None and _is_amount(record_type, field):
        return "largest first" if descending else "smallest first"
    if field is not None and field == created_field(record_type):
        return "most recent first" if descending else "oldest first"
    label = _label(record_type, sort.field)
    if field is not None and field.type in NUMERIC_TYPES:
        return f"by {label}, {'highest' if descending else 'lowest'} first"
    if field is not None and field.type in ("date", "datetime"):
        return f"by {label}, {'latest' if descending else 'earliest'} first"
    return f"by {label}{', descending' if descending else ''}"


def _date_subject(record_type: RecordTypeSchema, name: str) -> str:
    """A verb alias reads best ("closing this month"); otherwise "with close date"."""
    field = record_type.field(name)
    if field is not None:
        for alias in field.aliases:
            if " " not in alias and alias.lower().endswith(("ing", "ed")):
                return alias.lower()
    return f"with {_label(record_type, name)}"


def _period(period: Period) -> str:
    if period.name == "last_n_days":
        return f"in the last {period.n} days"
    if period.name == "next_n_days":
        return f"in the next {period.n} days"
    return _PERIOD_TEXT[period.name]


def _value(record_type: RecordTypeSchema, name: str, value: Scalar | list[Scalar] | Period) -> str:
    field = record_type.field(name)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return one_line(str(value))
    if field is not None and field.type == "money":
        return format_money(value)
    if isinstance(value, int | float):
        return format_number(value)
    when = parse_when(value)
    return format_day(when) if when is not None else one_line(value)


def _quoted(value: Scalar | list[Scalar] | Period) -> str:
    return f'"{one_line(str(value))}"'


def _label(record_type: RecordTypeSchema, name: str) -> str:
    field = record_type.field(name)
    return field_label(field) if field is not None else name.replace("_", " ")
