"""When to retry a provider: before its first token only, with backoff, inside one budget."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from margin.providers.base import ProviderError, ProviderRateLimited, ProviderUnavailable
from margin.resilience.config import RetrySettings

_RETRYABLE = (ProviderUnavailable, ProviderRateLimited)
"""Transient failures. A timeout already spent its wait: the chain moves on instead."""


class Backoff:
    """Retry delays of one request; make one per request (its budget starts at construction)."""

    def __init__(
        self,
        settings: RetrySettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._rng = rng
        self._started = clock()

    def remaining_s(self) -> float:
        return max(0.0, self.settings.budget_s - (self._clock() - self._started))

    def delay(self, error: ProviderError, *, attempts: int, produced: bool) -> float | None:
        """Seconds to wait before attempt ``attempts + 1`` at the same provider, or None: move on.

        Full jitter over an exponential ceiling, never less than the provider's Retry-After;
        None after output (a retry would repeat text), for errors a retry cannot fix, when the
        attempts are used up, or when the wait would not fit in the request's budget.
        """
        s = self.settings
        if produced or not isinstance(error, _RETRYABLE) or attempts >= s.max_attempts:
            return None
        ceiling = min(s.max_delay_s, s.base_delay_s * 2 ** (attempts - 1))
        wait = max(self._rng() * ceiling, error.retry_after or 0.0)
        return wait if wait < self.remaining_s() else None
