"""Read-only connection pools for SQLite (sqlite3 on a small thread pool) and PostgreSQL (asyncpg).

A driver runs one statement and returns plain tuples; failures come out as adapter errors:
an unreachable or failing database is HostUnavailableError, a statement past ``timeout_s``
is HostTimeoutError.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import quote as url_quote

import asyncpg
import structlog

from margin.adapters.errors import HostTimeoutError, HostUnavailableError
from margin.adapters.sql.config import SqlAdapterConfig
from margin.adapters.sql.dialect import Dialect, quote

log = structlog.get_logger("margin.adapters.sql")

Row = tuple[Any, ...]
Statement = tuple[str, Sequence[object]]
UNAVAILABLE = "The host database is unavailable"
FAILED = "The host database could not run the query"
TIMED_OUT = "The host database took too long to answer"


class Driver(Protocol):
    dialect: Dialect

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def fetch(self, sql: str, params: Sequence[object]) -> list[Row]: ...

    async def fetch_many(self, statements: Sequence[Statement]) -> list[list[Row]]:
        """Several statements in one round trip where the engine allows it."""
        ...

    async def columns(self, table: str) -> dict[str, str]:
        """The table's (or view's) columns and their declared types; empty when there is no such table."""
        ...


def driver_for(config: SqlAdapterConfig) -> Driver:
    if config.url.startswith("sqlite:///"):
        # sqlite:///srv/x.db and SQLAlchemy's sqlite:////srv/x.db both mean the absolute /srv/x.db
        path = "/" + config.url.removeprefix("sqlite://").lstrip("/")
        return SqliteDriver(path, config.timeout_s, config.pool_size)
    return PostgresDriver(config.url, config.timeout_s, config.pool_size)


class _SqliteConnection:
    """One read-only sqlite3 connection whose running statement aborts once ``deadline`` passed.

    Used by one worker thread at a time (the driver's idle queue hands it out)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.deadline = math.inf
        db.set_progress_handler(self.past_deadline, 1000)

    def past_deadline(self) -> int:
        # Called by SQLite, on the thread running the statement, every thousand VM steps.
        return 1 if time.monotonic() > self.deadline else 0

    def run(self, statements: Sequence[Statement]) -> list[list[Row]]:
        return [[tuple(row) for row in self.db.execute(sql, params).fetchall()] for sql, params in statements]


class SqliteDriver:
    """A few connections to a file opened ``mode=ro`` with ``query_only`` on, each used from a
    small thread pool. A batch of statements costs one trip to a worker thread, not one each."""

    dialect = Dialect("sqlite")

    def __init__(self, path: str, timeout_s: float, pool_size: int) -> None:
        self._uri = f"file:{url_quote(path)}?mode=ro"
        self._path = path
        self._timeout_s = timeout_s
        self._pool_size = pool_size
        self._all: list[_SqliteConnection] = []
        self._idle: asyncio.Queue[_SqliteConnection] = asyncio.Queue()
        self._threads: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        self._threads = ThreadPoolExecutor(self._pool_size, thread_name_prefix="margin-sqlite")
        try:
            connections = await asyncio.get_running_loop().run_in_executor(self._threads, self._connect)
        except sqlite3.Error as exc:
            await self.close()
            log.warning("sql database unavailable", engine="sqlite", path=self._path, error=str(exc))
            raise HostUnavailableError(f"{UNAVAILABLE}: cannot open {self._path}") from exc
        for connection in connections:
            self._all.append(connection)
            self._idle.put_nowait(connection)

    def _connect(self) -> list[_SqliteConnection]:
        _probe(self._uri)  # a missing or corrupt file fails here, clearly
        connections = []
        for _ in range(self._pool_size):
            db = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            db.execute("PRAGMA query_only = ON")
            connections.append(_SqliteConnection(db))
        return connections

    async def close(self) -> None:
        connections, self._all = self._all, []
        self._idle = asyncio.Queue()
        for connection in connections:
            connection.db.close()
        if self._threads is not None:
            self._threads.shutdown(wait=False)
            self._threads = None

    async def fetch(self, sql: str, params: Sequence[object]) -> list[Row]:
        return (await self.fetch_many([(sql, params)]))[0]

    async def fetch_many(self, statements: Sequence[Statement]) -> list[list[Row]]:
        if not self._all or self._threads is None:
            raise RuntimeError("the SQL adapter is not started")
        loop = asyncio.get_running_loop()
        connection = await self._idle.get()
        connection.deadline = time.monotonic() + self._timeout_s
        idle = self._idle
        running = self._threads.submit(connection.run, statements)
        # Back to the pool only when its thread is done, even if the awaiting request left.
        running.add_done_callback(lambda _: loop.call_soon_threadsafe(idle.put_nowait, connection))
        try:
            return await asyncio.wrap_future(running)
        except asyncio.CancelledError:
            connection.deadline = 0.0  # interrupt the statement: nobody waits for it
            raise
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                log.warning("sql statement timed out", engine="sqlite", timeout_s=self._timeout_s)
                raise HostTimeoutError(TIMED_OUT) from exc
            raise _failed("sqlite", exc) from exc
        except sqlite3.Error as exc:
            raise _failed("sqlite", exc) from exc

    async def columns(self, table: str) -> dict[str, str]:
        rows = await self.fetch("SELECT name, type FROM pragma_table_info(?)", (table,))
        return {str(name): str(type) for name, type in rows}


class PostgresDriver:
    """An asyncpg pool whose sessions are read-only and bounded by ``statement_timeout``."""

    dialect = Dialect("postgresql")

    def __init__(self, url: str, timeout_s: float, pool_size: int) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._pool_size = pool_size
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._url,
                min_size=1,
                max_size=self._pool_size,
                timeout=self._timeout_s,
                # A backstop for a server that stops answering; statement_timeout fires first.
                command_timeout=self._timeout_s + 1,
                server_settings={
                    "default_transaction_read_only": "on",
                    "statement_timeout": str(math.ceil(self._timeout_s * 1000)),
                    "application_name": "margin",
                },
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("sql database unavailable", engine="postgresql", error=f"{type(exc).__name__}: {exc}")
            raise HostUnavailableError(f"{UNAVAILABLE}: {type(exc).__name__}") from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def fetch(self, sql: str, params: Sequence[object]) -> list[Row]:
        if self._pool is None:
            raise RuntimeError("the SQL adapter is not started")
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as connection:
                records = await connection.fetch(sql, *params)
        except (asyncpg.QueryCanceledError, TimeoutError) as exc:
            log.warning("sql statement timed out", engine="postgresql", timeout_s=self._timeout_s)
            raise HostTimeoutError(TIMED_OUT) from exc
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _failed("postgresql", exc) from exc
        return [tuple(record) for record in records]

    async def fetch_many(self, statements: Sequence[Statement]) -> list[list[Row]]:
        """In parallel on the pool's connections: one round trip's time."""
        return list(await asyncio.gather(*(self.fetch(sql, params) for sql, params in statements)))

    async def columns(self, table: str) -> dict[str, str]:
        rows = await self.fetch(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute "
            "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            (quote(table),),
        )
        return {str(name): str(type) for name, type in rows}


def _probe(uri: str) -> None:
    """Open the file and read its schema, so a missing or corrupt file fails here, clearly."""
    db = sqlite3.connect(uri, uri=True)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchall()
    finally:
        db.close()


def _failed(engine: str, exc: Exception) -> HostUnavailableError:
    log.warning("sql statement failed", engine=engine, error=f"{type(exc).__name__}: {exc}")
    return HostUnavailableError(FAILED)
