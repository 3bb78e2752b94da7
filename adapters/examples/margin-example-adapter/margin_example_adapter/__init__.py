"""A complete minimal Margin adapter: products and their stock movements, from a JSON file.

Configure it with::

    [adapters.inventory]
    kind = "inventory"
    path = "/srv/inventory.json"

    [tenants.acme]
    adapters = ["inventory"]

The file holds ``{"products": [{"sku", "name", "category", "stock", "price", "owner",
"updated_at", "movements": [{"at", "by", "kind", "note"}]}]}``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import anyio
import msgspec

from margin.adapters import (
    AdapterBase,
    FieldSchema,
    FieldValue,
    QueryResult,
    QuerySpec,
    RecordContext,
    RecordNotFoundError,
    RecordRef,
    RecordTypeSchema,
    TimelineEntry,
    User,
)
from margin.adapters.memory import run_query_in_memory
from margin.adapters.validation import validate_spec

PRODUCT = RecordTypeSchema(
    name="product",
    label="Product",
    plural="products",
    aliases=("item", "items", "sku", "skus"),
    title_field="name",
    fields=(
        FieldSchema("sku", "string", label="SKU"),
        FieldSchema("name", "string", label="Name"),
        FieldSchema("category", "string", label="Category"),
        FieldSchema("stock", "integer", label="Stock", aliases=("quantity", "on hand")),
        FieldSchema("price", "money", label="Price"),
        FieldSchema("owner", "string", label="Buyer", aliases=("buyer",)),
        FieldSchema("updated_at", "date", label="Updated"),
    ),
)


class InventoryConfig(msgspec.Struct, forbid_unknown_fields=True):
    path: str


class InventoryAdapter(AdapterBase):
    config_type = InventoryConfig

    def __init__(self, config: InventoryConfig) -> None:
        self.path = Path(config.path)
        self.products: dict[str, dict[str, Any]] = {}

    async def start(self) -> None:
        data = msgspec.json.decode(await anyio.Path(self.path).read_bytes())
        self.products = {product["sku"]: product for product in data["products"]}

    async def describe(self) -> tuple[RecordTypeSchema, ...]:
        return (PRODUCT,)

    async def fetch_context(self, ref: RecordRef, user: User) -> RecordContext:
        product = self.products.get(ref.id) if ref.type == "product" else None
        if product is None:
            raise RecordNotFoundError(f"No product with SKU {ref.id!r}")
        fields = tuple(FieldValue(f.name, f.label, product.get(f.name), f.type) for f in PRODUCT.fields)
        timeline = tuple(
            TimelineEntry(datetime.fromisoformat(m["at"]), m["by"], m["kind"], m["note"])
            for m in product.get("movements", [])
        )
        return RecordContext(
            ref=ref, title=product["name"], version=product["updated_at"], fields=fields, timeline=timeline
        )

    async def run_query(self, spec: QuerySpec, user: User) -> QueryResult:
        schema = validate_spec(spec, (PRODUCT,))
        return run_query_in_memory(spec, schema, self.products.values(), date.today())
