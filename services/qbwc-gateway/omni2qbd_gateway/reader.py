"""Lone reads for the calls that only report (getLastError): one statement, no transaction.

The shared engine opens every transaction as a writer (SQLite: ``BEGIN IMMEDIATE``) and
pings each connection it checks out (PostgreSQL): right for the calls that change a
session, four round trips for a call that reads one row. A single SELECT is a consistent
snapshot by itself, so these reads go another way:

- PostgreSQL: a small asyncpg pool of its own, without SQLAlchemy: one prepared statement
  (asyncpg caches it per connection), one round trip, no greenlet hand-off (SQLAlchemy's
  async engine cost more CPU per call here than the whole call on SQLite);
- SQLite: one ``sqlite3`` connection used from the event loop's thread, for a lookup by
  primary key. It answers in tens of microseconds from the page cache, where aiosqlite's
  hand-off to its worker thread costs hundreds under load; in WAL mode (set by the main
  engine and kept in the file) a reader never waits for the writer.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import bindparam, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import col

from omni2qbd_shared.db.models import QbwcSession

SessionRow = tuple[str, str, str, datetime, str | None]

_GLANCE = select(
    col(QbwcSession.tenant_id),
    col(QbwcSession.state),
    col(QbwcSession.expected_call),
    col(QbwcSession.last_seen_at),
    col(QbwcSession.last_error),
).where(col(QbwcSession.ticket) == bindparam("key"))


class LoneReader(Protocol):
    async def session_row(self, key: str) -> SessionRow | None:
        """tenant_id, state, expected_call, last_seen_at, last_error of one session."""

    async def close(self) -> None: ...


@dataclass
class EngineReader:
    engine: AsyncEngine

    async def session_row(self, key: str) -> SessionRow | None:
        async with self.engine.connect() as connection:
            found = (await connection.execute(_GLANCE, {"key": key})).first()
        if found is None:
            return None
        tenant_id, state, expected_call, last_seen_at, last_error = found
        return tenant_id, state, expected_call, last_seen_at, last_error

    async def close(self) -> None:
        await self.engine.dispose()


class SqliteReader:
    _SQL = (
        "SELECT tenant_id, state, expected_call, last_seen_at, last_error "
        "FROM qbwc_sessions WHERE ticket = ?"
    )

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit (no implicit transaction): each SELECT reads the latest commit.
            self._connection = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=30
            )
        return self._connection

    async def session_row(self, key: str) -> SessionRow | None:
        found: Any = self._connect().execute(self._SQL, (key,)).fetchone()
        if found is None:
            return None
        tenant_id, state, expected_call, last_seen_at, last_error = found
        return tenant_id, state, expected_call, datetime.fromisoformat(last_seen_at), last_error

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresReader:
    _SQL = (
        "SELECT tenant_id, state, expected_call, last_seen_at, last_error "
        "FROM qbwc_sessions WHERE ticket = $1"
    )

    def __init__(self, dsn: str, pool_size: int) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._creating = asyncio.Lock()

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._creating:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=self._pool_size
                    )
        return self._pool

    async def session_row(self, key: str) -> SessionRow | None:
        pool = await self._get_pool()
        found = await pool.fetchrow(self._SQL, key)
        if found is None:
            return None
        tenant_id, state, expected_call, last_seen_at, last_error = found
        return tenant_id, state, expected_call, last_seen_at, last_error

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def create_reader(database_url: str, pool_size: int = 10) -> LoneReader:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return SqliteReader(url.database)
    if url.get_backend_name() == "sqlite":
        return EngineReader(create_async_engine(url))
    if url.get_driver_name() == "asyncpg":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresReader(dsn, pool_size)
    return EngineReader(
        create_async_engine(
            url, isolation_level="AUTOCOMMIT", pool_size=pool_size, max_overflow=pool_size
        )
    )
