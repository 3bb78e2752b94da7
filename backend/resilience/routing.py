"""Which providers of a chain may see a request, given its sensitivity.

Sensitive data goes only to providers marked ``local`` (the self-hosted model, the offline
provider), whatever the configured chain says; with a tenant policy of ``redact``, cloud
providers stay in the chain but must get the redacted request. No provider left: the request
fails closed with :class:`SensitiveDataBlocked`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from margin.providers.base import ProviderError
from margin.resilience.sensitive import Sensitivity


class RouteCandidate(Protocol):
    """What routing reads of a provider (every ``Provider`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def local(self) -> bool: ...


P = TypeVar("P", bound=RouteCandidate)


class SensitiveDataBlocked(ProviderError):
    """Sensitive data and no local provider to take it: fail closed (the widget shows the message)."""

    code = "sensitive_data"
    status = 503
    user_message = (
        "This record contains sensitive data, and no in-house AI model is available to process it "
        "right now. Nothing was sent to an external AI provider."
    )


@dataclass(frozen=True)
class Route(Generic[P]):
    """The chain a request may walk, and what to record about the decision."""

    providers: tuple[P, ...]
    sensitivity: Sensitivity
    redacted: frozenset[str] = frozenset()
    """Names of providers that must get the redacted request (cloud providers under ``redact``)."""
    excluded: tuple[str, ...] = ()
    """Names of providers left out because the data is sensitive."""

    def needs_redaction(self, provider: P) -> bool:
        return provider.name in self.redacted

    def log_fields(self) -> dict[str, Any]:
        """For the interaction log line and record: reason codes and names, never values."""
        return {
            "sensitive": self.sensitivity.sensitive,
            "sensitive_reasons": list(self.sensitivity.reasons),
            "redacted_for": sorted(self.redacted),
            "excluded_providers": list(self.excluded),
        }


def route(chain: Sequence[P], sensitivity: Sensitivity) -> Route[P]:
    """The allowed part of ``chain``, in order; raises SensitiveDataBlocked when nothing is left."""
    if not sensitivity.sensitive:
        return Route(tuple(chain), sensitivity)
    cloud = [provider.name for provider in chain if not provider.local]
    if sensitivity.redactable:
        return Route(tuple(chain), sensitivity, redacted=frozenset(cloud))
    allowed = tuple(provider for provider in chain if provider.local)
    if not allowed:
        reasons = ", ".join(sensitivity.reasons)
        raise SensitiveDataBlocked(
            f"sensitive data ({reasons}) and no local provider in the chain ({', '.join(cloud)})"
        )
    return Route(allowed, sensitivity, excluded=tuple(cloud))
