"""Per-user and per-tenant request rate limits and token/cost budgets, without overshoot.

:meth:`Limits.reserve` checks every limit of the user and the tenant and, only if all pass,
takes one request slot and reserves the estimated tokens and cost, in one atomic step (a Lua
script in Redis, or plain code on the event loop in-process), so concurrent requests cannot
pass together what one could not. :meth:`Limits.settle` replaces the estimate by what was used.

Rates are sliding windows (a sorted set of request times); budgets are counters per UTC day
and month. While Redis is down, each replica counts in-process from zero.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec
from redis.asyncio import Redis

from margin.adapters.types import User
from margin.resilience.config import LimitSettings, Quota
from margin.resilience.shared_state import LuaScript, SharedState

LimitName = Literal[
    "requests_per_minute", "tokens_per_day", "tokens_per_month", "usd_per_day", "usd_per_month"
]
Scope = Literal["user", "tenant"]

_MINUTE_MS = 60_000
_DAY_MS = 86_400_000
_SWEEP_EVERY_MS = 60_000

# KEYS: one per check. ARGV[1] now (ms), ARGV[2] request id, then 4 per check:
# 'r', limit, window (ms), 0  -- a sliding window of request times (sorted set)
# 'b', limit, amount, period end (ms)  -- a budget counter for one period
# Returns {0, 0} when every check passed (and everything is taken), else {index, retry (ms)}
# of the failing check that frees up last.
_RESERVE = LuaScript(
    """
local now = tonumber(ARGV[1])
local worst, worst_retry = 0, -1
for i = 1, #KEYS do
  local base = 2 + (i - 1) * 4
  local kind, limit = ARGV[base + 1], tonumber(ARGV[base + 2])
  local x, y = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  local retry = -1
  if kind == 'r' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - x)
    if redis.call('ZCARD', KEYS[i]) >= limit then
      local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
      retry = tonumber(oldest[2]) + x - now
    end
  else
    local used = tonumber(redis.call('GET', KEYS[i]) or 0)
    if used >= limit or used + x > limit then
      retry = y - now
    end
  end
  if retry >= 0 and retry > worst_retry then
    worst, worst_retry = i, retry
  end
end
if worst > 0 then
  return {worst, worst_retry}
end
for i = 1, #KEYS do
  local base = 2 + (i - 1) * 4
  local x, y = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  if ARGV[base + 1] == 'r' then
    redis.call('ZADD', KEYS[i], now, ARGV[2])
    redis.call('PEXPIRE', KEYS[i], x)
  else
    redis.call('INCRBY', KEYS[i], x)
    redis.call('PEXPIRE', KEYS[i], y - now + 86400000)
  end
end
return {0, 0}
"""
)

# KEYS: budget counters; ARGV[1] now (ms), then per key the correction and the period end (ms).
# Counters live until a day after their period ends (relative, so a caller's clock is enough).
_SETTLE = LuaScript(
    """
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local delta = tonumber(ARGV[2 * i])
  if delta ~= 0 then
    if redis.call('INCRBY', KEYS[i], delta) < 0 then
      redis.call('SET', KEYS[i], 0)
    end
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i + 1]) - now + 86400000)
  end
end
return 0
"""
)


class BudgetHold(msgspec.Struct, frozen=True):
    """One budget counter a reservation added to: ``amount`` tokens or micro-dollars."""

    key: str
    unit: Literal["tokens", "usd"]
    amount: int
    period_end_ms: int


class Reservation(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    holds: tuple[BudgetHold, ...] = ()
    shared: bool = False


class LimitDecision(msgspec.Struct, frozen=True, kw_only=True):
    """``allowed`` with a reservation to settle, or refused with what the widget shows (HTTP 429)."""

    allowed: bool
    reservation: Reservation | None = None
    retry_after_s: int | None = None
    message: str | None = None
    scope: Scope | None = None
    limit: LimitName | None = None


class _Check(msgspec.Struct, frozen=True):
    kind: Literal["r", "b"]
    key: str
    limit: int
    x: int  # window (ms) or amount
    y: int  # period end (ms) for budgets
    scope: Scope
    name: LimitName
    shown: float  # the limit as configured, for the message


class Limits:
    """Every rate limit and budget of the process; shared through Redis when it is available."""

    def __init__(
        self, settings: LimitSettings, shared: SharedState, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self._shared = shared
        self._clock = clock
        self._local = _LocalCounters()

    async def reserve(self, user: User, *, tokens: int = 0, cost_usd: float = 0.0) -> LimitDecision:
        """Take a request slot and reserve ``tokens`` and ``cost_usd`` (upper estimates), or refuse."""
        request_id = uuid.uuid4().hex
        now_ms = round(self._clock() * 1000)
        checks = self._checks(user, now_ms, tokens, math.ceil(cost_usd * 1_000_000))
        if not self.settings.enabled or not checks:
            return LimitDecision(allowed=True, reservation=Reservation(id=request_id))
        keys = [check.key for check in checks]
        args: list[str | int | float] = [now_ms, request_id]
        for check in checks:
            args += [check.kind, check.limit, check.x, check.y]

        async def shared(redis: Redis) -> tuple[int, int, bool]:
            index, retry_ms = await _RESERVE(redis, keys, args)
            return int(index), int(retry_ms), True

        index, retry_ms, in_redis = await self._shared.run(
            shared, lambda: (*self._local.reserve(now_ms, request_id, checks), False)
        )
        if index == 0:
            holds = tuple(
                BudgetHold(c.key, "tokens" if c.name.startswith("tokens") else "usd", c.x, c.y)
                for c in checks
                if c.kind == "b"
            )
            return LimitDecision(
                allowed=True, reservation=Reservation(id=request_id, holds=holds, shared=in_redis)
            )
        check = checks[index - 1]
        retry_after = max(1, math.ceil(retry_ms / 1000))
        return LimitDecision(
            allowed=False,
            retry_after_s=retry_after,
            message=_message(check, retry_after),
            scope=check.scope,
            limit=check.name,
        )

    async def settle(self, reservation: Reservation, *, tokens: int, cost_usd: float) -> None:
        """Replace the reserved estimate by what the interaction used (0 when nothing ran)."""
        if not reservation.holds:
            return
        micros = math.ceil(cost_usd * 1_000_000)
        deltas = [(h, (tokens if h.unit == "tokens" else micros) - h.amount) for h in reservation.holds]
        keys = [hold.key for hold, _ in deltas]
        args: list[str | int | float] = [round(self._clock() * 1000)]
        for hold, delta in deltas:
            args += [delta, hold.period_end_ms]

        def local() -> None:
            self._local.settle([(hold.key, delta, hold.period_end_ms) for hold, delta in deltas])

        async def shared(redis: Redis) -> None:
            await _SETTLE(redis, keys, args)

        if reservation.shared:
            await self._shared.run(shared, local)
        else:
            local()

    def _checks(self, user: User, now_ms: int, tokens: int, micros: int) -> list[_Check]:
        overrides = self.settings.tenants.get(user.tenant)
        per_user = (overrides.per_user if overrides else None) or self.settings.per_user
        per_tenant = (overrides.per_tenant if overrides else None) or self.settings.per_tenant
        day, day_end, month, month_end = _periods(now_ms)
        checks: list[_Check] = []
        scopes: list[tuple[Scope, Quota, tuple[str, ...]]] = [
            ("user", per_user, (user.tenant, user.user_id)),
            ("tenant", per_tenant, (user.tenant,)),
        ]
        for scope, quota, ids in scopes:
            checks += self._quota_checks(scope, quota, ids, (day, day_end, month, month_end), tokens, micros)
        return checks

    def _quota_checks(
        self,
        scope: Scope,
        quota: Quota,
        ids: tuple[str, ...],
        periods: tuple[str, int, str, int],
        tokens: int,
        micros: int,
    ) -> list[_Check]:
        day, day_end, month, month_end = periods
        checks = []
        if quota.requests_per_minute is not None:
            key = self._shared.key("rate", scope, *ids)
            limit = quota.requests_per_minute
            checks.append(_Check("r", key, limit, _MINUTE_MS, 0, scope, "requests_per_minute", limit))
        budgets: list[tuple[LimitName, float | None, int, str, int]] = [
            ("tokens_per_day", quota.tokens_per_day, tokens, day, day_end),
            ("tokens_per_month", quota.tokens_per_month, tokens, month, month_end),
            ("usd_per_day", quota.usd_per_day, micros, day, day_end),
            ("usd_per_month", quota.usd_per_month, micros, month, month_end),
        ]
        for name, configured, amount, period, end in budgets:
            if configured is None:
                continue
            limit = round(configured * 1_000_000) if name.startswith("usd") else int(configured)
            key = self._shared.key("budget", name, period, scope, *ids)
            checks.append(_Check("b", key, limit, amount, end, scope, name, configured))
        return checks


class _LocalCounters:
    """The Lua scripts' counters in-process; expired keys are swept once a minute."""

    def __init__(self) -> None:
        self.rates: dict[str, deque[int]] = {}
        self.budgets: dict[str, list[int]] = {}  # key -> [used, period end (ms)]
        self._next_sweep = 0

    def reserve(self, now: int, request_id: str, checks: list[_Check]) -> tuple[int, int]:
        self._sweep(now)
        worst, worst_retry = 0, -1
        for index, check in enumerate(checks, start=1):
            retry = -1
            if check.kind == "r":
                times = self.rates.setdefault(check.key, deque())
                while times and times[0] <= now - check.x:
                    times.popleft()
                if len(times) >= check.limit:
                    retry = times[0] + check.x - now
            else:
                used = self.budgets.get(check.key, [0, 0])[0]
                if used >= check.limit or used + check.x > check.limit:
                    retry = check.y - now
            if retry >= 0 and retry > worst_retry:
                worst, worst_retry = index, retry
        if worst:
            return worst, worst_retry
        for check in checks:
            if check.kind == "r":
                self.rates[check.key].append(now)
            else:
                self.budgets.setdefault(check.key, [0, check.y])[0] += check.x
        return 0, 0

    def settle(self, deltas: list[tuple[str, int, int]]) -> None:
        for key, delta, period_end in deltas:
            entry = self.budgets.setdefault(key, [0, period_end])
            entry[0] = max(0, entry[0] + delta)

    def _sweep(self, now: int) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY_MS
        for key in [k for k, times in self.rates.items() if not times or times[-1] <= now - _MINUTE_MS]:
            del self.rates[key]
        for key in [k for k, (_, end) in self.budgets.items() if end + _DAY_MS <= now]:
            del self.budgets[key]


def _periods(now_ms: int) -> tuple[str, int, str, int]:
    """Today's and this month's ids and ends (ms), in UTC."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + timedelta(days=1)
    month_start = day_start.replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    return (
        day_start.strftime("%Y-%m-%d"),
        round(day_end.timestamp() * 1000),
        month_start.strftime("%Y-%m"),
        round(month_end.timestamp() * 1000),
    )


def _message(check: _Check, retry_after_s: int) -> str:
    who = "You have" if check.scope == "user" else "Your organisation has"
    wait = _duration(retry_after_s)
    if check.name == "requests_per_minute":
        return f"{who} reached {int(check.shown)} requests per minute; try again in {wait}."
    period = "daily" if check.name.endswith("day") else "monthly"
    if check.name.startswith("tokens"):
        return f"{who} used the {period} allowance of {int(check.shown):,} AI tokens; try again in {wait}."
    return f"{who} used the {period} AI budget of ${check.shown:,.2f}; try again in {wait}."


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} min"
    if seconds < 86_400:
        hours, minutes = divmod(math.ceil(seconds / 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = math.ceil(seconds / 86_400)
    return "1 day" if days == 1 else f"{days} days"
