"""Reading Margin's SSE streams in tests."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from margin.config import Settings


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
                yield SSEEvent(
                    fields.get("event", "message"), fields.get("id"), json.loads(fields.get("data", "{}"))
                )
                fields = {}
        else:
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


def events_of(text: str) -> list[SSEEvent]:
    return [item for item in parse_sse(text.splitlines()) if isinstance(item, SSEEvent)]


def stored_interactions(settings: Settings) -> list[dict[str, Any]]:
    """Rows of the interaction store, read straight from its SQLite file."""
    path = Path(settings.data_dir) / "margin.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM interactions ORDER BY created_at")]
