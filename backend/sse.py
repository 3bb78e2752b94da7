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

    Closing or cancelling this generator (a client disconnect) closes ``events`` too, which in
    turn closes the upstream provider call.
    """
    event_id = 0
    pending: asyncio.Future[FeatureEvent] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait((pending,), timeout=heartbeat_s)
            if not done:
                yield HEARTBEAT
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                pending = None
                return
            pending = None
            event_id += 1
            yield encode_event(event_id, event)
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        await events.aclose()
