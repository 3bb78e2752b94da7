"""The durable feedback store (SQLite, committed before the request is answered)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import msgspec

from margin.feedback.types import Feedback, FeedbackIn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    interaction_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reasons TEXT NOT NULL,
    comment TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (interaction_id, user_id)
)
"""
_UPSERT = """
INSERT INTO feedback (interaction_id, tenant, user_id, rating, reasons, comment, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (interaction_id, user_id) DO UPDATE SET
    rating = excluded.rating, reasons = excluded.reasons, comment = excluded.comment,
    updated_at = excluded.updated_at
RETURNING created_at = updated_at
"""
_COLUMNS = "interaction_id, tenant, user_id, rating, reasons, comment, created_at, updated_at"


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        """One statement sequence at a time on the shared connection: a commit while another
        request's cursor is open fails (and used to fail requests whose vote was stored)."""

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute(_SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def put(self, tenant: str, user_id: str, feedback: FeedbackIn) -> tuple[Feedback, bool]:
        """Store ``feedback``; returns it and whether it is new (False: it replaced an earlier one)."""
        db = self._connection()
        now = datetime.now(UTC).isoformat()
        reasons = msgspec.json.encode(feedback.reasons).decode()
        values = (
            feedback.interaction_id,
            tenant,
            user_id,
            feedback.rating,
            reasons,
            feedback.comment,
            now,
            now,
        )
        async with self._lock:
            try:
                async with db.execute(_UPSERT, values) as cursor:
                    row = await cursor.fetchone()
                await db.commit()
            except BaseException:
                await db.rollback()  # nothing half-stored behind an error response
                raise
            stored = await self._read(feedback.interaction_id, user_id)
        if stored is None:
            raise RuntimeError("feedback vanished right after it was committed")
        return stored, bool(row and row[0])

    async def get(self, interaction_id: str, user_id: str) -> Feedback | None:
        async with self._lock:
            return await self._read(interaction_id, user_id)

    async def _read(self, interaction_id: str, user_id: str) -> Feedback | None:
        query = f"SELECT {_COLUMNS} FROM feedback WHERE interaction_id = ? AND user_id = ?"
        async with self._connection().execute(query, (interaction_id, user_id)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        fields = dict(zip(_COLUMNS.split(", "), row, strict=True))
        fields["reasons"] = msgspec.json.decode(fields["reasons"])
        return msgspec.convert(fields, Feedback)

    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("FeedbackStore is not open")
        return self._db
