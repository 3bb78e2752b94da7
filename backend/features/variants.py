"""The variant seam: which configuration answers a feature for a given tenant and user.

A variant names the provider chain and the prompt version. Today every request gets its
feature's single default (``control``, the configured chain, the feature's prompt); the rollout
work (``margin.migration``) plugs a different :class:`VariantAssigner` in here. The variant's
name reaches the ``meta`` event, the interaction record and the log line.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from margin.adapters import User
from margin.config import Settings
from margin.features.base import Feature

CONTROL = "control"


class Variant(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    chain: tuple[str, ...]
    """Provider names, tried in order."""
    prompt_version: str


class VariantAssigner(Protocol):
    async def assign(self, feature: Feature, user: User) -> Variant: ...


class DefaultVariants:
    """Every request gets ``control``: the configured chain and the feature's default prompt."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cache: dict[tuple[str, str], Variant] = {}

    async def assign(self, feature: Feature, user: User) -> Variant:
        key = (feature.name, user.tenant)
        variant = self._cache.get(key)
        if variant is None:
            chain = tuple(self._settings.chain_for(feature.name, user.tenant))
            variant = self._cache[key] = Variant(name=CONTROL, chain=chain, prompt_version=feature.prompt)
        return variant
