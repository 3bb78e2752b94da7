"""Database values as Margin's JSON-friendly scalars, the same whichever engine returned them."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from margin.adapters.types import FieldType, Scalar


def to_scalar(value: Any, type: FieldType | None = None) -> Scalar:
    """Dates become ISO 8601 text (as SQLite stores them), integral decimals ints, 0/1 booleans."""
    if value is None or isinstance(value, str | bool):
        return value
    if type == "boolean" and isinstance(value, int):
        return bool(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    return str(value)


def to_datetime(value: Any) -> datetime | None:
    """A timeline timestamp from a timestamp, a date or ISO 8601 text; None when there is none."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
