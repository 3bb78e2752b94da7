"""Questions as items: words, numbers, quoted strings, and the schema phrases they contain."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from margin.adapters.types import FieldSchema

from .query_vocab import Lexicon, Meaning, words

ItemKind = Literal["word", "number", "date", "quoted", "punct", "term", "type", "field", "value", "foreign"]
"""``term``: a schema phrase before the record type is known; then ``type``, ``field`` or ``value``
when it means something for that type, ``foreign`` when it only names another type's field."""

MAX_PHRASE_WORDS = 4

_TOKEN = re.compile(
    r"""
    (?P<quoted>"[^"]+"|“[^”]+”|(?<!\w)'[^']+'(?!\w))
    |(?P<date>\b\d{4}-\d{2}-\d{2}\b)
    |(?P<number>(?:(?P<symbol>[$€£¥])\s?)?(?P<digits>\d+(?:,\d{3})*(?:\.\d+)?)
        (?:\s?(?P<suffix>k|mm|m|bn|b|thousand|million|billion)\b)?(?P<percent>%)?)
    |(?P<op>[<>!]=|[<>=])
    |(?P<word>[^\W\d_][^\W_]*(?:'[^\W_]+)*)
    |(?P<joiner>(?<=\w)[-_](?=\w))
    |(?P<punct>\S)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_MULTIPLIERS = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}


@dataclass(slots=True)
class Item:
    kind: ItemKind
    text: str
    start: int
    end: int
    number: float | None = None
    money: bool = False
    percent: bool = False
    meanings: tuple[Meaning, ...] = ()
    used: bool = False

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def fields(self) -> tuple[FieldSchema, ...]:
        return tuple(dict.fromkeys(m.field for m in self.meanings if m.field is not None))


def tokenize(question: str) -> list[Item]:
    items: list[Item] = []
    for match in _TOKEN.finditer(question):
        kind, text, start, end = match.lastgroup, match.group(), match.start(), match.end()
        if kind == "quoted":
            items.append(Item("quoted", text[1:-1].strip(), start, end))
        elif kind == "number":
            items.append(_number(match))
        elif kind == "date":
            items.append(Item("date", text, start, end))
        elif kind in ("word", "op"):
            items.append(Item("word", text, start, end))
        elif kind == "punct":
            items.append(Item("punct", text, start, end))
    return items


def _number(match: re.Match[str]) -> Item:
    """``$50,000``, ``50k``, ``1.5 million``, ``70%``: the value, and whether it looks like money."""
    suffix = (match.group("suffix") or "").lower()
    value = float(match.group("digits").replace(",", "")) * _MULTIPLIERS.get(suffix, 1.0)
    return Item(
        "number",
        match.group(),
        match.start(),
        match.end(),
        number=value,
        money=bool(match.group("symbol") or suffix),
        percent=bool(match.group("percent")),
    )


def tag(items: list[Item], lexicon: Lexicon) -> list[Item]:
    """Merge runs of words that form a schema phrase (longest first) into ``term`` items."""
    tagged: list[Item] = []
    index = 0
    while index < len(items):
        for size in range(MAX_PHRASE_WORDS, 0, -1):
            run = items[index : index + size]
            if len(run) < size or any(item.kind != "word" or not words(item.text) for item in run):
                continue
            key = tuple(word for item in run for word in words(item.text))
            meanings = lexicon.get(key)
            if meanings:
                text = " ".join(item.text for item in run)
                tagged.append(Item("term", text, run[0].start, run[-1].end, meanings=meanings))
                index += size
                break
        else:
            tagged.append(items[index])
            index += 1
    return tagged
