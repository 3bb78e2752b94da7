"""One configured record type as SQL fragments: its FROM clause, field expressions and row scope.

Every identifier comes from configuration and is quoted; nothing here sees a user's value
except through :class:`Params`.
"""

from __future__ import annotations

from margin.adapters.sql.config import SqlRecordType, SqlScope, split_column
from margin.adapters.sql.dialect import Dialect, Params, quote
from margin.adapters.types import User

ROW = quote("r")
"""The alias of the record's own table; joins are aliased ``j_<join name>``."""


def sees_all(user: User, scope: SqlScope) -> bool:
    """Fail closed: only a role listed as see-all lifts row scoping."""
    return any(role in scope.see_all_roles for role in user.roles)


class RecordTable:
    def __init__(self, config: SqlRecordType, dialect: Dialect) -> None:
        self.config = config
        self.dialect = dialect

    def column(self, column: str) -> str:
        """A column of the record's own table."""
        return f"{ROW}.{quote(column)}"

    @property
    def id(self) -> str:
        return self.column(self.config.id_column)

    def field(self, name: str) -> str:
        """The expression of a configured field, through its join where it has one."""
        join, column = split_column(name, self.config.fields[name])
        return f"{quote('j_' + join)}.{quote(column)}" if join else self.column(column)

    def from_clause(self) -> str:
        parts = [f"FROM {quote(self.config.table)} AS {ROW}"]
        for name, join in self.config.joins.items():
            alias = quote("j_" + name)
            parts.append(
                f"LEFT JOIN {quote(join.table)} AS {alias} "
                f"ON {alias}.{quote(join.key)} = {self.column(join.foreign_key)}"
            )
        return " ".join(parts)

    def is_scoped(self, user: User, scope: SqlScope) -> bool:
        return bool(self.config.owner_column) and not sees_all(user, scope)

    def scope_condition(self, user: User, scope: SqlScope, params: Params) -> str | None:
        """``owner = <user id>`` for a scoped user; None when the user may see every row."""
        if not self.is_scoped(user, scope):
            return None
        owner = self.dialect.text(self.column(self.config.owner_column))
        return f"{owner} = {params.add(user.user_id)}"
