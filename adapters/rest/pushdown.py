"""Deciding which filters the host applies itself and which endpoint to call.

Pushing a filter down is only an optimisation: the adapter applies every filter again in
memory, so a host that ignores a parameter, or matches more loosely, cannot widen an answer.
Only filters whose meaning the host shares exactly are pushed (no relative dates, no
``contains`` against full-text search).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from margin.adapters.rest.config import RestRecordType
from margin.adapters.rest.endpoints import FilterGroupsSearch, QueryStringSearch, RestList, RestListing
from margin.adapters.rest.templates import fill
from margin.adapters.types import Filter, Period, Scalar
from margin.adapters.validation import InvalidQueryError

_SAFE_TERM = re.compile(r"[\w@.+-]+")
_FILTER_GROUP_OPS = {"=": "EQ", "!=": "NEQ", "<": "LT", "<=": "LTE", ">": "GT", ">=": "GTE"}


@dataclass(frozen=True)
class Plan:
    """The request to make; ``pushed`` holds the indexes of the filters the host applies."""

    listing: RestListing
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    pushed: frozenset[int] = frozenset()


def plan_query(record_type: RestRecordType, filters: Sequence[Filter]) -> Plan:
    """The cheapest request that still returns every record matching ``filters``.

    A search endpoint is used when it can apply at least one filter (or there is no list).
    """
    search = record_type.search
    if search is not None:
        plan = (
            _query_string(search, filters)
            if isinstance(search, QueryStringSearch)
            else _filter_groups(search, filters)
        )
        if plan.pushed or record_type.list_ is None:
            return plan
    if record_type.list_ is not None:
        return _list(record_type.list_, filters)
    raise InvalidQueryError(f"{record_type.plural.capitalize()} cannot be listed through this host's API")


def _list(listing: RestList, filters: Sequence[Filter]) -> Plan:
    params: dict[str, str] = {}
    pushed: set[int] = set()
    for index, item in enumerate(filters):
        for option in listing.filter_params:
            if option.field != item.field or option.op != item.op or option.param in params:
                continue
            values = _values(item)
            if values is not None and (item.op == "in" or len(values) == 1):
                params[option.param] = option.join.join(values)
                pushed.add(index)
                break
    return Plan(listing, params=params, pushed=frozenset(pushed))


def _query_string(search: QueryStringSearch, filters: Sequence[Filter]) -> Plan:
    terms = [search.prefix] if search.prefix else []
    pushed: set[int] = set()
    for index, item in enumerate(filters):
        values = _values(item)
        if values is None or len(values) != 1 or _SAFE_TERM.fullmatch(values[0]) is None:
            continue
        for option in search.terms:
            if option.field == item.field and option.op == item.op:
                terms.append(fill(option.term, {"value": values[0]}))
                pushed.add(index)
                break
    return Plan(search, params={search.param: " ".join(terms)}, pushed=frozenset(pushed))


def _filter_groups(search: FilterGroupsSearch, filters: Sequence[Filter]) -> Plan:
    conditions: list[dict[str, Any]] = []
    pushed: set[int] = set()
    for index, item in enumerate(filters):
        prop = search.properties.get(item.field)
        values = _values(item)
        if prop is None or values is None or len(conditions) >= search.max_filters:
            continue
        if item.op == "in":
            conditions.append({"propertyName": prop, "operator": "IN", "values": values})
        elif item.op == "between" and len(values) == 2:
            conditions.append(
                {"propertyName": prop, "operator": "BETWEEN", "value": values[0], "highValue": values[1]}
            )
        elif item.op in _FILTER_GROUP_OPS and len(values) == 1:
            conditions.append(
                {"propertyName": prop, "operator": _FILTER_GROUP_OPS[item.op], "value": values[0]}
            )
        else:
            continue
        pushed.add(index)
    groups = [{"filters": conditions}] if conditions else []
    return Plan(search, body={"filterGroups": groups}, pushed=frozenset(pushed))


def _values(item: Filter) -> list[str] | None:
    """The filter's value(s) as the text a host expects; None when it cannot be pushed down."""
    if isinstance(item.value, Period) or item.op == "contains":
        return None
    raw: list[Scalar] = item.value if isinstance(item.value, list) else [item.value]
    if any(value is None for value in raw):
        return None
    return [_text(value) for value in raw]


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
