"""REST adapter configuration: mistakes are caught when it is decoded, naming the key."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from margin.adapters.rest import RestAdapter, RestAdapterConfig, RestConfigError, zendesk_config
from margin.demo.cases_config import demo_cases_config

DEMO_URL = "http://127.0.0.1:8000/demo/api"


def demo_section() -> dict[str, Any]:
    """The demo configuration as plain tables and arrays, as a TOML file decodes into."""
    section: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(demo_cases_config(DEMO_URL)))
    return section


def decode(section: dict[str, Any]) -> RestAdapterConfig:
    return msgspec.convert(section, RestAdapterConfig, strict=False)


def test_the_demo_configuration_round_trips_through_plain_data() -> None:
    assert decode(demo_section()) == demo_cases_config(DEMO_URL)
    assert decode(msgspec.to_builtins(demo_cases_config(DEMO_URL))) == demo_cases_config(DEMO_URL)


def with_change(path: str, value: Any) -> dict[str, Any]:
    section = demo_section()
    *parents, last = path.split(".")
    target = section
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return section


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("base_url", "ftp://example.com", "base_url: 'ftp://example.com' is not an http(s) URL"),
        ("page_size", 0, "Expected `int` >= 1 - at `$.page_size`"),
        ("timeouts.read", -1, "Expected `float` > 0.0 - at `$.timeouts.read`"),
        ("record_types.case.title_field", "subjct", "record_types.case.title_field: 'subjct' is not one of"),
        ("record_types.case.owner_field", "owner", "record_types.case.owner_field: 'owner' is not one of"),
        ("record_types.case.get", "/cases", "record_types.case.get: the template must contain {id}"),
        ("record_types.case.get", "/cases/{case}", "record_types.case.get: unknown placeholder {case}"),
        ("record_types.case.get", "/cases/{id!r}", "record_types.case.get: placeholders are plain names"),
        (
            "record_types.case.list.path",
            "/cases/{id}",
            "record_types.case.list.path: unknown placeholder {id}",
        ),
        (
            "record_types.case.item_path",
            "case..x",
            "record_types.case.item_path: 'case..x' is not a JSON path",
        ),
        ("record_types.case.fields.customer.path", "a[x]", "record_types.case.fields.customer.path: 'a[x]'"),
        ("record_types.case.list.filter_params.0.field", "colour", "filter_params[0].field: 'colour' is not"),
        ("record_types.case.related.customer.type", "account", "related.customer.type: 'account' is not"),
        ("record_types.case.timeline.path", "/c/{id}/{page}", "timeline.path: unknown placeholder {page}"),
        ("record_types.case.fields.subject.type", "colour", "Invalid enum value 'colour'"),
        ("record_types.case.list.pagination.style", "scroll", "Invalid value 'scroll' - at"),
        ("record_types.case.list.lst", 1, "Object contains unknown field `lst`"),
        ("record_types.case.label", None, "Expected `str`, got `null`"),
        ("record_types", {}, "record_types: configure at least one record type"),
        (
            "auth",
            {"kind": "bearer", "token": "x", "token_env": "Y"},
            "exactly one of auth.token and auth.token_env",
        ),
        ("auth", {"kind": "oauth"}, "Invalid value 'oauth' - at `$.auth.kind`"),
    ],
)
def test_configuration_errors_name_the_key(path: str, value: Any, message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        decode(with_change(path, value))
    assert message in str(caught.value)


def test_record_type_names_are_checked() -> None:
    section = demo_section()
    section["record_types"]["Case!"] = section["record_types"]["case"]
    with pytest.raises(msgspec.ValidationError, match=r"record_types\.Case!: record type names"):
        decode(section)


def test_a_missing_secret_fails_at_start_up_naming_the_variable() -> None:
    config = zendesk_config("acme", email="agent@acme.example", token_env="ZENDESK_TOKEN")
    with pytest.raises(RestConfigError, match=r"auth\.password_env: environment variable 'ZENDESK_TOKEN'"):
        RestAdapter(config, env={})
    RestAdapter(config, env={"ZENDESK_TOKEN": "secret"})


@pytest.mark.parametrize(
    ("preset", "message"),
    [
        ({"name": "zendesk", "token_env": "T", "email": "a@b"}, "set exactly one of subdomain and base_url"),
        (
            {"name": "zendesk", "subdomain": "Acme Corp", "token_env": "T", "email": "a@b"},
            "not a Zendesk subdomain",
        ),
        ({"name": "zendesk", "subdomain": "acme", "token_env": "T"}, "token_env needs email"),
        ({"name": "hubspot"}, "Object missing required field `token_env` - at `$.preset`"),
        ({"name": "hubspot", "token_env": "T", "colour": 1}, "unknown field `colour` - at `$.preset`"),
        ({"name": "salesforce"}, "Invalid value 'salesforce' - at `$.preset.name`"),
    ],
)
def test_preset_options_are_validated(preset: dict[str, Any], message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        decode({"preset": preset})
    assert message in str(caught.value)


def test_a_preset_replaces_the_record_types() -> None:
    section = demo_section()
    section["preset"] = {"name": "hubspot", "token_env": "HUBSPOT_TOKEN"}
    with pytest.raises(
        msgspec.ValidationError, match="preset 'hubspot' sets base_url, auth and record_types"
    ):
        decode(section)
