"""What the SDK-backed providers share: SSE ``data:`` lines and HTTP failures as typed errors.

Both providers read the SDK's raw streamed response line by line and decode each payload with
msgspec into small Structs: building the SDK's pydantic chunk objects would cost more than the
rest of the hot path together. Errors are described by status, code and headers only, never by
the provider's message text, so no prompt text can leak into a ProviderError.

The SDKs log every request at INFO on the ``httpx2`` / ``openai`` / ``anthropic`` loggers;
:func:`margin.logs.configure_logging` turns those down to WARNING (``NOISY_LOGGERS``).
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

import httpx2
import structlog

from margin.providers.base import (
    ContentFiltered,
    ContextTooLong,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

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


def sse_data(line: str) -> str | None:
    """The payload of an SSE ``data:`` line; None for event names, comments and blank lines.

    Both APIs put each event's JSON on a single ``data:`` line, so lines need no joining.
    """
    if line.startswith("data:"):
        return line[6:] if line.startswith("data: ") else line[5:]
    return None


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


@contextlib.contextmanager
def typed_errors(provider: str, sdk_error: Callable[[Exception], ProviderError | None]) -> Iterator[None]:
    """Let only ProviderError out: ``sdk_error`` maps the SDK's own exceptions, this the rest.

    Failures while reading the body come straight from httpx2 (the SDKs do not wrap them).
    """
    try:
        yield
    except ProviderError:
        raise
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
