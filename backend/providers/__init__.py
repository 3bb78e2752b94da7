"""Providers: the streaming interface, its events and errors, and a factory from configuration."""

from __future__ import annotations

from margin.providers.base import (
    ChatMessage,
    ContentFiltered,
    ContextTooLong,
    Finish,
    Provider,
    ProviderBadRequest,
    ProviderError,
    ProviderEvent,
    ProviderRateLimited,
    ProviderRequest,
    ProviderTimeout,
    ProviderUnavailable,
    TextDelta,
    Usage,
)
from margin.providers.settings import ProviderSettings


def build_provider(name: str, settings: ProviderSettings) -> Provider:
    """The provider for ``settings.kind``; SDKs are imported only for the kinds in use."""
    if settings.kind == "offline":
        from margin.providers.offline import OfflineProvider

        return OfflineProvider(name, settings)
    if settings.kind == "anthropic":
        from margin.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(name, settings)
    from margin.providers.openai_provider import OpenAIProvider

    return OpenAIProvider(name, settings)


__all__ = [
    "ChatMessage",
    "ContentFiltered",
    "ContextTooLong",
    "Finish",
    "Provider",
    "ProviderBadRequest",
    "ProviderError",
    "ProviderEvent",
    "ProviderRateLimited",
    "ProviderRequest",
    "ProviderTimeout",
    "ProviderUnavailable",
    "TextDelta",
    "Usage",
    "build_provider",
]
