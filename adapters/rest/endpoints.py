"""Configuration of the host's collection endpoints: lists, searches, timelines, pagination.

A *listing* is any endpoint that answers with an array of objects, possibly over several pages.
Page, size and cursor parameters travel in the query string for GET and in the JSON body for
POST, which is where search APIs such as HubSpot's expect them.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from margin.adapters.types import FilterOp


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class _Pages(_Struct, frozen=True, tag_field="style"):
    pass


class NoPages(_Pages, frozen=True, tag="none"):
    """One request returns everything."""


class PageNumberPages(_Pages, frozen=True, kw_only=True, tag="page"):
    """``?page=2&per_page=50``; stops at a short page or when the reported total is reached."""

    page_param: str = "page"
    size_param: str = "per_page"
    first_page: int = 1


class OffsetPages(_Pages, frozen=True, kw_only=True, tag="offset"):
    """``?offset=100&limit=50``; stops at a short page or when the reported total is reached."""

    offset_param: str = "offset"
    limit_param: str = "limit"


class CursorPages(_Pages, frozen=True, kw_only=True, tag="cursor"):
    """The answer names the next page at ``next_path``, until that is null or absent.

    With ``cursor_param`` the value is a token sent back as that parameter (HubSpot's
    ``paging.next.after``); without it the value is the URL of the next page (Zendesk's
    ``next_page``), followed only when it points at the configured host.
    """

    next_path: str
    cursor_param: str = ""
    size_param: str = ""


Pagination = NoPages | PageNumberPages | OffsetPages | CursorPages


class RestListing(_Struct, frozen=True, kw_only=True):
    """An endpoint answering with an array at ``items_path`` and, optionally, a total count."""

    path: str
    items_path: str
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str] = {}
    body: dict[str, Any] = {}
    total_path: str = ""
    pagination: Pagination = NoPages()


class ParamFilter(_Struct, frozen=True, kw_only=True):
    """A filter the host applies itself: ``field`` ``op`` value becomes ``?param=value``.

    For ``in`` the values are joined with ``join`` (``status=open,pending``).
    """

    field: str
    op: FilterOp = "="
    param: str
    join: str = ","


class RestList(RestListing, frozen=True, kw_only=True):
    """The record type's list endpoint, with the filters it understands as query parameters."""

    filter_params: tuple[ParamFilter, ...] = ()


class SearchTerm(_Struct, frozen=True, kw_only=True):
    """One term of a query-string search, e.g. field ``status`` with term ``status:{value}``."""

    field: str
    op: Literal["=", "!="] = "="
    term: str


class QueryStringSearch(RestListing, frozen=True, kw_only=True, tag_field="style", tag="query"):
    """A search endpoint taking one query string, like Zendesk's ``?query=type:ticket status:open``.

    Only values made of letters, digits and ``@ . + - _`` are put into the query string; others
    are filtered in memory, so no value can inject search syntax.
    """

    param: str = "query"
    prefix: str = ""
    terms: tuple[SearchTerm, ...] = ()


class FilterGroupsSearch(RestListing, frozen=True, kw_only=True, tag_field="style", tag="filter_groups"):
    """A POST search with ``filterGroups``, like HubSpot's CRM search.

    ``properties`` maps Margin field names to the host's property names; only those fields are
    filtered by the host.
    """

    method: Literal["GET", "POST"] = "POST"
    properties: dict[str, str] = {}
    max_filters: int = 6


Search = QueryStringSearch | FilterGroupsSearch


class AuthorNames(_Struct, frozen=True, kw_only=True):
    """Author names sideloaded next to the entries, e.g. Zendesk's ``?include=users``."""

    items_path: str
    id_path: str = "id"
    name_path: str = "name"


class RestTimeline(RestListing, frozen=True, kw_only=True):
    """Where a record's history lives (comments, notes) and how to read each entry.

    ``path``, ``params`` and ``body`` may use ``{id}``. ``kinds`` renames raw kind values
    (``{"true": "comment", "false": "internal note"}``); without ``kind_path`` every entry is ``kind``.
    """

    at_path: str
    text_path: str
    author_path: str = ""
    kind_path: str = ""
    kind: str = "comment"
    kinds: dict[str, str] = {}
    authors: AuthorNames | None = None
