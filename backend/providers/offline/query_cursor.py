"""Walking a tagged question item by item: the primitives every parsing rule is built from."""

from __future__ import annotations

from margin.adapters.types import FieldSchema, FieldType
from margin.adapters.validation import MAX_LIMIT

from .query_phrases import RESERVED, Pattern
from .query_tokens import Item
from .query_vocab import field_label, words

MAX_VALUE_WORDS = 6


class Unanswerable(Exception):
    """The question cannot be turned into a query with confidence; the message says why."""


class Cursor:
    """A question's items, with which of them rules have used. Indexes out of range read as used."""

    def __init__(self, question: str, items: list[Item]) -> None:
        self.question = question
        self.items = items

    def _free(self, i: int) -> Item | None:
        return self.items[i] if 0 <= i < len(self.items) and not self.items[i].used else None

    def _word_at(self, i: int, options: str) -> bool:
        item = self._free(i)
        return item is not None and item.kind == "word" and item.low in options.split("|")

    def _punct_at(self, i: int, mark: str) -> bool:
        item = self._free(i)
        return item is not None and item.kind == "punct" and item.text == mark

    def _is_type(self, i: int) -> bool:
        item = self._free(i)
        return item is not None and item.kind == "type"

    def _seq(self, i: int, *pattern: str) -> int:
        """The index after ``pattern`` when its words start at ``i``, else -1."""
        for part in pattern:
            if not self._word_at(i, part):
                return -1
            i += 1
        return i

    def _first(self, i: int, patterns: tuple[Pattern, ...]) -> int | None:
        return next((end for pattern in patterns if (end := self._seq(i, *pattern)) >= 0), None)

    def _count(self, i: int) -> int | None:
        """A plain count ("top 5"): a whole number, not money or a percentage."""
        item = self._free(i)
        if item is None or item.kind != "number" or item.money or item.percent or item.number is None:
            return None
        n = item.number
        return int(n) if n.is_integer() and 1 <= n <= MAX_LIMIT else None

    def _number(self, i: int) -> Item | None:
        item = self._free(i)
        return item if item is not None and item.kind == "number" else None

    def _field_at(self, i: int, types: frozenset[FieldType] | None = None) -> FieldSchema | None:
        """The field named at ``i`` when it has one of ``types``; two candidates are ambiguous."""
        item = self._free(i)
        if item is None or item.kind != "field":
            return None
        fields = [field for field in item.fields if types is None or field.type in types]
        if len(fields) > 1:
            raise Unanswerable(f"'{item.text}' could mean {' or '.join(field_label(f) for f in fields)}")
        return fields[0] if fields else None

    def _names_field(self, i: int, field: FieldSchema) -> bool:
        item = self._free(i)
        return item is not None and item.kind == "field" and field in item.fields

    def _names_value(self, i: int, field: FieldSchema) -> bool:
        item = self._free(i)
        return item is not None and item.kind == "value" and field in item.fields

    def _use(self, start: int, end: int) -> None:
        for item in self.items[start:end]:
            item.used = True

    def _text(self, start: int, end: int) -> str:
        return self.question[self.items[start].start : self.items[end - 1].end]

    def _value_run(self, i: int, *, lowercase: bool) -> tuple[str, int] | None:
        """Free text after "for", "owned by", "mentioning": a quoted string or a few words.

        Lowercase words that mean something to the parser end the run; capitalised words never do.
        """
        item = self._free(i)
        if item is not None and item.kind == "quoted":
            return (item.text, i + 1) if item.text else None
        end = i
        while end - i < MAX_VALUE_WORDS and (item := self._free(end)) is not None and item.kind == "word":
            if not words(item.text) or not (
                item.text[0].isupper() or (lowercase and item.low not in RESERVED)
            ):
                break
            end += 1
        if end == i:
            return None
        return self._text(i, end), end
