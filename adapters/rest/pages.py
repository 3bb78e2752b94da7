"""Reading a listing endpoint page by page, up to the adapter's ``max_pages``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from margin.adapters.errors import HostUnavailableError
from margin.adapters.rest.client import HostClient
from margin.adapters.rest.endpoints import (
    CursorPages,
    NoPages,
    OffsetPages,
    PageNumberPages,
    Pagination,
    RestListing,
)
from margin.adapters.rest.jsonpath import MISSING, resolve
from margin.adapters.rest.templates import fill, fill_json, fill_path

log = structlog.get_logger("margin.adapters.rest")


@dataclass(frozen=True)
class Fetched:
    """What was read: every item, and each page's whole answer (for sideloaded data).

    ``complete`` is False when pages were left unread; ``total`` is what the host reported.
    """

    items: list[Any]
    documents: list[Any]
    total: int | None
    complete: bool


@dataclass(frozen=True)
class Limits:
    page_size: int
    max_pages: int
    #: Stop as soon as this many items are in (the caller needs no more); None reads every page.
    enough: int | None = None


async def fetch_listing(
    client: HostClient,
    listing: RestListing,
    limits: Limits,
    *,
    what: str,
    values: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    body: Mapping[str, Any] | None = None,
) -> Fetched:
    """Every item of ``listing`` (with its placeholders filled from ``values``) within the limits.

    ``params`` and ``body`` add to the listing's own, e.g. filters the host applies itself.
    """
    values = values or {}
    url: str = fill_path(listing.path, values)
    base_params: dict[str, str | int] = {k: fill(v, values) for k, v in listing.params.items()}
    base_params.update(params or {})
    base_body: dict[str, Any] | None = None
    if listing.method == "POST":
        base_body = {**fill_json(listing.body, values), **(body or {})}
    pages = listing.pagination
    items: list[Any] = []
    documents: list[Any] = []
    total: int | None = None
    next_url: str | None = None
    paging: dict[str, str | int] = _first_paging(pages, limits.page_size)
    for _ in range(limits.max_pages):
        if next_url is not None:  # a next-page link carries its own query string
            document = await client.fetch_json(listing.method, next_url, what=what, body=base_body)
        elif base_body is not None:
            document = await client.fetch_json(
                "POST", url, what=what, params=base_params, body={**base_body, **paging}
            )
        else:
            document = await client.fetch_json("GET", url, what=what, params={**base_params, **paging})
        documents.append(document)
        batch = _items(document, listing.items_path, what)
        items.extend(batch)
        if total is None and listing.total_path:
            reported = resolve(document, listing.total_path)
            total = reported if isinstance(reported, int) and not isinstance(reported, bool) else None
        following = _next(pages, document, paging, batch, limits.page_size, what)
        if following is None or (total is not None and len(items) >= total):
            return Fetched(items, documents, total, complete=True)
        if limits.enough is not None and len(items) >= limits.enough:
            return Fetched(items, documents, total, complete=False)
        if isinstance(following, str):
            next_url = client.link(following)
            if next_url is None:
                raise HostUnavailableError(f"The host's next-page link for {what} points at another host")
        else:
            paging = following
    log.warning("rest.pages_truncated", what=what, max_pages=limits.max_pages, items=len(items))
    return Fetched(items, documents, total, complete=False)


def _first_paging(pages: Pagination, page_size: int) -> dict[str, str | int]:
    if isinstance(pages, PageNumberPages):
        return {pages.page_param: pages.first_page, pages.size_param: page_size}
    if isinstance(pages, OffsetPages):
        return {pages.offset_param: 0, pages.limit_param: page_size}
    if isinstance(pages, CursorPages) and pages.size_param:
        return {pages.size_param: page_size}
    return {}


def _next(
    pages: Pagination,
    document: Any,
    paging: dict[str, str | int],
    batch: list[Any],
    page_size: int,
    what: str,
) -> dict[str, str | int] | str | None:
    """The paging parameters (or the URL) of the next page; None when this was the last one."""
    if isinstance(pages, NoPages) or not batch:
        return None
    if isinstance(pages, PageNumberPages | OffsetPages):
        if len(batch) < page_size:
            return None
        if isinstance(pages, PageNumberPages):
            return {**paging, pages.page_param: int(paging[pages.page_param]) + 1}
        return {**paging, pages.offset_param: int(paging[pages.offset_param]) + len(batch)}
    assert isinstance(pages, CursorPages)
    token = resolve(document, pages.next_path)
    if token is MISSING or token is None or token == "":
        return None
    if not isinstance(token, str | int):
        raise HostUnavailableError(
            f"The host's next-page value for {what} at {pages.next_path!r} is not text"
        )
    if not pages.cursor_param:
        return str(token)
    if paging.get(pages.cursor_param) == str(token):
        log.warning("rest.cursor_repeated", what=what)  # a host bug; stop rather than loop
        return None
    return {**paging, pages.cursor_param: str(token)}


def _items(document: Any, path: str, what: str) -> list[Any]:
    found = resolve(document, path)
    if found is MISSING:
        raise HostUnavailableError(f"The host's answer for {what} has no {path!r}")
    if not isinstance(found, list):
        raise HostUnavailableError(f"The host's answer for {what} has no list at {path!r}")
    return found
