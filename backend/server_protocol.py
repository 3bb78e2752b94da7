"""uvicorn's httptools protocol with a time limit on reading each request.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but waits forever for a
client that sends half a request: headers that never end, or a body shorter than its
``Content-Length``. Here every request — from its first byte, or from the connection's start —
must arrive whole within ``request_timeout_s``, else the connection is closed (the app, if it
was already waiting for the body, sees a disconnect). Streaming the response is not limited.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TimedHttpToolsProtocol(HttpToolsProtocol):
    request_timeout_s: float = 10.0
    _request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_request_timer()

    def data_received(self, data: bytes) -> None:
        if self._request_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._start_request_timer()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)

    def on_message_complete(self) -> None:
        self._stop_request_timer()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_request_timer()
        super().connection_lost(exc)

    def _start_request_timer(self) -> None:
        self._request_timer = self.loop.call_later(self.request_timeout_s, self._request_timed_out)

    def _stop_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_timed_out(self) -> None:
        self._request_timer = None
        if not self.transport.is_closing():
            self.logger.info("Closing a connection that did not send a whole request in time.")
            self.transport.close()


def timed_protocol(request_timeout_s: float) -> type[TimedHttpToolsProtocol]:
    """The protocol class uvicorn builds per connection, with this time limit."""
    return type("TimedHttpToolsProtocol", (TimedHttpToolsProtocol,), {"request_timeout_s": request_timeout_s})
