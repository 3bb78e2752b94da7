"""Time limits on a provider's event stream: first token, silence between tokens, whole answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from margin.providers.base import ProviderEvent, ProviderTimeout, TextDelta
from margin.resilience.config import ProviderTimeouts


async def with_timeouts(
    stream: AsyncGenerator[ProviderEvent, None], timeouts: ProviderTimeouts, *, provider: str
) -> AsyncGenerator[ProviderEvent, None]:
    """``stream``'s events; ProviderTimeout when a limit passes, and ``stream`` is closed at once.

    The idle clock runs only while waiting on the provider, not while the consumer handles an
    event, so a slow client never looks like a slow provider.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    total_deadline = started + timeouts.total_s
    first_token = False
    try:
        while True:
            if first_token:
                limit, deadline = "idle", loop.time() + timeouts.idle_s
            else:
                limit, deadline = "ttft", started + timeouts.ttft_s
            if total_deadline <= deadline:
                limit, deadline = "total", total_deadline
            scope = asyncio.timeout_at(deadline)
            try:
                async with scope:
                    event = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if not scope.expired():
                    raise
                raise ProviderTimeout(_MESSAGES[limit].format(timeouts=timeouts), provider=provider) from None
            if isinstance(event, TextDelta):
                first_token = True
            yield event
    finally:
        await stream.aclose()


_MESSAGES = {
    "ttft": "no first token within {timeouts.ttft_s:g} s",
    "idle": "no new token for {timeouts.idle_s:g} s",
    "total": "answer not complete within {timeouts.total_s:g} s",
}
