"""Running an admitted feature request: its answer, the events, the interaction record, the log line.

The answer comes from :class:`margin.features.answers.AnswerSource` (cache, single flight, or
the provider chain walked by :class:`margin.features.router.ProviderRouter`). A stream ends
with ``done`` on success or ``error`` on failure; nothing follows either. When it ends, the
request's limit reservation is settled with what it used.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, date, datetime

import msgspec
import structlog

from margin.adapters import AdapterError, RecordSource, User
from margin.adapters.validation import InvalidQueryError, validate_spec
from margin.events import (
    DeltaEvent,
    DoneEvent,
    ErrorEvent,
    FeatureEvent,
    MetaEvent,
    ResultEvent,
    UsageSummary,
)
from margin.features.admission import Admitted
from margin.features.answers import AnswerSource
from margin.features.prepare import Prepared
from margin.features.router import Job, Spent
from margin.interactions import InteractionRecord, InteractionStore, Status
from margin.providers.base import Provider, QueryPlan
from margin.providers.offline.query_parser import describe_spec
from margin.resilience.limits import Limits
from margin.resilience.pricing import Pricing
from margin.resilience.sensitive import SensitiveDetector

log = structlog.get_logger("margin.interaction")
_plan_decoder = msgspec.json.Decoder(QueryPlan)


class _Outcome:
    """What one run learned, for the done event, the interaction record and the log line."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.status: Status = "cancelled"
        self.error_code: str | None = None
        self.cached = False
        self.usage = UsageSummary()
        self.cost_usd = 0.0
        self.ttft_ms: float | None = None
        self.steps: list[str] = []
        """Each provider that took part, as ``name:mode`` (a handover adds one)."""


class FeatureRunner:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        answers: AnswerSource,
        detector: SensitiveDetector,
        limits: Limits,
        pricing: Pricing,
        store: InteractionStore,
    ) -> None:
        self._providers = providers
        self._answers = answers
        self._detector = detector
        self._limits = limits
        self._pricing = pricing
        self._store = store

    def chain(self, names: Sequence[str]) -> list[Provider]:
        return [self._providers[name] for name in names]

    async def run(
        self, prepared: Prepared, admitted: Admitted, user: User, adapter: RecordSource, today: date
    ) -> AsyncGenerator[FeatureEvent, None]:
        interaction_id = uuid.uuid4().hex
        started = time.perf_counter()
        created_at = datetime.now(UTC).isoformat()
        outcome = _Outcome(admitted.route.providers[0])
        job = Job(
            interaction_id=interaction_id,
            feature=prepared.feature,
            prompt_version=prepared.prompt_version,
            request=prepared.request,
            route=admitted.route,
            redact=lambda request: self._detector.redact(request, tenant=user.tenant),
        )
        try:
            events = self._stream(job, admitted.cache_key, outcome, started)
            if prepared.feature == "query":
                events = self._answer_query(events, prepared, user, adapter, today, outcome, started)
            async with aclosing(events):
                async for event in events:
                    yield event
                    if isinstance(event, ErrorEvent):
                        outcome.status, outcome.error_code = "failed", event.code
                        return
            outcome.status = "completed"
            yield DoneEvent(
                usage=outcome.usage,
                latency_ms=_ms_since(started),
                ttft_ms=outcome.ttft_ms,
                cost_usd=round(outcome.cost_usd, 6),
            )
        finally:
            self._finish(interaction_id, created_at, prepared, admitted, user, outcome, started)
            usage = outcome.usage
            await self._limits.settle(
                admitted.reservation,
                tokens=usage.input_tokens + usage.output_tokens,
                cost_usd=outcome.cost_usd,
            )

    async def _stream(
        self, job: Job, key: str, outcome: _Outcome, started: float
    ) -> AsyncGenerator[FeatureEvent, None]:
        """Meta and deltas of the answer; usage is billed to this request only if it paid for it."""
        events, paying = await self._answers.open(job, key)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, Spent):
                    if paying:
                        outcome.usage = UsageSummary(
                            outcome.usage.input_tokens + event.input_tokens,
                            outcome.usage.output_tokens + event.output_tokens,
                        )
                        outcome.cost_usd += self._pricing.cost(
                            event.provider, event.input_tokens, event.output_tokens
                        )
                    continue
                if isinstance(event, MetaEvent):
                    outcome.steps.append(f"{event.provider}:{event.mode}")
                    outcome.provider = self._providers.get(event.provider, outcome.provider)
                    outcome.cached = event.cached
                elif isinstance(event, DeltaEvent) and outcome.ttft_ms is None and not job.hide_text:
                    outcome.ttft_ms = _ms_since(started)
                yield event

    async def _answer_query(
        self,
        events: AsyncGenerator[FeatureEvent, None],
        prepared: Prepared,
        user: User,
        adapter: RecordSource,
        today: date,
        outcome: _Outcome,
        started: float,
    ) -> AsyncGenerator[FeatureEvent, None]:
        """Collect the provider's JSON plan, validate it, run it, stream the table and a sentence."""
        plan_text = ""
        async with aclosing(events):
            async for event in events:
                if isinstance(event, DeltaEvent):
                    plan_text = event.text  # the whole plan of the provider that answered
                    continue
                yield event
                if isinstance(event, ErrorEvent):
                    return
        try:
            plan = _plan_decoder.decode(plan_text)
        except msgspec.DecodeError:
            plan = QueryPlan(
                unanswerable="I couldn't turn that into a query: the model's answer was not a valid plan."
            )
        if plan.spec is None:
            outcome.ttft_ms = _ms_since(started)
            yield DeltaEvent(plan.unanswerable or "I couldn't turn that into a query.")
            return
        try:
            schema = validate_spec(plan.spec, prepared.schema)
            result = await adapter.run_query(plan.spec, user)
        except InvalidQueryError as exc:
            outcome.ttft_ms = _ms_since(started)
            yield DeltaEvent(f"I couldn't turn that into a query: {exc}")
            return
        except AdapterError as exc:
            yield ErrorEvent(code=exc.code, message=exc.message)
            return
        description = describe_spec(plan.spec, prepared.schema)
        outcome.ttft_ms = _ms_since(started)
        yield ResultEvent(
            columns=result.columns, rows=result.rows, total=result.total, description=description
        )
        noun = (schema.plural if result.total != 1 else schema.label).lower()
        count = f"{result.total} {noun}" if plan.spec.aggregate is None else f"{len(result.rows)} rows"
        yield DeltaEvent(f"{description}: {count}.")

    def _finish(
        self,
        interaction_id: str,
        created_at: str,
        prepared: Prepared,
        admitted: Admitted,
        user: User,
        outcome: _Outcome,
        started: float,
    ) -> None:
        record_ref = prepared.record.ref if prepared.record is not None else None
        record = InteractionRecord(
            id=interaction_id,
            created_at=created_at,
            tenant=user.tenant,
            user_id=user.user_id,
            feature=prepared.feature,
            record_type=record_ref.type if record_ref else None,
            record_id=record_ref.id if record_ref else None,
            provider=outcome.provider.name,
            model=outcome.provider.model,
            prompt_version=prepared.prompt_version,
            variant="control",
            degraded=outcome.provider.degraded,
            cached=outcome.cached,
            status=outcome.status,
            error_code=outcome.error_code,
            input_tokens=outcome.usage.input_tokens,
            output_tokens=outcome.usage.output_tokens,
            cost_usd=round(outcome.cost_usd, 6),
            latency_ms=_ms_since(started),
            ttft_ms=outcome.ttft_ms,
            routing=_routing_json(admitted, outcome),
        )
        self._store.submit(record)
        log.info("interaction", **msgspec.structs.asdict(record))


def _routing_json(admitted: Admitted, outcome: _Outcome) -> str:
    """Reason codes and provider names of the routing decision, never the values found."""
    return msgspec.json.encode({**admitted.route.log_fields(), "steps": outcome.steps}).decode()


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
