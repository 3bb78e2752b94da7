"""``triage``: a category, a priority and tags for a case or ticket, each with a reason.

What may be suggested comes from the ``[features.triage.record_types.<type>]`` config (the demo
sets it for cases) or from the adapter's ``category`` / ``priority`` enum fields. Models answer
through structured output whose schema lists exactly those values; the offline provider uses the
transparent rules of :mod:`margin.features.triage_rules`. The widget shows the suggestions and
its Apply button hands the values to the host (``onApplyTriage``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec

from margin.adapters import RecordRef, RecordTypeSchema
from margin.events import DeltaEvent, ResultEvent
from margin.exceptions import FeatureUnavailable
from margin.features.base import Feature, FeatureContext, FinishEvent, Task, fetch_record, strict_json_schema
from margin.features.triage_rules import Suggestion, TriageAnswer, TriageLists, suggest
from margin.prompts import fenced_json, record_for_prompt


class TriageRequest(msgspec.Struct, forbid_unknown_fields=True):
    record: RecordRef


class TriageSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    record_types: dict[str, TriageLists] = {}


class Triage(Feature):
    name = "triage"
    title = "Triage"
    summary = "Suggest a category, a priority and tags for a case or ticket"
    position = 40
    request_type = TriageRequest
    prompt = "triage.v1"
    answer_type = TriageAnswer
    result_kind = "triage"
    actions = ("apply",)
    settings_type = TriageSettings

    def record_types(self) -> tuple[str, ...]:
        return tuple(sorted(self._settings.record_types))

    @property
    def _settings(self) -> TriageSettings:
        return self.settings if isinstance(self.settings, TriageSettings) else TriageSettings()

    async def prepare(self, body: Any, context: FeatureContext) -> Task:
        assert isinstance(body, TriageRequest)
        configured = self._settings.record_types.get(body.record.type)
        if configured is None:
            raise FeatureUnavailable(
                f"Triage is not set up for {body.record.type!r} records"
                f" (configured: {', '.join(self.record_types()) or 'none'})"
            )
        schemas = await context.adapter.describe()
        lists = _completed(configured, next((s for s in schemas if s.name == body.record.type), None))
        record = await fetch_record(body, context)
        assert record is not None
        messages = self.render(
            context,
            record_label=record.ref.type,
            record_json=fenced_json(record_for_prompt(record)),
            categories=", ".join(lists.categories) or "(none: answer null)",
            priorities=", ".join(lists.priorities) or "(none: answer null)",
            tags=", ".join(lists.tags) or "(none: answer an empty list)",
        )

        def offline() -> str:
            return msgspec.json.encode(suggest(record, lists)).decode()

        request = self.provider_request(
            messages, temperature=0.0, record=record, offline=offline, response_schema=_schema(lists)
        )
        return Task(request, state=lists)

    async def finish(self, answer: Any, task: Task, context: FeatureContext) -> AsyncIterator[FinishEvent]:
        assert isinstance(answer, TriageAnswer)
        lists: TriageLists = task.state
        kept = TriageAnswer(
            category=_allowed(answer.category, lists.categories),
            priority=_allowed(answer.priority, lists.priorities),
            tags=tuple(dict((t.value, t) for t in answer.tags if t.value in lists.tags).values()),
        )
        yield ResultEvent(kind="triage", data=kept)
        parts = [
            f"category {kept.category.value}" if kept.category else "",
            f"priority {kept.priority.value}" if kept.priority else "",
        ]
        if kept.tags:
            parts.append("tags " + ", ".join(t.value for t in kept.tags))
        shown = [part for part in parts if part]
        yield DeltaEvent(
            "Suggested: " + "; ".join(shown) + "."
            if shown
            else "No suggestion fits the lists for this record."
        )


def _allowed(suggestion: Suggestion | None, values: tuple[str, ...]) -> Suggestion | None:
    """A model's value outside the declared list is dropped, never passed to the host."""
    return suggestion if suggestion is not None and suggestion.value in values else None


def _completed(lists: TriageLists, schema: RecordTypeSchema | None) -> TriageLists:
    """Fill empty categories / priorities from the record type's enum fields of those names."""
    if schema is None:
        return lists
    fills: dict[str, tuple[str, ...]] = {}
    for attribute, field_name in (("categories", "category"), ("priorities", "priority")):
        field = schema.field(field_name)
        if not getattr(lists, attribute) and field is not None and field.allowed_values:
            fills[attribute] = field.allowed_values
    return msgspec.structs.replace(lists, **fills) if fills else lists


def _schema(lists: TriageLists) -> dict[str, Any]:
    """The strict schema of TriageAnswer with each ``value`` limited to its declared list."""
    schema = strict_json_schema(TriageAnswer)
    suggestion = schema["$defs"]["Suggestion"]

    def limited(values: tuple[str, ...]) -> dict[str, Any]:
        properties = {**suggestion["properties"], "value": {"type": "string", "enum": list(values)}}
        return {**suggestion, "properties": properties}

    properties = dict(schema["properties"])
    for name, values in (("category", lists.categories), ("priority", lists.priorities)):
        properties[name] = {"anyOf": [limited(values), {"type": "null"}]} if values else {"type": "null"}
    properties["tags"] = (
        {"type": "array", "items": limited(lists.tags)} if lists.tags else {"type": "array", "maxItems": 0}
    )
    return {**schema, "properties": properties, "$defs": {}}
