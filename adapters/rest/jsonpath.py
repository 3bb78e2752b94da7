"""Dotted JSON paths such as ``ticket.via.source.from.address`` or ``results[0].id``.

Deliberately small: object keys separated by dots and list indexes in brackets (negative ones
count from the end). No wildcards, filters or expressions: configuration is data, never code.
The empty path is the document itself.
"""

from __future__ import annotations

import enum
import re
from functools import lru_cache
from typing import Any, Final

Step = str | int

_PATH = re.compile(r"(?:[^.\[\]]+|\[-?\d+\])(?:\.[^.\[\]]+|\[-?\d+\])*")
_STEP = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


class Missing(enum.Enum):
    """Marks a path that leads nowhere, as distinct from a JSON ``null``."""

    MISSING = "missing"


MISSING: Final = Missing.MISSING


@lru_cache(maxsize=1024)
def parse_path(path: str) -> tuple[Step, ...]:
    """Split ``path`` into keys and indexes; raises ValueError when it is not a valid path."""
    if path == "":
        return ()
    if _PATH.fullmatch(path) is None:
        raise ValueError(f"{path!r} is not a JSON path (keys joined by dots, list indexes as [0])")
    return tuple(int(index) if index else key for key, index in _STEP.findall(path))


def resolve(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or ``MISSING`` when any step is absent."""
    current = document
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return MISSING
            current = current[step]
        elif isinstance(current, dict) and step in current:
            current = current[step]
        else:
            return MISSING
    return current
