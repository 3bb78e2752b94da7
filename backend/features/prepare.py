"""Turning a validated feature request into a provider request: context, prompt, task."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from margin.adapters import RecordContext, RecordSource, RecordTypeSchema, User
from margin.features.requests import FeatureRequest, QueryRequest, SummarizeRequest
from margin.prompts import fenced_json, record_for_prompt, render_prompt
from margin.providers.base import ChatMessage, DraftTask, ProviderRequest, QueryPlan, QueryTask, SummarizeTask

DRAFT_GUIDANCE = {
    "follow_up_email": (
        "follow-up e-mail",
        "A short e-mail to the customer contact that recaps where things stand and proposes the next step.",
    ),
    "case_reply": (
        "reply to the customer",
        "A friendly, specific reply to the customer's latest message: acknowledge it, "
        "answer what can be answered, say what happens next.",
    ),
    "internal_note": (
        "internal note",
        "A concise note for colleagues: situation, open questions, next step and owner.",
    ),
    "meeting_request": (
        "meeting request",
        "A short e-mail asking the contact for a meeting, with its purpose and two time options.",
    ),
}


def strict_json_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """``struct``'s JSON schema in the form strict structured output accepts.

    Every property becomes required (optional ones are already nullable or have a default the
    model must now state), defaults are dropped, and the root is the object itself, not a $ref.
    """
    schema = msgspec.json.schema(struct)
    definitions: dict[str, dict[str, Any]] = schema["$defs"]
    for definition in definitions.values():
        definition["required"] = list(definition["properties"])
        for prop in definition["properties"].values():
            prop.pop("default", None)
    root = definitions.pop(struct.__name__)
    return {**root, "$defs": definitions}


QUERY_PLAN_SCHEMA = strict_json_schema(QueryPlan)


class Prepared(msgspec.Struct, kw_only=True):
    """Everything a run needs, built before the response starts so errors keep their status code."""

    feature: str
    prompt_version: str
    request: ProviderRequest
    record: RecordContext | None = None
    schema: tuple[RecordTypeSchema, ...] = ()


async def prepare(body: FeatureRequest, user: User, adapter: RecordSource, today: date) -> Prepared:
    if isinstance(body, QueryRequest):
        return await _prepare_query(body, user, adapter, today)
    record = await adapter.fetch_context(body.record, user)
    values = {"record_label": record.ref.type, "record_json": fenced_json(record_for_prompt(record))}
    if isinstance(body, SummarizeRequest):
        version, messages = render_prompt("summarize", audience="business user", **values)
        return _prepared("summarize", version, messages, SummarizeTask(record), record)
    label, guidance = DRAFT_GUIDANCE[body.kind]
    version, messages = render_prompt(
        "draft",
        kind_label=label,
        kind_guidance=guidance,
        user_name=user.user_id,
        instruction=body.instruction and body.instruction.replace("</", "<\\/"),
        **values,
    )
    return _prepared("draft", version, messages, DraftTask(record, body.kind, body.instruction), record)


async def _prepare_query(body: QueryRequest, user: User, adapter: RecordSource, today: date) -> Prepared:
    schema = await adapter.describe()
    record = await adapter.fetch_context(body.record, user) if body.record is not None else None
    version, messages = render_prompt(
        "query",
        today=today.isoformat(),
        schema_json=msgspec.json.encode(schema).decode(),
        question=body.question.replace("</", "<\\/"),
    )
    request = ProviderRequest(
        task=QueryTask(body.question, schema, record),
        messages=messages,
        temperature=0.0,
        response_schema=QUERY_PLAN_SCHEMA,
    )
    return Prepared(feature="query", prompt_version=version, request=request, record=record, schema=schema)


def _prepared(
    feature: str,
    version: str,
    messages: tuple[ChatMessage, ...],
    task: SummarizeTask | DraftTask,
    record: RecordContext,
) -> Prepared:
    request = ProviderRequest(task=task, messages=messages)
    return Prepared(feature=feature, prompt_version=version, request=request, record=record)
