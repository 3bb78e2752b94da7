"""What ``describe()`` reports for a configured record type."""

from __future__ import annotations

from margin.adapters.rest.config import RestRecordType
from margin.adapters.types import RecordTypeSchema, Relation


def schema_of(name: str, record_type: RestRecordType) -> RecordTypeSchema:
    fields = tuple(field.schema(field_name) for field_name, field in record_type.fields.items())
    relations = tuple(
        Relation(name=relation, target=related.type) for relation, related in record_type.related.items()
    )
    return RecordTypeSchema(
        name=name,
        label=record_type.label,
        plural=record_type.plural,
        fields=fields,
        relations=relations,
        aliases=record_type.aliases,
        title_field=record_type.title_field,
        default_sort=record_type.default_sort,
    )
