"""URL, query and body templates such as ``/api/v2/tickets/{id}.json``.

Values filled into a URL path are encoded as one path segment each, so an id like
``1?x=y`` or ``a/b`` can never change which endpoint is called. Values that would read as
dot segments once a server or proxy decodes them (``..``, ``../admin``, ``a//b``) are refused
outright.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

_FORMATTER = string.Formatter()


def placeholders(template: str) -> set[str]:
    """The names a template uses; raises ValueError for malformed or fancy placeholders."""
    names: set[str] = set()
    for _, name, spec, conversion in _FORMATTER.parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"placeholders are plain names such as {{id}}, not {{{name}}} in {template!r}")
        names.add(name)
    return names


def path_segment(value: str) -> str:
    """``value`` encoded as a single URL path segment; ValueError for dot or empty segments."""
    if any(part.strip(".") == "" for part in re.split(r"[/\\]", value)):
        raise ValueError(f"{value!r} cannot be used as a path segment")
    return quote(value, safe="")


def fill(template: str, values: Mapping[str, str], encode: Callable[[str], str] = str) -> str:
    """``template`` with each ``{name}`` replaced by ``encode(values[name])``."""
    parts: list[str] = []
    for literal, name, _, _ in _FORMATTER.parse(template):
        parts.append(literal)
        if name is not None:
            parts.append(encode(values[name]))
    return "".join(parts)


def fill_path(template: str, values: Mapping[str, str]) -> str:
    return fill(template, values, path_segment)


def fill_json(document: Any, values: Mapping[str, str]) -> Any:
    """A copy of a JSON body template with placeholders filled in every string value."""
    if isinstance(document, str):
        return fill(document, values)
    if isinstance(document, list):
        return [fill_json(item, values) for item in document]
    if isinstance(document, dict):
        return {key: fill_json(item, values) for key, item in document.items()}
    return document


def json_placeholders(document: Any) -> set[str]:
    """Every placeholder used in the string values of a JSON body template."""
    if isinstance(document, str):
        return placeholders(document)
    items = (
        document.values() if isinstance(document, dict) else document if isinstance(document, list) else ()
    )
    return set().union(*(json_placeholders(item) for item in items))
