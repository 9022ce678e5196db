"""The embedded SQLite default under concurrent services, and PostgreSQL's pool size."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import uuid
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs, as in the gateway's reader
from sqlalchemy import event, text
from sqlmodel import func, select

from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.models import Tenant
from tests.conftest import PG_ADMIN_DSN


async def test_a_reader_does_not_wait_for_the_sqlite_writer(sqlite_database_url: str) -> None:
    engine = create_engine(sqlite_database_url)
    sessions = session_factory(engine)
    try:
        async with unit_of_work(sessions) as writer:
            writer.add(
                Tenant(id=str(uuid.uuid4()), name="A", qbwc_username="a", qbwc_password_hash="x")
            )
            await writer.flush()  # the writer now holds SQLite's write lock
            # Without read_only this would queue behind the writer for the busy timeout
            # (30 s) and fail; the limit here only keeps a regression from hanging.
            async with asyncio.timeout(20):
                async with unit_of_work(sessions, read_only=True) as reader:
                    seen = (await reader.exec(select(func.count()).select_from(Tenant))).one()
            assert seen == 0  # the snapshot from before the writer's commit
        async with unit_of_work(sessions, read_only=True) as reader:
            assert (await reader.exec(select(func.count()).select_from(Tenant))).one() == 1
    finally:
        await engine.dispose()


async def test_postgres_pool_bounds_the_backends_a_burst_opens(pg_url: str) -> None:
    engine = create_engine(pg_url, pool_size=4, max_overflow=1)
    sessions = session_factory(engine)
    database = pg_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    peak = 0
    asking = asyncio.Lock()  # one admin connection answers one question at a time

    async def work() -> None:
        nonlocal peak
        async with unit_of_work(sessions) as session:
            await (await session.connection()).execute(text("SELECT pg_sleep(0.05)"))
            async with asking:
                count = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database
                )
            peak = max(peak, int(count))

    try:
        await asyncio.gather(*(work() for _ in range(40)))
    finally:
        await admin.close()
        await engine.dispose()
    assert 1 <= peak <= 5


async def test_a_cancelled_sqlite_writer_releases_the_write_lock_at_once(
    sqlite_database_url: str,
) -> None:
    """A task cancelled in the middle of a write transaction (a fetcher stopped, a sync turn
    over its time limit) must leave the database free for the other services.

    SQLAlchemy invalidates a connection whose statement was cancelled and closes it without
    finishing that statement's cursor; SQLite then keeps the closed connection, and its write
    lock, until the garbage collector happens to free the cursor - every other writer waited
    out its busy timeout and failed with "database is locked". Here the cancel lands while a
    SELECT of the write transaction runs, held there by a gate so it is not a matter of luck.
    """
    engine = create_engine(sqlite_database_url)
    sessions = session_factory(engine)
    entered, release = threading.Event(), threading.Event()

    def gate() -> int:
        entered.set()
        release.wait(10)
        return 1

    @event.listens_for(engine.sync_engine, "connect")
    def add_gate(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("gate", 0, gate)

    async def write_then_read() -> None:
        async with unit_of_work(sessions) as session:
            for name in ("a", "b"):
                session.add(
                    Tenant(
                        id=str(uuid.uuid4()), name=name, qbwc_username=name, qbwc_password_hash="x"
                    )
                )
            await session.flush()
            await (await session.connection()).execute(text("SELECT name, gate() FROM tenants"))

    try:
        task = asyncio.create_task(write_then_read())
        assert await asyncio.to_thread(entered.wait, 10)
        task.cancel()
        release.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Another process's writer, not waiting at all: the lock must be free now.
        other = sqlite3.connect(
            sqlite_database_url.split("///", 1)[1], timeout=0, isolation_level=None
        )
        try:
            other.execute("BEGIN IMMEDIATE")
            assert other.execute("SELECT count(*) FROM tenants").fetchone() == (0,)
            other.execute("ROLLBACK")
        finally:
            other.close()
    finally:
        release.set()
        await engine.dispose()
