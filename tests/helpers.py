"""Reading Margin's SSE streams in tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec


class SSEEvent(msgspec.Struct):
    event: str
    id: str | None
    data: dict[str, Any]


def parse_sse(lines: Iterable[str]) -> Iterator[SSEEvent | str]:
    """Yield each event, and each comment line (a heartbeat) as a plain string."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            yield line
        elif line == "":
            if fields:
                yield SSEEvent(fields.get("event", "message"), fields.get("id"), json.loads(fields.get("data", "{}")))
                fields = {}
        else:
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


def events_of(text: str) -> list[SSEEvent]:
    return [item for item in parse_sse(text.splitlines()) if isinstance(item, SSEEvent)]
