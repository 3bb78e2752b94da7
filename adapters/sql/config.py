"""Configuration of the SQL adapter: record types described as tables and columns, never SQL text.

Every table and column named here is checked against the live database when the adapter
starts, and is always quoted when it goes into a statement. Values never come from here: they
come from a QuerySpec or a RecordRef and are always bound as parameters.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from margin.adapters.fields import DeclaredField, label_for
from margin.adapters.scoping import DEFAULT_SEE_ALL_ROLES
from margin.adapters.types import RecordTypeSchema, Relation

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
"""A table or column name, exactly as the database spells it."""


class SqlConfigError(ValueError):
    """The configuration does not fit itself or the database; the message names the culprit."""


class SqlField(DeclaredField, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One field of a record type.

    ``column`` is a column of the record's table, or ``"join.column"`` to read a column of a
    declared join (e.g. ``"account.name"``); empty means the column named like the field.
    """

    column: str = ""


class SqlJoin(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A many-to-one join: ``table.key`` equals ``foreign_key`` of the record's table.

    ``key`` must be unique in ``table`` (a primary key), or rows would repeat.
    """

    table: Name
    foreign_key: Name
    key: Name = "id"


class SqlTimelineSource(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A table of events about a record: calls, notes, e-mails...

    ``foreign_key`` holds the record's id. The entry's kind comes from ``kind_column`` or, for a
    table of one kind (an e-mail table), from the fixed ``kind``.
    """

    table: Name
    foreign_key: Name
    at_column: Name
    text_column: Name
    author_column: str = ""
    kind_column: str = ""
    kind: str = ""

    def __post_init__(self) -> None:
        if not self.kind_column and not self.kind:
            raise SqlConfigError(f"timeline table {self.table!r} needs kind_column or a fixed kind")


class SqlTimeline(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The most recent ``limit`` entries from all sources, oldest first unless ``order`` is desc."""

    sources: tuple[SqlTimelineSource, ...]
    order: Literal["asc", "desc"] = "asc"
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 50


class SqlRelated(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Records of another configured type linked to this one: rows of the target's table whose
    ``remote_column`` equals this record's ``local_column``.

    Each side defaults to its table's id column, so a deal's account is
    ``{record_type: account, local_column: account_id}`` and an account's deals are
    ``{record_type: deal, remote_column: account_id}``. The target's row scoping applies.
    """

    record_type: Name
    relation: str = ""
    local_column: str = ""
    remote_column: str = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = 10


class SqlRecordType(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One kind of record (deal, account...) stored in one table.

    ``owner_column`` scopes rows to their owner for users without a see-all role; empty means
    every user sees every row. ``version_column`` (an updated-at column) becomes the context's
    version; without one (or where it is NULL) the version is a hash of the context's content.
    """

    table: Name
    title_column: Name
    fields: dict[str, SqlField]
    id_column: Name = "id"
    label: str = ""
    plural: str = ""
    aliases: tuple[str, ...] = ()
    joins: dict[str, SqlJoin] = {}
    owner_column: str = ""
    version_column: str = ""
    timeline: SqlTimeline | None = None
    related: tuple[SqlRelated, ...] = ()

    def __post_init__(self) -> None:
        if not self.fields:
            raise SqlConfigError(f"table {self.table!r} needs at least one field")
        for name, field in self.fields.items():
            join, _ = split_column(name, field)
            if join is not None and join not in self.joins:
                raise SqlConfigError(f"field {name!r} reads join {join!r}, which is not declared in joins")
        for related in self.related:
            if not related.local_column and not related.remote_column:
                raise SqlConfigError(
                    f"related {related.record_type!r} needs local_column or remote_column (or both)"
                )

    def schema(self, name: str) -> RecordTypeSchema:
        """What ``describe()`` says about this record type."""
        label = self.label or label_for(name)
        title = next(
            (n for n, f in self.fields.items() if split_column(n, f) == (None, self.title_column)), ""
        )
        return RecordTypeSchema(
            name=name,
            label=label,
            plural=self.plural or f"{label}s",
            aliases=self.aliases,
            title_field=title,
            fields=tuple(field.schema(field_name) for field_name, field in self.fields.items()),
            relations=tuple(
                Relation(name=r.relation or r.record_type, target=r.record_type) for r in self.related
            ),
        )


class SqlScope(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who sees which rows. Users holding a role in ``see_all_roles`` see every row; everyone else
    (role ``rep``, an unknown role, no role at all) sees only the rows they own. No role is listed
    unless the configuration names it (:data:`~margin.adapters.scoping.DEFAULT_SEE_ALL_ROLES`)."""

    see_all_roles: tuple[str, ...] = DEFAULT_SEE_ALL_ROLES


class SqlAdapterConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``url`` is ``sqlite:///absolute/path.db`` (``sqlite:////absolute/path.db``, SQLAlchemy's
    form, means the same; opened read-only) or ``postgresql://user@host:port/db`` (every
    transaction read-only)."""

    url: str
    record_types: dict[str, SqlRecordType]
    scope: SqlScope = SqlScope()
    row_limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 200
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    pool_size: Annotated[int, msgspec.Meta(ge=1, le=100)] = 4

    def __post_init__(self) -> None:
        if not self.url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise SqlConfigError("url must start with sqlite:/// or postgresql://")
        if not self.record_types:
            raise SqlConfigError("record_types must name at least one record type")
        for name, record_type in self.record_types.items():
            for related in record_type.related:
                if related.record_type not in self.record_types:
                    raise SqlConfigError(
                        f"record type {name!r} relates to {related.record_type!r}, which is not configured"
                    )


def split_column(name: str, field: SqlField) -> tuple[str | None, str]:
    """A field's column as (join name or None for the record's own table, column name)."""
    column = field.column or name
    join, dot, rest = column.partition(".")
    return (join, rest) if dot else (None, column)
