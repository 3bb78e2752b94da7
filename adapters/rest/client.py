"""The HTTP side of the REST adapter: one long-lived httpx client and the error mapping.

Every failure leaves here as an AdapterError the backend knows how to show: 404 is
RecordNotFoundError, 401/403 ForbiddenError, timeouts HostTimeoutError, and everything else
(5xx, refused connections, redirects, non-JSON answers) HostUnavailableError.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import msgspec
import structlog

from margin.adapters.errors import ForbiddenError, HostTimeoutError, HostUnavailableError, RecordNotFoundError
from margin.adapters.rest.config import Timeouts

log = structlog.get_logger("margin.adapters.rest")

Params = Mapping[str, str | int]


class HostClient:
    """Requests to one host; ``what`` names the thing being read, for error messages and logs."""

    def __init__(self, base_url: str, headers: Mapping[str, str], timeouts: Timeouts) -> None:
        self._base_url = httpx.URL(base_url)
        self._headers = {"Accept": "application/json", "User-Agent": "margin-rest-adapter", **headers}
        self._timeout = httpx.Timeout(timeouts.read, connect=timeouts.connect)
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url, headers=self._headers, timeout=self._timeout, follow_redirects=False
            )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def link(self, url: str) -> str | None:
        """A link from an answer (a next-page URL) made absolute; None when it leaves the host.

        Credentials go with every request, so they must never follow a link to another host.
        """
        target = self._base_url.join(url)
        same = (target.scheme, target.host, target.port) == (
            self._base_url.scheme,
            self._base_url.host,
            self._base_url.port,
        )
        return str(target) if same else None

    async def fetch_json(
        self,
        method: Literal["GET", "POST"],
        url: str,
        *,
        what: str,
        params: Params | None = None,
        body: Any = None,
    ) -> Any:
        """The decoded JSON answer to one request."""
        if self._client is None:
            raise RuntimeError("RestAdapter.start() must be called before the adapter is used")
        started = time.perf_counter()
        try:
            response = await self._client.request(
                method, url, params=params, json=body if method == "POST" else None
            )
        except httpx.TimeoutException as exc:
            log.warning("rest.host_timeout", what=what, method=method)
            raise HostTimeoutError(f"The host did not answer in time while reading {what}") from exc
        except httpx.TransportError as exc:
            log.warning("rest.host_unreachable", what=what, method=method, error=type(exc).__name__)
            raise HostUnavailableError(f"Could not reach the host to read {what}") from exc
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        log.debug("rest.request", what=what, method=method, status=response.status_code, ms=elapsed_ms)
        _raise_for_status(response.status_code, what)
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError as exc:
            raise HostUnavailableError(f"The host's answer for {what} is not JSON") from exc


def _raise_for_status(status: int, what: str) -> None:
    if 200 <= status < 300:
        return
    log.warning("rest.host_status", what=what, status=status)
    if status == 404:
        raise RecordNotFoundError(f"The host has no {what}")
    if status in (401, 403):
        raise ForbiddenError(f"The host refused access to {what} (HTTP {status})")
    if status in (408, 504):
        raise HostTimeoutError(f"The host timed out while reading {what} (HTTP {status})")
    if status == 429:
        raise HostUnavailableError(f"The host is rate limiting requests; could not read {what} (HTTP 429)")
    if status >= 500:
        raise HostUnavailableError(f"The host failed while reading {what} (HTTP {status})")
    raise HostUnavailableError(f"The host did not accept the request for {what} (HTTP {status})")
