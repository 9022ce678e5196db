"""Versions of one document in the outbox: at most one is ever sendable, whatever the order."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.outbox import status_rows, upsert_entry
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import OutboxItem, Tenant
from omni2qbd_shared.db.tenancy import scoped


async def _tenant(sessions: async_sessionmaker[AsyncSession]) -> str:
    tenant = Tenant(
        name="Versions", qbwc_username=f"v-{uuid.uuid4().hex[:8]}", qbwc_password_hash="x"
    )
    async with unit_of_work(sessions) as db:
        db.add(tenant)
    return tenant.id


def _version(tenant_id: str, version: int, state: str = "ready") -> m.EntryMessage:
    return m.EntryMessage(
        entry_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        entry_kind="journal",
        version=version,
        state=state,
        source=m.EntrySource(kind="cogs_month", cin7_id="2025-05", revision=f"r{version}"),
        entry={"ref_number": "COGS202505", "total": str(100 + version)},
    )


async def _deliver(sessions: async_sessionmaker[AsyncSession], message: m.EntryMessage) -> None:
    for _attempt in range(20):  # the consumer retries a transaction the database refused
        try:
            async with unit_of_work(sessions) as db:
                await upsert_entry(message, db)
            return
        except Exception:
            await asyncio.sleep(0.05)
    raise AssertionError("delivery kept failing")


async def _states(sessions: async_sessionmaker[AsyncSession], tenant_id: str) -> dict[int, str]:
    async with sessions() as db:
        rows = (await db.exec(scoped(OutboxItem, tenant_id))).all()
    return {row.version: row.state for row in rows}


async def test_concurrent_versions_leave_only_the_newest_sendable(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tenant_id = await _tenant(sessions)
    versions = [_version(tenant_id, n) for n in range(1, 9)]
    await asyncio.gather(*(_deliver(sessions, v) for v in versions))
    states = await _states(sessions, tenant_id)
    assert states[8] == "ready"
    assert [n for n, state in states.items() if state != "superseded"] == [8]


async def test_older_version_arriving_late_is_stale(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tenant_id = await _tenant(sessions)
    await _deliver(sessions, _version(tenant_id, 2))
    await _deliver(sessions, _version(tenant_id, 1))
    assert await _states(sessions, tenant_id) == {2: "ready", 1: "superseded"}


async def test_withdrawn_entry_is_no_longer_sendable(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tenant_id = await _tenant(sessions)
    first = _version(tenant_id, 1)
    await _deliver(sessions, first)
    await _deliver(sessions, first.model_copy(update={"state": "superseded"}))
    assert await _states(sessions, tenant_id) == {1: "superseded"}
    # a withdrawal for an entry the gateway never saw creates nothing
    await _deliver(sessions, _version(tenant_id, 5, state="superseded"))
    assert await _states(sessions, tenant_id) == {1: "superseded"}


async def test_status_says_why_an_entry_is_held(sessions: async_sessionmaker[AsyncSession]) -> None:

    tenant_id = await _tenant(sessions)
    held = _version(tenant_id, 1, state="held").model_copy(
        update={
            "entry": {
                "ref_number": "SO-7",
                "findings": [
                    {"code": "new_contact", "blocking": False, "message": "not this one"},
                    {
                        "code": "foreign_currency",
                        "blocking": True,
                        "message": "Sales order SO-7 is in CAD (field currencyCode)",
                    },
                    {"code": "name_too_long", "blocking": True, "message": "name too long"},
                ],
            }
        }
    )
    await _deliver(sessions, held)
    async with sessions() as db:
        (row,) = await status_rows(db, tenant_id)
    assert row.state == "held"
    assert row.status_message == "Sales order SO-7 is in CAD (field currencyCode) (and 1 more)"
