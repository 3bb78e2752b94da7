"""Where an answer comes from: the response cache, a flight already under way, or the router.

A hit is replayed as a stream and flagged ``cached`` in ``meta``. A miss joins the single
flight for its key, so concurrent identical requests share one provider call (across
replicas too, through the cache's claim); the answer of a non-degraded provider is cached.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import msgspec

from margin.events import DeltaEvent, ErrorEvent, MetaEvent
from margin.features.router import Job, ProviderRouter, Structured, WalkEvent
from margin.providers.base import TextDelta
from margin.resilience.cache import CachedAnswer, ResponseCache, replay
from margin.resilience.singleflight import FlightAbandoned, SingleFlight


class AnswerSource:
    def __init__(self, router: ProviderRouter, cache: ResponseCache) -> None:
        self._router = router
        self._cache = cache
        self._flights: SingleFlight[WalkEvent] = SingleFlight()

    async def open(self, job: Job, key: str) -> tuple[AsyncGenerator[WalkEvent, None], bool]:
        """The answer's events, and whether this request pays for them (cache hits and
        followers of another request's flight do not)."""
        sensitive = job.route.sensitivity.sensitive
        if self._cache.settings.ttl_for(job.feature) > 0:
            hit = await self._cache.get(key, sensitive=sensitive)
            if hit is not None:
                return _replayed(job, hit), False
        subscription = self._flights.join(key, lambda: self._produce(job, key, sensitive))
        if subscription.leader:
            return subscription.events, True
        return self._as_follower(subscription.events, job, key), False

    async def _as_follower(
        self, events: AsyncGenerator[WalkEvent, None], job: Job, key: str
    ) -> AsyncGenerator[WalkEvent, None]:
        """Another request's flight, under this request's interaction id. If its leader left
        before handing the answer over, start again (a ``restart`` if text was shown)."""
        shown = False
        try:
            async with aclosing(events):
                async for event in events:
                    if isinstance(event, MetaEvent):
                        event = msgspec.structs.replace(event, interaction_id=job.interaction_id)
                    shown = shown or isinstance(event, DeltaEvent)
                    yield event
            return
        except FlightAbandoned:
            pass
        # Not billed to this request (it joined as a follower): rare, and in the user's favour.
        again, _ = await self.open(job, key)
        async with aclosing(again):
            async for event in again:
                if isinstance(event, MetaEvent) and shown:
                    event = msgspec.structs.replace(event, mode="restart")
                    shown = False
                yield event

    async def _produce(self, job: Job, key: str, sensitive: bool) -> AsyncGenerator[WalkEvent, None]:
        async with self._cache.claim(
            key, sensitive=sensitive, ttl=self._cache.settings.ttl_for(job.feature)
        ) as claim:
            if claim.answer is not None:  # another replica produced it while we waited
                async for event in _replayed(job, claim.answer):
                    yield event
                return
            meta: MetaEvent | None = None
            text: list[str] = []
            async for event in self._router.walk(job):
                yield event
                if isinstance(event, MetaEvent):
                    meta = event
                    text = text if event.mode == "continue" else []
                elif isinstance(event, DeltaEvent):
                    text.append(event.text)
                elif isinstance(event, Structured):
                    text = [event.text]
                elif isinstance(event, ErrorEvent):
                    return
            if meta is not None and not meta.degraded:
                answer = CachedAnswer(text="".join(text), provider=meta.provider, model=meta.model)
                await self._cache.put(key, answer, feature=job.feature, sensitive=sensitive)


async def _replayed(job: Job, answer: CachedAnswer) -> AsyncGenerator[WalkEvent, None]:
    meta = MetaEvent(
        interaction_id=job.interaction_id,
        feature=job.feature,
        provider=answer.provider,
        model=answer.model,
        variant=job.variant,
        degraded=False,
        cached=True,
        prompt_version=job.prompt_version,
    )
    yield meta
    if job.decode is not None:  # a structured answer is finished again (a query runs on live data)
        yield Structured(job.decode(answer.text), answer.text)
        return
    async for event in replay(answer):
        if isinstance(event, TextDelta):
            yield DeltaEvent(event.text)
