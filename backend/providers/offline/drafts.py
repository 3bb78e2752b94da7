"""Template drafts (emails, replies, notes) filled from the record and the user's instruction.

Output is plain text, shown as text by the widget, so templates are not HTML-escaped. Every
value taken from the record is flattened to one line first, so record text cannot forge extra
lines such as a second ``Subject:``.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from margin.adapters.types import RecordContext, RelatedRecord
from margin.providers.base import ProviderBadRequest

from .fields import key_facts, role_text
from .formatting import format_day
from .sentences import is_open_point, score, shorten, split_sentences
from .summarize import chronological
from .text import humanize, one_line

RESOLVED_WORDS = frozenset({"solved", "resolved", "closed", "done", "completed", "cancelled", "canceled"})

_ENV = Environment(
    loader=PackageLoader("margin.providers.offline", "templates"),
    autoescape=False,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES = {name.removesuffix(".j2"): _ENV.get_template(name) for name in _ENV.list_templates(["j2"])}
"""One template per draft kind, loaded at import so rendering never touches the disk."""

_TO_RECIPIENT = r"(?:them|him|her|the customer|the client)"
_REPHRASINGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), template)
    for pattern, template in (
        (rf"remind {_TO_RECIPIENT}(?: that| about| of)? (.+)", "A quick reminder: {}."),
        (rf"ask {_TO_RECIPIENT}? ?to (.+)", "Could you {}?"),
        (rf"ask {_TO_RECIPIENT}? ?(?:whether|if) (.+)", "Could you let me know whether {}?"),
        (rf"ask {_TO_RECIPIENT}? ?about (.+)", "Could you tell me more about {}?"),
        (r"apologi[sz]e(?: to \w+)?(?: for)? (.+)", "I'm sorry for {}."),
        (rf"thank {_TO_RECIPIENT}(?: for)? (.+)", "Thank you for {}."),
        (r"confirm(?: that)? (.+)", "I can confirm that {}."),
        (r"mention (?!that )(.+)", "I also wanted to mention {}."),
        (
            rf"(?:mention|say|note|add|explain|point out|tell {_TO_RECIPIENT}|let {_TO_RECIPIENT} know)"
            r"(?: that)? (.+)",
            "{}.",
        ),
    )
)
"""Instructions addressed to the writer, and the sentence each becomes, speaking to the recipient."""
_PRONOUNS = {"they": "you", "them": "you", "their": "your", "theirs": "yours", "they're": "you're"}


def render_draft(record: RecordContext, kind: str, instruction: str | None = None) -> str:
    """The ``kind`` draft for ``record``; raises ProviderBadRequest for an unknown kind."""
    template = _TEMPLATES.get(kind)
    if template is None:
        raise ProviderBadRequest(f"Unknown draft kind {kind!r}; known kinds: {', '.join(sorted(_TEMPLATES))}")
    text = template.render(_context(record, kind, instruction))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def rephrase_instruction(instruction: str) -> str:
    """Turn an instruction to the writer ("tell them we ship Friday") into a sentence of the draft."""
    text = one_line(instruction).rstrip(".!")
    text = re.sub(r"^please\s+", "", text, flags=re.IGNORECASE)
    for pattern, template in _REPHRASINGS:
        match = pattern.fullmatch(text)
        if match:
            return _capitalize(template.format(_to_second_person(match.group(1).rstrip(".?!"))))
    return _capitalize(text) + ("" if text.endswith("?") else ".")


def _context(record: RecordContext, kind: str, instruction: str | None) -> dict[str, Any]:
    contact = _contact_name(record)
    point = _open_point(record)
    status = role_text(record, "status")
    instruction = one_line(instruction or "")
    if instruction and kind != "internal_note":
        instruction = rephrase_instruction(instruction)
    return {
        "title": one_line(record.title),
        "record_type": humanize(record.ref.type),
        "record_id": one_line(record.ref.id),
        "first_name": contact.split()[0] if contact else None,
        "account": role_text(record, "account")
        or _related_title(record, ("account", "company", "organization")),
        "status": status,
        "priority": role_text(record, "priority"),
        "resolved": bool(status and status.lower() in RESOLVED_WORDS),
        "sender": role_text(record, "owner") or "[Your name]",
        "facts": key_facts(record),
        "open_point": point[0] if point else None,
        "open_point_by": point[1] if point else None,
        "open_point_at": point[2] if point else None,
        "open_point_from_contact": bool(point and contact and _same_person(point[1], contact)),
        "instruction": instruction or None,
    }


def _contact_name(record: RecordContext) -> str | None:
    """A person to greet: a contact-like field, else a related contact; never an email address."""
    name = role_text(record, "contact") or _related_title(record, ("contact", "person", "lead"))
    return name if name and "@" not in name else None


def _related_title(record: RecordContext, types: tuple[str, ...]) -> str | None:
    related: RelatedRecord | None = next((r for r in record.related if r.type.lower() in types), None)
    return one_line(related.title) if related else None


def _open_point(record: RecordContext) -> tuple[str, str, str] | None:
    """The newest timeline sentence that is a question or something still to do."""
    timeline = chronological(record.timeline)
    for entry in reversed(timeline):
        points = [s for s in split_sentences(entry.text) if is_open_point(s)]
        if points:
            best = max(points, key=lambda s: score(s, 1.0))
            return shorten(best, 30), one_line(entry.author), format_day(entry.at)
    return None


def _same_person(author: str, contact: str) -> bool:
    return author.lower().split()[:1] == contact.lower().split()[:1]


def _to_second_person(text: str) -> str:
    return re.sub(
        r"\b(they're|they|them|their|theirs)\b",
        lambda match: _PRONOUNS[match.group(1).lower()],
        text,
        flags=re.IGNORECASE,
    )


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]
