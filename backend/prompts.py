"""Versioned prompt templates (``prompts/<feature>.v<N>.j2``), rendered into chat messages.

Each template has a ``system`` and a ``user`` block. Record text is untrusted: it is passed as
JSON inside ``<record>`` fences, with any ``</`` escaped so data can never close a fence.
"""

from __future__ import annotations

from typing import Any

import msgspec
from jinja2 import Environment, PackageLoader, StrictUndefined

from margin.adapters.types import RecordContext
from margin.providers.base import ChatMessage

PROMPT_VERSIONS = {"summarize": "summarize.v1", "draft": "draft.v1", "query": "query.v1"}

_env = Environment(
    loader=PackageLoader("margin", "prompts"),
    autoescape=False,  # prompts are plain text for a model, not HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


def render_prompt(feature: str, **values: Any) -> tuple[str, tuple[ChatMessage, ...]]:
    """Return the prompt version and the system + user messages for ``feature``."""
    version = PROMPT_VERSIONS[feature]
    template = _env.get_template(f"{version}.j2")
    context = template.new_context(values)
    system = "".join(template.blocks["system"](context)).strip()
    user = "".join(template.blocks["user"](context)).strip()
    return version, (ChatMessage("system", system), ChatMessage("user", user))


def fenced_json(value: Any) -> str:
    """JSON for a prompt fence: ``</`` is escaped as ``<\\/`` (same string, cannot close a tag)."""
    return msgspec.json.encode(value).decode().replace("</", "<\\/")


def record_for_prompt(record: RecordContext) -> dict[str, Any]:
    """The record as a model sees it: sensitive field values are never included."""
    return {
        "type": record.ref.type,
        "id": record.ref.id,
        "title": record.title,
        "fields": {
            f.label or f.name: f.value for f in record.fields if not f.sensitive and f.value is not None
        },
        "timeline": [
            {"at": e.at.isoformat(timespec="minutes"), "author": e.author, "kind": e.kind, "text": e.text}
            for e in record.timeline
        ],
        "related": [{"type": r.type, "id": r.id, "title": r.title} for r in record.related],
    }
