"""The interaction log: writes queue without waiting, share commits, and are never lost on close."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from margin.interactions import InteractionRecord, InteractionStore


def record(n: int) -> InteractionRecord:
    return InteractionRecord(
        id=f"i-{n}",
        created_at="2026-12-02T00:00:00+00:00",
        tenant="acme",
        user_id="alice",
        feature="summarize",
        record_type="deal",
        record_id="D-1001",
        provider="offline",
        model="margin-offline-1",
        prompt_version="summarize.v1",
        variant="control",
        degraded=True,
        cached=False,
        status="completed",
        error_code=None,
        input_tokens=10,
        output_tokens=20,
        cost_usd=0.0,
        latency_ms=1.0,
        ttft_ms=0.5,
    )


def stored(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM interactions").fetchone()[0])


async def test_submits_share_commits_and_are_readable_at_once(tmp_path: Path) -> None:
    store = InteractionStore(tmp_path / "margin.db")
    await store.open()
    commits = 0
    real_commit = store._connection().commit

    async def counting_commit() -> None:
        nonlocal commits
        commits += 1
        await real_commit()

    store._connection().commit = counting_commit  # type: ignore[method-assign]
    for n in range(500):
        store.submit(record(n))
    assert await store.get("i-499") == record(499)  # queued, not yet committed, already visible
    await store.close()
    assert stored(tmp_path / "margin.db") == 500
    assert commits < 50, f"{commits} commits for 500 interactions"


async def test_close_commits_what_is_still_queued(tmp_path: Path) -> None:
    store = InteractionStore(tmp_path / "margin.db")
    await store.open()
    for n in range(3):
        store.submit(record(n))
    await store.close()
    reopened = InteractionStore(tmp_path / "margin.db")
    await reopened.open()
    assert await reopened.get("i-2") == record(2)
    await reopened.close()


async def test_a_failed_write_keeps_the_records_for_the_next_try(tmp_path: Path) -> None:
    store = InteractionStore(tmp_path / "margin.db")
    await store.open()
    db = store._connection()
    await db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON interactions BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    await db.commit()
    store.submit(record(1))
    await asyncio.sleep(0.1)
    assert await store.get("i-1") == record(1)  # still queued, not dropped
    await db.execute("DROP TRIGGER refuse")
    await db.commit()
    await store.close()
    assert stored(tmp_path / "margin.db") == 1
