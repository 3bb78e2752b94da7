"""The composition root's parts, built once from Settings and shared by every request."""

from __future__ import annotations

from pathlib import Path

import structlog

from margin.adapters import Adapter
from margin.adapters.registry import build_adapter
from margin.adapters.routing import RecordTypeRouter
from margin.config import Settings
from margin.features.runner import FeatureRunner
from margin.feedback import FeedbackStore
from margin.interactions import InteractionStore
from margin.providers import Provider, build_provider

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
        self.runner = FeatureRunner(self.providers, settings.providers, self.store)

    def adapter_for(self, tenant: str) -> RecordTypeRouter:
        return self.tenant_adapters[tenant]

    async def start(self) -> None:
        if self.settings.mode == "demo":
            from margin.demo import ensure_demo_crm

            ensure_demo_crm(self.settings.data_dir)
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
        )

    async def stop(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        for adapter in self.adapters.values():
            await adapter.aclose()
        await self.store.close()
        await self.feedback.close()
