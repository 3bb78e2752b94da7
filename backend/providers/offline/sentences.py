"""Splitting timeline text into sentences and scoring how informative each one is.

The score is a fixed sum of features, so the same record always gives the same summary:
money, numbers and dates, named entities (capitalised words), and words that carry actions,
commitments or risks weigh up; filler ("Thanks!", "Sounds good") and very short or very long
sentences weigh down.
"""

from __future__ import annotations

import re

from .text import one_line

MAX_WORDS = 40

_SPLIT = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*•]\s)|(?<=[,:;])[ \t]*\n")
_MONEY = re.compile(r"[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:k|m|usd|eur|gbp|dollars|euros)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d[\d,.:/%]*")
_DATE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|tonight"
    r"|eod|eow|eom|q[1-4]|next week|next month|end of)\b"
    r"|\b\d{4}-\d{2}-\d{2}\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_SIGNAL_PREFIXES = tuple(
    "agree approv sign block ask request deadline cancel escalat budget decid decision legal contract "  # noqa: SIM905
    "renew risk concern competit discount pric quote invoice refund outage error bug broken fail "
    "churn delay urgent commit confirm promis waiting pending procurement security negotiat purchase "
    "trial pilot migrat crash lost won reopen workaround fix reproduc timeout unable cannot releas "
    "order".split()
)
_OPEN_PREFIXES = (
    "ask",
    "need",
    "waiting",
    "pending",
    "question",
    "concern",
    "block",
    "follow",
    "send",
    "confirm",
)
_FILLER = frozenset(
    "hi hello hey thanks thank you thx ok okay sounds good great perfect cheers will do noted got it "  # noqa: SIM905
    "talk soon see best regards sure np no problem awesome cool all the for much so again team everyone "
    "looks nice a lot appreciated appreciate bye later".split()
)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, each flattened to one line; empty ones dropped."""
    return [line for part in _SPLIT.split(text) if (line := one_line(part))]


def is_filler(sentence: str) -> bool:
    words = [word.lower() for word in _WORD.findall(sentence)]
    return len(words) <= 6 and all(word in _FILLER for word in words)


def score(sentence: str, recency: float) -> float:
    """Informativeness of one sentence; ``recency`` runs from 0 (oldest entry) to 1 (newest)."""
    if is_filler(sentence):
        return -5.0
    words = _WORD.findall(sentence)
    lowered = [word.lower() for word in words]
    money = len(_MONEY.findall(sentence))
    numbers = max(len(_NUMBER.findall(sentence)) - money, 0)
    names = sum(1 for word in words[1:] if word[0].isupper() and word != "I")
    signals = sum(1 for word in lowered if word.startswith(_SIGNAL_PREFIXES))
    total = (
        2.5 * min(money, 2)
        + 1.0 * min(numbers, 2)
        + (1.5 if _DATE.search(sentence) else 0.0)
        + 0.5 * min(names, 3)
        + 2.0 * min(signals, 2)
        + (1.5 if sentence.endswith("?") else 0.0)
        + 3.0 * recency
    )
    if len(words) < 4:
        total -= 2.0
    elif len(words) > MAX_WORDS:
        total -= 1.5
    return total


def is_open_point(sentence: str) -> bool:
    """A question or a sentence about something still to do (asked, waiting, need to send...)."""
    if is_filler(sentence):
        return False
    lowered = [word.lower() for word in _WORD.findall(sentence)]
    return sentence.endswith("?") or any(word.startswith(_OPEN_PREFIXES) for word in lowered)


def near_duplicate(first: str, second: str) -> bool:
    """Sentences sharing at least 70 % of their words (Jaccard), ignoring case and punctuation."""
    a = {word.lower() for word in _WORD.findall(first)}
    b = {word.lower() for word in _WORD.findall(second)}
    if not a or not b:
        return first.strip().lower() == second.strip().lower()
    return len(a & b) / len(a | b) >= 0.7


def shorten(sentence: str, max_words: int = MAX_WORDS) -> str:
    words = sentence.split()
    return sentence if len(words) <= max_words else " ".join(words[:max_words]) + " …"
