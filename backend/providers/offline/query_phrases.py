"""The phrases the offline query parser recognises, independent of any schema.

Patterns are runs of consecutive words; ``"a|b"`` matches either word.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from typing import Literal

from margin.adapters.types import FilterOp, PeriodName

from .query_vocab import STOPWORDS

Pattern = tuple[str, ...]
"""Consecutive words; ``"a|b"`` matches either."""
Direction = Literal["asc", "desc"]
Ranking = Literal["size", "recent", "due"]

PERIODS: dict[str, PeriodName] = {
    "today": "today",
    "yesterday": "yesterday",
    "tomorrow": "tomorrow",
    "this week": "this_week",
    "last week": "last_week",
    "next week": "next_week",
    "this month": "this_month",
    "last month": "last_month",
    "next month": "next_month",
    "this quarter": "this_quarter",
    "last quarter": "last_quarter",
    "next quarter": "next_quarter",
    "this year": "this_year",
    "last year": "last_year",
}
SHIFTS = (
    dict.fromkeys(("this", "current"), "this")
    | dict.fromkeys(("last", "previous", "past", "prior"), "last")
    | dict.fromkeys(("next", "coming", "upcoming"), "next")
)
DAY_UNITS = {"day": 1, "week": 7, "month": 30}
MONTHS = tuple(name.lower() for name in calendar.month_name[1:])
BOUNDS: dict[str, FilterOp] = {"before": "<", "after": ">", "since": ">=", "until": "<="}
DATE_LINKS = "in|within|during|over|for|the|on|from|is|are|was|were|been|be|that|which"
NUMBER_LINKS = "is|are|was|of|with|a|an|the|that|which|has|have|worth"
CURRENCY_WORDS = "dollars|dollar|usd|eur|euros|euro|gbp|pounds|bucks"
NEGATIONS = "not|non|excluding|except|without|isn't|aren't"

COMPARATORS: tuple[tuple[Pattern, FilterOp], ...] = (
    (("no|not", "more", "than"), "<="),
    (("no|not", "less", "than"), ">="),
    (("at", "least"), ">="),
    (("at", "most"), "<="),
    (("up", "to"), "<="),
    (("in", "excess", "of"), ">"),
    (("more|greater|larger|bigger|higher", "than"), ">"),
    (("less|fewer|smaller|lower", "than"), "<"),
    (("over|above|exceeding|exceeds|>",), ">"),
    (("under|below|<",), "<"),
    ((">=",), ">="),
    (("<=",), "<="),
    (("exactly|=",), "="),
    (("equal|equals", "to"), "="),
)
COUNTS: tuple[Pattern, ...] = (
    ("how", "many"),
    ("total", "number", "of"),
    ("number", "of"),
    ("count", "of"),
    ("count",),
)
MEASURES: tuple[tuple[Pattern, Literal["sum", "avg"]], ...] = (
    (("sum", "of"), "sum"),
    (("how", "much"), "sum"),
    (("total|sum|combined",), "sum"),
    (("average|avg|mean",), "avg"),
)
SORTED_BY: Pattern = ("sorted|sort|ordered|order|ranked|rank", "by")
GROUPINGS: tuple[Pattern, ...] = (
    ("broken", "down", "by"),
    ("grouped|group|split|breakdown", "by"),
    ("for|by|in", "each"),
    ("per",),
    ("by",),
)
SUPERLATIVES: tuple[tuple[Pattern, Ranking, Direction], ...] = (
    (("most", "recently|recent"), "recent", "desc"),
    (("least", "recent"), "recent", "asc"),
    (("newest|latest|recent",), "recent", "desc"),
    (("oldest",), "recent", "asc"),
    (("largest|biggest|highest",), "size", "desc"),
    (("smallest|lowest|cheapest",), "size", "asc"),
    (("soonest|earliest",), "due", "asc"),
)
CONTAINS: tuple[Pattern, ...] = (
    ("that|which", "mention|mentions"),
    ("mentioning|containing|contains|contain|about|named|called|titled",),
)
ENTITY_PREPOSITIONS = "for|at|from|with"
SORT_STARTS = "largest|biggest|highest|smallest|lowest|cheapest|most|newest|latest|oldest|recent"


def _pattern_words(patterns: Iterable[Pattern]) -> set[str]:
    return {word for pattern in patterns for part in pattern for word in part.split("|")}


RESERVED = frozenset(
    STOPWORDS
    | _pattern_words(p for p, _ in COMPARATORS)
    | _pattern_words(COUNTS)
    | _pattern_words(p for p, _ in MEASURES)
    | _pattern_words((SORTED_BY, *GROUPINGS, *CONTAINS))
    | _pattern_words(p for p, _, _ in SUPERLATIVES)
    | set(SHIFTS)
    | set(MONTHS)
    | set(BOUNDS)
    | {"today", "yesterday", "tomorrow", "top", "first", "limit", "or", "not", "asc", "desc"}
    | set(NEGATIONS.split("|"))
)
"""Words that end a free-text value ("for Acme over 50k" -> "Acme"), unless capitalised."""
