"""The words an adapter's schema gives the query parser: record types, fields and enum values.

Everything is derived from the declared RecordTypeSchema (names, labels, plurals, aliases,
allowed values), so the parser works over any adapter. Fields that are not queryable are left
out entirely: the parser cannot name what it does not know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from margin.adapters.types import FieldSchema, FieldType, RecordTypeSchema

DEFAULT_LIMIT = 20
"""QuerySpec's default row limit."""

NUMERIC_TYPES: frozenset[FieldType] = frozenset({"money", "number", "integer"})
DATE_TYPES: frozenset[FieldType] = frozenset({"date", "datetime"})
GROUP_TYPES: frozenset[FieldType] = frozenset({"string", "enum", "boolean"})
TEXT_TYPES: frozenset[FieldType] = frozenset({"string", "text"})

STOPWORDS = frozenset(
    "a an the show me list find get give display all any what what's whats which who whose where are is "  # noqa: SIM905
    "was were be been there do does did we i have has had with of in on at to for from by and that "
    "those these please can could would you tell see want currently now right our records record ones "
    "one it its how worth".split()
)

_STATUS_WORDS = frozenset({"stage", "status", "state", "phase"})
_CLOSED_WORDS = frozenset(
    {"closed", "won", "lost", "resolved", "solved", "done", "cancelled", "canceled", "completed", "rejected"}
)
_ACCOUNT_WORDS = frozenset({"account", "customer", "company", "organization", "organisation", "client"})
_CREATED_WORDS = frozenset({"created", "opened", "submitted", "raised", "added"})
_DUE_WORDS = frozenset(
    {"close", "closing", "due", "deadline", "renewal", "expiry", "expire", "end", "target"}
)
_PERCENT_WORDS = frozenset({"probability", "percent", "percentage", "pct", "rate", "likelihood", "chance"})
_TITLE_WORDS = frozenset({"title", "subject", "name"})


class Meaning(NamedTuple):
    """What a phrase can name: a record type, one of its fields, or values of an enum field."""

    record_type: str
    field: FieldSchema | None = None
    values: tuple[str, ...] = ()


Lexicon = dict[tuple[str, ...], tuple[Meaning, ...]]


def singular(word: str) -> str:
    word = word.lower().removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "uses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def stem(word: str) -> str:
    """A crude stem that makes "closing", "closed" and "close" (or "created", "create") meet."""
    word = singular(word)
    for suffix in ("ing", "ed", "es", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> tuple[str, ...]:
    """Lowercase singular words of a name, label, alias or value (``close_date`` -> close, date)."""
    return tuple(singular(word) for word in re.findall(r"[^\W_]+(?:'[^\W_]+)?", text.lower()))


def field_words(field: FieldSchema) -> frozenset[str]:
    return frozenset(word for phrase in (field.name, field.label, *field.aliases) for word in words(phrase))


def queryable(record_type: RecordTypeSchema) -> tuple[FieldSchema, ...]:
    """Fields a query may use: declared queryable and not sensitive (the validator refuses those)."""
    return tuple(field for field in record_type.fields if field.queryable and not field.sensitive)


def build_lexicon(schema: Sequence[RecordTypeSchema]) -> Lexicon:
    """Every phrase the schema declares, mapped to what it can mean."""
    entries: dict[tuple[str, ...], list[Meaning]] = {}

    def add(key: tuple[str, ...], meaning: Meaning) -> None:
        if key and not all(word in STOPWORDS for word in key) and meaning not in entries.setdefault(key, []):
            entries[key].append(meaning)

    for record_type in schema:
        for phrase in (record_type.name, record_type.label, record_type.plural, *record_type.aliases):
            add(words(phrase), Meaning(record_type.name))
        for field in queryable(record_type):
            for phrase in (field.name, field.label, *field.aliases):
                add(words(phrase), Meaning(record_type.name, field))
    for record_type in schema:
        for field in queryable(record_type):
            for key, values in _value_phrases(field).items():
                taken = any(m.record_type == record_type.name and not m.values for m in entries.get(key, ()))
                if not taken:
                    add(key, Meaning(record_type.name, field, values))
    return {key: tuple(meanings) for key, meanings in entries.items()}


def _value_phrases(field: FieldSchema) -> dict[tuple[str, ...], tuple[str, ...]]:
    """An enum's values by their full words, by each distinctive word ("won" -> "closed won"), and
    "open" for the values of a status field that are not closed, when "open" is not itself a value."""
    if field.type != "enum":
        return {}
    phrases: dict[tuple[str, ...], tuple[str, ...]] = {
        words(value): (value,) for value in field.allowed_values
    }
    partial: dict[tuple[str, ...], list[str]] = {}
    for value in field.allowed_values:
        for word in words(value):
            if (word,) not in phrases and word not in STOPWORDS:
                partial.setdefault((word,), []).append(value)
    phrases.update({key: tuple(values) for key, values in partial.items()})
    if ("open",) not in phrases and (opened := open_values(field)):
        phrases[("open",)] = opened
    return phrases


def is_status(field: FieldSchema) -> bool:
    return field.type == "enum" and bool(field_words(field) & _STATUS_WORDS)


def open_values(field: FieldSchema) -> tuple[str, ...]:
    """The values of a status field that are not closed (not "closed won", "solved"...), if any are."""
    if not is_status(field):
        return ()
    still_open = tuple(v for v in field.allowed_values if not set(words(v)) & _CLOSED_WORDS)
    return still_open if 0 < len(still_open) < len(field.allowed_values) else ()


def only(fields: Iterable[FieldSchema]) -> FieldSchema | None:
    """The field, when exactly one qualifies."""
    found = tuple(fields)
    return found[0] if len(found) == 1 else None


def date_fields(record_type: RecordTypeSchema) -> tuple[FieldSchema, ...]:
    return tuple(field for field in queryable(record_type) if field.type in DATE_TYPES)


def money_field(record_type: RecordTypeSchema) -> FieldSchema | None:
    """The one money field ("amount"), when there is exactly one."""
    return only(field for field in queryable(record_type) if field.type == "money")


def percent_field(record_type: RecordTypeSchema) -> FieldSchema | None:
    return only(
        field
        for field in queryable(record_type)
        if field.type in NUMERIC_TYPES and field_words(field) & _PERCENT_WORDS
    )


def created_field(record_type: RecordTypeSchema) -> FieldSchema | None:
    return only(field for field in date_fields(record_type) if field_words(field) & _CREATED_WORDS)


def due_field(record_type: RecordTypeSchema) -> FieldSchema | None:
    return only(field for field in date_fields(record_type) if field_words(field) & _DUE_WORDS)


def account_field(record_type: RecordTypeSchema) -> FieldSchema | None:
    return only(
        field
        for field in queryable(record_type)
        if field.type in ("string", "enum") and field_words(field) & _ACCOUNT_WORDS
    )


def title_field(record_type: RecordTypeSchema) -> FieldSchema | None:
    declared = record_type.field(record_type.title_field)
    if declared is not None and declared.queryable and declared.type in TEXT_TYPES:
        return declared
    return only(
        field
        for field in queryable(record_type)
        if field.type in TEXT_TYPES and set(words(field.name)) & _TITLE_WORDS
    )


def field_label(field: FieldSchema) -> str:
    return (field.label or field.name.replace("_", " ")).lower()
