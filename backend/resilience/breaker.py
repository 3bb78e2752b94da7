"""Circuit breakers per provider and model, shared across replicas through Redis when configured.

A breaker opens when, over a sliding window of time buckets, at least ``min_requests`` calls
were made and the failure share reached ``failure_rate``; or at once on a 429 with Retry-After
(open until then, capped by ``max_open_s``). Once the open time is over, the next call turns
it half-open and gets one of ``half_open_probes`` probe slots; other calls keep skipping the
provider. A success closes it (and forgets the window); a probe failure opens it again.

The same state machine exists twice, as a Lua script (Redis, atomic across replicas) and in
Python (in-process, and the fallback while Redis is down); the tests run both. With Redis,
each replica keeps its last view of a breaker: an open breaker is skipped without a round trip
until its open time is over, and a closed one is trusted for ``cache_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple

import msgspec
import structlog
from redis.asyncio import Redis

from margin.providers.base import (
    ContentFiltered,
    ContextTooLong,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
)
from margin.resilience.config import BreakerSettings
from margin.resilience.shared_state import LuaScript, SharedState

log = structlog.get_logger("margin.resilience")

BreakerState = Literal["closed", "open", "half_open"]
_CLOSED, _OPEN, _HALF_OPEN = 0, 1, 2
_STATE_NAMES: tuple[BreakerState, ...] = ("closed", "open", "half_open")
_NOT_PROVIDER_FAULTS = (ProviderBadRequest, ContentFiltered, ContextTooLong)
"""Errors about the request, not the provider's health: the provider answered, so they count as success."""

# Shared prelude: KEYS[1] is the breaker hash; ARGV[1..3] are now (ms), bucket length (ms),
# bucket count. Fields: s state, u open-until (ms), t<i>/n<i>/f<i> bucket i's index, calls,
# failures, p<i> probe slot i's lease expiry (ms).
_PRELUDE = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local bucket_ms = tonumber(ARGV[2])
local buckets = tonumber(ARGV[3])
local state = tonumber(redis.call('HGET', key, 's') or 0)
local open_until = tonumber(redis.call('HGET', key, 'u') or 0)
local function totals()
  local idx = math.floor(now / bucket_ms)
  local n, f = 0, 0
  for i = 0, buckets - 1 do
    local v = redis.call('HMGET', key, 't' .. i, 'n' .. i, 'f' .. i)
    if v[1] and tonumber(v[1]) > idx - buckets then
      n = n + tonumber(v[2] or 0)
      f = f + tonumber(v[3] or 0)
    end
  end
  return n, f
end
"""

# ARGV[4] probe slots, ARGV[5] probe lease (ms), ARGV[6] key TTL (ms).
_ACQUIRE = LuaScript(
    _PRELUDE
    + """
local changed = 0
if state == 1 and now >= open_until then
  state = 2
  changed = 1
  redis.call('HSET', key, 's', 2)
end
local slot, lease = -1, 0
if state == 2 then
  for i = 0, tonumber(ARGV[4]) - 1 do
    if tonumber(redis.call('HGET', key, 'p' .. i) or 0) <= now then
      slot = i
      lease = now + tonumber(ARGV[5])
      redis.call('HSET', key, 'p' .. i, lease)
      break
    end
  end
  redis.call('PEXPIRE', key, ARGV[6])
end
return {state, open_until, slot, lease, changed}
"""
)

# ARGV[4] outcome ('1' success, '0' failure, '-' none: only free the probe slot),
# ARGV[5] min requests, ARGV[6] failure rate, ARGV[7] open time (ms),
# ARGV[8] open until (ms) from a Retry-After or 0, ARGV[9] probe slot or -1, ARGV[10] its lease,
# ARGV[11] key TTL (ms).
_RECORD = LuaScript(
    _PRELUDE
    + """
local slot = tonumber(ARGV[9])
if slot >= 0 and tonumber(redis.call('HGET', key, 'p' .. slot) or 0) == tonumber(ARGV[10]) then
  redis.call('HDEL', key, 'p' .. slot)
end
local previous = state
if ARGV[4] == '-' then
  return {state, open_until, 0, 0, previous}
end
local idx = math.floor(now / bucket_ms)
local b = idx % buckets
if tonumber(redis.call('HGET', key, 't' .. b) or -1) ~= idx then
  redis.call('HSET', key, 't' .. b, idx, 'n' .. b, 0, 'f' .. b, 0)
end
redis.call('HINCRBY', key, 'n' .. b, 1)
if ARGV[4] == '0' then
  redis.call('HINCRBY', key, 'f' .. b, 1)
end
local n, f = totals()
local retry_until = tonumber(ARGV[8])
if ARGV[4] == '1' then
  if state == 2 then
    state = 0
    open_until = 0
    redis.call('DEL', key)
    n, f = 0, 0
  end
elseif retry_until > 0 then
  if state ~= 1 or retry_until > open_until then
    state = 1
    open_until = retry_until
  end
elseif state == 2 or (state == 0 and n >= tonumber(ARGV[5]) and f >= tonumber(ARGV[6]) * n) then
  state = 1
  open_until = now + tonumber(ARGV[7])
end
redis.call('HSET', key, 's', state, 'u', open_until)
redis.call('PEXPIRE', key, ARGV[11])
return {state, open_until, n, f, previous}
"""
)

_STATUS = LuaScript(
    _PRELUDE
    + """
local n, f = totals()
return {state, open_until, n, f}
"""
)


class Permit(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`Breakers.allow` answered; hand it back to ``record_*`` or ``release``."""

    provider: str
    model: str
    allowed: bool
    state: BreakerState
    retry_at: float | None = None
    """When an open breaker lets a probe through (epoch seconds); None when allowed."""
    probe_slot: int = -1
    probe_lease: int = 0


class BreakerStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One breaker for ``/readyz``; counts are over the current window."""

    provider: str
    model: str
    state: BreakerState
    requests: int
    failures: int
    open_until: float | None = None


class _Acquired(NamedTuple):
    state: int
    open_until: int
    slot: int
    lease: int
    changed: int


class _Recorded(NamedTuple):
    state: int
    open_until: int
    requests: int
    failures: int
    previous: int


class _View(NamedTuple):
    state: int
    open_until: float
    checked: float


class _LocalBreaker:
    """The Lua state machine in Python, line for line; times in milliseconds."""

    def __init__(self) -> None:
        self.state = _CLOSED
        self.open_until = 0
        self.buckets: dict[int, list[int]] = {}  # slot -> [bucket index, calls, failures]
        self.probes: dict[int, int] = {}  # slot -> lease expiry

    def totals(self, now: int, bucket_ms: int, count: int) -> tuple[int, int]:
        idx = now // bucket_ms
        live = [b for b in self.buckets.values() if b[0] > idx - count]
        return sum(b[1] for b in live), sum(b[2] for b in live)

    def acquire(self, now: int, probes: int, lease_ms: int) -> _Acquired:
        changed = 0
        if self.state == _OPEN and now >= self.open_until:
            self.state, changed = _HALF_OPEN, 1
        if self.state == _HALF_OPEN:
            for slot in range(probes):
                if self.probes.get(slot, 0) <= now:
                    self.probes[slot] = now + lease_ms
                    return _Acquired(self.state, self.open_until, slot, now + lease_ms, changed)
        return _Acquired(self.state, self.open_until, -1, 0, changed)

    def record(
        self, now: int, outcome: str, settings: BreakerSettings, retry_until: int, slot: int, lease: int
    ) -> _Recorded:
        if slot >= 0 and self.probes.get(slot) == lease:
            del self.probes[slot]
        previous = self.state
        if outcome == "-":
            return _Recorded(self.state, self.open_until, 0, 0, previous)
        bucket_ms, count = _bucket_ms(settings), _bucket_count(settings)
        idx = now // bucket_ms
        bucket = self.buckets.get(idx % count)
        if bucket is None or bucket[0] != idx:
            bucket = self.buckets[idx % count] = [idx, 0, 0]
        bucket[1] += 1
        bucket[2] += outcome == "0"
        n, f = self.totals(now, bucket_ms, count)
        if outcome == "1":
            if self.state == _HALF_OPEN:
                self.state, self.open_until = _CLOSED, 0
                self.buckets.clear()
                self.probes.clear()
                n, f = 0, 0
        elif retry_until > 0:
            if self.state != _OPEN or retry_until > self.open_until:
                self.state, self.open_until = _OPEN, retry_until
        elif self.state == _HALF_OPEN or (
            self.state == _CLOSED and n >= settings.min_requests and f >= settings.failure_rate * n
        ):
            self.state, self.open_until = _OPEN, now + round(settings.open_s * 1000)
        return _Recorded(self.state, self.open_until, n, f, previous)


class Breakers:
    """All circuit breakers of the process, one per provider and model."""

    def __init__(
        self,
        settings: BreakerSettings,
        shared: SharedState,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._shared = shared
        self._clock = clock
        self._monotonic = monotonic
        self._local: dict[tuple[str, str], _LocalBreaker] = {}
        self._views: dict[tuple[str, str], _View] = {}
        s = settings
        self._key_ttl_ms = round((s.window_s + max(s.open_s, s.max_open_s) + s.probe_ttl_s) * 1000)

    async def allow(self, provider: str, model: str) -> Permit:
        """May this call go to ``provider``/``model``? Open breakers answer without any I/O."""
        target = (provider, model)
        now = self._clock()
        view = self._views.get(target)
        if view is not None:
            if view.state == _OPEN and now < view.open_until:
                return Permit(
                    provider=provider, model=model, allowed=False, state="open", retry_at=view.open_until
                )
            if view.state == _CLOSED and self._monotonic() - view.checked < self.settings.cache_s:
                return Permit(provider=provider, model=model, allowed=True, state="closed")
        now_ms = round(now * 1000)
        got = await self._shared.run(
            lambda redis: self._acquire_shared(redis, target, now_ms),
            lambda: self._breaker(target).acquire(
                now_ms, self.settings.half_open_probes, round(self.settings.probe_ttl_s * 1000)
            ),
        )
        self._remember(target, got.state, got.open_until)
        if got.changed:
            log.info("breaker.half_open", provider=provider, model=model)
        state = _STATE_NAMES[got.state]
        if got.state == _CLOSED or got.slot >= 0:
            return Permit(
                provider=provider,
                model=model,
                allowed=True,
                state=state,
                probe_slot=got.slot,
                probe_lease=got.lease,
            )
        retry_at = got.open_until / 1000 if got.state == _OPEN else None
        return Permit(provider=provider, model=model, allowed=False, state=state, retry_at=retry_at)

    async def record_success(self, permit: Permit) -> None:
        await self._record(permit, "1", 0)

    async def record_failure(self, permit: Permit, error: ProviderError) -> None:
        """A failed call. Errors about the request itself (bad request, filtered, too long) are not
        the provider's fault and count as a success; a 429 with Retry-After opens the breaker."""
        if isinstance(error, _NOT_PROVIDER_FAULTS):
            await self._record(permit, "1", 0)
            return
        retry_until = 0
        if isinstance(error, ProviderRateLimited) and error.retry_after:
            retry_after = min(error.retry_after, self.settings.max_open_s)
            retry_until = round((self._clock() + retry_after) * 1000)
        await self._record(permit, "0", retry_until)

    async def release(self, permit: Permit) -> None:
        """The call ended without a verdict (the user left): free its probe slot, if it had one."""
        if permit.probe_slot >= 0:
            await self._record(permit, "-", 0)

    async def snapshot(self, targets: Iterable[tuple[str, str]] = ()) -> list[BreakerStatus]:
        """Every breaker used so far plus ``targets`` (provider, model), for ``/readyz``."""
        now = self._clock()
        now_ms = round(now * 1000)
        statuses = []
        for target in sorted({*self._local, *self._views, *targets}):
            state, open_until, requests, failures = await self._status(target, now_ms)
            if state == _OPEN and open_until <= now_ms:
                state = _HALF_OPEN  # the next call will probe
            statuses.append(
                BreakerStatus(
                    provider=target[0],
                    model=target[1],
                    state=_STATE_NAMES[state],
                    requests=requests,
                    failures=failures,
                    open_until=open_until / 1000 if state == _OPEN else None,
                )
            )
        return statuses

    async def _record(self, permit: Permit, outcome: str, retry_until: int) -> None:
        target = (permit.provider, permit.model)
        now_ms = round(self._clock() * 1000)
        got = await self._shared.run(
            lambda redis: self._record_shared(redis, target, now_ms, outcome, retry_until, permit),
            lambda: self._breaker(target).record(
                now_ms, outcome, self.settings, retry_until, permit.probe_slot, permit.probe_lease
            ),
        )
        self._remember(target, got.state, got.open_until)
        fields: dict[str, Any] = {"provider": permit.provider, "model": permit.model}
        extended = retry_until > 0 and got.open_until == retry_until
        if got.state == _OPEN and (got.previous != _OPEN or extended):
            reason = "rate_limited" if extended else "failure_rate"
            if not extended and got.previous == _HALF_OPEN:
                reason = "probe_failed"
            log.warning(
                "breaker.opened",
                **fields,
                reason=reason,
                requests=got.requests,
                failures=got.failures,
                open_for_s=round((got.open_until - now_ms) / 1000, 1),
            )
        elif got.state == _CLOSED and got.previous != _CLOSED:
            log.info("breaker.closed", **fields)

    def _remember(self, target: tuple[str, str], state: int, open_until_ms: int) -> None:
        self._views[target] = _View(state, open_until_ms / 1000, self._monotonic())

    def _breaker(self, target: tuple[str, str]) -> _LocalBreaker:
        breaker = self._local.get(target)
        if breaker is None:
            breaker = self._local[target] = _LocalBreaker()
        return breaker

    async def _status(self, target: tuple[str, str], now_ms: int) -> tuple[int, int, int, int]:
        async def shared(redis: Redis) -> tuple[int, int, int, int]:
            state, open_until, requests, failures = map(
                int, await _STATUS(redis, [self._key(target)], self._args(now_ms))
            )
            return state, open_until, requests, failures

        def local() -> tuple[int, int, int, int]:
            breaker = self._breaker(target)
            requests, failures = breaker.totals(
                now_ms, _bucket_ms(self.settings), _bucket_count(self.settings)
            )
            return breaker.state, breaker.open_until, requests, failures

        return await self._shared.run(shared, local)

    def _args(self, now_ms: int) -> list[str | int | float]:
        return [now_ms, _bucket_ms(self.settings), _bucket_count(self.settings)]

    async def _acquire_shared(self, redis: Redis, target: tuple[str, str], now_ms: int) -> _Acquired:
        s = self.settings
        args = [*self._args(now_ms), s.half_open_probes, round(s.probe_ttl_s * 1000), self._key_ttl_ms]
        return _Acquired(*map(int, await _ACQUIRE(redis, [self._key(target)], args)))

    async def _record_shared(
        self,
        redis: Redis,
        target: tuple[str, str],
        now_ms: int,
        outcome: str,
        retry_until: int,
        permit: Permit,
    ) -> _Recorded:
        s = self.settings
        args = [
            *self._args(now_ms),
            outcome,
            s.min_requests,
            repr(s.failure_rate),
            round(s.open_s * 1000),
            retry_until,
            permit.probe_slot,
            permit.probe_lease,
            self._key_ttl_ms,
        ]
        return _Recorded(*map(int, await _RECORD(redis, [self._key(target)], args)))

    def _key(self, target: tuple[str, str]) -> str:
        return self._shared.key("breaker", *target)


def _bucket_ms(settings: BreakerSettings) -> int:
    return max(1, round(settings.bucket_s * 1000))


def _bucket_count(settings: BreakerSettings) -> int:
    return max(1, round(settings.window_s / settings.bucket_s))
