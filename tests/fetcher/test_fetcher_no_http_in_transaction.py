"""No request to Cin7 is made while the fetcher holds SQLite's write lock (issue 13, point 7).

On the embedded SQLite default the three services share one write lock; a Cin7 request that
takes seconds inside a write transaction would hold every other service for those seconds.
The Cin7 simulator here tries to take the write lock itself, without waiting, at the moment
each request arrives: it must always get it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
from fastapi import Request, Response
from sqlalchemy import text

from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_sims.cin7 import SimConfig, create_app, generate
from omni2qbd_sims.cin7.server import SimAdmin, serve_in_thread
from tests.fetcher.fetcher_testkit import ACME, Sim, Stack


def write_lock_free(path: str) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # "database is locked": a writer is in a transaction
        return False
    finally:
        probe.close()


@pytest.fixture
def lock_free_at_request() -> list[bool]:
    return []


@pytest.fixture
def cin7(database_url: str, lock_free_at_request: list[bool]) -> Iterator[Sim]:
    """The Cin7 simulator, noting for every API request whether the write lock was free."""
    store = generate(21, 0.05)
    app = create_app(store, SimConfig(rate_limits_enabled=False))
    path = database_url.split("///", 1)[1]

    @app.middleware("http")
    async def probe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith("/api/"):
            lock_free_at_request.append(write_lock_free(path))
        return await call_next(request)

    with serve_in_thread(app) as url:
        admin = SimAdmin(url)
        try:
            yield Sim(url, store, admin)
        finally:
            admin.close()


async def test_no_cin7_request_is_made_inside_a_write_transaction(
    stack: Stack, lock_free_at_request: list[bool]
) -> None:
    # The probe sees a write transaction when there is one (so its "free" means something).
    async with unit_of_work(stack.sessions) as session:
        await (await session.connection()).execute(text("UPDATE tenants SET name = name"))
        async with httpx.AsyncClient(auth=(ACME, stack.sim.key())) as client:
            await client.get(f"{stack.sim.base_url}/v1/Products?rows=1")
    assert lock_free_at_request == [False]
    lock_free_at_request.clear()

    tenant = await stack.tenant()
    syncer = stack.syncer(rows=10)
    for _ in range(200):
        if (await syncer.turn(tenant, max_pages=3)).finished:
            break
    else:
        raise AssertionError("the sync never finished")
    assert len(lock_free_at_request) > 20  # every kind, several pages each
    assert all(lock_free_at_request), lock_free_at_request.count(False)
