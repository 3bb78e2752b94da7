"""Before a response starts: sensitivity, routing and limits, so a refusal keeps its HTTP status.

Sensitive data with no local provider to take it fails closed (503, ``sensitive_data``); a
request over a rate limit or budget is refused: 429, code ``quota_exceeded`` (the widget has no
wording of its own for it, so it shows the message as is), with Retry-After. An admitted
request holds a reservation, settled when the interaction ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from margin.adapters import User
from margin.config import Settings
from margin.exceptions import QuotaExceeded
from margin.providers.base import Provider, ProviderRequest
from margin.resilience.cache import cache_key
from margin.resilience.limits import Limits, Reservation
from margin.resilience.pricing import Pricing, estimate_tokens
from margin.resilience.routing import Route, SensitiveDataBlocked, route
from margin.resilience.sensitive import SensitiveDetector

log = structlog.get_logger("margin.admission")


@dataclass(frozen=True)
class Admitted:
    route: Route[Provider]
    reservation: Reservation
    cache_key: str


class Admission:
    def __init__(
        self, settings: Settings, detector: SensitiveDetector, limits: Limits, pricing: Pricing
    ) -> None:
        self._settings = settings
        self._detector = detector
        self._limits = limits
        self._pricing = pricing

    async def admit(
        self,
        feature: str,
        prompt_version: str,
        request: ProviderRequest,
        chain: Sequence[Provider],
        user: User,
    ) -> Admitted:
        """The route and the reservation; raises SensitiveDataBlocked (503) or QuotaExceeded (429)."""
        sensitivity = self._detector.assess(request, tenant=user.tenant)
        try:
            routed = route(chain, sensitivity)
        except SensitiveDataBlocked as exc:
            log.warning("request.blocked", tenant=user.tenant, feature=feature, reason=exc.message)
            raise
        names = [provider.name for provider in routed.providers]
        max_tokens = max(self._settings.providers[name].max_tokens for name in names)
        chars = self._settings.resilience.limits.chars_per_token
        input_tokens, output_tokens = estimate_tokens(request, max_tokens, chars)
        decision = await self._limits.reserve(
            user,
            tokens=input_tokens + output_tokens,
            cost_usd=self._pricing.estimate(names, input_tokens, output_tokens),
        )
        if not decision.allowed or decision.reservation is None:
            log.info(
                "request.limited",
                tenant=user.tenant,
                user_id=user.user_id,
                scope=decision.scope,
                limit=decision.limit,
                retry_after_s=decision.retry_after_s,
            )
            raise QuotaExceeded(decision.message or "Too many requests.", retry_after=decision.retry_after_s)
        key = cache_key(
            request,
            tenant=user.tenant,
            feature=feature,
            prompt_version=prompt_version,
            models=[f"{provider.name}/{provider.model}" for provider in routed.providers],
        )
        return Admitted(routed, decision.reservation, key)
