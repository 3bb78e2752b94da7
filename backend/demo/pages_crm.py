"""What the demo CRM's pages show, read from its SQLite file (read-only, one connection a request)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import aiosqlite
import msgspec

CLOSED = ("closed won", "closed lost")

_DEAL_SQL = """
SELECT d.id, d.title, d.stage, d.amount, d.close_date, d.owner, d.probability, d.next_step,
       a.id AS account_id, a.name AS account, a.industry, a.tier, a.city,
       c.name AS contact, c.job_title AS contact_title, c.email AS contact_email
FROM deals d JOIN accounts a ON a.id = d.account_id LEFT JOIN contacts c ON c.id = d.contact_id
"""
_TIMELINE_SQL = """
SELECT occurred_at AS at, author, kind, NULL AS subject, body FROM activities WHERE deal_id = :id
UNION ALL
SELECT sent_at, from_name, 'email', subject, body FROM emails WHERE deal_id = :id
ORDER BY at DESC
"""


class Deal(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    stage: str
    amount: int
    close_date: date
    owner: str
    probability: int
    next_step: str | None
    account_id: str
    account: str
    industry: str
    tier: str
    city: str
    contact: str | None
    contact_title: str | None
    contact_email: str | None

    @property
    def is_open(self) -> bool:
        return self.stage not in CLOSED


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a deal's activity: a call, meeting or note, or an e-mail (with its subject)."""

    at: datetime
    author: str
    kind: str
    subject: str | None
    body: str


class DealPage(msgspec.Struct, frozen=True, kw_only=True):
    deal: Deal
    timeline: list[Entry]
    account_deals: list[Deal]
    """Every deal of the same account, the shown one included."""


async def list_deals(path: Path) -> list[Deal]:
    """Open deals first, soonest to close first; then closed deals, most recent first."""
    async with _connect(path) as db:
        deals = [_deal(row) for row in await db.execute_fetchall(_DEAL_SQL)]
    open_deals = sorted((d for d in deals if d.is_open), key=lambda d: (d.close_date, d.id))
    closed = sorted((d for d in deals if not d.is_open), key=lambda d: (d.close_date, d.id), reverse=True)
    return open_deals + closed


async def deal_page(path: Path, deal_id: str) -> DealPage | None:
    async with _connect(path) as db:
        found = list(await db.execute_fetchall(_DEAL_SQL + " WHERE d.id = ?", (deal_id,)))
        if not found:
            return None
        deal = _deal(found[0])
        timeline = await db.execute_fetchall(_TIMELINE_SQL, {"id": deal_id})
        siblings = await db.execute_fetchall(
            _DEAL_SQL + " WHERE d.account_id = ? ORDER BY d.close_date DESC", (deal.account_id,)
        )
    return DealPage(
        deal=deal,
        timeline=[msgspec.convert(dict(row), Entry, strict=False) for row in timeline],
        account_deals=[_deal(row) for row in siblings],
    )


@asynccontextmanager
async def _connect(path: Path) -> AsyncIterator[aiosqlite.Connection]:
    async with aiosqlite.connect(f"file:{quote(str(path))}?mode=ro", uri=True) as db:
        db.row_factory = aiosqlite.Row
        yield db


def _deal(row: aiosqlite.Row) -> Deal:
    return msgspec.convert(dict(row), Deal, strict=False)
