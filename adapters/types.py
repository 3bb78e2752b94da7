"""Wire types shared by adapters, features and providers."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Literal

import msgspec

Scalar = str | int | float | bool | None
FieldType = Literal["string", "text", "integer", "number", "money", "date", "datetime", "boolean", "enum"]


class User(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The signed-in user of the host app, as stated by the host's signed token."""

    tenant: str
    user_id: str
    roles: tuple[str, ...] = ()


class RecordRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which record the user is looking at, e.g. ``{"type": "deal", "id": "D-1001"}``."""

    type: str
    id: str


class FieldValue(msgspec.Struct, frozen=True):
    name: str
    label: str
    value: Scalar
    type: FieldType = "string"
    sensitive: bool = False


class TimelineEntry(msgspec.Struct, frozen=True):
    at: datetime
    author: str
    kind: str
    text: str


class RelatedRecord(msgspec.Struct, frozen=True):
    type: str
    id: str
    title: str
    relation: str = ""


class RecordContext(msgspec.Struct, frozen=True):
    """Everything Margin knows about one host record. Its text is untrusted data."""

    ref: RecordRef
    title: str
    version: str
    fields: tuple[FieldValue, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    related: tuple[RelatedRecord, ...] = ()

    def field(self, name: str) -> FieldValue | None:
        for item in self.fields:
            if item.name == name:
                return item
        return None


class FieldSchema(msgspec.Struct, frozen=True):
    name: str
    type: FieldType
    label: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()
    allowed_values: tuple[str, ...] = ()
    queryable: bool = True
    sensitive: bool = False


class Relation(msgspec.Struct, frozen=True):
    name: str
    target: str
    description: str = ""


class RecordTypeSchema(msgspec.Struct, frozen=True):
    name: str
    label: str
    plural: str
    fields: tuple[FieldSchema, ...]
    relations: tuple[Relation, ...] = ()
    aliases: tuple[str, ...] = ()
    title_field: str = ""
    default_sort: str = ""

    def field(self, name: str) -> FieldSchema | None:
        for item in self.fields:
            if item.name == name:
                return item
        return None


PeriodName = Literal[
    "today",
    "yesterday",
    "tomorrow",
    "this_week",
    "last_week",
    "next_week",
    "this_month",
    "last_month",
    "next_month",
    "this_quarter",
    "last_quarter",
    "next_quarter",
    "this_year",
    "last_year",
    "last_n_days",
    "next_n_days",
]


class Period(msgspec.Struct, frozen=True, tag="period", forbid_unknown_fields=True):
    """A relative date range ("this month", "last 7 days"), resolved when the query runs."""

    name: PeriodName
    n: int = 0

    def resolve(self, today: date) -> tuple[date, date]:
        """Inclusive first and last day of the period, relative to ``today``."""
        if self.name in ("today", "yesterday", "tomorrow"):
            day = today + timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[self.name])
            return day, day
        if self.name == "last_n_days":
            return today - timedelta(days=max(self.n, 1) - 1), today
        if self.name == "next_n_days":
            return today, today + timedelta(days=max(self.n, 1) - 1)
        shift = {"this": 0, "last": -1, "next": 1}[self.name.split("_")[0]]
        unit = self.name.split("_")[1]
        if unit == "week":
            start = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
            return start, start + timedelta(days=6)
        if unit == "year":
            return date(today.year + shift, 1, 1), date(today.year + shift, 12, 31)
        months = 3 if unit == "quarter" else 1
        first_month = ((today.month - 1) // months) * months + shift * months
        year = today.year + first_month // 12
        month = first_month % 12 + 1
        end_month_index = month - 1 + months - 1
        end_year = year + end_month_index // 12
        end_month = end_month_index % 12 + 1
        return date(year, month, 1), date(end_year, end_month, calendar.monthrange(end_year, end_month)[1])


FilterOp = Literal["=", "!=", "<", "<=", ">", ">=", "in", "contains", "between"]


class Filter(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    field: str
    op: FilterOp
    value: Scalar | list[Scalar] | Period


class Sort(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    field: str
    direction: Literal["asc", "desc"] = "asc"


class Aggregate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    fn: Literal["count", "sum", "avg"]
    field: str | None = None


class QuerySpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A constrained, typed query over an adapter's declared fields. No LLM ever writes SQL."""

    record_type: str
    filters: tuple[Filter, ...] = ()
    sort: tuple[Sort, ...] = ()
    limit: int = 20
    group_by: str | None = None
    aggregate: Aggregate | None = None


class QueryPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a model (or the offline parser) answers to a question: a spec, or why there can be none."""

    spec: QuerySpec | None = None
    unanswerable: str | None = None


class QueryResult(msgspec.Struct, frozen=True):
    columns: tuple[str, ...]
    rows: tuple[tuple[Scalar, ...], ...]
    total: int
