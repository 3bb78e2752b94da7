"""The REST adapter's configuration: the host's base URL, auth, limits and record types.

Decoded from the adapter's TOML section with msgspec (unknown keys are errors). Checks that
span several settings run in ``RestAdapterConfig.__post_init__`` and name the offending key in
dotted form, e.g. ``record_types.case.title_field: 'subjct' is not one of its fields``.
"""

from __future__ import annotations

import re
from collections.abc import Set
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec

from margin.adapters.fields import DeclaredField
from margin.adapters.rest.auth import Auth
from margin.adapters.rest.endpoints import (
    CursorPages,
    FilterGroupsSearch,
    QueryStringSearch,
    RestList,
    RestListing,
    RestTimeline,
    Search,
)
from margin.adapters.rest.jsonpath import parse_path
from margin.adapters.rest.preset_options import Preset
from margin.adapters.rest.templates import json_placeholders, placeholders
from margin.adapters.scoping import DEFAULT_SEE_ALL_ROLES

_NAME = re.compile(r"[a-z][a-z0-9_]*")


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class RestField(DeclaredField, frozen=True, kw_only=True):
    """One field of a record type; ``path`` is where it sits in the record's JSON (default: its name)."""

    path: str = ""


class RestRelated(_Struct, frozen=True, kw_only=True):
    """Records linked from this one: ``path`` holds an id, an object or a list of either.

    For objects, the id is at ``id_path`` and the title at ``title_path``; without a title the
    adapter fetches the related record (of record type ``type``) to name it.
    """

    type: str
    path: str
    id_path: str = "id"
    title_path: str = ""


class RestRecordType(_Struct, frozen=True, kw_only=True):
    """How one record type is read: ``get`` is a URL template with ``{id}``.

    ``owner_field`` turns on row scoping: users without one of the adapter's ``see_all_roles``
    only see records whose owner field equals their user id, and nothing when it is empty.
    ``see_all_roles`` is empty unless configured, so by default nobody sees every record.
    """

    label: str
    plural: str
    get: str
    fields: dict[str, RestField]
    title_field: str
    aliases: tuple[str, ...] = ()
    item_path: str = ""
    get_params: dict[str, str] = {}
    version_path: str = ""
    default_sort: str = ""
    owner_field: str = ""
    list_: RestList | None = msgspec.field(default=None, name="list")
    search: Search | None = None
    timeline: RestTimeline | None = None
    related: dict[str, RestRelated] = {}

    def field_path(self, name: str) -> str:
        return self.fields[name].path or name


class Timeouts(_Struct, frozen=True, kw_only=True):
    """Seconds to wait for a connection and for each read from the host."""

    connect: Annotated[float, msgspec.Meta(gt=0)] = 3.0
    read: Annotated[float, msgspec.Meta(gt=0)] = 10.0


class RestAdapterConfig(_Struct, frozen=True, kw_only=True):
    """Everything the REST adapter needs; either spelled out or taken from a ``preset``.

    With a preset, ``base_url``, ``auth`` and ``record_types`` come from it and must be left
    out; ``timeouts``, ``max_pages``, ``page_size`` and ``see_all_roles`` still apply.
    """

    base_url: str = ""
    auth: Auth | None = None
    timeouts: Timeouts = Timeouts()
    max_pages: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    page_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    see_all_roles: tuple[str, ...] = DEFAULT_SEE_ALL_ROLES
    record_types: dict[str, RestRecordType] = {}
    preset: Preset | None = None

    def __post_init__(self) -> None:
        if self.preset is not None:
            if self.base_url or self.auth is not None or self.record_types:
                name = self.preset.__struct_config__.tag
                raise ValueError(f"preset {name!r} sets base_url, auth and record_types; remove them here")
            return
        _check_base_url(self.base_url)
        if not self.record_types:
            raise ValueError("record_types: configure at least one record type")
        for name, record_type in self.record_types.items():
            _check_record_type(f"record_types.{name}", name, record_type, self.record_types)


def _check_base_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"base_url: {url!r} is not an http(s) URL without query or fragment")


def _check_record_type(key: str, name: str, rt: RestRecordType, types: dict[str, RestRecordType]) -> None:
    if _NAME.fullmatch(name) is None:
        raise ValueError(f"{key}: record type names are lower-case words, such as 'case' or 'deal'")
    if not rt.fields:
        raise ValueError(f"{key}.fields: a record type needs at least one field")
    _template(f"{key}.get", rt.get, {"id"}, required={"id"})
    for param, value in rt.get_params.items():
        _template(f"{key}.get_params.{param}", value, {"id"})
    _json_path(f"{key}.item_path", rt.item_path)
    _json_path(f"{key}.version_path", rt.version_path)
    for field_name, field in rt.fields.items():
        _json_path(f"{key}.fields.{field_name}.path", field.path or field_name)
        if field.allowed_values and field.type != "enum":
            raise ValueError(
                f"{key}.fields.{field_name}.allowed_values: only enum fields have allowed values"
            )
    for setting in ("title_field", "default_sort", "owner_field"):
        value = getattr(rt, setting)
        if value and value not in rt.fields:
            raise ValueError(f"{key}.{setting}: {value!r} is not one of its fields")
    if not rt.title_field:
        raise ValueError(f"{key}.title_field: name the field that titles a record")
    if rt.list_ is not None:
        _check_listing(f"{key}.list", rt.list_, frozenset())
        for index, item in enumerate(rt.list_.filter_params):
            _field_ref(f"{key}.list.filter_params[{index}].field", item.field, rt)
            if item.op == "between":
                raise ValueError(f"{key}.list.filter_params[{index}].op: 'between' cannot be one parameter")
    if rt.search is not None:
        _check_search(f"{key}.search", rt.search, rt)
    if rt.timeline is not None:
        _check_timeline(f"{key}.timeline", rt.timeline)
    for rel_name, rel in rt.related.items():
        if rel.type not in types:
            raise ValueError(f"{key}.related.{rel_name}.type: {rel.type!r} is not a configured record type")
        for setting in ("path", "id_path", "title_path"):
            _json_path(f"{key}.related.{rel_name}.{setting}", getattr(rel, setting))


def _check_search(key: str, search: Search, rt: RestRecordType) -> None:
    _check_listing(key, search, frozenset())
    if isinstance(search, QueryStringSearch):
        for index, term in enumerate(search.terms):
            _field_ref(f"{key}.terms[{index}].field", term.field, rt)
            _template(f"{key}.terms[{index}].term", term.term, {"value"}, required={"value"})
    elif isinstance(search, FilterGroupsSearch):
        if search.method != "POST":
            raise ValueError(f"{key}.method: filter_groups searches are POST requests")
        for field in search.properties:
            _field_ref(f"{key}.properties.{field}", field, rt)


def _check_timeline(key: str, timeline: RestTimeline) -> None:
    _check_listing(key, timeline, frozenset({"id"}))
    for setting in ("at_path", "text_path", "author_path", "kind_path"):
        _json_path(f"{key}.{setting}", getattr(timeline, setting))
    if timeline.authors is not None:
        for setting in ("items_path", "id_path", "name_path"):
            _json_path(f"{key}.authors.{setting}", getattr(timeline.authors, setting))


def _check_listing(key: str, listing: RestListing, allowed: Set[str]) -> None:
    _template(f"{key}.path", listing.path, allowed)
    for param, value in listing.params.items():
        _template(f"{key}.params.{param}", value, allowed)
    if listing.body and listing.method != "POST":
        raise ValueError(f"{key}.body: only POST requests carry a body")
    _json_template(f"{key}.body", listing.body, allowed)
    _json_path(f"{key}.items_path", listing.items_path)
    _json_path(f"{key}.total_path", listing.total_path)
    if isinstance(listing.pagination, CursorPages):
        _json_path(f"{key}.pagination.next_path", listing.pagination.next_path)


def _field_ref(key: str, name: str, rt: RestRecordType) -> None:
    if name not in rt.fields:
        raise ValueError(f"{key}: {name!r} is not one of its fields")


def _json_path(key: str, path: str) -> None:
    try:
        parse_path(path)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _template(key: str, template: str, allowed: Set[str], required: Set[str] = frozenset()) -> None:
    try:
        names = placeholders(template)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    _placeholder_names(key, names, allowed, required)


def _json_template(key: str, document: Any, allowed: Set[str]) -> None:
    try:
        names = json_placeholders(document)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    _placeholder_names(key, names, allowed, frozenset())


def _placeholder_names(key: str, names: Set[str], allowed: Set[str], required: Set[str]) -> None:
    if unknown := names - allowed:
        usable = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "no placeholders"
        raise ValueError(f"{key}: unknown placeholder {{{sorted(unknown)[0]}}}; this template takes {usable}")
    if missing := required - names:
        raise ValueError(f"{key}: the template must contain {{{sorted(missing)[0]}}}")
