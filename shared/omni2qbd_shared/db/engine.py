"""Async engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module, which would otherwise run SELECTs
    # outside any transaction and open one only at the first write: two handlers could then
    # both read "no row yet" and both insert. ``_begin_immediate`` opens it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers continue while a writer commits; busy_timeout waits instead of failing
    # with "database is locked" when the three services share one file.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # SQLite has one writer at a time; taking the write lock when the transaction starts
    # makes every transaction see the data as of its start and queue behind the current
    # writer (busy_timeout) instead of failing half-way.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _enable_sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends normally, rolled back on any error."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
