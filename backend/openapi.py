"""Keeping the OpenAPI schema honest about request bodies.

Litestar describes a msgspec Struct's fields but not ``forbid_unknown_fields``, so the schema
would allow extra properties that the server refuses with a 400. After the schema is built,
every request Struct that forbids unknown fields (and every Struct nested in one) is marked
``additionalProperties: false``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec
from litestar import Litestar


def mark_strict_bodies(app: Litestar, body_types: Iterable[type[msgspec.Struct]]) -> None:
    strict = {cls.__name__ for cls in _structs(body_types) if cls.__struct_config__.forbid_unknown_fields}
    for name, schema in (app.openapi_schema.components.schemas or {}).items():
        if name in strict:
            schema.additional_properties = False


def _structs(types: Iterable[type[msgspec.Struct]]) -> Iterator[type[msgspec.Struct]]:
    seen: set[int] = set()
    pending: list[object] = list(msgspec.inspect.multi_type_info(list(types)))
    while pending:
        info = pending.pop()
        if id(info) in seen:
            continue
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.StructType):
            yield info.cls
            pending.extend(field.type for field in info.fields)
        elif isinstance(info, msgspec.inspect.Type):
            for name in info.__struct_fields__:
                value = getattr(info, name)
                if isinstance(value, msgspec.inspect.Type):
                    pending.append(value)
                elif isinstance(value, tuple):
                    pending.extend(item for item in value if isinstance(item, msgspec.inspect.Type))
