"""One fetcher process at a time per tenant (several replicas, or ``omni2qbd fetch`` while
the service runs): the Cin7 rate limits are per API key, and a token bucket only sees its own
process's requests."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import SyncLease, aware, utcnow


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseBusy:
    holder: str
    until: datetime

    def describe(self) -> str:
        return (
            f"another fetcher process ({self.holder}) is syncing this tenant until "
            f"{self.until:%H:%M:%S} UTC at the latest; it is left to that process so the Cin7 "
            "API key's rate limits are not exceeded"
        )


def holder_has_ended(holder: str) -> bool:
    """Whether the holder was a process on this host that no longer runs (kill -9, a crash).

    Its lease would otherwise keep the tenant unsynced until it expires, up to the length of
    a whole turn (minutes) after a restart on the same machine. A holder elsewhere, or one
    whose process cannot be checked, keeps its lease until it expires.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


async def claim(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, holder: str, duration: timedelta
) -> LeaseBusy | None:
    """Take (or extend) the tenant's lease; a LeaseBusy when another live holder has it."""
    now = utcnow()
    try:
        async with unit_of_work(sessions) as session:
            statement = select(SyncLease).where(SyncLease.tenant_id == tenant_id)
            lease = (await session.exec(statement.with_for_update())).first()
            if lease is None:
                session.add(
                    SyncLease(tenant_id=tenant_id, holder=holder, lease_until=now + duration)
                )
                return None
            until = aware(lease.lease_until)
            assert until is not None
            if lease.holder != holder and until > now and not holder_has_ended(lease.holder):
                return LeaseBusy(lease.holder, until)
            lease.holder, lease.lease_until = holder, now + duration
            session.add(lease)
            return None
    except IntegrityError:
        # Another process inserted the first lease row at the same moment: it won.
        return LeaseBusy("another process", now + duration)


async def release(sessions: async_sessionmaker[AsyncSession], tenant_id: str, holder: str) -> None:
    async with unit_of_work(sessions) as session:
        lease = await session.get(SyncLease, tenant_id)
        if lease is not None and lease.holder == holder:
            lease.lease_until = utcnow()
            session.add(lease)
