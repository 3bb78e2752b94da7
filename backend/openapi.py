"""Keeping the OpenAPI schema honest about request bodies.

Litestar describes a msgspec Struct's fields but not ``forbid_unknown_fields``, so the schema
would allow extra properties that the server refuses with a 400. This schema plugin extends
Litestar's own Struct plugin: every Struct that forbids unknown fields gets
``additionalProperties: false``. The schema is still built lazily, on its first request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Litestar's Struct schema plugin is not exported; extending it keeps its behaviour exactly.
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition


class StrictStructSchemaPlugin(StructSchemaPlugin):
    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)  # the registered component
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        return schema
