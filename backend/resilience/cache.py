"""Exact-match response cache: Redis when configured (shared), a bounded in-process LRU otherwise.

The key covers the tenant, feature, prompt version, the chain's models, the generation
parameters, the record's reference and **version**, and the rendered messages, so a changed
record (or anything else in the prompt) never gets an old answer. Answers built from
sensitive data stay in-process unless ``share_sensitive`` is set.

Across replicas, :meth:`ResponseCache.claim` is a short Redis lock: the first replica
produces, the others wait (up to ``lock_wait_s``) for its answer to land in the cache. Inside
one replica, :class:`margin.resilience.singleflight.SingleFlight` shares the producer itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.asyncio import Redis

from margin.providers.base import Finish, ProviderEvent, ProviderRequest, TextDelta
from margin.resilience.config import CacheSettings
from margin.resilience.shared_state import LuaScript, SharedState

_RELEASE = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
)
_WORDS = re.compile(r"\s*\S+|\s+")


class CachedAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """A complete answer, enough to replay it as a stream. ``result``: any plain-data payload."""

    text: str
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    finish: str = "stop"
    result: Any = None
    created_at: float = 0.0


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(CachedAnswer).decode


def cache_key(
    request: ProviderRequest, *, tenant: str, feature: str, prompt_version: str, models: Sequence[str]
) -> str:
    """A hex digest over everything that shapes the answer; ``models``: the routed chain's models."""
    record = request.record
    material = {
        "tenant": tenant,
        "feature": feature,
        "prompt_version": prompt_version,
        "models": list(models),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "response_schema": request.response_schema,
        "record": [record.ref.type, record.ref.id, record.version] if record is not None else None,
        "messages": [[m.role, m.content] for m in request.messages],
    }
    return hashlib.sha256(msgspec.json.encode(material, order="sorted")).hexdigest()


async def replay(answer: CachedAnswer, *, chunk_chars: int = 32) -> AsyncGenerator[ProviderEvent, None]:
    """The answer as a provider stream (deltas of whole words, then Finish); no Usage: a hit is free."""
    chunk = ""
    for word in _WORDS.findall(answer.text):
        chunk += word
        if len(chunk) >= chunk_chars:
            yield TextDelta(chunk)
            chunk = ""
    if chunk:
        yield TextDelta(chunk)
    yield Finish(answer.finish)


@dataclass(frozen=True)
class Claim:
    """``answer``: another replica produced it while we waited; None: produce it (and ``put`` it)."""

    answer: CachedAnswer | None


class ResponseCache:
    def __init__(
        self, settings: CacheSettings, shared: SharedState, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._shared = shared
        self._clock = clock
        self.local = LocalLRU(settings.max_entries, settings.max_bytes, clock=clock)

    async def get(self, key: str, *, sensitive: bool) -> CachedAnswer | None:
        if not self.settings.enabled:
            return None
        if not self._use_shared(sensitive):
            raw = self.local.get(key)
        else:
            shared_key = self._shared.key("cache", key)

            async def shared(redis: Redis) -> bytes | None:
                value = await redis.get(shared_key)
                assert value is None or isinstance(value, bytes)  # the client does not decode
                return value

            raw = await self._shared.run(shared, lambda: self.local.get(key))
        return _decode(raw) if raw is not None else None

    async def put(self, key: str, answer: CachedAnswer, *, feature: str, sensitive: bool) -> None:
        """Keep ``answer`` for the feature's TTL (0: not at all). Do not put degraded answers."""
        ttl = self.settings.ttl_for(feature)
        if ttl <= 0:
            return
        raw = _encode(answer)
        if not self._use_shared(sensitive):
            self.local.put(key, raw, ttl)
            return
        shared_key = self._shared.key("cache", key)

        async def shared(redis: Redis) -> None:
            await redis.set(shared_key, raw, px=round(ttl * 1000))

        await self._shared.run(shared, lambda: self.local.put(key, raw, ttl))

    @asynccontextmanager
    async def claim(self, key: str, *, sensitive: bool, ttl: float) -> AsyncIterator[Claim]:
        """Cross-replica single flight. Inside the block, with ``claim.answer`` None, produce the
        answer and ``put`` it before leaving; the lock is released on the way out. With ``ttl``
        0 (the feature's answers are not cached) there is nothing to wait for: no lock."""
        if (
            ttl <= 0
            or not self.settings.enabled
            or not self._use_shared(sensitive)
            or self.settings.lock_wait_s == 0
        ):
            yield Claim(None)
            return
        lock_key = self._shared.key("cache-lock", key)
        token = uuid.uuid4().hex
        lock_ms = round(self.settings.lock_ttl_s * 1000)

        async def acquire(redis: Redis) -> bool:
            return bool(await redis.set(lock_key, token, nx=True, px=lock_ms))

        deadline = self._clock() + self.settings.lock_wait_s
        held = waited = False
        while self._shared.available and self._clock() < deadline:
            held = await self._shared.run(acquire, lambda: False)
            if held and waited:  # the holder may have put its answer just before letting go
                answer = await self.get(key, sensitive=sensitive)
                if answer is not None:
                    await self._release(lock_key, token)
                    held = False
                    yield Claim(answer)
                    return
            if held:
                break
            waited = True
            await asyncio.sleep(self.settings.poll_s)
            answer = await self.get(key, sensitive=sensitive)
            if answer is not None:
                yield Claim(answer)
                return
        try:
            yield Claim(None)  # we hold the lock, or waited long enough, or Redis is down
        finally:
            if held:
                await self._release(lock_key, token)

    async def _release(self, lock_key: str, token: str) -> None:
        async def release(redis: Redis) -> None:
            await _RELEASE(redis, [lock_key], [token])

        await self._shared.run(release, lambda: None)

    def _use_shared(self, sensitive: bool) -> bool:
        return self._shared.configured and (not sensitive or self.settings.share_sensitive)


class LocalLRU:
    """Bounded by entry count and total bytes; entries expire after their TTL."""

    def __init__(
        self, max_entries: int, max_bytes: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: str, value: bytes, ttl_s: float) -> None:
        if key in self._entries:
            self._drop(key)
        if len(value) > self.max_bytes:
            return
        self._entries[key] = (value, self._clock() + ttl_s)
        self.bytes += len(value)
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self.bytes -= len(value)
