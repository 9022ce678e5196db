"""Fixtures shared by every test area: real PostgreSQL, SQLite, RabbitMQ and free ports."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]  # no stubs, as in the gateway's reader
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared import messaging
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.db.migrate import upgrade
from omni2qbd_shared.messaging import Topology

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
# The researched reference sits next to the repository (../shared/reference), in CI too;
# OMNI2QBD_REFERENCE_DIR points elsewhere (a git worktree, for example).
REFERENCE_DIR = Path(
    os.environ.get("OMNI2QBD_REFERENCE_DIR", str(REPO_ROOT.parent / "shared" / "reference"))
)
PG_ADMIN_DSN = os.environ.get(
    "OMNI2QBD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("OMNI2QBD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A port nothing listens on (bound and released; nobody else is handed it immediately)."""
    return free_port()


async def _create_pg_database() -> str:
    name = f"omni2qbd_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is running."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    name = run_blocking(_create_pg_database())
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        run_blocking(_drop_pg_database(name))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'omni2qbd.db'}"


async def _clone_pg_database(template: str) -> str:
    name = f"omni2qbd_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return name


@pytest.fixture(scope="session")
def migrated_pg_template() -> Iterator[str]:
    """One PostgreSQL database migrated once per test session; tests get copies of it.

    Running every migration per test was 42 % of the suite's time; copying a template
    database is a file copy inside PostgreSQL.
    """
    name = run_blocking(_create_pg_database())
    try:
        upgrade(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
        yield name
    finally:
        run_blocking(_drop_pg_database(name))


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated once per test session; tests get copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "omni2qbd.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


# "A migrated database" is `database_url` (both engines); a test that is about one engine
# asks for `sqlite_database_url` or `postgres_database_url`. All are copies of a template.
@pytest.fixture
def sqlite_database_url(migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database of this test's own."""
    target = tmp_path / "omni2qbd.db"
    shutil.copyfile(migrated_sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def postgres_database_url(migrated_pg_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own (dropped afterwards)."""
    name = run_blocking(_clone_pg_database(migrated_pg_template))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        run_blocking(_drop_pg_database(name))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database, once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def amqp_url() -> str:
    return AMQP_URL


async def delete_topology(topo: Topology) -> None:
    """Remove a test's exchanges and queues from the shared broker."""
    await messaging.delete_topology(AMQP_URL, topo)


@pytest.fixture
async def topology() -> AsyncIterator[Topology]:
    """A topology whose names are unique to this test; deleted from the broker afterwards."""
    topo = Topology(namespace=f"t{uuid.uuid4().hex[:10]}.", retry_delay_ms=300)
    yield topo
    await delete_topology(topo)


# Tests that start whole stacks, drive a browser, inject faults or measure long runs: marked
# `slow` here, in one place, so `bash scripts/test -m "not slow"` is the inner loop.
SLOW_TESTS = (
    "tests/faults/",
    "tests/e2e/",
    "tests/console/",
    "tests/perf/",
    "tests/api_workflow/test_api_workflow_e2e.py",
    "tests/api/test_api_schemathesis.py",
    "tests/api/test_readme_operator_path.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow: set[str] = set()
    for item in items:
        where = Path(str(item.path)).relative_to(REPO_ROOT).as_posix()
        if where.startswith(SLOW_TESTS):
            item.add_marker(pytest.mark.slow)
            slow.add(item.nodeid)
    # The long whole-stack tests first (file order kept within each group): with several
    # xdist workers they run side by side from the start instead of one of them starting
    # last and keeping the run going alone.
    items.sort(key=lambda item: item.nodeid not in slow)
