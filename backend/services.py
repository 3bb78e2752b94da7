"""The composition root's parts, built once from Settings and shared by every request."""

from __future__ import annotations

import gc
from pathlib import Path

import structlog

from margin.adapters import Adapter
from margin.adapters.registry import build_adapter
from margin.adapters.routing import RecordTypeRouter
from margin.config import Settings
from margin.features.admission import Admission
from margin.features.answers import AnswerSource
from margin.features.pipeline import Pipeline
from margin.features.registry import FeatureRegistry
from margin.features.router import ProviderRouter
from margin.features.variants import DefaultVariants
from margin.feedback import FeedbackStore
from margin.interactions import InteractionStore
from margin.plugins import Plugin
from margin.providers import Provider, build_provider
from margin.resilience.breaker import Breakers
from margin.resilience.cache import ResponseCache
from margin.resilience.limits import Limits
from margin.resilience.pricing import Pricing
from margin.resilience.sensitive import SensitiveDetector
from margin.resilience.shared_state import SharedState

log = structlog.get_logger("margin.app")


class Services:
    def __init__(self, settings: Settings, plugins: list[Plugin]) -> None:
        self.settings = settings
        self.plugins = plugins
        self.features = FeatureRegistry.load(settings.features)
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
        answers = AnswerSource(
            ProviderRouter(settings, self.breakers), ResponseCache(resilience.cache, self.shared)
        )
        self.pipeline = Pipeline(
            providers=self.providers,
            adapters=self.tenant_adapters,
            variants=DefaultVariants(settings),
            admission=Admission(settings, detector, self.limits, pricing),
            answers=answers,
            detector=detector,
            limits=self.limits,
            pricing=pricing,
            store=self.store,
        )

    async def start(self) -> None:
        """Open everything; if any part fails, close what was opened before raising, so a failed
        start-up leaves no thread behind that would keep the process alive."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        for plugin in self.plugins:
            await plugin.start(self.settings)
        await self.shared.run(lambda redis: redis.ping(), lambda: None)  # one warning now if it is down
        await self.store.open()
        await self.feedback.open()
        for adapter in self.adapters.values():
            await adapter.start()
        for router in self.tenant_adapters.values():
            await router.load()
        # Everything built so far lives as long as the process: keep it out of every later GC pass.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 50)  # per-token objects die young: collect them in larger batches
        log.info(
            "margin.started",
            plugins=self.settings.plugins,
            features=list(self.features.names()),
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
