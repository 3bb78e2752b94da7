"""Time limits on a provider's event stream: first token, silence between tokens, whole answer.

This sits on the hot path (every token passes through), so there is no timer per event: one
watchdog timer per stream reads the current deadline when it fires, and sleeps again if the
deadline moved on in the meantime. Per event, only a clock read and two assignments.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from margin.providers.base import (
    WAITING_FOR_CAPACITY,
    CapacityTimeout,
    ProviderEvent,
    ProviderTimeout,
    TextDelta,
)
from margin.resilience.config import ProviderTimeouts


class _Watchdog:
    """Cancels ``task`` once ``deadline`` passes while it waits on the provider."""

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[object], deadline: float) -> None:
        self.loop = loop
        self.task = task
        self.deadline = deadline
        self.waiting = False
        self.fired = False
        self._handle: asyncio.TimerHandle | None = None

    def arm(self, task: asyncio.Task[object]) -> None:
        """``task`` starts waiting on the provider (``deadline`` is already its limit). The task
        may change between waits: a shared answer moves to a task of its own mid-stream."""
        self.task = task
        self.waiting = True
        if self._handle is None:
            self._handle = self.loop.call_at(self.deadline, self._check)

    def _check(self) -> None:
        self._handle = None
        if not self.waiting:
            return  # the consumer has an event; the next wait arms the timer again
        if self.loop.time() >= self.deadline:
            self.fired = True
            self.task.cancel()
        else:  # the deadline moved on since the timer was set
            self._handle = self.loop.call_at(self.deadline, self._check)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


async def with_timeouts(
    stream: AsyncGenerator[ProviderEvent, None], timeouts: ProviderTimeouts, *, provider: str
) -> AsyncGenerator[ProviderEvent, None]:
    """``stream``'s events; ProviderTimeout when a limit passes, and ``stream`` is closed at once.

    The idle clock runs only while waiting on the provider, not while the consumer handles an
    event, so a slow client never looks like a slow provider.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("with_timeouts must run inside a task")
    started = loop.time()
    total_deadline = started + timeouts.total_s
    limit = "ttft" if timeouts.ttft_s < timeouts.total_s else "total"
    watchdog = _Watchdog(loop, task, min(started + timeouts.ttft_s, total_deadline))
    try:
        while True:
            task = asyncio.current_task(loop) or task  # with the loop given: no getpid() per event
            watchdog.arm(task)
            try:
                event = await anext(stream)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if watchdog.fired and task.uncancel() == 0:
                    raise _timeout(limit, timeouts, provider) from None
                raise
            finally:
                watchdog.waiting = False
            if watchdog.fired:  # it fired as the event arrived: the cancellation is still pending
                task.uncancel()
                raise _timeout(limit, timeouts, provider)
            if limit == "ttft" and isinstance(event, TextDelta):
                limit = "idle"
            yield event
            if limit == "idle":
                deadline = loop.time() + timeouts.idle_s
                limit, watchdog.deadline = (
                    ("idle", deadline) if deadline < total_deadline else ("total", total_deadline)
                )
    finally:
        watchdog.cancel()
        await stream.aclose()


def _timeout(limit: str, timeouts: ProviderTimeouts, provider: str) -> ProviderTimeout:
    """The limit passed; if the call was still waiting for Margin's own connection pool, the
    provider was never asked, so it is no fault of the provider's."""
    message = _MESSAGES[limit].format(timeouts=timeouts)
    if WAITING_FOR_CAPACITY.get():
        WAITING_FOR_CAPACITY.set(False)
        return CapacityTimeout(f"{message}, waiting for a free connection of Margin's", provider=provider)
    return ProviderTimeout(message, provider=provider)


_MESSAGES = {
    "ttft": "no first token within {timeouts.ttft_s:g} s",
    "idle": "no new token for {timeouts.idle_s:g} s",
    "total": "answer not complete within {timeouts.total_s:g} s",
}
