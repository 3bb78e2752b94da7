"""In-process single flight: concurrent identical requests share one producer, and all stream it.

The producer runs in its own task, so one subscriber leaving (a closed browser tab) does not
stop the others; it is cancelled only when every subscriber has left. Each subscriber gets
every item from the first, then live ones; a producer's exception reaches every subscriber.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Subscription(Generic[T]):
    """``leader``: this subscriber started the producer (bill its usage once, to the leader)."""

    leader: bool
    events: AsyncGenerator[T, None]


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.items: list[T] = []
        self.done = False
        self.error: BaseException | None = None
        self.subscribers = 0
        self.task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()
        self.waiting = 0
        """Subscribers asleep on ``changed``. With none, an item needs no wake-up: every token
        passes here, and a fresh Event per token was a measurable share of the relay's time."""

    def notify(self) -> None:
        if self.waiting:
            self.changed.set()
            self.changed = asyncio.Event()


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[str, _Flight[T]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def join(self, key: str, produce: Callable[[], AsyncIterator[T]]) -> Subscription[T]:
        """Subscribe to ``key``'s flight, starting ``produce()`` if none is under way.

        Iterate (or ``aclose``) the subscription's ``events``: the subscriber counts from now.
        """
        flight = self._flights.get(key)
        leader = flight is None
        if flight is None:
            flight = self._flights[key] = _Flight()
            flight.task = asyncio.create_task(self._produce(key, flight, produce))
        flight.subscribers += 1
        return Subscription(leader, self._follow(flight))

    async def _produce(self, key: str, flight: _Flight[T], produce: Callable[[], AsyncIterator[T]]) -> None:
        try:
            stream = produce()
            if isinstance(stream, AsyncGenerator):
                async with aclosing(stream):
                    await self._collect(flight, stream)
            else:
                await self._collect(flight, stream)
        except Exception as exc:
            flight.error = exc
        finally:
            flight.done = True
            if self._flights.get(key) is flight:
                del self._flights[key]
            flight.notify()

    @staticmethod
    async def _collect(flight: _Flight[T], stream: AsyncIterator[T]) -> None:
        async for item in stream:
            flight.items.append(item)
            flight.notify()

    async def _follow(self, flight: _Flight[T]) -> AsyncGenerator[T, None]:
        position = 0
        try:
            while True:
                changed = flight.changed  # taken before reading, so no wake-up is missed
                while position < len(flight.items):
                    position += 1
                    yield flight.items[position - 1]
                if flight.done:
                    if flight.error is not None:
                        raise flight.error
                    return
                flight.waiting += 1
                try:
                    await changed.wait()
                finally:
                    flight.waiting -= 1
        finally:
            flight.subscribers -= 1
            if flight.subscribers == 0 and not flight.done and flight.task is not None:
                flight.task.cancel()
