"""Adapter discovery through entry points, per-tenant routing, and the example external adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from margin.adapters import QuerySpec, RecordNotFoundError, RecordRef, Sort, User
from margin.adapters.registry import AdapterConfigError, build_adapter, installed_adapters
from margin.adapters.routing import RecordTypeRouter
from margin.adapters.validation import InvalidQueryError
from margin.cli import main

USER = User(tenant="acme", user_id="alice", roles=("rep",))


def write_inventory(tmp_path: Path) -> Path:
    products = [
        {
            "sku": "SKU-1",
            "name": "Standing desk",
            "category": "furniture",
            "stock": 12,
            "price": 499.0,
            "owner": "alice",
            "updated_at": "2026-11-20",
            "movements": [
                {"at": "2026-11-19T10:00", "by": "warehouse", "kind": "receipt", "note": "20 received"}
            ],
        },
        {
            "sku": "SKU-2",
            "name": "Desk lamp",
            "category": "lighting",
            "stock": 140,
            "price": 39.0,
            "owner": "bob",
            "updated_at": "2026-11-18",
            "movements": [],
        },
        {
            "sku": "SKU-3",
            "name": "Office chair",
            "category": "furniture",
            "stock": 3,
            "price": 289.0,
            "owner": "alice",
            "updated_at": "2026-11-21",
            "movements": [],
        },
    ]
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"products": products}))
    return path


def test_built_in_and_example_adapters_are_discovered() -> None:
    installed = installed_adapters()
    assert {"sql", "rest"} <= set(installed)
    assert "inventory" in installed, "install it: pip install -e adapters/examples/margin-example-adapter"
    assert installed["inventory"].dist is not None
    assert installed["inventory"].dist.name == "margin-example-adapter"


async def test_example_adapter_answers_a_query(tmp_path: Path) -> None:
    adapter = build_adapter("inventory", {"kind": "inventory", "path": str(write_inventory(tmp_path))})
    await adapter.start()
    try:
        spec = QuerySpec(record_type="product", sort=(Sort("stock", "desc"),), limit=2)
        result = await adapter.run_query(spec, USER)
        assert result.total == 3
        assert [row[result.columns.index("sku")] for row in result.rows] == ["SKU-2", "SKU-1"]
        context = await adapter.fetch_context(RecordRef("product", "SKU-1"), USER)
        assert context.title == "Standing desk" and context.timeline[0].text == "20 received"
    finally:
        await adapter.aclose()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({}, "adapters.x.kind: required"),
        ({"kind": "nope"}, "no adapter 'nope' is installed"),
        ({"kind": "inventory"}, "missing required field `path`"),
        ({"kind": "inventory", "path": "p", "colour": "red"}, "unknown field `colour`"),
    ],
)
def test_bad_adapter_sections_name_the_problem(section: dict[str, str], message: str) -> None:
    with pytest.raises(AdapterConfigError, match=message):
        build_adapter("x", section)


async def test_router_sends_each_record_type_to_its_adapter(tmp_path: Path) -> None:
    inventory = build_adapter("inventory", {"kind": "inventory", "path": str(write_inventory(tmp_path))})
    await inventory.start()
    router = RecordTypeRouter([("inventory", inventory)])
    await router.load()
    assert [schema.name for schema in await router.describe()] == ["product"]
    assert (await router.fetch_context(RecordRef("product", "SKU-2"), USER)).title == "Desk lamp"
    with pytest.raises(RecordNotFoundError, match="Unknown record type 'deal'"):
        await router.fetch_context(RecordRef("deal", "D-1"), USER)
    with pytest.raises(InvalidQueryError):
        await router.run_query(QuerySpec(record_type="deal"), USER)
    twice = RecordTypeRouter([("a", inventory), ("b", inventory)])
    with pytest.raises(ValueError, match="'product' is in adapters 'a' and 'b'"):
        await twice.load()


def test_adapters_list_shows_installed_and_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "margin.toml"
    config.write_text(
        f'[adapters.stock]\nkind = "inventory"\npath = "{write_inventory(tmp_path)}"\n'
        f'[tenants.acme]\nsecret = "{"s" * 40}"\nadapters = ["stock"]\n'
    )
    assert main(["adapters", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "inventory    margin_example_adapter:InventoryAdapter  (margin-example-adapter 0.1.0)" in out
    assert "sql" in out and "rest" in out
    assert "stock        kind=inventory  tenants: acme" in out


def test_adapters_list_without_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MARGIN_CONFIG", raising=False)
    assert main(["adapters", "list"]) == 0
    out = capsys.readouterr().out
    assert "inventory" in out and "no configuration found" in out
    assert main(["adapters", "list", "--demo", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "Config file not found" in capsys.readouterr().err
