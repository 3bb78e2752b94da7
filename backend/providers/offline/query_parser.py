"""Rule-based parsing of a plain-language question into a QuerySpec over an adapter's schema.

It fails safe: whatever it cannot map with confidence onto the declared, queryable fields is
answered ``QueryPlan(unanswerable=...)``, never a query on a guessed field. Free text from the
question only ever becomes a bound filter value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from margin.adapters.types import QueryPlan, QuerySpec, RecordTypeSchema

from .query_cursor import Unanswerable
from .query_describe import describe_spec
from .query_rules import Clauses
from .query_tokens import Item, tag, tokenize
from .query_vocab import build_lexicon

__all__ = ["UNANSWERABLE_PREFIX", "describe_spec", "parse_question"]

UNANSWERABLE_PREFIX = "I couldn't turn that into a query: "
MAX_QUESTION_CHARS = 1000


def parse_question(question: str, schema: Sequence[RecordTypeSchema], today: date) -> QueryPlan:
    """A spec for ``question``, or why there can be none. ``today`` anchors month and year names."""
    try:
        spec = _parse(question, schema, today)
    except Unanswerable as exc:
        return QueryPlan(unanswerable=f"{UNANSWERABLE_PREFIX}{exc}")
    return QueryPlan(spec=spec)


def _parse(question: str, schema: Sequence[RecordTypeSchema], today: date) -> QuerySpec:
    if not question.strip():
        raise Unanswerable("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise Unanswerable("the question is too long")
    items = tag(tokenize(question), build_lexicon(schema))
    record_type = _record_type(items, schema)
    _settle_terms(items, record_type.name)
    return Clauses(question, items, record_type, today).spec()


def _record_type(items: list[Item], schema: Sequence[RecordTypeSchema]) -> RecordTypeSchema:
    """The record type asked about: the one named, or the only one all the named fields belong to.

    When several types are named, one of them must be able to read the others' names as its own
    fields ("deals by account": account is a field of deals).
    """
    terms = [item for item in items if item.kind == "term"]
    naming = [item for item in terms if any(m.field is None for m in item.meanings)]
    named = [
        rt
        for rt in schema
        if any(m.field is None and m.record_type == rt.name for i in naming for m in i.meanings)
    ]
    if named:
        fits = [rt for rt in named if all(any(m.record_type == rt.name for m in i.meanings) for i in naming)]
        if len(fits) == 1:
            return fits[0]
        raise Unanswerable(f"it mentions more than one kind of record ({_plurals(named)})")
    candidates = {rt.name for rt in schema}
    for item in terms:
        candidates &= {m.record_type for m in item.meanings}
    if terms and len(candidates) == 1:
        return next(rt for rt in schema if rt.name in candidates)
    raise Unanswerable(f"it doesn't say which records to look at ({_plurals(schema)})")


def _settle_terms(items: list[Item], record_type: str) -> None:
    """Give each schema phrase its meaning for the chosen record type."""
    for item in items:
        if item.kind != "term":
            continue
        meanings = tuple(m for m in item.meanings if m.record_type == record_type)
        item.meanings = meanings
        if any(m.field is None for m in meanings):
            item.kind = "type"
        elif any(not m.values for m in meanings):
            item.meanings = tuple(m for m in meanings if not m.values)
            item.kind = "field"
        elif meanings:
            item.kind = "value"
        else:
            item.kind = "foreign"


def _plurals(schema: Sequence[RecordTypeSchema]) -> str:
    names = [rt.plural.lower() for rt in schema]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)
