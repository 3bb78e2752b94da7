"""Versioned prompt templates (``prompts/<name>.v<N>.j2`` in a package), rendered into chat messages.

Each template has a ``system`` and a ``user`` block. A feature names its default version
(``summarize.v1``); a variant may name another. Built-in prompts live in ``margin/prompts``; a
feature from another package keeps its prompts in that package's ``prompts`` folder. Record
text is untrusted: it is passed as JSON inside ``<record>`` fences, with any ``</`` escaped so
data can never close a fence.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from jinja2 import Environment, PackageLoader, StrictUndefined, Template, TemplateNotFound

from margin.adapters.types import RecordContext
from margin.providers.base import ChatMessage


class PromptNotFound(LookupError):
    """No template for that version in that package."""


@functools.cache
def _environment(package: str) -> Environment:
    return Environment(
        loader=PackageLoader(package, "prompts"),
        autoescape=False,  # prompts are plain text for a model, not HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


@functools.cache
def load_prompt(version: str, package: str = "margin") -> Template:
    """The template of ``version`` (e.g. ``summarize.v1``); PromptNotFound names what is missing."""
    try:
        template = _environment(package).get_template(f"{version}.j2")
    except (TemplateNotFound, ValueError, ModuleNotFoundError) as exc:
        raise PromptNotFound(f"no prompt {version!r} in package {package!r} (prompts/{version}.j2)") from exc
    if not {"system", "user"} <= set(template.blocks):
        raise PromptNotFound(f"prompt {version!r} must define a 'system' and a 'user' block")
    return template


def render_prompt(version: str, package: str = "margin", **values: Any) -> tuple[ChatMessage, ...]:
    """The system + user messages of prompt ``version`` filled with ``values``."""
    template = load_prompt(version, package)
    context = template.new_context(values)
    system = "".join(template.blocks["system"](context)).strip()
    user = "".join(template.blocks["user"](context)).strip()
    return ChatMessage("system", system), ChatMessage("user", user)


def fenced_json(value: Any) -> str:
    """JSON for a prompt fence: ``</`` is escaped as ``<\\/`` (same string, cannot close a tag)."""
    return msgspec.json.encode(value).decode().replace("</", "<\\/")


def fenced_text(text: str) -> str:
    """Free text from a user (an instruction, a question) for a prompt fence."""
    return text.replace("</", "<\\/")


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
