"""Turning the host's JSON into Margin's types: rows, field values, timeline entries, links.

Values are coerced to the declared field type (HubSpot sends every property as a string,
Zendesk sends ids as numbers); a value that does not fit becomes None rather than a guess.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog

from margin.adapters.errors import HostUnavailableError
from margin.adapters.fields import label_for
from margin.adapters.rest.config import RestRecordType, RestRelated
from margin.adapters.rest.endpoints import RestTimeline
from margin.adapters.rest.jsonpath import MISSING, resolve
from margin.adapters.types import FieldType, FieldValue, Scalar, TimelineEntry

log = structlog.get_logger("margin.adapters.rest")

Row = dict[str, Scalar]


def required(document: Any, path: str, what: str) -> Any:
    """The value at ``path``, or HostUnavailableError naming the path when the answer lacks it."""
    found = resolve(document, path)
    if found is MISSING or (path and found is None):
        raise HostUnavailableError(f"The host's answer for {what} has no {path!r}")
    return found


def row_of(record_type: RestRecordType, item: Any) -> Row:
    """One record as a flat row of typed values, keyed by Margin field name."""
    return {
        name: coerce(resolve(item, field.path or name), field.type)
        for name, field in record_type.fields.items()
    }


def field_values(record_type: RestRecordType, row: Row) -> tuple[FieldValue, ...]:
    return tuple(
        FieldValue(name, field.label or label_for(name), row[name], field.type, field.sensitive)
        for name, field in record_type.fields.items()
    )


def version_of(record_type: RestRecordType, item: Any, timeline: list[Any]) -> str:
    """The host's own version (``version_path``) or else a digest of everything that was read."""
    if record_type.version_path:
        found = resolve(item, record_type.version_path)
        if isinstance(found, str | int | float) and not isinstance(found, bool):
            return str(found)
    return hashlib.sha256(msgspec.json.encode([item, timeline])).hexdigest()[:16]


def timeline_entries(
    config: RestTimeline, document_items: list[Any], authors: dict[str, str]
) -> list[TimelineEntry]:
    """Timeline entries in time order; entries without a readable time are left out (and logged)."""
    entries: list[TimelineEntry] = []
    for item in document_items:
        at = _timestamp(resolve(item, config.at_path))
        if at is None:
            log.warning("rest.timeline_entry_skipped", reason="no readable time", path=config.at_path)
            continue
        author = _text(resolve(item, config.author_path)) if config.author_path else ""
        kind = config.kind
        if config.kind_path:
            raw = _text(resolve(item, config.kind_path))
            kind = config.kinds.get(raw, raw or config.kind)
        text = _text(resolve(item, config.text_path))
        entries.append(TimelineEntry(at=at, author=authors.get(author, author), kind=kind, text=text))
    entries.sort(key=lambda entry: entry.at)
    return entries


def author_names(config: RestTimeline, document: Any) -> dict[str, str]:
    """Sideloaded author id -> name pairs of one timeline page (empty without ``authors``)."""
    if config.authors is None:
        return {}
    people = resolve(document, config.authors.items_path)
    if not isinstance(people, list):
        return {}
    names: dict[str, str] = {}
    for person in people:
        person_id, name = resolve(person, config.authors.id_path), resolve(person, config.authors.name_path)
        if person_id not in (MISSING, None) and isinstance(name, str):
            names[_text(person_id)] = name
    return names


@dataclass(frozen=True)
class Link:
    """A related record as found in the JSON; ``title`` is None when it must be fetched."""

    relation: str
    type: str
    id: str
    title: str | None


def links_of(record_type: RestRecordType, item: Any, limit: int) -> list[Link]:
    """Up to ``limit`` related records per relation."""
    links: list[Link] = []
    for relation, config in record_type.related.items():
        found = resolve(item, config.path)
        members = found if isinstance(found, list) else [] if found in (MISSING, None) else [found]
        links.extend(link for member in members[:limit] if (link := _link(relation, config, member)))
    return links


def _link(relation: str, config: RestRelated, member: Any) -> Link | None:
    if isinstance(member, dict):
        raw_id = resolve(member, config.id_path)
        raw_title = resolve(member, config.title_path) if config.title_path else MISSING
        title = _text(raw_title) if raw_title not in (MISSING, None) else None
    else:
        raw_id, title = member, None
    if raw_id in (MISSING, None) or isinstance(raw_id, dict | list):
        return None
    return Link(relation, config.type, _text(raw_id), title)


def coerce(value: Any, type: FieldType) -> Scalar:
    """``value`` as the declared type, or None when it does not fit."""
    if value is None or value is MISSING:
        return None
    if type in ("integer", "number", "money"):
        number = _number(value)
        if number is None or type != "integer":
            return number
        return int(number) if float(number).is_integer() else None
    if type == "boolean":
        return value if isinstance(value, bool) else {"true": True, "false": False}.get(str(value).lower())
    if type in ("date", "datetime"):
        moment = _timestamp(value)
        if moment is None:
            return None
        if type == "date":
            return moment.date().isoformat()
        return value if isinstance(value, str) else moment.isoformat()  # keep the host's own text
    if isinstance(value, list):
        parts = [_text(part) for part in value if not isinstance(part, dict | list)]
        return ", ".join(parts)
    return None if isinstance(value, dict) else _text(value)


def _number(value: Any) -> int | float | None:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _timestamp(value: Any) -> datetime | None:
    """ISO 8601 text or epoch seconds or milliseconds; times without a zone are taken as UTC."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    number = _number(value)
    if number is None:
        return None
    seconds = number / 1000 if abs(number) > 10**11 else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _text(value: Any) -> str:
    """A JSON scalar as text; objects, lists and absent values are empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) else ""
