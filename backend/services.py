"""The composition root's parts, built once from Settings and shared by every request."""

from __future__ import annotations

from pathlib import Path

import structlog

from margin.adapters import Adapter
from margin.adapters.registry import build_adapter
from margin.adapters.routing import RecordTypeRouter
from margin.config import Settings
from margin.features.admission import Admission
from margin.features.answers import AnswerSource
from margin.features.router import ProviderRouter
from margin.features.runner import FeatureRunner
from margin.feedback import FeedbackStore
from margin.interactions import InteractionStore
from margin.providers import Provider, build_provider
from margin.resilience.breaker import Breakers
from margin.resilience.cache import ResponseCache
from margin.resilience.limits import Limits
from margin.resilience.pricing import Pricing
from margin.resilience.sensitive import SensitiveDetector
from margin.resilience.shared_state import SharedState

log = structlog.get_logger("margin.app")


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.providers: dict[str, Provider] = {
            name: build_provider(name, provider) for name, provider in settings.providers.items()
        }
        self.adapters: dict[str, Adapter] = {
            name: build_adapter(name, section) for name, section in settings.adapters.items()
        }
        self.tenant_adapters = {
            tenant: RecordTypeRouter([(name, self.adapters[name]) for name in config.adapters])
            for tenant, config in settings.tenants.items()
        }
        self.store = InteractionStore(Path(settings.data_dir) / "margin.db")
        self.feedback = FeedbackStore(Path(settings.data_dir) / "margin.db")
        resilience = settings.resilience
        self.shared = SharedState(settings.redis_url, resilience.redis)
        self.breakers = Breakers(resilience.breaker, self.shared)
        self.limits = Limits(resilience.limits, self.shared)
        detector = SensitiveDetector(resilience.sensitive)
        pricing = Pricing(settings.providers)
        self.admission = Admission(settings, detector, self.limits, pricing)
        answers = AnswerSource(
            ProviderRouter(settings, self.breakers), ResponseCache(resilience.cache, self.shared)
        )
        self.runner = FeatureRunner(self.providers, answers, detector, self.limits, pricing, self.store)

    def adapter_for(self, tenant: str) -> RecordTypeRouter:
        return self.tenant_adapters[tenant]

    async def start(self) -> None:
        if self.settings.mode == "demo":
            from margin.demo import ensure_demo_crm

            ensure_demo_crm(self.settings.data_dir)
        await self.shared.run(lambda redis: redis.ping(), lambda: None)  # one warning now if it is down
        await self.store.open()
        await self.feedback.open()
        for adapter in self.adapters.values():
            await adapter.start()
        for router in self.tenant_adapters.values():
            await router.load()
        log.info(
            "margin.started",
            mode=self.settings.mode,
            providers=sorted(self.providers),
            adapters=sorted(self.adapters),
            chains=self.settings.chains,
            shared_state=self.shared.status().mode,
        )

    async def stop(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        for adapter in self.adapters.values():
            await adapter.aclose()
        await self.store.close()
        await self.feedback.close()
        await self.shared.aclose()
