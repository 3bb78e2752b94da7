"""``draft``: a reply, e-mail or note about the record, for the user to insert into the host."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

import msgspec

from margin.adapters import RecordRef
from margin.features.base import Feature, FeatureContext, Task, fetch_record
from margin.prompts import fenced_json, fenced_text, record_for_prompt
from margin.providers.offline.drafts import render_draft

DraftKind = Literal["follow_up_email", "case_reply", "internal_note", "meeting_request"]
Instruction = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]

GUIDANCE = {
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


class DraftRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    record: RecordRef
    kind: DraftKind
    instruction: Instruction | None = None


class Draft(Feature):
    name = "draft"
    title = "Draft"
    summary = "Draft a reply, e-mail or note about a record"
    position = 20
    request_type = DraftRequest
    prompt = "draft.v1"
    actions = ("insert", "copy")
    labels = {
        "kind": "Kind",
        "instruction": "Instruction",
        "follow_up_email": "Follow-up e-mail",
        "case_reply": "Reply to the customer",
        "internal_note": "Internal note",
        "meeting_request": "Meeting request",
    }

    async def prepare(self, body: Any, context: FeatureContext) -> Task:
        assert isinstance(body, DraftRequest)
        record = await fetch_record(body, context)
        assert record is not None
        label, guidance = GUIDANCE[body.kind]
        messages = self.render(
            context,
            kind_label=label,
            kind_guidance=guidance,
            user_name=context.user.user_id,
            instruction=body.instruction and fenced_text(body.instruction),
            record_label=record.ref.type,
            record_json=fenced_json(record_for_prompt(record)),
        )
        offline = functools.partial(render_draft, record, body.kind, body.instruction)
        return Task(self.provider_request(messages, record=record, offline=offline))
