"""A QuerySpec restated as one plain sentence, shown to the user next to the results."""

from __future__ import annotations

from collections.abc import Sequence

from margin.adapters.types import FieldSchema, Filter, Period, QuerySpec, RecordTypeSchema, Scalar, Sort

from .formatting import format_day, format_money, format_number, parse_when
from .query_vocab import (
    DATE_TYPES,
    DEFAULT_LIMIT,
    NUMERIC_TYPES,
    TEXT_TYPES,
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

_PERIODS = {
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
        field = record_type.field(item.field)
        adjective = _adjective(field, item) if field is not None else None
        if adjective is not None:
            adjectives.append(adjective)
        else:
            qualifiers.append(_qualifier(record_type, field, item))
    head = " ".join([*adjectives, record_type.plural.lower()])
    if spec.aggregate is not None:
        measured = _label(record_type, spec.aggregate.field or "")
        head = {"count": "number", "sum": f"total {measured}", "avg": f"average {measured}"}[
            spec.aggregate.fn
        ] + (f" of {head}")
    elif spec.limit != DEFAULT_LIMIT:
        head = f"{'top' if spec.sort else 'first'} {spec.limit} {head}"
    text = " ".join([head, *_join_withs(qualifiers)])
    if spec.group_by:
        text += f" by {_label(record_type, spec.group_by)}"
    if spec.sort:
        order = _order(record_type, spec.sort[0])
        text += (" " if order.startswith("by ") else ", ") + order
    return text[:1].upper() + text[1:]


def _adjective(field: FieldSchema, item: Filter) -> str | None:
    """Enum equality reads best before the noun: "open deals", "high priority cases"."""
    if field.type != "enum" or item.op not in ("=", "in") or item.value is None:
        return None
    values = item.value if isinstance(item.value, list) else [item.value]
    if item.op == "in" and tuple(values) == open_values(field):
        named = "open"
    else:
        named = " or ".join(one_line(str(value)) for value in values)
    return named if is_status(field) else f"{named} {field_label(field)}"


def _qualifier(record_type: RecordTypeSchema, field: FieldSchema | None, item: Filter) -> str:
    value = item.value
    if field is None:
        return f"where {item.field} {item.op} {one_line(str(value))}"
    label = field_label(field)
    if field.type in DATE_TYPES:
        subject = _date_subject(field)
        if isinstance(value, Period):
            return f"{subject} {_period(value)}"
        if isinstance(value, list):
            return f"{subject} between {_shown(field, value[0])} and {_shown(field, value[-1])}"
        return f"{subject} {_DATE_COMPARISONS.get(item.op, item.op)} {_shown(field, value)}"
    if isinstance(value, Period):
        return f"with {label} {_period(value)}"
    subject = "" if _is_amount(record_type, field) else f"with {label} "
    if isinstance(value, list):
        if item.op == "between":
            return f"{subject}between {_shown(field, value[0])} and {_shown(field, value[-1])}"
        return f"{subject or 'of '}{' or '.join(_shown(field, v) for v in value)}"
    if item.op == "contains":
        if field == title_field(record_type) and "name" not in words(field.name):
            return f"mentioning {_shown(field, value)}"
        return f"with {label} containing {_shown(field, value)}"
    if value is None:
        return f"with no {label}" if item.op == "=" else f"with a {label}"
    if item.op in _COMPARISONS and field.type in NUMERIC_TYPES:
        return f"{subject}{_COMPARISONS[item.op]} {_shown(field, value)}"
    if item.op == "!=":
        return f"with {label} other than {_shown(field, value)}"
    return f"with {label} {_shown(field, value)}"


def _join_withs(qualifiers: list[str]) -> list[str]:
    """ "with owner X with stage Y" reads as "with owner X and stage Y"."""
    joined: list[str] = []
    for qualifier in qualifiers:
        if joined and joined[-1].startswith("with ") and qualifier.startswith("with "):
            joined[-1] += " and " + qualifier.removeprefix("with ")
        else:
            joined.append(qualifier)
    return joined


def _shown(field: FieldSchema, value: Scalar) -> str:
    """A value as the sentence shows it: quoted text, formatted money, numbers and dates."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field.type == "money":
        return format_money(value)
    if isinstance(value, int | float):
        return format_number(value)
    when = parse_when(value) if field.type in DATE_TYPES else None
    if when is not None:
        return format_day(when)
    return f'"{one_line(value)}"' if field.type in TEXT_TYPES else one_line(value)


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
    if field is not None and field.type in DATE_TYPES:
        return f"by {label}, {'latest' if descending else 'earliest'} first"
    return f"by {label}{', descending' if descending else ''}"


def _date_subject(field: FieldSchema) -> str:
    """A verb alias reads best ("closing this month"); otherwise "with close date this month"."""
    for alias in field.aliases:
        if " " not in alias and alias.lower().endswith(("ing", "ed")):
            return alias.lower()
    return f"with {field_label(field)}"


def _period(period: Period) -> str:
    if period.name == "last_n_days":
        return f"in the last {period.n} days"
    if period.name == "next_n_days":
        return f"in the next {period.n} days"
    return _PERIODS[period.name]


def _label(record_type: RecordTypeSchema, name: str) -> str:
    field = record_type.field(name)
    return field_label(field) if field is not None else name.replace("_", " ")
