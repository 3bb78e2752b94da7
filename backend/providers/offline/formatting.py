"""Readable money, numbers and dates, independent of the process locale."""

from __future__ import annotations

from datetime import date, datetime

from margin.adapters.types import Scalar

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "AUD": "A$", "CAD": "C$"}
DEFAULT_CURRENCY_SYMBOL = "$"


def as_number(value: Scalar) -> int | float | None:
    """A number from a number or a numeric string ("48,000.50"); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    try:
        return float(value.replace(",", "").strip())
    except ValueError:
        return None


def format_number(number: float) -> str:
    """Thousands separators; decimals only where there are any."""
    if float(number).is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}"


def format_money(value: Scalar, symbol: str = DEFAULT_CURRENCY_SYMBOL) -> str:
    number = as_number(value)
    if number is None:
        return str(value)
    sign = "-" if number < 0 else ""
    return f"{sign}{symbol}{format_number(abs(number))}"


def currency_symbol(code: str) -> str:
    code = code.strip().upper()
    return CURRENCY_SYMBOLS.get(code, f"{code} " if code else DEFAULT_CURRENCY_SYMBOL)


def parse_when(value: Scalar) -> date | datetime | None:
    """A date or datetime from an ISO string; None when it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        return None


def format_day(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def format_short_day(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}"


def format_when(when: date | datetime) -> str:
    """``Mar 12, 2025`` for a date, ``Mar 12, 2025 14:30`` for a datetime with a time of day."""
    if isinstance(when, datetime) and (when.hour, when.minute) != (0, 0):
        return f"{format_day(when)} {when:%H:%M}"
    return format_day(when)
