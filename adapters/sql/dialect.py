"""The few places where SQLite and PostgreSQL spell the same query differently."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

DialectName = Literal["sqlite", "postgresql"]


def quote(identifier: str) -> str:
    """A quoted identifier; configuration is trusted, but it is never pasted in raw."""
    if "\x00" in identifier:
        raise ValueError("identifiers cannot contain NUL")
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class Dialect:
    name: DialectName

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def is_integer(self, declared_type: str) -> bool:
        """Whether a column's declared type holds integers (SQLite: its affinity rule)."""
        if self.postgres:
            return declared_type in ("smallint", "integer", "bigint")
        return "INT" in declared_type.upper()

    def placeholder(self, position: int) -> str:
        """The marker of the ``position``-th (1-based) bound parameter."""
        return f"${position}" if self.postgres else "?"

    @property
    def like(self) -> str:
        """Case-insensitive LIKE (SQLite's LIKE already ignores ASCII case)."""
        return "ILIKE" if self.postgres else "LIKE"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"

    def day(self, expr: str) -> str:
        """The calendar day of a datetime column (SQLite stores ISO 8601 text)."""
        return f"CAST({expr} AS DATE)" if self.postgres else f"substr({expr}, 1, 10)"

    def numeric(self, placeholder: str) -> str:
        # asyncpg would silently truncate 4.5 to 4 for a parameter it infers as bigint.
        return f"{placeholder}::numeric" if self.postgres else placeholder

    def text_order(self, expr: str) -> str:
        """Code-point order for text on both engines, whatever the database's collation."""
        return f'{self.text(expr)} COLLATE "C"' if self.postgres else expr

    def bind_date(self, value: date) -> date | str:
        return value if self.postgres else value.isoformat()

    def bind_datetime(self, value: datetime) -> datetime | str:
        """Naive UTC: aware values are converted, naive ones are taken to be UTC already."""
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value if self.postgres else value.isoformat()


class Params:
    """Values bound to one statement, in order; ``add`` returns the placeholder to write."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.values: list[object] = []

    def add(self, value: object) -> str:
        self.values.append(value)
        return self.dialect.placeholder(len(self.values))
