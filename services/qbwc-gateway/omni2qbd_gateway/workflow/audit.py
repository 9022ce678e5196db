"""The audit log: who did what, when, under which settings version (append-only).

Rows are only ever added (``record``) and, past the retention period, deleted
(``prune``); nothing updates them. QuickBooks exchanges are read from the Web Connector
request log, so the qbXML sent and received is shown beside the actions that caused it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.models import AuditLog, QbwcRequest, aware, utcnow
from omni2qbd_shared.db.settings_store import latest_settings


async def settings_version(db: AsyncSession, tenant_id: str | None) -> int | None:
    if tenant_id is None:
        return None
    saved = await latest_settings(db, tenant_id)
    return saved.version if saved is not None else None


async def record(
    db: AsyncSession,
    *,
    tenant_id: str | None,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit row, stamped with the tenant's current settings version (read here
    unless ``detail`` already holds it)."""
    body = dict(detail or {})
    if "settings_version" not in body:
        body["settings_version"] = await settings_version(db, tenant_id)
    db.add(
        AuditLog(
            tenant_id=tenant_id,
            actor=actor,
            action=action,
            subject=(subject or "")[:200] or None,
            detail=body,
        )
    )


class AuditEvent(BaseModel):
    """One line of the audit log (an action, or a Web Connector exchange with its qbXML)."""

    id: str
    at: datetime
    actor: str
    action: str
    subject: str | None
    settings_version: int | None
    detail: dict[str, Any]
    qbxml_sent: str | None = None
    qbxml_received: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _cursor_parts(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    at, _, ident = cursor.partition("|")
    try:
        return aware(datetime.fromisoformat(at)), ident
    except ValueError:
        return None


def _before(event: AuditEvent, position: tuple[datetime, str] | None) -> bool:
    return position is None or (event.at, event.id) < position


def _settings_version_of(row: AuditLog) -> int | None:
    version = row.detail.get("settings_version")
    if version is None and row.action == "settings.saved" and row.subject:
        # Saved settings name their own version ("version 3").
        number = row.subject.removeprefix("version ").strip()
        version = int(number) if number.isdigit() else None
    return int(version) if isinstance(version, int) else None


async def _log_events(
    db: AsyncSession, scope: TenantScope, wanted: AuditFilter, limit: int, before: datetime | None
) -> list[AuditEvent]:
    query = scope.select(AuditLog)
    if wanted.action:
        query = query.where(col(AuditLog.action).startswith(wanted.action))
    if wanted.actor:
        query = query.where(AuditLog.actor == wanted.actor)
    if wanted.since:
        query = query.where(col(AuditLog.at) >= wanted.since)
    if wanted.until:
        query = query.where(col(AuditLog.at) < wanted.until)
    if before is not None:
        query = query.where(col(AuditLog.at) <= before)
    rows = await db.exec(
        query.order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc()).limit(limit)
    )
    return [
        AuditEvent(
            id=f"a{row.id:012d}",
            at=aware(row.at),
            actor=row.actor,
            action=row.action,
            subject=row.subject,
            settings_version=_settings_version_of(row),
            detail={k: v for k, v in row.detail.items() if k != "settings_version"},
        )
        for row in rows
    ]


async def _exchange_events(
    db: AsyncSession, scope: TenantScope, wanted: AuditFilter, limit: int, before: datetime | None
) -> list[AuditEvent]:
    if wanted.action and not "quickbooks.exchange".startswith(wanted.action):
        return []
    if wanted.actor and wanted.actor != "web-connector":
        return []
    query = scope.select(QbwcRequest).where(col(QbwcRequest.purpose) != "lists")
    if wanted.since:
        query = query.where(col(QbwcRequest.sent_at) >= wanted.since)
    if wanted.until:
        query = query.where(col(QbwcRequest.sent_at) < wanted.until)
    if before is not None:
        query = query.where(col(QbwcRequest.sent_at) <= before)
    rows = await db.exec(
        query.order_by(col(QbwcRequest.sent_at).desc(), col(QbwcRequest.id).desc()).limit(limit)
    )
    return [
        AuditEvent(
            id=f"q{row.id:012d}",
            at=aware(row.sent_at),
            actor="web-connector",
            action="quickbooks.exchange",
            subject=f"{row.purpose}: {len(row.entry_ids)} entries ({row.state})",
            settings_version=None,
            detail={"purpose": row.purpose, "state": row.state, "entry_ids": row.entry_ids},
            qbxml_sent=row.request_xml,
            qbxml_received=row.response_xml,
        )
        for row in rows
    ]


async def list_events(
    db: AsyncSession,
    scope: TenantScope,
    wanted: AuditFilter,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditEvent], str | None]:
    """Newest first, the audit rows and QuickBooks exchanges merged; the next page's cursor."""
    position = _cursor_parts(cursor)
    before = position[0] if position else None
    fetched = [
        *await _log_events(db, scope, wanted, limit + 1, before),
        *await _exchange_events(db, scope, wanted, limit + 1, before),
    ]
    events = sorted(
        (e for e in fetched if _before(e, position)), key=lambda e: (e.at, e.id), reverse=True
    )
    page = events[:limit]
    more = len(events) > limit
    next_cursor = f"{page[-1].at.isoformat()}|{page[-1].id}" if more and page else None
    return page, next_cursor


CSV_COLUMNS = ("at", "actor", "action", "subject", "settings_version", "detail")


def as_csv(events: list[AuditEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in events:
        writer.writerow(
            [
                e.at.isoformat(),
                e.actor,
                e.action,
                e.subject or "",
                "" if e.settings_version is None else e.settings_version,
                json.dumps(e.detail, sort_keys=True, default=str),
            ]
        )
    return out.getvalue()


async def prune(db: AsyncSession, retention_days: int, now: datetime | None = None) -> int:
    """Delete audit rows older than the retention period; the number deleted."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    result = await db.exec(delete(AuditLog).where(col(AuditLog.at) < cutoff))
    return int(result.rowcount or 0)
