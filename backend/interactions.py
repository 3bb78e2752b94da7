"""The durable record of every interaction (one row per feature request), in SQLite.

Written once per interaction when it ends (completed, failed or cancelled). ``submit`` never
waits: records queue in memory and one writer task commits whatever has queued, in one
transaction, as soon as the previous commit is done. Under load many interactions share one
commit (one fsync) instead of paying one each, and no request waits on the disk. A request
being cancelled (a client disconnect) cannot interrupt a write half-way; ``get`` sees queued
records too, so feedback on an answer that just ended finds it; ``close`` commits the rest.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import aiosqlite
import msgspec
import structlog

log = structlog.get_logger("margin.interactions")

Status = Literal["completed", "failed", "cancelled"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS interactions (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    feature TEXT NOT NULL,
    record_type TEXT,
    record_id TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    variant TEXT NOT NULL,
    degraded INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    status TEXT NOT NULL,
    error_code TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_ms REAL NOT NULL,
    ttft_ms REAL,
    routing TEXT
)
"""
_ADDED_COLUMNS = {"routing": "TEXT"}
"""Columns added after the table first shipped: added in place to an older file on open."""


class InteractionRecord(msgspec.Struct, kw_only=True):
    id: str
    created_at: str
    tenant: str
    user_id: str
    feature: str
    record_type: str | None
    record_id: str | None
    provider: str
    model: str
    prompt_version: str
    variant: str
    degraded: bool
    cached: bool
    status: Status
    error_code: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    routing: str | None = None
    """The routing decision as JSON: reason codes and provider names, never the values found."""


_COLUMNS = tuple(InteractionRecord.__struct_fields__)
_INSERT = f"INSERT INTO interactions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"


class InteractionStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._queued: dict[str, InteractionRecord] = {}
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute(_SCHEMA)
        async with self._db.execute("PRAGMA table_info(interactions)") as cur:
            present = {row[1] for row in await cur.fetchall()}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in present:
                await self._db.execute(f"ALTER TABLE interactions ADD COLUMN {column} {kind}")
        await self._db.commit()

    async def close(self) -> None:
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])
        if self._queued:  # the last writer failed: one more try, so nothing is dropped silently
            await self._write()
        if self._db is not None:
            await self._db.close()
            self._db = None

    def submit(self, record: InteractionRecord) -> None:
        """Store ``record`` in the background; never blocks and cannot be cancelled by the caller."""
        self._queued[record.id] = record
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_queued())

    async def _write_queued(self) -> None:
        while self._queued:
            if not await self._write():
                return  # logged; the records stay queued for the next submit or close

    async def _write(self) -> bool:
        batch = list(self._queued.values())
        db = self._connection()
        try:
            await db.executemany(_INSERT, [[getattr(record, name) for name in _COLUMNS] for record in batch])
            await db.commit()
        except Exception:
            log.exception("interaction.store_failed", interactions=len(batch))
            await db.rollback()
            return False
        for record in batch:
            if self._queued.get(record.id) is record:
                del self._queued[record.id]
        return True

    async def get(self, interaction_id: str) -> InteractionRecord | None:
        queued = self._queued.get(interaction_id)
        if queued is not None:
            return queued
        db = self._connection()
        async with db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM interactions WHERE id = ?", (interaction_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return msgspec.convert(dict(zip(_COLUMNS, row, strict=True)), InteractionRecord, strict=False)

    async def ping(self) -> None:
        await self._connection().execute("SELECT 1")

    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("InteractionStore is not open")
        return self._db
