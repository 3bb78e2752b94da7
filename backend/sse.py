"""Server-sent events: encoding feature events and keeping idle streams alive.

This is the hot path, so events are encoded straight to bytes with msgspec (one
``id:``/``event:``/``data:`` frame each) and handed to Litestar's ``Stream`` response.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import msgspec

from margin.events import FeatureEvent

HEARTBEAT = b": heartbeat\n\n"
_QUEUE_SIZE = 256  # frames encoded ahead of the client; a slow client makes the pump wait
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_encoder = msgspec.json.Encoder()
_EVENT_NAMES: dict[type, bytes] = {}


def encode_event(event_id: int, event: FeatureEvent) -> bytes:
    """One SSE frame. The ``data:`` payload is the event as JSON (its ``type`` tag included)."""
    cls = type(event)
    name = _EVENT_NAMES.get(cls)
    if name is None:
        name = _EVENT_NAMES[cls] = str(cls.__struct_config__.tag).encode()
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, name, _encoder.encode(event))


async def sse_frames(events: AsyncGenerator[FeatureEvent, None], heartbeat_s: float) -> AsyncIterator[bytes]:
    """Encode ``events`` as SSE frames, adding a heartbeat comment after each silence of ``heartbeat_s``.

    A pump task encodes events into a small queue; each chunk sent to the client carries every
    frame ready at that moment, so fast streams need fewer writes. The heartbeat is one timer
    per stream, not one per event. Closing or cancelling this generator (a client disconnect)
    cancels the pump, which closes ``events`` and with it the upstream provider call.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=_QUEUE_SIZE)
    last_sent = loop.time()

    async def pump() -> None:
        nonlocal last_sent
        event_id = 0
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    event_id += 1
                    await queue.put(encode_event(event_id, event))
                    last_sent = loop.time()
        except Exception as exc:  # handed to the consumer, which re-raises it in the response task
            await queue.put(exc)
            return
        await queue.put(None)

    timer: asyncio.TimerHandle | None = None

    def beat() -> None:
        nonlocal timer, last_sent
        if loop.time() - last_sent >= heartbeat_s and not queue.full():
            queue.put_nowait(HEARTBEAT)
            last_sent = loop.time()
        timer = loop.call_at(last_sent + heartbeat_s, beat)

    task = loop.create_task(pump())
    timer = loop.call_at(last_sent + heartbeat_s, beat)
    try:
        while True:
            frames: list[bytes] = []
            item = await queue.get()
            while isinstance(item, bytes):
                frames.append(item)
                if queue.empty():
                    break
                item = queue.get_nowait()
            if frames:
                yield b"".join(frames)
            if isinstance(item, BaseException):
                raise item
            if item is None:
                return
    finally:
        if timer is not None:
            timer.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
