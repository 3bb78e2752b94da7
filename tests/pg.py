"""PostgreSQL for tests: a fresh, uniquely named database per test module on 127.0.0.1:5432.

Without a reachable server the tests that need it are skipped, unless ``REQUIRE_TEST_SERVICES=1``
(CI), where they fail instead. The demo CRM is loaded from the same rows that build the SQLite
file (:func:`margin.demo.crm.demo_crm_rows`), so both engines hold identical data.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import date, datetime

import asyncpg
import pytest

from margin.demo.crm import DEMO_TABLES, ColumnType, Value, demo_crm_rows

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
ADMIN_URL = f"{PG_SERVER}/postgres"

_PG_TYPES: dict[ColumnType, str] = {
    "TEXT": "text",
    "INTEGER": "bigint",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}
_PARSE: dict[ColumnType, Callable[[str], object]] = {
    "DATE": date.fromisoformat,
    "TIMESTAMP": datetime.fromisoformat,
}


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """The URL of an empty database that exists for the test module, then is dropped."""
    name = f"margin_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL is not reachable at {PG_SERVER}: {exc}"
        if os.environ.get("REQUIRE_TEST_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL, timeout=3)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def load_demo_crm(url: str, today: date) -> None:
    """Create the demo CRM's tables in the database at ``url`` and copy its rows in."""
    rows = demo_crm_rows(today)
    connection = await asyncpg.connect(url, timeout=3)
    try:
        for table in DEMO_TABLES:
            columns = ", ".join(
                f"{name} {_PG_TYPES[kind]}{' PRIMARY KEY' if name == 'id' else ''}"
                for name, kind in table.columns
            )
            await connection.execute(f"CREATE TABLE {table.name} ({columns})")
            kinds = [kind for _, kind in table.columns]
            records = [
                tuple(_pg_value(value, kind) for value, kind in zip(row, kinds, strict=True))
                for row in rows[table.name]
            ]
            await connection.copy_records_to_table(
                table.name, records=records, columns=[name for name, _ in table.columns]
            )
    finally:
        await connection.close()


def _pg_value(value: Value, kind: ColumnType) -> object:
    return _PARSE[kind](value) if isinstance(value, str) and kind in _PARSE else value
