"""Walking a routed provider chain: breakers, time limits, retries with backoff, failover.

Each provider is asked its breaker first (an open one is skipped at once, without I/O), then
streams under its time limits. A failure before any text is retried on the same provider
with backoff while the request's retry budget allows, else the next provider takes over. A
failure after text hands over too: the next provider continues from the text so far (or,
for the offline provider and with ``resilience.failover = "restart"``, starts over), and a
``meta`` event with ``mode`` tells the widget. Nothing here touches Redis per token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog

from margin.config import Settings
from margin.events import DeltaEvent, ErrorEvent, MetaEvent, MetaMode
from margin.features.continuation import OverlapTrimmer, continuation_request
from margin.providers.base import (
    Finish,
    Provider,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderRequest,
    ProviderUnavailable,
    TextDelta,
    Usage,
)
from margin.resilience.breaker import Breakers, Permit
from margin.resilience.retry import Backoff
from margin.resilience.routing import Route, SensitiveDataBlocked
from margin.resilience.sensitive import Redaction, StreamRestorer
from margin.resilience.timeouts import with_timeouts

log = structlog.get_logger("margin.router")


class Spent(msgspec.Struct, frozen=True, gc=False):
    """Tokens one provider billed for its part of the answer."""

    provider: str
    input_tokens: int
    output_tokens: int


class Structured(msgspec.Struct, frozen=True):
    """A structured answer, decoded and validated once: ``value``, and its JSON ``text``."""

    value: Any
    text: str


WalkEvent = MetaEvent | DeltaEvent | Structured | ErrorEvent | Spent


@dataclass(frozen=True)
class Job:
    """One request's walk: what to ask, which providers may answer, how to redact for the cloud.

    ``decode`` is set for a structured answer: it turns the answer's JSON into its type (raising
    ``msgspec.DecodeError`` or ``msgspec.ValidationError``), and no text reaches the user.
    """

    interaction_id: str
    feature: str
    variant: str
    prompt_version: str
    request: ProviderRequest
    route: Route[Provider]
    redact: Callable[[ProviderRequest], tuple[ProviderRequest, Redaction]]
    decode: Callable[[str], Any] | None = None

    def meta(self, provider: Provider, mode: MetaMode) -> MetaEvent:
        return MetaEvent(
            interaction_id=self.interaction_id,
            feature=self.feature,
            provider=provider.name,
            model=provider.model,
            variant=self.variant,
            degraded=provider.degraded,
            cached=False,
            prompt_version=self.prompt_version,
            mode=mode,
        )


class ProviderRouter:
    def __init__(self, settings: Settings, breakers: Breakers) -> None:
        self._breakers = breakers
        self._retry = settings.resilience.retry
        self._failover = settings.resilience.failover
        self._timeouts = {name: settings.timeouts_for(name) for name in settings.providers}

    async def walk(self, job: Job) -> AsyncGenerator[WalkEvent, None]:
        """Meta, deltas and Spent from the providers that answer; an ErrorEvent if none does."""
        backoff = Backoff(self._retry)
        shown: list[str] = []  # the text the user has seen so far
        error: ProviderError | None = None
        providers = job.route.providers
        for provider in providers:
            permit = await self._breakers.allow(provider.name, provider.model)
            if not permit.allowed:
                log.info("provider.skipped", interaction_id=job.interaction_id, provider=provider.name)
                continue
            mode: MetaMode = "start"
            if shown:
                restart = self._failover == "restart" or not provider.continues
                mode = "restart" if restart else "continue"
                if restart:
                    shown.clear()
            yield job.meta(provider, mode)
            attempts = 0
            while True:
                attempts += 1
                produced = False
                try:
                    async for event in self._attempt(job, provider, "".join(shown)):
                        if isinstance(event, DeltaEvent):
                            produced = True
                            shown.append(event.text)
                        yield event
                except ProviderError as exc:
                    error = exc
                    if exc.blames_provider:
                        await self._breakers.record_failure(permit, exc)
                    else:  # Margin's own capacity ran out: no verdict on the provider
                        await self._breakers.release(permit)
                    log.warning(
                        "provider.failed",
                        interaction_id=job.interaction_id,
                        provider=provider.name,
                        code=exc.code,
                        error=exc.message,
                        attempt=attempts,
                        after_output=produced,
                    )
                    next_permit = await self._retry_permit(backoff, exc, attempts, produced, provider)
                    if next_permit is None:
                        break
                    permit = next_permit
                    continue
                except BaseException:
                    await self._breakers.release(permit)  # the user left: no verdict on the provider
                    raise
                await self._breakers.record_success(permit)
                return
        yield _final_error(job, error, self._retry.max_delay_s)

    async def _retry_permit(
        self, backoff: Backoff, error: ProviderError, attempts: int, produced: bool, provider: Provider
    ) -> Permit | None:
        """After waiting out the backoff, a permit for another attempt; None: move on."""
        delay = backoff.delay(error, attempts=attempts, produced=produced)
        if delay is None:
            return None
        permit = await self._breakers.allow(provider.name, provider.model)
        if not permit.allowed:  # a 429 with Retry-After opened it: no point waiting
            return None
        await asyncio.sleep(delay)
        return permit

    async def _attempt(
        self, job: Job, provider: Provider, shown: str
    ) -> AsyncGenerator[DeltaEvent | Structured | Spent, None]:
        """One call to ``provider``: deltas (restored, overlap-trimmed) or the structured answer,
        and what it billed."""
        request = continuation_request(job.request, shown) if shown else job.request
        restorer: StreamRestorer | None = None
        if job.route.needs_redaction(provider):
            request, redaction = job.redact(request)
            restorer = redaction.restorer()
        trimmer = OverlapTrimmer(shown) if shown else None
        plan: list[str] = []
        stream = with_timeouts(
            provider.stream(request), self._timeouts[provider.name], provider=provider.name
        )
        async with aclosing(stream):
            async for event in stream:
                if isinstance(event, TextDelta):
                    if job.decode is not None:
                        plan.append(event.text)
                        continue
                    text = _through(event.text, restorer, trimmer)
                    if text:
                        yield DeltaEvent(text)
                elif isinstance(event, Usage):
                    yield Spent(provider.name, event.input_tokens, event.output_tokens)
                elif isinstance(event, Finish) and event.reason == "length":
                    log.info("provider.truncated", provider=provider.name, interaction_id=job.interaction_id)
        if job.decode is not None:
            text = "".join(plan)
            if restorer is not None:
                text = restorer.feed(text) + restorer.flush()
            try:
                value = job.decode(text)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:  # the next provider takes over
                raise ProviderBadRequest(
                    f"the answer did not match the schema: {exc}", provider=provider.name
                ) from None
            yield Structured(value, text)
            return
        tail = restorer.flush() if restorer is not None else ""
        if trimmer is not None:
            tail = trimmer.feed(tail) + trimmer.flush()
        if tail:
            yield DeltaEvent(tail)


def _through(text: str, restorer: StreamRestorer | None, trimmer: OverlapTrimmer | None) -> str:
    if restorer is not None:
        text = restorer.feed(text)
    if trimmer is not None:
        text = trimmer.feed(text)
    return text


def _final_error(job: Job, error: ProviderError | None, retry_wait_s: float) -> ErrorEvent:
    """Every provider failed or was skipped; with sensitive data, say that nothing left Margin.

    A rate limit always says when to retry: the provider's Retry-After, else ``retry_wait_s``
    (a limit announced mid-stream comes without one)."""
    if job.route.excluded:
        return ErrorEvent.of(SensitiveDataBlocked(""))
    if error is None:
        error = ProviderUnavailable("every provider of the chain is paused by its circuit breaker")
    event = ErrorEvent.of(error)
    if isinstance(error, ProviderRateLimited) and event.retry_after is None:
        event.retry_after = retry_wait_s
    return event
