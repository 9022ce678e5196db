"""One fetcher process at a time per tenant, so two never spend one API key's limits at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher import leases
from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_fetcher.repository import TenantAccess
from omni2qbd_fetcher.tenant_sync import TenantSyncer, TenantSyncError
from omni2qbd_shared.db.credentials import Cin7Access
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Tenant
from omni2qbd_shared.messaging import Publisher
from tests.fetcher.fetcher_testkit import BOTH_DATABASES

# The leases rely on each engine's locking: both are tested.
pytestmark = BOTH_DATABASES

Sessions = async_sessionmaker[AsyncSession]
MINUTE = timedelta(minutes=1)


async def _tenant(sessions: Sessions) -> str:
    tenant = Tenant(
        name="Lease Co", qbwc_username=f"l-{uuid.uuid4().hex[:8]}", qbwc_password_hash="x"
    )
    async with unit_of_work(sessions) as db:
        db.add(tenant)
    return tenant.id


async def test_second_process_waits_until_the_first_releases(sessions: Sessions) -> None:
    tenant_id = await _tenant(sessions)
    assert await leases.claim(sessions, tenant_id, "host-a:1", MINUTE) is None
    busy = await leases.claim(sessions, tenant_id, "host-b:2", MINUTE)
    assert busy is not None and busy.holder == "host-a:1"
    assert "another fetcher process (host-a:1)" in busy.describe()
    assert await leases.claim(sessions, tenant_id, "host-a:1", MINUTE) is None  # renewal
    await leases.release(sessions, tenant_id, "host-a:1")
    assert await leases.claim(sessions, tenant_id, "host-b:2", MINUTE) is None


async def test_lease_of_a_crashed_process_expires(sessions: Sessions) -> None:
    tenant_id = await _tenant(sessions)
    assert await leases.claim(sessions, tenant_id, "crashed", timedelta(seconds=-1)) is None
    assert await leases.claim(sessions, tenant_id, "survivor", MINUTE) is None


async def test_lease_of_a_killed_process_on_this_host_is_taken_at_once(
    sessions: Sessions,
) -> None:
    # A fetcher killed with -9 and restarted on the same machine must not wait minutes for
    # the dead process's lease; a live process's lease on this host still holds.
    tenant_id = await _tenant(sessions)
    host = socket.gethostname()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        try:
            live_holder = f"{host}:{alive.pid}:live"
            assert await leases.claim(sessions, tenant_id, live_holder, MINUTE) is None
            busy = await leases.claim(sessions, tenant_id, f"{host}:{os.getpid()}:new", MINUTE)
            assert busy is not None and busy.holder == live_holder
            alive.kill()
            alive.wait()
            assert leases.holder_has_ended(live_holder)
            assert (
                await leases.claim(sessions, tenant_id, f"{host}:{os.getpid()}:new", MINUTE) is None
            )
        finally:
            alive.kill()


async def test_turn_is_refused_while_another_process_syncs_the_tenant(sessions: Sessions) -> None:
    tenant_id = await _tenant(sessions)
    assert await leases.claim(sessions, tenant_id, "other-replica", MINUTE) is None
    syncer = TenantSyncer(
        sessions=sessions, publisher=cast(Publisher, None), options=FetcherOptions()
    )
    access = TenantAccess(tenant_id, "Lease Co", Cin7Access("u", "k", "http://127.0.0.1:9/api"))
    try:
        with pytest.raises(TenantSyncError, match="another fetcher process") as refused:
            await syncer.turn(access)
        assert refused.value.retry_in is not None and refused.value.retry_in > 5
    finally:
        await syncer.aclose()
