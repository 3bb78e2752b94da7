"""``AdapterBase``: do-nothing defaults for the optional parts of an adapter.

An adapter must implement ``describe``, ``fetch_context`` and ``run_query`` (see
:class:`margin.adapters.Adapter`). Subclassing this class adds the optional hooks:
``start``/``aclose`` for connection pools and ``legacy`` for the host's own non-AI answer.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from margin.adapters.types import User


class NoConfig(msgspec.Struct, forbid_unknown_fields=True):
    """For adapters that take no configuration."""


class AdapterBase:
    #: The msgspec Struct that this adapter's configuration section decodes into.
    config_type: ClassVar[type[msgspec.Struct]] = NoConfig

    async def start(self) -> None:
        """Open pools or clients; called once before the first request."""

    async def aclose(self) -> None:
        """Release what ``start`` opened; called once at shutdown."""

    async def legacy(self, feature: str, request: Any, user: User) -> str | None:
        """What the host shows today without AI (the rollout control path); None if nothing."""
        return None
