"""A provider's configuration (``[providers.NAME]``), kept with the providers.

This module imports nothing from ``margin.config``, so that the config can import it and the
providers never depend on the whole configuration.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from margin.resilience.config import PositiveInt, ProviderTimeouts, Seconds

Price = Annotated[float, msgspec.Meta(ge=0)]


class ProviderSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One configured provider. ``local = true`` marks a self-hosted model fit for sensitive data."""

    kind: Literal["openai", "anthropic", "openai_compatible", "offline"]
    model: str = ""
    base_url: str | None = None
    api_key: str | None = None
    local: bool = False
    connect_timeout_s: Seconds = 5.0
    timeout_s: Seconds = 120.0
    max_tokens: PositiveInt = 1024
    input_usd_per_mtok: Price = 0.0
    output_usd_per_mtok: Price = 0.0
    pace_ms: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    timeouts: ProviderTimeouts | None = None
    """Time to first token, idle and total limits; None: ``resilience.timeouts``."""
