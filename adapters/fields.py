"""What an adapter's configuration declares about a field, shared by the configurable adapters."""

from __future__ import annotations

import msgspec

from margin.adapters.types import FieldSchema, FieldType


def label_for(name: str) -> str:
    """The label of a field or type that the configuration does not name: ``close_date`` -> ``Close date``."""
    return name.replace("_", " ").capitalize()


class DeclaredField(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A field's type and meaning; each adapter's subclass adds where the value lives."""

    type: FieldType = "string"
    label: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()
    allowed_values: tuple[str, ...] = ()
    queryable: bool = True
    sensitive: bool = False

    def schema(self, name: str) -> FieldSchema:
        return FieldSchema(
            name=name,
            type=self.type,
            label=self.label or label_for(name),
            description=self.description,
            aliases=self.aliases,
            allowed_values=self.allowed_values,
            queryable=self.queryable,
            sensitive=self.sensitive,
        )
