"""Async engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), and the unit of work."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

# How long a SQLite writer waits for the current one before "database is locked"; the
# consumers retry that error as transient beyond this.
SQLITE_BUSY_TIMEOUT_SECONDS = 30
# How long a service's transaction waits for its process's one SQLite connection.
SQLITE_POOL_WAIT_SECONDS = 300
# Execution option of a transaction that only reads: on SQLite it takes no write lock.
READ_ONLY = "omni2qbd_read_only"


class _ReleasingConnection(sqlite3.Connection):
    """A SQLite connection that ends its transaction before it closes.

    SQLAlchemy closes a connection whose statement was cancelled (a stopped service, a sync
    turn over its time limit) without finishing that statement's cursor. SQLite then keeps the
    closed connection - and its transaction's write lock - until the garbage collector frees
    the cursor, so every other writer of the three services waited out its busy timeout and
    failed with "database is locked". A rollback first releases the lock at once (pending
    reads are aborted by it)."""

    def close(self) -> None:
        try:
            if self.in_transaction:
                self.rollback()
        except sqlite3.Error:
            pass  # already closed, or closing ends the transaction anyway (only later)
        super().close()


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module, which would otherwise run SELECTs
    # outside any transaction and open one only at the first write: two handlers could then
    # both read "no row yet" and both insert. ``_begin_immediate`` opens it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers continue while a writer commits; busy_timeout waits instead of failing
    # with "database is locked" when the three services share one file.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    # WAL's default: a commit writes the log, not the database file; readers never block it.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # SQLite has one writer at a time; taking the write lock when the transaction starts
    # makes every transaction see the data as of its start and queue behind the current
    # writer (busy_timeout) instead of failing half-way. A transaction that only reads
    # (``READ_ONLY``: health checks, status commands) needs no lock: with WAL it reads a
    # snapshot while a writer works.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(
    database_url: str,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    """An engine; ``pool_size``/``max_overflow`` size PostgreSQL's pool to the caller's
    concurrency (a service passes its settings), so load reuses connections instead of
    opening and closing backends in bursts."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        if pool_size is not None:
            # A service on SQLite: one connection per process. SQLite has one writer at a
            # time anyway; queueing a process's transactions on its own pool (in order) leaves
            # at most one waiter per process on the file lock, instead of dozens of handlers
            # polling it until their busy timeout runs out ("database is locked").
            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=SQLITE_POOL_WAIT_SECONDS)
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "factory": _ReleasingConnection},
            **kwargs,
        )
        event.listen(engine.sync_engine, "connect", _enable_sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if pool_size is not None:
        kwargs["pool_size"] = pool_size
        # A connection lives long, but not forever: failovers and server restarts clear out.
        kwargs.setdefault("pool_recycle", 1800)
    if max_overflow is not None:
        kwargs["max_overflow"] = max_overflow
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession], *, read_only: bool = False
) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends normally, rolled back on any error.

    ``read_only`` promises that the block only reads: on SQLite it then waits for no writer.
    """
    async with sessions() as session:
        if read_only:
            await session.connection(execution_options={READ_ONLY: True})
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
