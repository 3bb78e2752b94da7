"""In-process single flight: concurrent identical requests share one producer, and all stream it.

The first subscriber (the leader) runs the producer inline, in its own task: a request alone
costs no extra task and no hop per item. When a second subscriber joins, the leader moves the
rest of the production into a task of its own at its next item, so one subscriber leaving (a
closed browser tab) does not stop the others; that task is cancelled only when every
subscriber has left. Each subscriber gets every item from the first, then live ones; a
producer's exception reaches every subscriber. If the leader leaves while a follower joined
but before the hand-over, the followers get :class:`FlightAbandoned` and start again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class FlightAbandoned(Exception):
    """The leader left before handing its producer over; nobody is producing any more."""


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
        self.subscribers = 1
        self.shared = False
        """A follower joined: the leader hands production to ``task`` at its next item."""
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
        if flight is None:
            flight = self._flights[key] = _Flight()
            return Subscription(True, self._lead(key, flight, produce))
        flight.subscribers += 1
        flight.shared = True
        return Subscription(False, self._follow(flight, 0))

    def _end(self, key: str, flight: _Flight[T], error: BaseException | None = None) -> None:
        flight.done = True
        flight.error = error
        if self._flights.get(key) is flight:
            del self._flights[key]
        flight.notify()

    async def _lead(
        self, key: str, flight: _Flight[T], produce: Callable[[], AsyncIterator[T]]
    ) -> AsyncGenerator[T, None]:
        stream = produce()
        try:
            while not flight.shared:
                try:
                    item = await anext(stream)
                except StopAsyncIteration:
                    self._end(key, flight)
                    return
                flight.items.append(item)
                flight.notify()
                yield item
        except Exception as exc:
            self._end(key, flight, exc)
            await _close(stream)
            raise
        except BaseException:  # the leader left (cancelled or closed) before handing over
            self._end(key, flight, FlightAbandoned())
            await _close(stream)
            raise
        flight.task = asyncio.get_running_loop().create_task(self._produce(key, flight, stream))
        async for item in self._follow(flight, len(flight.items)):
            yield item

    async def _produce(self, key: str, flight: _Flight[T], stream: AsyncIterator[T]) -> None:
        try:
            async for item in stream:
                flight.items.append(item)
                flight.notify()
        except Exception as exc:
            self._end(key, flight, exc)
        except BaseException:
            self._end(key, flight, FlightAbandoned())
            raise
        else:
            self._end(key, flight)
        finally:
            await _close(stream)

    async def _follow(self, flight: _Flight[T], position: int) -> AsyncGenerator[T, None]:
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


async def _close(stream: AsyncIterator[object]) -> None:
    if isinstance(stream, AsyncGenerator):
        await stream.aclose()
