"""``summarize``: a short summary of the record on screen, streamed as markdown text."""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from margin.adapters import RecordRef
from margin.features.base import Feature, FeatureContext, Task, fetch_record
from margin.prompts import fenced_json, record_for_prompt
from margin.providers.offline.summarize import summarize


class SummarizeRequest(msgspec.Struct, forbid_unknown_fields=True):
    record: RecordRef


class Summarize(Feature):
    name = "summarize"
    title = "Summary"
    summary = "Summarise a record"
    position = 10
    request_type = SummarizeRequest
    prompt = "summarize.v1"
    auto_run = True
    actions = ("copy",)

    async def prepare(self, body: Any, context: FeatureContext) -> Task:
        record = await fetch_record(body, context)
        assert record is not None  # the request type requires one
        messages = self.render(
            context,
            audience="business user",
            record_label=record.ref.type,
            record_json=fenced_json(record_for_prompt(record)),
        )
        return Task(
            self.provider_request(messages, record=record, offline=functools.partial(summarize, record))
        )
