"""Configuration for the resilience layer: Redis, breakers, limits, cache, sensitive data, timeouts.

Every Struct has working defaults, so ``ResilienceSettings()`` is a valid embedded setup. This
module imports nothing from ``margin.config`` so that ``margin.config`` can import it.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Seconds = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeSeconds = Annotated[float, msgspec.Meta(ge=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
Fraction = Annotated[float, msgspec.Meta(gt=0, le=1)]
Usd = Annotated[float, msgspec.Meta(gt=0)]
SocketSeconds = Annotated[float, msgspec.Meta(gt=0, le=0.1)]
"""Redis socket timeouts: at most 100 ms, so a slow Redis cannot stall a request."""

SensitiveKind = Literal["email", "phone", "card", "iban", "us_ssn", "uk_nino", "ca_sin"]
SENSITIVE_KINDS: tuple[SensitiveKind, ...] = ("email", "phone", "card", "iban", "us_ssn", "uk_nino", "ca_sin")


class RedisSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How Margin talks to Redis; the URL itself lives on ``Settings`` (none: all in-process)."""

    connect_timeout_s: SocketSeconds = 0.1
    socket_timeout_s: SocketSeconds = 0.1
    recovery_interval_s: Seconds = 2.0
    """While Redis is down, one background ping every this many seconds looks for its return."""
    key_prefix: str = "margin:"
    max_connections: PositiveInt = 16
    """Calls take well under a millisecond, so a few connections carry a lot; a burst of new
    connections on a busy process is what trips the connect timeout. Callers beyond this wait
    for a connection; a slow Redis cannot make them wait long: the first call to time out marks
    it down, and the waiting calls then go in-process."""


class BreakerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Circuit breakers per provider and model."""

    window_s: Seconds = 60.0
    bucket_s: Seconds = 5.0
    """The sliding window is made of buckets this long; ``window_s / bucket_s`` buckets (at most 120)."""
    min_requests: PositiveInt = 10
    failure_rate: Fraction = 0.5
    open_s: Seconds = 30.0
    """How long a breaker stays open after tripping on the failure rate, before a half-open probe."""
    max_open_s: Seconds = 300.0
    """Cap on a provider's Retry-After."""
    half_open_probes: PositiveInt = 1
    probe_ttl_s: Seconds = 120.0
    """A probe that never reports back (crashed replica) frees its slot after this long."""
    cache_s: NonNegativeSeconds = 1.0
    """With Redis, a replica trusts its last view of a closed breaker this long (0: always ask)."""

    def __post_init__(self) -> None:
        if self.bucket_s > self.window_s:
            raise ValueError("bucket_s must not exceed window_s")
        if self.window_s / self.bucket_s > 120:
            raise ValueError("window_s / bucket_s must be at most 120 buckets")


class Quota(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Limits for one user or one tenant; ``None`` switches a limit off."""

    requests_per_minute: PositiveInt | None = None
    tokens_per_day: PositiveInt | None = None
    tokens_per_month: PositiveInt | None = None
    usd_per_day: Usd | None = None
    usd_per_month: Usd | None = None


class TenantQuotas(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One tenant's override of the defaults; a field left out keeps the default quota."""

    per_user: Quota | None = None
    per_tenant: Quota | None = None


class LimitSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    per_user: Quota = Quota(requests_per_minute=30)
    per_tenant: Quota = Quota()
    tenants: dict[str, TenantQuotas] = {}
    chars_per_token: Annotated[float, msgspec.Meta(gt=0)] = 3.0
    """For the reservation estimate of input tokens; low on purpose (overestimates)."""


class CacheSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    ttl_s: NonNegativeSeconds = 600.0
    feature_ttl_s: dict[str, NonNegativeSeconds] = {}
    """Per feature (``summarize``, ``draft``, ``query``); 0 switches caching off for it."""
    max_entries: PositiveInt = 1000
    max_bytes: PositiveInt = 32 * 1024 * 1024
    """Bounds of the in-process cache (Redis has its own ``maxmemory``)."""
    share_sensitive: bool = False
    """Put answers built from sensitive data in the shared (Redis) cache; otherwise in-process only."""
    lock_ttl_s: Seconds = 30.0
    """Cross-replica single flight: how long one replica's claim on a key lasts at most."""
    lock_wait_s: NonNegativeSeconds = 10.0
    """How long another replica waits for the claim holder's answer before producing its own."""
    poll_s: Seconds = 0.05

    def ttl_for(self, feature: str) -> float:
        return self.feature_ttl_s.get(feature, self.ttl_s) if self.enabled else 0.0


class DataPolicy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """What a tenant's data may do. ``redact`` sends detected values to the cloud as placeholders."""

    always_sensitive: bool = False
    on_sensitive: Literal["local_only", "redact"] = "local_only"
    detect: tuple[SensitiveKind, ...] = SENSITIVE_KINDS


class SensitiveSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    default: DataPolicy = DataPolicy()
    tenants: dict[str, DataPolicy] = {}

    def policy_for(self, tenant: str) -> DataPolicy:
        return self.tenants.get(tenant, self.default)


class ProviderTimeouts(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Per provider: time to first token, longest silence between tokens, whole answer."""

    ttft_s: Seconds = 5.0
    idle_s: Seconds = 10.0
    total_s: Seconds = 120.0


class RetrySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Retries of one provider, only before its first token, inside one budget per request."""

    max_attempts: PositiveInt = 2
    """Attempts per provider, the first included (1: never retry)."""
    base_delay_s: Seconds = 0.2
    max_delay_s: Seconds = 2.0
    budget_s: Seconds = 8.0
    """All retry waits and attempts of one request must fit in this; then the chain moves on."""


class ResilienceSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    breaker: BreakerSettings = msgspec.field(default_factory=BreakerSettings)
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)
    cache: CacheSettings = msgspec.field(default_factory=CacheSettings)
    sensitive: SensitiveSettings = msgspec.field(default_factory=SensitiveSettings)
    retry: RetrySettings = msgspec.field(default_factory=RetrySettings)
    timeouts: ProviderTimeouts = ProviderTimeouts()
    """Defaults for every provider; a provider's own ``timeouts`` replace them."""
    failover: Literal["continue", "restart"] = "continue"
    """A provider failing after some text: the next one continues it, or starts over (the
    widget then clears what it showed). The offline provider always starts over."""
