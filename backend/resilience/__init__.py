"""Resilience building blocks for the request path.

Each module has one job: ``shared_state`` (Redis or in-process), ``breaker`` (circuit
breakers), ``limits`` and ``pricing`` (rate limits and budgets), ``cache`` and ``singleflight``
(response cache), ``sensitive`` and ``routing`` (sensitive-data detection and routing),
``timeouts`` and ``retry`` (provider time limits and backoff), ``config`` (their settings).
"""

from __future__ import annotations

from margin.resilience.breaker import Breakers, BreakerStatus, Permit
from margin.resilience.cache import CachedAnswer, Claim, ResponseCache, cache_key, replay
from margin.resilience.config import ProviderTimeouts, ResilienceSettings
from margin.resilience.limits import LimitDecision, Limits, Reservation
from margin.resilience.pricing import Pricing, estimate_tokens
from margin.resilience.retry import Backoff
from margin.resilience.routing import Route, SensitiveDataBlocked, route
from margin.resilience.sensitive import Redaction, SensitiveDetector, Sensitivity, StreamRestorer
from margin.resilience.shared_state import SharedState, SharedStatus
from margin.resilience.singleflight import SingleFlight, Subscription
from margin.resilience.timeouts import with_timeouts

__all__ = [
    "Backoff",
    "BreakerStatus",
    "Breakers",
    "CachedAnswer",
    "Claim",
    "LimitDecision",
    "Limits",
    "Permit",
    "Pricing",
    "ProviderTimeouts",
    "Redaction",
    "Reservation",
    "ResilienceSettings",
    "ResponseCache",
    "Route",
    "SensitiveDataBlocked",
    "SensitiveDetector",
    "Sensitivity",
    "SharedState",
    "SharedStatus",
    "SingleFlight",
    "StreamRestorer",
    "Subscription",
    "cache_key",
    "estimate_tokens",
    "replay",
    "route",
    "with_timeouts",
]
