"""A lean HTTP/1.1 client for the cloud providers' streaming calls, on raw asyncio.

The official SDKs cost more CPU per streamed request than the rest of Margin's request path
together: option transformation, request building and an HTTP stack that opens a cancel scope
and pauses and resumes the socket for every read. This client does only what a streamed
completion needs: it POSTs a body encoded beforehand over a pooled keep-alive connection
(TLS through the same SSL context the SDKs use) and hands back the body's complete lines, one
batch per network read, decoding chunked transfer (and gzip or deflate, should a server
compress although asked not to).

Timeouts: ``connect_timeout`` for TCP and TLS set-up, ``read_timeout`` for each wait on the
server (the response head, then every body read). One timer per request checks the current
read's deadline, so a read costs one future and no timer.

The pool keeps at most ``max_connections`` per (scheme, host, port). A request that finds
them all busy waits for one without any time limit of its own: the wait is Margin's, not the
provider's, so it never fails as a provider error; the caller's own time limits bound it.

Failures are :class:`HTTPStreamError` subclasses (``sdk_common.typed_errors`` maps them).
A request on a reused connection that the server closed without sending a byte back (it
dropped the idle connection as the request went out) is sent again, at most twice, on
another connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Final, cast
from urllib.parse import urlsplit

from margin.providers.base import WAITING_FOR_CAPACITY

DEFAULT_MAX_CONNECTIONS: Final = 4096
"""Per (scheme, host, port): thousands of concurrent streams, each holding a connection."""
KEEPALIVE_EXPIRY_S: Final = 15.0
"""An idle pooled connection older than this is closed instead of reused (servers drop them)."""
MAX_ERROR_BODY: Final = 64 * 1024
_MAX_HEAD: Final = 64 * 1024
_HIGH_WATER: Final = 256 * 1024
_MAX_STALE_RETRIES: Final = 2
_TIMER_SLACK: Final = 0.001


class HTTPStreamError(Exception):
    """A transport failure; the message names the cause, never any request or response text."""


class ConnectFailed(HTTPStreamError):
    """The TCP or TLS connection could not be opened."""


class ConnectTimeout(HTTPStreamError):
    """The TCP or TLS connection was not open within ``connect_timeout``."""


class ReadTimeout(HTTPStreamError):
    """The server sent nothing for ``read_timeout`` while an answer was awaited."""


class ConnectionLost(HTTPStreamError):
    """The connection closed or broke before the response was complete."""

    def __init__(
        self, message: str, *, before_response: bool = False, nothing_received: bool = False
    ) -> None:
        super().__init__(message)
        self.before_response = before_response
        self.nothing_received = nothing_received


class ProtocolError(HTTPStreamError):
    """The server's answer is not valid HTTP/1.1."""


class Endpoint:
    """A POST target: where to connect, and the request head up to ``Content-Length``'s value.

    Header names and values are checked for line breaks here, once, so no request can be split.
    """

    __slots__ = ("host", "key", "port", "prefix", "tls")

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {parts.scheme}://{parts.hostname or ''}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.key = (parts.scheme, self.host, self.port)
        default_port = self.port == (443 if self.tls else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        authority = host if default_port else f"{host}:{self.port}"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"Host: {authority}"]
        skip = {"host", "content-length", "transfer-encoding", "connection"}
        for name, value in headers.items():
            if name.lower() in skip:
                continue
            if any(c in name or c in value for c in "\r\n\0") or not name or ":" in name:
                raise ValueError(f"header {name!r}: names and values may not contain line breaks")
            lines.append(f"{name}: {value}")
        lines.append("Connection: keep-alive")
        self.prefix = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")

    def request(self, body: bytes) -> bytes:
        return b"%s%d\r\n\r\n%s" % (self.prefix, len(body), body)


class _Connection(asyncio.Protocol):
    """One socket: buffers what arrives and wakes the one reader waiting for it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._paused = False
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wait_start = 0.0
        self._timeout = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.lost = False
        self.requests = 0
        self.idle_since = 0.0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self._eof = True
        if exc is not None:
            self._error = exc
        self.stop_timer()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- for the pool and the response --------------------------------------------------------

    def usable(self, now: float) -> bool:
        """Fit for another request: open, quiet (nothing unread, no EOF) and not too old."""
        return (
            not self.lost
            and not self._eof
            and not self._chunks
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since < KEEPALIVE_EXPIRY_S
        )

    def send(self, data: bytes, read_timeout: float) -> None:
        assert self.transport is not None
        self.requests += 1
        self._timeout = read_timeout
        self._wait_start = self._loop.time()
        self._timer = self._loop.call_at(self._wait_start + read_timeout, self._check_deadline)
        self.transport.write(data)

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_deadline(self) -> None:
        now = self._loop.time()
        waiter = self._waiter
        if waiter is not None and now + _TIMER_SLACK >= self._wait_start + self._timeout:
            self._waiter = None
            if not waiter.done():
                waiter.set_exception(ReadTimeout(f"{self._timeout:g} s"))
            self._timer = None
            return
        when = self._wait_start + self._timeout if waiter is not None else now + self._timeout
        self._timer = self._loop.call_at(when, self._check_deadline)

    async def read(self) -> bytes:
        """What arrived since the last read, waiting if nothing did; b"" at a clean EOF."""
        if not self._chunks:
            if not self._eof:
                waiter = self._waiter = self._loop.create_future()
                self._wait_start = self._loop.time()
                try:
                    await waiter
                finally:
                    self._waiter = None
            if not self._chunks:
                if self._error is not None:
                    raise ConnectionLost(type(self._error).__name__) from self._error
                return b""
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        self._size = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def abort(self) -> None:
        self.stop_timer()
        if self.transport is not None:
            self.transport.abort()


class _Chunked:
    """Incremental decoder of ``Transfer-Encoding: chunked`` framing."""

    __slots__ = ("_pending", "_remaining", "_state", "done", "leftover")

    _SIZE, _DATA, _CRLF, _TRAILER = range(4)

    def __init__(self) -> None:
        self._pending = b""
        self._remaining = 0
        self._state = self._SIZE
        self.done = False
        self.leftover = False

    def feed(self, data: bytes) -> bytes:
        if self._pending:
            data = self._pending + data
            self._pending = b""
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end:
            state = self._state
            if state == self._DATA:
                take = min(self._remaining, end - pos)
                out.append(data[pos : pos + take] if take < end or pos else data)
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = self._CRLF
            elif state == self._SIZE:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    if end - pos > 4096:
                        raise ProtocolError("chunk size line too long")
                    break
                try:
                    size = int(data[pos:eol].split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolError("invalid chunk size") from None
                if size < 0:
                    raise ProtocolError("invalid chunk size")
                pos = eol + 2
                self._remaining = size
                self._state = self._DATA if size else self._TRAILER
            elif state == self._CRLF:
                if end - pos < 2:
                    break
                if data[pos : pos + 2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                pos += 2
                self._state = self._SIZE
            else:  # trailer lines, up to an empty one
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    if end - pos > _MAX_HEAD:
                        raise ProtocolError("trailers too long")
                    break
                empty = eol == pos
                pos = eol + 2
                if empty:
                    self.done = True
                    self.leftover = pos < end
                    return b"".join(out)
        if pos < end:
            self._pending = data[pos:]
        if len(out) == 1:
            return out[0]
        return b"".join(out)


class Response:
    """A response whose body is being read: ``async for lines in response`` gives the body's
    complete lines (without the line break, a trailing ``\\r`` kept), one list per read."""

    def __init__(
        self, conn: _Connection, status: int, headers: dict[str, str], rest: bytes, keep_alive: bool
    ) -> None:
        self._conn = conn
        self.status = status
        self.headers = headers
        self._pending = rest
        self._tail = b""
        self.complete = False
        self.reusable = keep_alive
        self._chunked: _Chunked | None = None
        self._remaining = -1  # body bytes still due with Content-Length; -1: chunked or until EOF
        self._decoder: zlib._Decompress | None = None
        encoding = headers.get("transfer-encoding", "").lower()
        if encoding:
            if not encoding.endswith("chunked"):
                raise ProtocolError("unsupported transfer encoding")
            self._chunked = _Chunked()
        elif "content-length" in headers:
            try:
                self._remaining = int(headers["content-length"])
            except ValueError:
                raise ProtocolError("invalid Content-Length") from None
            if self._remaining < 0:
                raise ProtocolError("invalid Content-Length")
        else:
            self.reusable = False
        if status in (204, 304) or 100 <= status < 200:
            self._chunked, self._remaining = None, 0
        if self._remaining == 0:
            self.complete = True
        coding = headers.get("content-encoding", "identity").lower()
        if coding in ("gzip", "x-gzip", "deflate"):
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, auto-detected
        elif coding != "identity":
            raise ProtocolError("unsupported content encoding")

    async def _piece(self) -> bytes | None:
        """The next piece of the (decoded) body; None once it is complete."""
        if self.complete:
            return None
        if self._pending:
            data, self._pending = self._pending, b""
        else:
            data = await self._conn.read()
        if not data:
            if self._chunked is None and self._remaining < 0:  # delimited by the close
                self.complete = True
                return self._decoder.flush() if self._decoder is not None else None
            raise ConnectionLost("closed by the server")
        if self._chunked is not None:
            body = self._chunked.feed(data)
            if self._chunked.done:
                self.complete = True
                self.reusable = self.reusable and not self._chunked.leftover
        elif self._remaining >= 0:
            if len(data) >= self._remaining:
                self.reusable = self.reusable and len(data) == self._remaining
                body = data[: self._remaining] if len(data) > self._remaining else data
                self._remaining = 0
                self.complete = True
            else:
                body = data
                self._remaining -= len(data)
        else:
            body = data
        if self._decoder is not None:
            body = self._decoder.decompress(body)
            if self.complete:
                body += self._decoder.flush()
        return body

    def __aiter__(self) -> Response:
        return self

    async def __anext__(self) -> list[bytes]:
        while True:
            piece = await self._piece()
            if piece is None:
                if self._tail:
                    last, self._tail = self._tail, b""
                    return [last]
                raise StopAsyncIteration
            if not piece:
                continue
            if self._tail:
                piece = self._tail + piece
            lines = piece.split(b"\n")
            self._tail = lines.pop()
            if lines:
                return lines

    async def read(self, limit: int = MAX_ERROR_BODY) -> bytes:
        """The rest of the body, at most ``limit`` bytes of it (an error answer's body)."""
        out = bytearray()
        while len(out) < limit:
            piece = await self._piece()
            if piece is None:
                break
            out += piece
        return bytes(out[:limit])


class _HostPool:
    __slots__ = ("idle", "open", "waiters")

    def __init__(self) -> None:
        self.idle: deque[_Connection] = deque()  # the oldest first
        self.open = 0  # connections counted against the limit: idle, busy and being opened
        self.waiters: deque[asyncio.Future[_Connection | None]] = deque()


class ConnectionPool:
    """Keep-alive HTTP/1.1 connections per (scheme, host, port), for streamed POSTs."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections: must be at least 1")
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._limit = max_connections
        self._ssl = ssl_context
        self._hosts: dict[tuple[str, str, int], _HostPool] = {}
        self._busy: set[_Connection] = set()
        self._closed = False

    @contextlib.asynccontextmanager
    async def stream(self, endpoint: Endpoint, body: bytes) -> AsyncIterator[Response]:
        """POST ``body`` and yield the response once its head has arrived.

        Leaving the block returns the connection to the pool if the body was read to its end
        and the server keeps the connection alive; otherwise the connection is aborted, so
        the server sees the client leave at once.
        """
        data = endpoint.request(body)
        retries = 0
        while True:
            conn, reused = await self._acquire(endpoint)
            try:
                response = await self._send(conn, data)
            except ConnectionLost as exc:
                self._release(endpoint, conn, reuse=False)
                if reused and exc.nothing_received and retries < _MAX_STALE_RETRIES:
                    retries += 1
                    continue
                raise
            except BaseException:
                self._release(endpoint, conn, reuse=False)
                raise
            break
        try:
            yield response
        finally:
            self._release(endpoint, conn, reuse=response.complete and response.reusable)

    async def aclose(self) -> None:
        """Close every connection, idle or busy; requests still waiting for one fail."""
        self._closed = True
        for host in self._hosts.values():
            for conn in host.idle:
                conn.abort()
            host.idle.clear()
            while host.waiters:
                waiter = host.waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(ConnectFailed("the connection pool is closed"))
        for conn in list(self._busy):
            conn.abort()
        self._busy.clear()

    # -- internals ----------------------------------------------------------------------------

    async def _acquire(self, endpoint: Endpoint) -> tuple[_Connection, bool]:
        if self._closed:
            raise ConnectFailed("the connection pool is closed")
        host = self._hosts.get(endpoint.key)
        if host is None:
            host = self._hosts[endpoint.key] = _HostPool()
        now = time.monotonic()
        self._prune(host, now)
        while host.idle:
            conn = host.idle.pop()  # the most recently used: the least likely to be closed
            if conn.usable(now):
                self._busy.add(conn)
                return conn, True
            conn.abort()
            host.open -= 1
        if host.open < self._limit:
            host.open += 1
            return await self._open(endpoint, host), False
        # Every connection is busy: wait for one to come back, however long that takes.
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        host.waiters.append(waiter)
        WAITING_FOR_CAPACITY.set(True)  # left set if cancelled: the time limit reads it (timeouts.py)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # A connection or a slot was handed over just as this request was cancelled.
                conn_or_slot = waiter.result()
                if conn_or_slot is None:
                    self._free_slot(host)
                else:
                    self._busy.add(conn_or_slot)
                    self._release(endpoint, conn_or_slot, reuse=True)
            else:
                with contextlib.suppress(ValueError):
                    host.waiters.remove(waiter)
            raise
        WAITING_FOR_CAPACITY.set(False)
        if handed is not None:
            if handed.usable(time.monotonic()):
                self._busy.add(handed)
                return handed, True
            handed.abort()
        return await self._open(endpoint, host), False  # the slot was handed over

    async def _open(self, endpoint: Endpoint, host: _HostPool) -> _Connection:
        """Connect, within the slot already counted in ``host.open``."""
        loop = asyncio.get_running_loop()
        try:
            try:
                async with asyncio.timeout(self._connect_timeout):
                    _, conn = await loop.create_connection(
                        lambda: _Connection(loop),
                        endpoint.host,
                        endpoint.port,
                        ssl=self._ssl_context() if endpoint.tls else None,
                        server_hostname=endpoint.host if endpoint.tls else None,
                    )
            except TimeoutError as exc:
                raise ConnectTimeout(f"no connection within {self._connect_timeout:g} s") from exc
            except OSError as exc:
                raise ConnectFailed(type(exc).__name__) from exc
        except BaseException:
            self._free_slot(host)
            raise
        if self._closed:
            conn.abort()
            self._free_slot(host)
            raise ConnectFailed("the connection pool is closed")
        self._busy.add(conn)
        return conn

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = default_ssl_context()
        return self._ssl

    def _free_slot(self, host: _HostPool) -> None:
        """A counted connection is gone: let the first waiter open one, else uncount it."""
        while host.waiters:
            waiter = host.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        host.open -= 1

    def _release(self, endpoint: Endpoint, conn: _Connection, *, reuse: bool) -> None:
        self._busy.discard(conn)
        conn.stop_timer()
        host = self._hosts[endpoint.key]
        conn.idle_since = time.monotonic()
        if reuse and not self._closed and conn.usable(conn.idle_since):
            while host.waiters:
                waiter = host.waiters.popleft()
                if not waiter.done():
                    waiter.set_result(conn)
                    return
            host.idle.append(conn)
            self._prune(host, conn.idle_since)
            return
        conn.abort()
        self._free_slot(host)

    def _prune(self, host: _HostPool, now: float) -> None:
        """Close idle connections past their expiry, so a burst's connections do not linger."""
        idle = host.idle
        while idle and now - idle[0].idle_since >= KEEPALIVE_EXPIRY_S:
            idle.popleft().abort()
            self._free_slot(host)

    async def _send(self, conn: _Connection, data: bytes) -> Response:
        """Write the request and read the response head (skipping any 1xx interim answer)."""
        assert conn.transport is not None
        if conn.transport.is_closing() or conn.lost:
            raise ConnectionLost("closed by the server", before_response=True, nothing_received=True)
        conn.send(data, self._read_timeout)
        buffer = b""
        received = False
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    raise ProtocolError("response head too large")
                try:
                    chunk = await conn.read()
                except ConnectionLost as exc:
                    exc.before_response, exc.nothing_received = True, not received
                    raise
                if not chunk:
                    raise ConnectionLost(
                        "closed by the server", before_response=True, nothing_received=not received
                    )
                received = True
                buffer += chunk
                continue
            status, headers, keep_alive = _parse_head(buffer[:end])
            rest = buffer[end + 4 :]
            if 100 <= status < 200 and status != 101:
                buffer = rest
                continue
            return Response(conn, status, headers, rest, keep_alive)


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    try:
        status = int(rest[:3])
    except ValueError:
        raise ProtocolError("invalid status line") from None
    if not version.startswith(b"HTTP/1.") or not 100 <= status <= 999:
        raise ProtocolError("invalid status line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ProtocolError("invalid header line")
        key = name.strip().lower().decode("latin-1")
        text = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    tokens = {t.strip() for t in headers.get("connection", "").lower().split(",")}
    keep_alive = version == b"HTTP/1.1" and "close" not in tokens
    return status, headers, keep_alive


def default_ssl_context() -> ssl.SSLContext:
    """The certificate checks the SDKs' HTTP client makes (its CA bundle, ``SSL_CERT_FILE``)."""
    import httpx2

    context = httpx2.create_ssl_context()
    context.set_alpn_protocols(["http/1.1"])
    return context
