"""The REST adapter's small parts: JSON paths, URL templates, value coercion, filter push-down."""

from __future__ import annotations

from typing import Any

import pytest

from margin.adapters import Filter, Period
from margin.adapters.rest import hubspot_config, zendesk_config
from margin.adapters.rest.jsonpath import MISSING, parse_path, resolve
from margin.adapters.rest.pushdown import plan_query
from margin.adapters.rest.records import coerce
from margin.adapters.rest.templates import fill_json, fill_path

DOC = {"ticket": {"via": {"source": {"from": {"address": "a@b.example"}}}, "tags": ["x", "y"], "n": None}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("ticket.via.source.from.address", "a@b.example"),
        ("ticket.tags[0]", "x"),
        ("ticket.tags[-1]", "y"),
        ("ticket.tags[2]", MISSING),
        ("ticket.n", None),
        ("ticket.n.deeper", MISSING),
        ("ticket.tags.x", MISSING),
        ("", DOC),
    ],
)
def test_json_paths_resolve(path: str, expected: Any) -> None:
    assert resolve(DOC, path) == expected


@pytest.mark.parametrize("path", ["a..b", ".a", "a.", "a[x]", "a[0"])
def test_malformed_json_paths_are_rejected(path: str) -> None:
    with pytest.raises(ValueError, match="is not a JSON path"):
        parse_path(path)


def test_odd_keys_are_only_keys_never_code() -> None:
    assert parse_path("a.__class__()") == ("a", "__class__()")
    assert resolve({"a": {}}, "a.__class__()") is MISSING


def test_templates_encode_path_values_but_not_body_values() -> None:
    assert fill_path("/tickets/{id}.json", {"id": "1 2?x"}) == "/tickets/1%202%3Fx.json"
    body = {"filters": [{"value": "{id}", "n": 3}], "keep": "{{literal}}"}
    assert fill_json(body, {"id": "a/b"}) == {"filters": [{"value": "a/b", "n": 3}], "keep": "{literal}"}


@pytest.mark.parametrize(
    ("value", "type", "expected"),
    [
        ("84000", "money", 84000),
        ("84000.50", "money", 84000.5),
        ("", "money", None),
        ("NaN", "number", None),
        (True, "integer", None),
        (12.0, "integer", 12),
        (12.5, "integer", None),
        ("2026-12-15T00:00:00Z", "date", "2026-12-15"),
        (1765756800000, "date", "2025-12-15"),
        ("not a date", "date", None),
        ("2026-11-16T08:12:00Z", "datetime", "2026-11-16T08:12:00Z"),
        ("true", "boolean", True),
        ("maybe", "boolean", None),
        (101, "string", "101"),
        (["billing", "export"], "string", "billing, export"),
        ({"nested": 1}, "string", None),
    ],
)
def test_values_are_coerced_to_the_declared_type(value: Any, type: Any, expected: Any) -> None:
    assert coerce(value, type) == expected


ZENDESK_TICKET = zendesk_config("acme", email="a@acme.example", token_env="T").record_types["ticket"]
HUBSPOT_DEAL = hubspot_config("T").record_types["deal"]


def test_search_values_that_could_carry_search_syntax_stay_in_memory() -> None:
    filters = (
        Filter(field="status", op="=", value="open type:user"),
        Filter(field="priority", op="=", value='high"'),
        Filter(field="assignee_id", op="=", value=201),
    )
    plan = plan_query(ZENDESK_TICKET, filters)
    assert plan.params == {"query": "type:ticket assignee:201"}
    assert plan.pushed == frozenset({2})


def test_without_pushable_filters_the_plain_list_is_used() -> None:
    plan = plan_query(
        ZENDESK_TICKET,
        (
            Filter(field="subject", op="contains", value="export"),
            Filter(field="created_at", op="between", value=Period(name="this_month")),
        ),
    )
    assert plan.listing.path == "/api/v2/tickets.json"
    assert plan.pushed == frozenset()


def test_filter_groups_respect_the_hosts_filter_limit() -> None:
    filters = tuple(Filter(field="amount", op=">", value=n) for n in range(8))
    plan = plan_query(HUBSPOT_DEAL, filters)
    assert len(plan.body["filterGroups"][0]["filters"]) == 6
    assert plan.pushed == frozenset(range(6))


def test_between_numbers_becomes_a_filter_group_between() -> None:
    plan = plan_query(HUBSPOT_DEAL, (Filter(field="amount", op="between", value=[1000, 5000.0]),))
    assert plan.body["filterGroups"] == [
        {"filters": [{"propertyName": "amount", "operator": "BETWEEN", "value": "1000", "highValue": "5000"}]}
    ]
