"""``query``: a plain-language question answered with a table and a sentence.

A model (or the offline rule parser) turns the question into a :class:`QueryPlan` through
structured output; the plan is validated against the adapter's declared schema and run by the
adapter. No model ever writes SQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec

from margin.adapters import QueryPlan, RecordRef, RecordTypeSchema
from margin.adapters.types import Scalar
from margin.adapters.validation import InvalidQueryError, validate_spec
from margin.events import DeltaEvent, ResultEvent
from margin.features.base import Feature, FeatureContext, FinishEvent, Task, fetch_record
from margin.prompts import fenced_text
from margin.providers.offline.query_parser import describe_spec, parse_question

Question = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
NO_QUERY = "I couldn't turn that into a query"


class QueryRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    question: Question
    record: RecordRef | None = None


class QueryTable(msgspec.Struct, frozen=True, kw_only=True):
    """The ``table`` result: the rows, and the plan restated as a sentence."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Scalar, ...], ...]
    total: int
    description: str


class Query(Feature):
    name = "query"
    title = "Ask"
    summary = "Answer a plain-language question with a table"
    position = 30
    request_type = QueryRequest
    prompt = "query.v1"
    answer_type = QueryPlan
    result_kind = "table"
    record = "optional"
    labels = {"question": "Question"}

    async def prepare(self, body: Any, context: FeatureContext) -> Task:
        assert isinstance(body, QueryRequest)
        schema = await context.adapter.describe()
        record = await fetch_record(body, context)
        messages = self.render(
            context,
            today=context.today.isoformat(),
            schema_json=msgspec.json.encode(schema).decode(),
            question=fenced_text(body.question),
        )

        def offline() -> str:
            return msgspec.json.encode(parse_question(body.question, schema, context.today)).decode()

        request = self.provider_request(messages, temperature=0.0, record=record, offline=offline)
        return Task(request, state=schema)

    async def finish(self, answer: Any, task: Task, context: FeatureContext) -> AsyncIterator[FinishEvent]:
        assert isinstance(answer, QueryPlan)
        schemas: tuple[RecordTypeSchema, ...] = task.state
        if answer.spec is None:
            yield DeltaEvent(answer.unanswerable or f"{NO_QUERY}.")
            return
        try:
            schema = validate_spec(answer.spec, schemas)
        except InvalidQueryError as exc:
            yield DeltaEvent(f"{NO_QUERY}: {exc}")
            return
        result = await context.adapter.run_query(answer.spec, context.user)  # AdapterError: an error event
        description = describe_spec(answer.spec, schemas)
        table = QueryTable(
            columns=result.columns, rows=result.rows, total=result.total, description=description
        )
        yield ResultEvent(kind="table", data=table)
        noun = (schema.plural if result.total != 1 else schema.label).lower()
        count = f"{result.total} {noun}" if answer.spec.aggregate is None else f"{len(result.rows)} rows"
        yield DeltaEvent(f"{description}: {count}.")
