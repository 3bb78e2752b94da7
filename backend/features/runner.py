"""Running a prepared feature request: provider chain, events, the interaction record, the log line.

The chain is walked in order; a provider that fails before any output hands over to the next
one (the offline provider ends every default chain), and a fresh ``meta`` event says which
provider answers. A failure after output ends the stream with an ``error`` event. A stream
ends with ``done`` on success or ``error`` on failure; nothing follows either.
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
from margin.config import ProviderSettings
from margin.events import (
    DeltaEvent,
    DoneEvent,
    ErrorEvent,
    FeatureEvent,
    MetaEvent,
    ResultEvent,
    UsageSummary,
)
from margin.features.prepare import Prepared
from margin.interactions import InteractionRecord, InteractionStore, Status
from margin.providers.base import Finish, Provider, ProviderError, QueryPlan, TextDelta, Usage
from margin.providers.offline.query_parser import describe_spec

log = structlog.get_logger("margin.interaction")
_plan_decoder = msgspec.json.Decoder(QueryPlan)


class _Outcome:
    """What one run learned, for the done event, the interaction record and the log line."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.status: Status = "cancelled"
        self.error_code: str | None = None
        self.usage = UsageSummary()
        self.ttft_ms: float | None = None


class FeatureRunner:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        provider_settings: Mapping[str, ProviderSettings],
        store: InteractionStore,
    ) -> None:
        self._providers = providers
        self._pricing = provider_settings
        self._store = store

    def chain(self, names: Sequence[str]) -> list[Provider]:
        return [self._providers[name] for name in names]

    async def run(
        self, prepared: Prepared, chain: Sequence[Provider], user: User, adapter: RecordSource, today: date
    ) -> AsyncGenerator[FeatureEvent, None]:
        interaction_id = uuid.uuid4().hex
        started = time.perf_counter()
        created_at = datetime.now(UTC).isoformat()
        outcome = _Outcome(chain[0])
        try:
            events = self._stream(interaction_id, prepared, chain, outcome, started)
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
                cost_usd=self._cost(outcome),
            )
        finally:
            self._finish(interaction_id, created_at, prepared, user, outcome, started)

    async def _stream(
        self,
        interaction_id: str,
        prepared: Prepared,
        chain: Sequence[Provider],
        outcome: _Outcome,
        started: float,
    ) -> AsyncGenerator[FeatureEvent, None]:
        """Meta and deltas from the first provider in ``chain`` that answers."""
        hide_text = prepared.feature == "query"  # the plan is JSON for us, not text for the user
        for position, provider in enumerate(chain):
            outcome.provider = provider
            yield MetaEvent(
                interaction_id=interaction_id,
                feature=prepared.feature,
                provider=provider.name,
                model=provider.model,
                variant="control",
                degraded=provider.degraded,
                cached=False,
                prompt_version=prepared.prompt_version,
            )
            produced = False
            plan_text: list[str] = []
            try:
                async with aclosing(provider.stream(prepared.request)) as stream:
                    async for event in stream:
                        if isinstance(event, TextDelta):
                            if hide_text:
                                plan_text.append(event.text)
                                continue
                            if outcome.ttft_ms is None:
                                outcome.ttft_ms = _ms_since(started)
                            produced = True
                            yield DeltaEvent(event.text)
                        elif isinstance(event, Usage):
                            outcome.usage = UsageSummary(event.input_tokens, event.output_tokens)
                        elif isinstance(event, Finish) and event.reason == "length":
                            log.info(
                                "provider.truncated", provider=provider.name, interaction_id=interaction_id
                            )
                if hide_text:
                    plan = "".join(plan_text)
                    if not _is_plan(plan) and position < len(chain) - 1:
                        log.warning(
                            "provider.invalid_plan", provider=provider.name, interaction_id=interaction_id
                        )

                        continue  # a model that cannot produce a valid plan hands over to the next
                    yield DeltaEvent(plan)
                return
            except ProviderError as exc:
                log.warning(
                    "provider.failed",
                    interaction_id=interaction_id,
                    provider=provider.name,
                    code=exc.code,
                    error=exc.message,
                    after_output=produced,
                )
                if produced or position == len(chain) - 1:
                    yield ErrorEvent(code=exc.code, message=exc.user_message, retry_after=exc.retry_after)
                    return

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

    def _cost(self, outcome: _Outcome) -> float:
        prices = self._pricing[outcome.provider.name]
        usage = outcome.usage
        cost = (
            usage.input_tokens * prices.input_usd_per_mtok + usage.output_tokens * prices.output_usd_per_mtok
        )
        return round(cost / 1_000_000, 6)

    def _finish(
        self,
        interaction_id: str,
        created_at: str,
        prepared: Prepared,
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
            cached=False,
            status=outcome.status,
            error_code=outcome.error_code,
            input_tokens=outcome.usage.input_tokens,
            output_tokens=outcome.usage.output_tokens,
            cost_usd=self._cost(outcome),
            latency_ms=_ms_since(started),
            ttft_ms=outcome.ttft_ms,
        )
        self._store.submit(record)
        log.info("interaction", **msgspec.structs.asdict(record))


def _is_plan(text: str) -> bool:
    try:
        _plan_decoder.decode(text)
    except msgspec.DecodeError:
        return False
    return True


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
