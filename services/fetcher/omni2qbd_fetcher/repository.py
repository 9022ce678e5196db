"""The fetcher's tables: sync cursors, fetched documents and sync status (docs/design.md §2)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import insert, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.credentials import Cin7Access, cin7_access
from omni2qbd_shared.db.models import (
    Cin7Credential,
    FetchedDocument,
    SyncCursor,
    SyncStatus,
    Tenant,
    aware,
    utcnow,
)
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.secrets import SecretDecryptionError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TenantAccess:
    tenant_id: str
    name: str
    access: Cin7Access


async def tenants_to_sync(session: AsyncSession, secret_key: str) -> list[TenantAccess]:
    """Active tenants that have Cin7 credentials, oldest first."""
    rows = await session.exec(
        select(Tenant)
        .join(Cin7Credential, col(Cin7Credential.tenant_id) == col(Tenant.id))
        .where(col(Tenant.active).is_(True))
        .order_by(col(Tenant.created_at))
    )
    found = []
    for tenant in rows.all():
        access = await _access(session, tenant.id, secret_key)
        if access is not None:
            found.append(TenantAccess(tenant.id, tenant.name, access))
    return found


async def _access(session: AsyncSession, tenant_id: str, secret_key: str) -> Cin7Access | None:
    try:
        return await cin7_access(session, tenant_id, secret_key=secret_key)
    except SecretDecryptionError as exc:
        # One unreadable credential must not stop every other tenant's sync; the tenant's
        # sync status says why it is not synced.
        log.error("cin7_credentials_unreadable", tenant_id=tenant_id, error=str(exc))
        await record_error(session, tenant_id, CREDENTIALS, unreadable_key(exc))
        return None


CREDENTIALS = "credentials"  # the sync status row that reports unreadable credentials


def unreadable_key(exc: SecretDecryptionError) -> str:
    return f"the tenant's Cin7 API key cannot be decrypted, so it is not synced: {exc}"


async def credentials_problem(session: AsyncSession, tenant_id: str, secret_key: str) -> str:
    """Why a tenant has no usable Cin7 access, in words."""
    if await session.get(Cin7Credential, tenant_id) is None:
        return f"tenant {tenant_id} has no Cin7 credentials; set them first"
    try:
        await cin7_access(session, tenant_id, secret_key=secret_key)
    except SecretDecryptionError as exc:
        return unreadable_key(exc)
    return f"tenant {tenant_id} is not active"


async def tenant_access(
    session: AsyncSession, tenant_id: str, secret_key: str
) -> TenantAccess | None:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        return None
    access = await _access(session, tenant.id, secret_key)
    return TenantAccess(tenant.id, tenant.name, access) if access else None


async def get_cursor(
    session: AsyncSession, tenant_id: str, kind: str, field: str
) -> datetime | None:
    cursor = await session.get(SyncCursor, (tenant_id, kind, field))
    return aware(cursor.position) if cursor else None


async def set_cursor(
    session: AsyncSession, tenant_id: str, kind: str, field: str, position: datetime
) -> None:
    cursor = await session.get(SyncCursor, (tenant_id, kind, field))
    if cursor is None:
        cursor = SyncCursor(tenant_id=tenant_id, kind=kind, date_field=field, position=position)
    elif aware(cursor.position) is None or position > (aware(cursor.position) or position):
        cursor.position = position
    cursor.updated_at = utcnow()
    session.add(cursor)


async def known_revisions(
    session: AsyncSession, tenant_id: str, kinds: Sequence[str], ids: Iterable[str]
) -> set[tuple[str, str]]:
    """(cin7_id, revision) pairs already recorded for these documents."""
    id_list = list(set(ids))
    if not id_list:
        return set()
    rows = await session.exec(
        select(FetchedDocument.cin7_id, FetchedDocument.revision).where(
            col(FetchedDocument.tenant_id) == tenant_id,
            col(FetchedDocument.kind).in_(kinds),
            col(FetchedDocument.cin7_id).in_(id_list),
        )
    )
    return {(cin7_id, revision) for cin7_id, revision in rows.all()}


async def record_revisions(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert a page's new revisions (``tenant_id``, ``kind``, ``cin7_id``, ``revision``,
    ``modified_date``, ``payload``; not yet published) in one statement (executemany), not
    one ORM object each; a key another fetcher recorded first raises ``IntegrityError``."""
    if not rows:
        return
    fetched_at = utcnow()
    table = FetchedDocument.__table__  # type: ignore[attr-defined]
    await session.exec(
        insert(table),
        params=[{**row, "fetched_at": fetched_at, "published_at": None} for row in rows],
    )


async def unpublished(
    session: AsyncSession, tenant_id: str, kinds: Sequence[str], older_than: timedelta
) -> list[FetchedDocument]:
    """Revisions recorded but never confirmed by the broker (a process died in between)."""
    cutoff = utcnow() - older_than
    rows = await session.exec(
        scoped(FetchedDocument, tenant_id)
        .where(
            col(FetchedDocument.kind).in_(kinds),
            col(FetchedDocument.published_at).is_(None),
            col(FetchedDocument.fetched_at) <= cutoff,
        )
        .order_by(col(FetchedDocument.fetched_at))
        .limit(500)
    )
    return list(rows.all())


async def mark_published(
    session: AsyncSession, tenant_id: str, pairs: Sequence[tuple[str, str]], when: datetime
) -> None:
    if not pairs:
        return
    await session.exec(
        update(FetchedDocument)
        .where(
            col(FetchedDocument.tenant_id) == tenant_id,
            tuple_(col(FetchedDocument.cin7_id), col(FetchedDocument.revision)).in_(pairs),
        )
        .values(published_at=when)
    )


async def record_success(
    session: AsyncSession, tenant_id: str, kind: str, *, seen: int, published: int, finished: bool
) -> None:
    status = await session.get(SyncStatus, (tenant_id, kind)) or SyncStatus(
        tenant_id=tenant_id, kind=kind
    )
    status.documents_seen += seen
    status.revisions_published += published
    if finished:
        status.last_success_at = utcnow()
    session.add(status)


async def record_error(session: AsyncSession, tenant_id: str, kind: str, error: str) -> None:
    status = await session.get(SyncStatus, (tenant_id, kind)) or SyncStatus(
        tenant_id=tenant_id, kind=kind
    )
    status.last_error_at = utcnow()
    status.last_error = error[:2000]
    session.add(status)


async def statuses(session: AsyncSession, tenant_id: str) -> list[dict[str, Any]]:
    rows = await session.exec(scoped(SyncStatus, tenant_id).order_by(col(SyncStatus.kind)))
    cursors = {
        (c.kind, c.date_field): aware(c.position)
        for c in (await session.exec(scoped(SyncCursor, tenant_id))).all()
    }
    result = []
    for status in rows.all():
        result.append(
            {
                "kind": status.kind,
                "last_success_at": _iso(aware(status.last_success_at)),
                "last_error_at": _iso(aware(status.last_error_at)),
                "last_error": status.last_error,
                "documents_seen": status.documents_seen,
                "revisions_published": status.revisions_published,
                "cursors": {
                    field: _iso(position)
                    for (kind, field), position in cursors.items()
                    if kind == status.kind
                },
            }
        )
    return result


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
