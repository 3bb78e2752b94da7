"""Which of a record's fields plays which role (status, amount, owner...), found by name heuristics.

Adapters name fields freely, so roles are guessed from the words of a field's name and label and
from its type. Sensitive and empty fields never play a role: nothing here may print them.
"""

from __future__ import annotations

import re
from typing import Literal

from margin.adapters.types import FieldType, FieldValue, RecordContext

from .formatting import (
    CURRENCY_SYMBOLS,
    as_number,
    currency_symbol,
    format_money,
    format_number,
    format_when,
    parse_when,
)
from .text import humanize, one_line

Role = Literal["status", "amount", "priority", "account", "contact", "owner", "due", "created", "currency"]

KEY_FACT_ROLES: tuple[Role, ...] = (
    "status",
    "amount",
    "priority",
    "account",
    "contact",
    "owner",
    "due",
    "created",
)
"""The roles a summary lists as key facts, in this order."""

_ROLE_WORDS: dict[Role, frozenset[str]] = {
    "status": frozenset({"stage", "status", "state", "phase"}),
    "amount": frozenset(
        {"amount", "value", "price", "revenue", "arr", "mrr", "acv", "tcv", "total", "budget"}
    ),
    "priority": frozenset({"priority", "severity", "urgency"}),
    "account": frozenset({"account", "customer", "company", "organization", "organisation", "client"}),
    "contact": frozenset({"contact", "requester", "requestor", "reporter", "submitter"}),
    "owner": frozenset({"owner", "assignee", "assigned", "rep", "agent", "manager"}),
    "due": frozenset(
        {"close", "closing", "due", "deadline", "renewal", "expected", "expiry", "expires", "target"}
    ),
    "created": frozenset({"created", "opened", "submitted", "raised"}),
    "currency": frozenset({"currency"}),
}
_TEXT_TYPES: frozenset[FieldType] = frozenset({"string", "text", "enum"})
_DATE_TYPES: frozenset[FieldType] = frozenset({"date", "datetime"})
_ROLE_TYPES: dict[Role, frozenset[FieldType]] = {
    "status": _TEXT_TYPES,
    "amount": frozenset({"money", "number", "integer"}),
    "priority": _TEXT_TYPES,
    "account": _TEXT_TYPES,
    "contact": _TEXT_TYPES,
    "owner": _TEXT_TYPES,
    "due": _DATE_TYPES,
    "created": _DATE_TYPES,
    "currency": _TEXT_TYPES,
}


def visible_fields(record: RecordContext) -> list[FieldValue]:
    """Fields that may be shown: not sensitive and not empty."""
    return [
        item
        for item in record.fields
        if not item.sensitive and item.value is not None and one_line(str(item.value)) != ""
    ]


def find_role(record: RecordContext, role: Role) -> FieldValue | None:
    """The first visible field playing ``role``; a money-typed field wins the amount role."""
    visible = visible_fields(record)
    candidates = [
        item for item in visible if item.type in _ROLE_TYPES[role] and _words(item) & _ROLE_WORDS[role]
    ]
    if role == "amount":
        candidates = [item for item in visible if item.type == "money"] or candidates
    return candidates[0] if candidates else None


def role_text(record: RecordContext, role: Role) -> str | None:
    item = find_role(record, role)
    return format_value(record, item) if item else None


def key_facts(record: RecordContext) -> list[tuple[str, str]]:
    """(label, formatted value) for each role that some field plays, each field at most once."""
    facts: list[tuple[str, str]] = []
    seen: set[str] = set()
    for role in KEY_FACT_ROLES:
        item = find_role(record, role)
        if item is None or item.name in seen:
            continue
        seen.add(item.name)
        value = format_value(record, item)
        if item.type == "enum":
            value = value[:1].upper() + value[1:]
        facts.append((one_line(item.label) or humanize(item.name), value))
    return facts


def format_value(record: RecordContext, item: FieldValue) -> str:
    """A field's value as a person would write it: ``$48,000``, ``Mar 31, 2025``, ``Yes``."""
    value = item.value
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if item.type == "money":
        return format_money(value, _currency_symbol(record, item))
    if item.type in ("number", "integer") and (number := as_number(value)) is not None:
        return format_number(number)
    if item.type in _DATE_TYPES and (when := parse_when(value)) is not None:
        return format_when(when)
    return one_line(str(value))


def _currency_symbol(record: RecordContext, item: FieldValue) -> str:
    """From a currency field, else an ISO code in the field's own name or label, else the default."""
    currency = find_role(record, "currency")
    if currency is not None:
        return currency_symbol(str(currency.value))
    for word in _words(item):
        if word.upper() in CURRENCY_SYMBOLS:
            return currency_symbol(word)
    return currency_symbol("")


def _words(item: FieldValue) -> set[str]:
    return set(re.findall(r"[a-z]+", f"{item.name} {item.label}".lower().replace("_", " ")))
