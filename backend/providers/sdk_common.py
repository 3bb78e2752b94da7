"""What the cloud providers share: the SDK's request headers, and failures as typed errors.

The SDKs build each provider's client (base URL, key, authentication headers); the streaming
call itself goes through :mod:`margin.providers.http_stream`, with a body encoded by msgspec,
unless a proxy from the environment applies, in which case it goes through the SDK's own
streamed response. Either way the providers decode each SSE ``data:`` payload with msgspec into
small Structs. Errors are described by status, code and headers only, never by the provider's
message text, so no prompt text can leak into a ProviderError.

The SDKs log every request at INFO on the ``httpx2`` / ``openai`` / ``anthropic`` loggers;
:func:`margin.logs.configure_logging` turns those down to WARNING (``NOISY_LOGGERS``).
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import re
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx2
import msgspec
import structlog

from margin.providers import http_stream
from margin.providers.base import (
    ContentFiltered,
    ContextTooLong,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from margin.providers.settings import ProviderSettings

log = structlog.get_logger(__name__)

NO_KEY = "no-key"
"""Stands in for a missing API key so an SDK never falls back to a key from the environment
(``OPENAI_API_KEY`` must not reach a self-hosted server)."""

_CONTEXT_RE = re.compile(
    r"context[ _-]?(length|size|window)|maximum context|prompt is too long|too many (input )?tokens",
    re.IGNORECASE,
)
_IDENTIFIER_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})
_RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded", "rate_limit_error"})
_encode = msgspec.json.Encoder().encode


class SDKClient(Protocol):
    """What both SDKs' async clients offer for building a request by hand."""

    @property
    def base_url(self) -> httpx2.URL: ...

    @property
    def auth_headers(self) -> dict[str, str]: ...

    @property
    def default_headers(self) -> Mapping[str, object]: ...


def sdk_endpoint(client: SDKClient, path: str, *, read_timeout: float) -> http_stream.Endpoint:
    """POST ``path`` under the client's base URL, with the headers the SDK itself sends.

    The headers are taken once: keys come from settings and do not change. The SDK's omitted
    headers (``Omit`` values) are left out; ``Accept-Encoding: identity`` keeps streams plain.
    """
    headers = {**client.auth_headers, **client.default_headers}
    sent = {name: value for name, value in headers.items() if isinstance(value, str)}
    sent.update(
        {
            "X-Stainless-Async": "async:asyncio",
            "x-stainless-retry-count": "0",
            "x-stainless-read-timeout": str(float(read_timeout)),
            "x-stainless-raw-response": "stream",
            "Accept-Encoding": "identity",
        }
    )
    url = str(client.base_url).rstrip("/") + "/" + path.lstrip("/")
    return http_stream.Endpoint(url, sent)


class StreamTransport:
    """How a provider's streaming call travels: the lean keep-alive pool where it can be used,
    the SDK's own ``with_streaming_response`` call otherwise (a proxy from the environment)."""

    def __init__(
        self,
        provider: str,
        client: SDKClient,
        path: str,
        settings: ProviderSettings,
        *,
        max_connections: int,
        lean: bool | None,
    ) -> None:
        self._provider = provider
        self._endpoint = sdk_endpoint(client, path, read_timeout=settings.timeout_s)
        if lean is None:
            lean = not uses_proxy(str(client.base_url))
        self.pool = (
            http_stream.ConnectionPool(
                connect_timeout=settings.connect_timeout_s,
                read_timeout=settings.timeout_s,
                max_connections=max_connections,
            )
            if lean
            else None
        )

    def open(
        self,
        body: dict[str, Any],
        sdk_call: Callable[[], contextlib.AbstractAsyncContextManager[_SDKStreamedResponse]],
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[list[bytes]]]:
        """Batches of the response's lines; ``sdk_call`` makes the SDK's request when not lean."""
        if self.pool is not None:
            return post_stream(self._provider, self.pool, self._endpoint, _encode(body))
        return sdk_stream(sdk_call())

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()


def sdk_limits(max_connections: int) -> httpx2.Limits:
    """The SDK client's pool: as large as the lean one (a wait for it is Margin's, not a fault)."""
    return httpx2.Limits(max_connections=max_connections, max_keepalive_connections=100)


def uses_proxy(url: str) -> bool:
    """Whether a proxy from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) applies.

    The lean client speaks only directly to the provider, so such streams take the SDK's path.
    """
    proxies = urllib.request.getproxies_environment()
    parts = urlsplit(url)
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def error_fields(body: bytes) -> tuple[str | None, str | None]:
    """``(code, message)`` of an HTTP error answer in either API's format, as the SDKs read them.

    The code is Anthropic's ``error.details.error_code``, else OpenAI's ``error.code``, else
    ``error.type``; a body that is not such JSON gives ``(None, None)``.
    """
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None, None
    if not isinstance(decoded, dict):
        return None, None
    error = decoded.get("error", decoded)  # OpenAI-compatible servers may skip the "error" wrapper
    if not isinstance(error, dict):
        return None, None
    details = error.get("details")
    candidates = (
        details.get("error_code") if isinstance(details, dict) else None,
        error.get("code"),
        error.get("type"),
    )
    code = next((c for c in candidates if isinstance(c, str) and c), None)
    message = error.get("message")
    return code, message if isinstance(message, str) else None


@contextlib.asynccontextmanager
async def post_stream(
    provider: str, pool: http_stream.ConnectionPool, endpoint: http_stream.Endpoint, body: bytes
) -> AsyncIterator[http_stream.Response]:
    """The streamed response to ``body``; an HTTP error answer raises its typed error."""
    async with pool.stream(endpoint, body) as response:
        if 300 <= response.status < 400:
            raise ProviderBadRequest(
                f"the provider answered with a redirect (HTTP {response.status}); set base_url to its target",
                provider=provider,
            )
        if not 200 <= response.status < 300:
            code, message = error_fields(await response.read())
            raise status_error(provider, response.status, response.headers, code=code, message=message)
        yield response


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if not value:
            continue
        with contextlib.suppress(ValueError):
            seconds = float(value) * scale
            if math.isfinite(seconds):
                return max(0.0, seconds)
        if scale == 1.0:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(value)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def _label(status: int | None, code: str | None) -> str:
    parts = [f"HTTP {status}"] if status is not None else []
    if code and _IDENTIFIER_RE.fullmatch(code):
        parts.append(code)
    return f" ({', '.join(parts)})" if parts else ""


def _is_context_error(code: str | None, message: str | None) -> bool:
    return bool(code and "context_length" in code) or bool(message and _CONTEXT_RE.search(message))


def status_error(
    provider: str, status: int, headers: Mapping[str, str], *, code: str | None, message: str | None
) -> ProviderError:
    """The typed error for an HTTP error answer; ``message`` is only inspected, never quoted."""
    label = _label(status, code)
    if status == 429:
        if code == "insufficient_quota":
            return ProviderUnavailable(f"quota exhausted{label}", provider=provider)
        return ProviderRateLimited(
            f"rate limited{label}", provider=provider, retry_after=retry_after(headers)
        )
    if status == 408:
        return ProviderTimeout(f"the provider timed out{label}", provider=provider)
    if status >= 500:
        return ProviderUnavailable(f"provider error{label}", provider=provider)
    if status == 413 or _is_context_error(code, message):
        return ContextTooLong(f"context too long{label}", provider=provider)
    if code in _FILTER_CODES:
        return ContentFiltered(f"request blocked by the provider's content filter{label}", provider=provider)
    if status == 401:
        return ProviderBadRequest(f"authentication failed{label}; check the API key", provider=provider)
    if status == 403:
        return ProviderBadRequest(f"permission denied{label}", provider=provider)
    if status == 404:
        return ProviderBadRequest(
            f"model or endpoint not found{label}; check model and base_url", provider=provider
        )
    return ProviderBadRequest(f"request rejected{label}", provider=provider)


def stream_error(provider: str, code: str | None, message: str | None) -> ProviderError:
    """The typed error for an error event sent inside a stream that had started fine."""
    label = _label(None, code)
    if code in _RATE_LIMIT_CODES:
        return ProviderRateLimited(f"rate limited mid-stream{label}", provider=provider)
    if _is_context_error(code, message):
        return ContextTooLong(f"context too long{label}", provider=provider)
    if code == "invalid_request_error":
        return ProviderBadRequest(f"request rejected mid-stream{label}", provider=provider)
    return ProviderUnavailable(f"provider error mid-stream{label}", provider=provider)


class _SDKStreamedResponse(Protocol):
    def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]: ...


@contextlib.asynccontextmanager
async def sdk_stream(
    create: contextlib.AbstractAsyncContextManager[_SDKStreamedResponse],
) -> AsyncIterator[AsyncIterator[list[bytes]]]:
    """The SDK's streamed response (``with_streaming_response.create``) as batches of lines."""
    async with create as response, contextlib.aclosing(_line_batches(response.iter_bytes())) as batches:
        yield batches


async def _line_batches(chunks: AsyncIterator[bytes]) -> AsyncGenerator[list[bytes], None]:
    tail = b""
    async for chunk in chunks:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        if lines:
            yield lines
    if tail:
        yield [tail]


@contextlib.contextmanager
def typed_errors(provider: str, sdk_error: Callable[[Exception], ProviderError | None]) -> Iterator[None]:
    """Let only ProviderError out: ``sdk_error`` maps the SDK's own exceptions, this the rest.

    The lean client's failures are :class:`http_stream.HTTPStreamError`; on the SDK's path,
    failures while reading the body come straight from httpx2 (the SDKs do not wrap them).
    """
    try:
        yield
    except ProviderError:
        raise
    except http_stream.HTTPStreamError as exc:
        raise _transport_error(provider, exc) from exc
    except httpx2.TimeoutException as exc:
        raise ProviderTimeout(
            f"no data from the provider in time ({type(exc).__name__})", provider=provider
        ) from exc
    except httpx2.HTTPError as exc:
        raise ProviderUnavailable(
            f"connection lost mid-stream ({type(exc).__name__})", provider=provider
        ) from exc
    except Exception as exc:
        error = sdk_error(exc)
        if error is None:
            log.exception("unexpected provider failure", provider=provider)
            error = ProviderUnavailable(f"unexpected failure ({type(exc).__name__})", provider=provider)
        raise error from exc


def _transport_error(provider: str, exc: http_stream.HTTPStreamError) -> ProviderError:
    detail = str(exc)
    if isinstance(exc, http_stream.ConnectTimeout):
        return ProviderTimeout(f"the provider did not answer in time ({detail})", provider=provider)
    if isinstance(exc, http_stream.ReadTimeout):
        return ProviderTimeout(f"no data from the provider in time ({detail})", provider=provider)
    if isinstance(exc, http_stream.ConnectFailed):
        return ProviderUnavailable(f"could not connect to the provider ({detail})", provider=provider)
    if isinstance(exc, http_stream.ConnectionLost):
        where = "before the answer" if exc.before_response else "mid-stream"
        return ProviderUnavailable(f"connection lost {where} ({detail})", provider=provider)
    return ProviderUnavailable(f"invalid HTTP answer from the provider ({detail})", provider=provider)
