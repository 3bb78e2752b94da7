"""Triage without a model: transparent keyword and field rules.

Each suggestion says which words or fields led to it. A category is chosen by keywords found
in the record's title and timeline (a built-in list for common category names, the category's
own words, and any keywords the config adds); the priority by urgency words, customer tier and
the record's age; tags by their own words appearing in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import msgspec

from margin.adapters import RecordContext


class TriageLists(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What triage may suggest for one record type. Empty categories or priorities: taken from
    the record type's ``category`` / ``priority`` enum field when the adapter declares one."""

    categories: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    """Lowest first, e.g. ``["low", "normal", "high", "urgent"]``."""
    tags: tuple[str, ...] = ()
    keywords: dict[str, tuple[str, ...]] = {}
    """Extra keywords per category or tag for the offline rules."""


class Suggestion(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    value: str
    reason: str


class TriageAnswer(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The ``triage`` result: one category, one priority, a few tags, each with a one-line reason."""

    category: Suggestion | None
    priority: Suggestion | None
    tags: tuple[Suggestion, ...]


BUILTIN_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "billing": (
        "invoice",
        "invoices",
        "billing",
        "charge",
        "charged",
        "refund",
        "payment",
        "credit card",
        "subscription",
        "pricing",
        "price",
        "vat",
    ),
    "bug": (
        "bug",
        "error",
        "errors",
        "crash",
        "crashes",
        "broken",
        "fails",
        "failing",
        "exception",
        "500",
        "doesn't work",
        "not working",
    ),
    "how_to": (
        "how do i",
        "how to",
        "how can",
        "where can",
        "is it possible",
        "documentation",
        "docs",
        "tutorial",
    ),
    "account": (
        "login",
        "log in",
        "password",
        "sso",
        "saml",
        "access",
        "permission",
        "permissions",
        "locked",
        "account",
        "seat",
        "seats",
    ),
    "integration": (
        "api",
        "webhook",
        "webhooks",
        "integration",
        "sync",
        "salesforce",
        "slack",
        "zapier",
        "token",
    ),
    "performance": (
        "slow",
        "slowly",
        "timeout",
        "timeouts",
        "timing out",
        "times out",
        "latency",
        "performance",
        "takes forever",
        "lag",
    ),
}
URGENT_WORDS = (
    "outage",
    "down",
    "urgent",
    "asap",
    "immediately",
    "production",
    "all users",
    "nobody can",
    "cannot",
    "can't",
    "blocked",
    "critical",
    "emergency",
)
CALM_WORDS = (
    "question",
    "wondering",
    "no rush",
    "when you have time",
    "curious",
    "feature request",
    "suggestion",
)
MAX_TAGS = 4


def suggest(record: RecordContext, lists: TriageLists) -> TriageAnswer:
    text = _text(record)
    return TriageAnswer(
        category=_category(text, lists),
        priority=_priority(record, text, lists.priorities),
        tags=_tags(text, lists),
    )


def _text(record: RecordContext) -> str:
    parts = [record.title, *(entry.text for entry in record.timeline)]
    return " ".join(parts).lower()


def _found(text: str, words: Iterable[str]) -> list[str]:
    return [
        word for word in dict.fromkeys(words) if re.search(rf"(?<!\w){re.escape(word.lower())}(?!\w)", text)
    ]


def _own_words(name: str) -> tuple[str, ...]:
    spaced = name.replace("_", " ").replace("-", " ").lower()
    return (spaced, *spaced.split()) if " " in spaced else (spaced,)


def _keywords(name: str, lists: TriageLists) -> tuple[str, ...]:
    return (*_own_words(name), *BUILTIN_KEYWORDS.get(name, ()), *lists.keywords.get(name, ()))


def _quoted(words: list[str]) -> str:
    return ", ".join(f"“{word}”" for word in words[:3])


def _category(text: str, lists: TriageLists) -> Suggestion | None:
    if not lists.categories:
        return None
    scored = [
        (len(hits), -index, name, hits)
        for index, name in enumerate(lists.categories)
        if (hits := _found(text, _keywords(name, lists)))
    ]
    if not scored:
        fallback = lists.categories[0]
        return Suggestion(fallback, f"No keyword of any category appears; {fallback} is the first listed.")
    _, _, name, hits = max(scored)
    return Suggestion(name, f"The conversation mentions {_quoted(hits)}.")


def _priority(record: RecordContext, text: str, priorities: tuple[str, ...]) -> Suggestion | None:
    if not priorities:
        return None
    urgent = _found(text, URGENT_WORDS)
    calm = _found(text, CALM_WORDS)
    tier = next((str(f.value).lower() for f in record.fields if f.name.endswith("tier") and f.value), "")
    middle = (len(priorities) - 1) // 2  # "normal" in low/normal/high/urgent
    level, reasons = middle, []
    if urgent:
        level = len(priorities) - 1 if len(urgent) >= 2 else middle + 1
        reasons.append(f"urgent wording ({_quoted(urgent)})")
    elif calm:
        level = max(middle - 1, 0)
        reasons.append(f"no urgency, a question ({_quoted(calm)})")
    if tier == "enterprise" and level < len(priorities) - 1:
        level += 1
        reasons.append("an enterprise customer")
    level = min(max(level, 0), len(priorities) - 1)
    reason = (
        "Based on " + " and ".join(reasons) + "."
        if reasons
        else "Nothing urgent or unusual in the conversation."
    )
    return Suggestion(priorities[level], reason)


def _tags(text: str, lists: TriageLists) -> tuple[Suggestion, ...]:
    found = []
    for tag in lists.tags:
        hits = _found(text, (*_own_words(tag), *lists.keywords.get(tag, ())))
        if hits:
            found.append(Suggestion(tag, f"Mentions {_quoted(hits)}."))
    return tuple(found[:MAX_TAGS])
