"""Extractive summary of a record: key facts, the most informative timeline sentences, last activity."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import NamedTuple

from margin.adapters.types import RecordContext, TimelineEntry

from .fields import key_facts
from .formatting import format_short_day, format_when
from .sentences import near_duplicate, score, shorten, split_sentences
from .text import humanize, md_inline, one_line

MAX_SENTENCES = 5
MAX_ENTRIES = 100
"""Only the most recent entries are ranked: it keeps the work small however long the history is."""
MAX_PER_ENTRY = 2
MIN_SCORE = 0.5
REDACTED = "(redacted)"


class _Candidate(NamedTuple):
    score: float
    entry_index: int
    sentence_index: int
    entry: TimelineEntry
    text: str


def summarize(record: RecordContext) -> str:
    """Short markdown: a bold title, key facts, ``Recent activity:`` bullets, the last activity."""
    lines = [f"**{md_inline(humanize(record.ref.type))}: {md_inline(record.title)}**"]
    lines += [f"- {md_inline(label)}: {md_inline(value)}" for label, value in key_facts(record)]
    timeline = chronological(record.timeline)
    if not timeline:
        return "\n".join([*lines, "", "No activity recorded yet."])
    lines += ["", "Recent activity:"]
    for candidate in _select(timeline[-MAX_ENTRIES:], _sensitive_values(record)):
        entry = candidate.entry
        lines.append(
            f"- {format_short_day(entry.at)} · {md_inline(entry.author)} ({md_inline(entry.kind)}): "
            f"{md_inline(candidate.text)}"
        )
    last = timeline[-1]
    lines += [
        "",
        f"Last activity: {md_inline(last.kind)} by {md_inline(last.author)} on {format_when(last.at)}.",
    ]
    return "\n".join(lines)


def chronological(timeline: tuple[TimelineEntry, ...]) -> list[TimelineEntry]:
    """Oldest first; naive and aware timestamps compare as if naive ones were UTC."""

    def key(entry: TimelineEntry) -> datetime:
        at = entry.at
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at

    return sorted(timeline, key=key)


def _select(timeline: list[TimelineEntry], secrets: list[str]) -> list[_Candidate]:
    """The best-scoring distinct sentences, returned in chronological order."""
    span = max(len(timeline) - 1, 1)
    candidates = [
        _Candidate(score(text, index / span), index, position, entry, shorten(text))
        for index, entry in enumerate(timeline)
        for position, text in enumerate(split_sentences(_redact(entry.text, secrets)))
    ]
    ranked = sorted(candidates, key=lambda c: (-c.score, -c.entry_index, c.sentence_index))
    chosen: list[_Candidate] = []
    for candidate in ranked:
        if len(chosen) == MAX_SENTENCES or candidate.score < MIN_SCORE:
            break
        same_entry = sum(1 for other in chosen if other.entry_index == candidate.entry_index)
        if same_entry < MAX_PER_ENTRY and not any(near_duplicate(candidate.text, o.text) for o in chosen):
            chosen.append(candidate)
    return sorted(chosen, key=lambda c: (c.entry_index, c.sentence_index))


def _sensitive_values(record: RecordContext) -> list[str]:
    """Values of sensitive fields, long enough to be worth hiding if the timeline repeats them."""
    values = (
        one_line(str(item.value)) for item in record.fields if item.sensitive and item.value is not None
    )
    return [value for value in values if len(value) >= 4]


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = re.sub(re.escape(secret), REDACTED, text, flags=re.IGNORECASE)
    return text
