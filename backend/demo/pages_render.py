"""Rendering the demo host pages: Jinja templates from ``margin.demo/templates``, autoescaped."""

from __future__ import annotations

from datetime import date, datetime

import jinja2


def money(amount: int) -> str:
    return f"${amount:,}"


def day(value: date) -> str:
    return f"{value:%b} {value.day}, {value.year}"


def moment(value: datetime) -> str:
    return f"{value:%b} {value.day}, {value.year} · {value:%H:%M}"


def due(value: date) -> str:
    """How far a date is from today, in words: ``in 25 days``, ``yesterday``."""
    days = (value - date.today()).days
    if days == 0:
        return "today"
    if abs(days) == 1:
        return "tomorrow" if days > 0 else "yesterday"
    return f"in {days} days" if days > 0 else f"{-days} days ago"


def is_past(value: date) -> bool:
    return value < date.today()


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("margin.demo", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(money=money, day=day, moment=moment, due=due)
_ENV.tests["past"] = is_past


def render_page(template: str, **context: object) -> str:
    """One page as HTML; every value interpolated into it is escaped."""
    return _ENV.get_template(template).render(**context)
