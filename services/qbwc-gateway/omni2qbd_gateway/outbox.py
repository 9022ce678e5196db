"""The outbox: entries as the gateway tracks them, from review to QuickBooks.

- ``upsert_entry`` is the ``qb.entries`` consumer's handler: idempotent by entry id; a new
  version of the same document (tenant, entry kind, source kind, Cin7 id) supersedes the
  unsent one, and becomes a re-import (a Mod) once the first is in QuickBooks.
- ``approve`` is the only way in for sending, and it records who and when.
- ``status_rows`` lists entries by state with their QuickBooks outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import AuditLog, OutboxItem, QbLink, Tenant, utcnow
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.kinds import review_state
from omni2qbd_shared.messaging import PoisonMessage

# States an entry may still be replaced in: nothing of it is on its way to QuickBooks.
REPLACEABLE = ("ready", "held", "approved", "queued", "failed")
SENDABLE = ("approved", "queued")
APPROVABLE = ("ready", "failed")
STATE_ORDER = (
    "held",
    "ready",
    "approved",
    "queued",
    "sent",
    "in_doubt",
    "posted",
    "failed",
    "locked",
    "superseded",
)


async def upsert_entry(message: m.EntryMessage, session: AsyncSession) -> Sequence[m.Message]:
    """Consumer handler for ``qb.entries`` (runs in the consumer's transaction)."""
    await _lock_tenant(message, session)
    existing = await session.get(OutboxItem, message.entry_id)
    if existing is not None:
        _update_existing(session, existing, message)
        return []
    if message.state == "superseded":
        return []  # withdrawn before it ever arrived: nothing to hold back
    newer = await _supersede_older_versions(session, message)
    item = _new_item(message, newer[0] if newer else None)
    session.add(item)
    # Imported here: the workflow builds on this module (and on plan, which imports it).
    from omni2qbd_gateway.workflow.approval import auto_approve_new  # noqa: PLC0415

    await auto_approve_new(session, item)
    return []


async def _lock_tenant(message: m.EntryMessage, session: AsyncSession) -> None:
    # Versions of one document can arrive at once (the consumer has a prefetch > 1): the
    # tenant row lock makes them take turns, so each sees the one before and supersedes it.
    # (On SQLite the engine's BEGIN IMMEDIATE does the same.)
    locked = select(Tenant).where(Tenant.id == message.tenant_id).with_for_update()
    if (await session.exec(locked)).first() is None:
        raise PoisonMessage(f"entry {message.entry_id} names unknown tenant {message.tenant_id}")


def _review_state(message: m.EntryMessage) -> str:
    return review_state(message.state)


def _update_existing(session: AsyncSession, existing: OutboxItem, message: m.EntryMessage) -> None:
    """The same entry again: withdrawn, re-derived, or a redelivery that changes nothing."""
    if existing.tenant_id != message.tenant_id:
        raise PoisonMessage(f"entry {message.entry_id} already belongs to another tenant")
    if message.state == "superseded" and existing.state in REPLACEABLE:
        # The mapper withdrew it (document voided or no longer importable, nothing posted).
        existing.state = "superseded"
        existing.last_status_message = "withdrawn: the Cin7 document no longer needs it"
    elif existing.state in ("ready", "held") and existing.body != message.entry:
        # The mapper re-derived the same version (settings or lists changed): refresh it.
        existing.body = dict(message.entry)
        existing.txn_date = txn_date_of(existing.body)
        existing.state = _review_state(message)
    else:
        return
    existing.updated_at = utcnow()
    session.add(existing)


async def _supersede_older_versions(
    session: AsyncSession, message: m.EntryMessage
) -> list[OutboxItem]:
    """Supersede the document's other entries not yet on their way to QuickBooks, unless a
    newer version is already here; the newer versions (the message is stale if any)."""
    same_document = scoped(OutboxItem, message.tenant_id).where(
        OutboxItem.entry_kind == message.entry_kind,
        OutboxItem.source_kind == message.source.kind,
        OutboxItem.cin7_id == message.source.cin7_id,
        OutboxItem.entry_id != message.entry_id,
    )
    siblings = list((await session.exec(same_document.with_for_update())).all())
    newer = [row for row in siblings if row.version > message.version]
    if newer:
        return newer
    for older in siblings:
        if older.state in REPLACEABLE:
            older.state = "superseded"
            older.last_status_message = f"replaced by a newer version (entry {message.entry_id})"
            older.updated_at = utcnow()
            session.add(older)
    return []


def _new_item(message: m.EntryMessage, newer: OutboxItem | None) -> OutboxItem:
    """The outbox row for a new entry; superseded at once when it arrived after ``newer``."""
    body = dict(message.entry)
    return OutboxItem(
        entry_id=message.entry_id,
        tenant_id=message.tenant_id,
        entry_kind=message.entry_kind,
        source_kind=message.source.kind,
        cin7_id=message.source.cin7_id,
        revision=message.source.revision,
        version=message.version,
        state="superseded" if newer is not None else _review_state(message),
        last_status_message=(
            f"arrived after the newer version {newer.version} (entry {newer.entry_id})"
            if newer is not None
            else None
        ),
        ref_number=_ref_number(body),
        txn_date=txn_date_of(body),
        body=body,
    )


def txn_date_of(body: dict[str, Any]) -> str:
    """The entry's transaction date as YYYY-MM-DD, or '' (kept in a column to sort by)."""
    value = body.get("txn_date")
    return str(value)[:10] if value else ""


def _ref_number(body: dict[str, object]) -> str | None:
    value = body.get("ref_number")
    return str(value)[:40] if value else None


class ApprovalError(ValueError):
    pass


@dataclass(frozen=True)
class Approval:
    approved: list[str]
    skipped: dict[str, str]


async def approve(
    session: AsyncSession, tenant_id: str, entry_ids: Sequence[str] | None, *, actor: str
) -> Approval:
    """Approve entries for import (``None`` = every entry ready for it). A person only."""
    if not actor.strip():
        raise ApprovalError("an approval needs the name of the person approving")
    query = scoped(OutboxItem, tenant_id)
    if entry_ids is not None:
        query = query.where(col(OutboxItem.entry_id).in_(list(entry_ids)))
    else:
        query = query.where(col(OutboxItem.state).in_(APPROVABLE))
    rows = {row.entry_id: row for row in (await session.exec(query.with_for_update())).all()}
    approved: list[str] = []
    skipped: dict[str, str] = {}
    now = utcnow()
    for entry_id in entry_ids if entry_ids is not None else sorted(rows):
        row = rows.get(entry_id)
        if row is None:
            skipped[entry_id] = "no such entry for this tenant"
            continue
        if row.state not in APPROVABLE:
            skipped[entry_id] = f"it is {row.state}, only ready or failed entries can be approved"
            continue
        row.state = "approved"
        row.approved_by = actor
        row.approved_at = now
        row.updated_at = now
        session.add(row)
        approved.append(entry_id)
    if approved:
        session.add(
            AuditLog(
                tenant_id=tenant_id,
                actor=actor,
                action="outbox.approved",
                subject=f"{len(approved)} entries",
                detail={"entry_ids": approved},
            )
        )
    return Approval(approved, skipped)


@dataclass(frozen=True)
class StatusRow:
    entry_id: str
    state: str
    entry_kind: str
    source: str
    ref_number: str | None
    approved_by: str | None
    approved_at: datetime | None
    status_code: str | None
    status_message: str | None
    txn_id: str | None
    edit_sequence: str | None
    txn_number: str | None


def held_reason(body: dict[str, Any]) -> str | None:
    """Why an entry is held, in the mapper's words (its first blocking finding)."""
    findings = body.get("findings")
    blocking = (
        [str(f.get("message")) for f in findings if isinstance(f, dict) and f.get("blocking")]
        if isinstance(findings, list)
        else []
    )
    if not blocking:
        return None
    more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
    return blocking[0] + more


async def status_rows(session: AsyncSession, tenant_id: str) -> list[StatusRow]:
    items = (await session.exec(scoped(OutboxItem, tenant_id))).all()
    links = {
        (link.entry_kind, link.source_kind, link.cin7_id): link
        for link in (await session.exec(scoped(QbLink, tenant_id))).all()
    }
    rows: list[StatusRow] = []
    for item in items:
        link = links.get((item.entry_kind, item.source_kind, item.cin7_id))
        linked = link is not None and link.entry_id == item.entry_id
        rows.append(
            StatusRow(
                entry_id=item.entry_id,
                state=item.state,
                entry_kind=item.entry_kind,
                source=f"{item.source_kind} {item.cin7_id}",
                ref_number=item.ref_number,
                approved_by=item.approved_by,
                approved_at=item.approved_at,
                status_code=item.last_status_code,
                status_message=item.last_status_message
                or (held_reason(item.body) if item.state == "held" else None),
                txn_id=link.txn_id if link and linked else None,
                edit_sequence=link.edit_sequence if link and linked else None,
                txn_number=link.txn_number if link and linked else None,
            )
        )
    order = {state: index for index, state in enumerate(STATE_ORDER)}
    rows.sort(key=lambda r: (order.get(r.state, 99), r.entry_kind, r.ref_number or "", r.entry_id))
    return rows
