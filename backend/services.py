"""The composition root's parts, built once from Settings and shared by every request."""

from __future__ import annotations

from pathlib import Path

import structlog

from margin.adapters import Adapter
from margin.config import Settings
from margin.demo_records import DemoAdapter
from margin.features.runner import FeatureRunner
from margin.interactions import InteractionStore
from margin.providers import Provider, build_provider

log = structlog.get_logger("margin.app")


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.providers: dict[str, Provider] = {
            name: build_provider(name, provider) for name, provider in settings.providers.items()
        }
        self.adapter: Adapter = DemoAdapter()
        self.store = InteractionStore(Path(settings.data_dir) / "margin.db")
        self.runner = FeatureRunner(self.providers, settings.providers, self.store)

    async def start(self) -> None:
        await self.store.open()
        log.info(
            "margin.started",
            mode=self.settings.mode,
            providers=sorted(self.providers),
            chains=self.settings.chains,
        )

    async def stop(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        await self.store.close()
