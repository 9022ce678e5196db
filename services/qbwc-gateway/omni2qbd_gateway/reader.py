"""An engine for the gateway's lone reads: one statement, no transaction around it.

The shared engine opens every transaction as a writer (SQLite: ``BEGIN IMMEDIATE``) and
pings each connection it checks out (PostgreSQL): right for the calls that change a session,
four round trips for a call that only reads one row (getLastError). A single SELECT is a
consistent snapshot by itself, so these reads use their own small pool in autocommit mode.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_reader_engine(database_url: str, pool_size: int = 5) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # The database is in WAL mode (set by the main engine, kept in the file): readers
        # never wait for the writer.
        return create_async_engine(url, connect_args={"timeout": 30})
    return create_async_engine(
        url, isolation_level="AUTOCOMMIT", pool_size=pool_size, max_overflow=pool_size
    )
