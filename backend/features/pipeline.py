"""The one request path: prepare → admit → answer → finish, with the variant chosen first.

``open`` does everything that can still refuse the request with its own HTTP status (the
variant, the record through the adapter, sensitive-data routing, limits) before any byte of
the response; :meth:`Run.events` then streams the answer. The variant comes first because it
decides the prompt version (which shapes the messages) and the provider chain (which
admission routes). A run ends with ``done`` or ``error``; either way the interaction is
recorded (off the hot path, batched) and the limit reservation settled.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import structlog

from margin.adapters import User
from margin.adapters.routing import RecordTypeRouter
from margin.events import DeltaEvent, DoneEvent, ErrorEvent, FeatureEvent, MetaEvent, UsageSummary
from margin.exceptions import MarginError
from margin.features.admission import Admission, Admitted
from margin.features.answers import AnswerSource
from margin.features.base import Feature, FeatureContext, Task, answer_decoder
from margin.features.router import Job, Spent, Structured
from margin.features.variants import Variant, VariantAssigner
from margin.interactions import InteractionRecord, InteractionStore, Status
from margin.providers.base import Provider
from margin.resilience.limits import Limits
from margin.resilience.pricing import Pricing
from margin.resilience.sensitive import SensitiveDetector

log = structlog.get_logger("margin.interaction")


@dataclass
class _Outcome:
    """What one run learned, for the done event, the interaction record and the log line."""

    provider: Provider
    status: Status = "cancelled"
    error_code: str | None = None
    cached: bool = False
    usage: UsageSummary = field(default_factory=UsageSummary)
    cost_usd: float = 0.0
    ttft_ms: float | None = None
    steps: list[str] = field(default_factory=list)
    """Each provider that took part, as ``name:mode`` (a handover adds one)."""


class Pipeline:
    """Built once by the composition root; routes get it through Litestar DI."""

    def __init__(
        self,
        *,
        providers: Mapping[str, Provider],
        adapters: Mapping[str, RecordTypeRouter],
        variants: VariantAssigner,
        admission: Admission,
        answers: AnswerSource,
        detector: SensitiveDetector,
        limits: Limits,
        pricing: Pricing,
        store: InteractionStore,
    ) -> None:
        self._providers = providers
        self._adapters = adapters
        self._variants = variants
        self._admission = admission
        self._answers = answers
        self._detector = detector
        self._limits = limits
        self._pricing = pricing
        self._store = store

    async def open(self, feature: Feature, body: Any, user: User, arrived: float) -> Run:
        """Everything that may refuse the request; raises a MarginError with its status.

        ``arrived`` is the request's arrival (``time.perf_counter()``): TTFT and latency count from it.
        """
        variant = await self._variants.assign(feature, user)
        context = FeatureContext(
            user=user,
            adapter=self._adapters[user.tenant],
            today=date.today(),
            prompt_version=variant.prompt_version,
        )
        task = await feature.prepare(body, context)
        chain = [self._providers[name] for name in variant.chain]
        admitted = await self._admission.admit(
            feature.name, variant.prompt_version, task.request, chain, user
        )
        return Run(self, feature, variant, context, task, admitted, arrived)


class Run:
    """One admitted request; iterate :meth:`events` once."""

    def __init__(
        self,
        pipeline: Pipeline,
        feature: Feature,
        variant: Variant,
        context: FeatureContext,
        task: Task,
        admitted: Admitted,
        arrived: float,
    ) -> None:
        self._pipeline = pipeline
        self.feature = feature
        self.variant = variant
        self.context = context
        self.task = task
        self.admitted = admitted
        self.arrived = arrived
        self.interaction_id = uuid.uuid4().hex
        self.created_at = datetime.now(UTC).isoformat()
        self._outcome = _Outcome(admitted.route.providers[0])

    def _job(self) -> Job:
        detector, tenant = self._pipeline._detector, self.context.user.tenant
        answer_type = self.feature.answer_type
        return Job(
            interaction_id=self.interaction_id,
            feature=self.feature.name,
            variant=self.variant.name,
            prompt_version=self.variant.prompt_version,
            request=self.task.request,
            route=self.admitted.route,
            redact=lambda request: detector.redact(request, tenant=tenant),
            decode=answer_decoder(answer_type) if answer_type is not None else None,
        )

    async def events(self) -> AsyncGenerator[FeatureEvent, None]:
        outcome = self._outcome
        try:
            async for event in self._answer():
                yield event
                if isinstance(event, ErrorEvent):
                    outcome.status, outcome.error_code = "failed", event.code
                    return
            outcome.status = "completed"
            yield DoneEvent(
                usage=outcome.usage,
                latency_ms=self._ms(),
                ttft_ms=outcome.ttft_ms,
                cost_usd=round(outcome.cost_usd, 6),
            )
        finally:
            self._finish()
            usage = outcome.usage
            await self._pipeline._limits.settle(
                self.admitted.reservation,
                tokens=usage.input_tokens + usage.output_tokens,
                cost_usd=outcome.cost_usd,
            )

    async def _answer(self) -> AsyncGenerator[FeatureEvent, None]:
        """Meta, deltas and the structured result; usage is billed only to a request that paid."""
        outcome, pricing = self._outcome, self._pipeline._pricing
        events, paying = await self._pipeline._answers.open(self._job(), self.admitted.cache_key)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, DeltaEvent):
                    if outcome.ttft_ms is None:
                        outcome.ttft_ms = self._ms()
                    yield event
                elif isinstance(event, Spent):
                    if paying:
                        outcome.usage = UsageSummary(
                            outcome.usage.input_tokens + event.input_tokens,
                            outcome.usage.output_tokens + event.output_tokens,
                        )
                        outcome.cost_usd += pricing.cost(
                            event.provider, event.input_tokens, event.output_tokens
                        )
                elif isinstance(event, MetaEvent):
                    outcome.steps.append(f"{event.provider}:{event.mode}")
                    outcome.provider = self._pipeline._providers.get(event.provider, outcome.provider)
                    outcome.cached = event.cached
                    yield event
                elif isinstance(event, Structured):
                    async for finished in self._finish_structured(event.value):
                        yield finished
                else:
                    yield event

    async def _finish_structured(self, value: Any) -> AsyncGenerator[FeatureEvent, None]:
        try:
            async for event in self.feature.finish(value, self.task, self.context):
                if self._outcome.ttft_ms is None:
                    self._outcome.ttft_ms = self._ms()
                yield event
        except MarginError as exc:  # e.g. the adapter failed running a query
            yield ErrorEvent.of(exc)

    def _ms(self) -> float:
        return round((time.perf_counter() - self.arrived) * 1000, 2)

    def _finish(self) -> None:
        outcome, user = self._outcome, self.context.user
        record = self.task.request.record
        interaction = InteractionRecord(
            id=self.interaction_id,
            created_at=self.created_at,
            tenant=user.tenant,
            user_id=user.user_id,
            feature=self.feature.name,
            record_type=record.ref.type if record is not None else None,
            record_id=record.ref.id if record is not None else None,
            provider=outcome.provider.name,
            model=outcome.provider.model,
            prompt_version=self.variant.prompt_version,
            variant=self.variant.name,
            degraded=outcome.provider.degraded,
            cached=outcome.cached,
            status=outcome.status,
            error_code=outcome.error_code,
            input_tokens=outcome.usage.input_tokens,
            output_tokens=outcome.usage.output_tokens,
            cost_usd=round(outcome.cost_usd, 6),
            latency_ms=self._ms(),
            ttft_ms=outcome.ttft_ms,
            routing=msgspec.json.encode(
                {**self.admitted.route.log_fields(), "steps": outcome.steps}
            ).decode(),
        )
        self._pipeline._store.submit(interaction)
        log.info("interaction", **msgspec.structs.asdict(interaction))
