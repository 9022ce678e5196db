"""The outbox: entries as the gateway tracks them, from review to QuickBooks.

- ``upsert_entries`` is the ``qb.entries`` consumer's handler (a tenant's waiting entries in
  one transaction; ``upsert_entry`` is one of them): idempotent by entry id; a new version of
  the same document (tenant, entry kind, source kind, Cin7 id) supersedes the unsent one, and
  becomes a re-import (a Mod) once the first is in QuickBooks.
- Approval for sending is ``workflow.approval`` (a person, with who and when recorded).
- ``status_rows`` lists entries by state with their QuickBooks outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import OutboxItem, QbLink, Tenant, utcnow
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.kinds import EntryState, review_state
from omni2qbd_shared.messaging import PoisonMessage

if TYPE_CHECKING:
    from omni2qbd_gateway.workflow.approval import AutoApprover

# States an entry may still be replaced in: nothing of it is on its way to QuickBooks.
REPLACEABLE = (
    EntryState.READY,
    EntryState.HELD,
    EntryState.APPROVED,
    EntryState.QUEUED,
    EntryState.FAILED,
)
SENDABLE = (EntryState.APPROVED, EntryState.QUEUED)
# The order the status list shows states in: EntryState's own (held, ready, ... superseded).
STATE_ORDER = tuple(EntryState)


async def upsert_entry(message: m.EntryMessage, session: AsyncSession) -> Sequence[m.Message]:
    """Consumer handler for ``qb.entries`` (runs in the consumer's transaction): one entry,
    by the rules of ``upsert_entries``."""
    return await upsert_entries([message], session)


async def upsert_entries(
    messages: Sequence[m.EntryMessage], session: AsyncSession
) -> Sequence[m.Message]:
    """Batch handler for ``qb.entries``: several entries of one tenant in one transaction
    (``TenantBatchingConsumer``), each applied in order exactly as if it came alone.

    The tenant row is locked once; the batch's entries already stored are read by id in one
    query, and every version of their documents (and of the dependencies the auto-approve
    rule may look at, ``AutoApprover``) in one more, locked as before. A version added or
    superseded by an earlier message of the batch is seen by the later ones through those
    rows, so two versions of one document in a batch end as they would one after the other.
    """
    if not messages:
        return []
    tenant_id = messages[0].tenant_id
    if any(message.tenant_id != tenant_id for message in messages):
        raise ValueError("a batch of entries holds one tenant's entries")
    await _lock_tenant(tenant_id, messages[0].entry_id, session)
    stored = await _stored_by_id(session, [message.entry_id for message in messages])
    new = [
        msg for msg in messages if msg.entry_id not in stored and msg.state != EntryState.SUPERSEDED
    ]
    if not new:  # redeliveries and withdrawals: nothing else to read
        for message in messages:
            if message.entry_id in stored:
                _update_existing(session, stored[message.entry_id], message)
        return []
    # Imported here: the workflow builds on this module (and on plan, which imports it).
    from omni2qbd_gateway.workflow.approval import AutoApprover  # noqa: PLC0415

    approver = await AutoApprover.load(
        session, tenant_id, [(msg.entry_kind, msg.entry) for msg in new]
    )
    approver.versions = await _versions(
        session, tenant_id, {_key(msg) for msg in new} | approver.dependency_keys
    )
    await _apply(session, messages, stored, approver)
    return []


async def _apply(
    session: AsyncSession,
    messages: Sequence[m.EntryMessage],
    stored: dict[str, OutboxItem],
    approver: AutoApprover,
) -> None:
    """Each message in order, against the rows the batch read (``stored`` by id, the
    approver's ``versions`` by document), which follow what each message adds or changes."""
    for message in messages:
        existing = stored.get(message.entry_id)
        if existing is not None:
            _update_existing(session, existing, message)
            continue
        if message.state == EntryState.SUPERSEDED:
            continue  # withdrawn before it ever arrived: nothing to hold back
        item = _add_version(session, message, approver.versions.setdefault(_key(message), []))
        stored[item.entry_id] = item
        await approver.approve_new(item)


DocumentKey = tuple[str, str, str]  # entry kind, source kind, Cin7 id: a document's versions


def _key(message: m.EntryMessage) -> DocumentKey:
    return (message.entry_kind, message.source.kind, message.source.cin7_id)


async def lock_tenant(session: AsyncSession, tenant_id: str) -> bool:
    """Make this transaction the one changing the tenant's outbox until it ends; False when
    there is no such tenant.

    Versions of one document can arrive at once (the consumer has a prefetch > 1): the lock
    makes batches take turns, so each sees the one before and supersedes it. A person's
    approvals take it too: an approval and a batch of arriving entries lock the same rows
    (an invoice, the new customer it needs) in different orders, and PostgreSQL ended one of
    them as a deadlock when both ran at once. ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: rows
    that refer to the tenant (links, audit) can still be inserted meanwhile by a Web Connector
    call, which would otherwise wait here while holding rows the lock holder waits for.
    (On SQLite the engine's BEGIN IMMEDIATE serialises writers instead.)"""
    locked = select(Tenant.id).where(Tenant.id == tenant_id).with_for_update(key_share=True)
    return (await session.exec(locked)).first() is not None


async def _lock_tenant(tenant_id: str, entry_id: str, session: AsyncSession) -> None:
    if not await lock_tenant(session, tenant_id):
        raise PoisonMessage(f"entry {entry_id} names unknown tenant {tenant_id}")


async def _stored_by_id(session: AsyncSession, entry_ids: list[str]) -> dict[str, OutboxItem]:
    """The entries already stored under these ids, whichever tenant's (another tenant's is
    refused by ``_update_existing``)."""
    query = select(OutboxItem).where(col(OutboxItem.entry_id).in_(sorted(set(entry_ids))))
    return {row.entry_id: row for row in (await session.exec(query)).all()}


async def _versions(
    session: AsyncSession, tenant_id: str, keys: set[DocumentKey]
) -> dict[DocumentKey, list[OutboxItem]]:
    """Every stored version of these documents, locked (a Web Connector call may be changing
    one's state)."""
    key = tuple_(OutboxItem.entry_kind, OutboxItem.source_kind, OutboxItem.cin7_id)
    query = scoped(OutboxItem, tenant_id).where(key.in_(sorted(keys))).with_for_update()
    versions: dict[DocumentKey, list[OutboxItem]] = {}
    for row in (await session.exec(query)).all():
        versions.setdefault((row.entry_kind, row.source_kind, row.cin7_id), []).append(row)
    return versions


def _review_state(message: m.EntryMessage) -> str:
    return review_state(message.state)


def _update_existing(session: AsyncSession, existing: OutboxItem, message: m.EntryMessage) -> None:
    """The same entry again: withdrawn, re-derived, or a redelivery that changes nothing."""
    if existing.tenant_id != message.tenant_id:
        raise PoisonMessage(f"entry {message.entry_id} already belongs to another tenant")
    if message.state == EntryState.SUPERSEDED and existing.state in REPLACEABLE:
        # The mapper withdrew it (document voided or no longer importable, nothing posted).
        existing.state = EntryState.SUPERSEDED
        existing.last_status_message = "withdrawn: the Cin7 document no longer needs it"
    elif existing.state in (EntryState.READY, EntryState.HELD) and existing.body != message.entry:
        # The mapper re-derived the same version (settings or lists changed): refresh it.
        existing.body = dict(message.entry)
        existing.txn_date = txn_date_of(existing.body)
        existing.state = _review_state(message)
    else:
        return
    existing.updated_at = utcnow()
    session.add(existing)


def _add_version(
    session: AsyncSession, message: m.EntryMessage, versions: list[OutboxItem]
) -> OutboxItem:
    """Add the new entry to its document's ``versions``: it supersedes the others not yet on
    their way to QuickBooks, unless a newer version is already here (then it is stale)."""
    siblings = [row for row in versions if row.entry_id != message.entry_id]
    newer = [row for row in siblings if row.version > message.version]
    if not newer:
        for older in siblings:
            if older.state in REPLACEABLE:
                older.state = EntryState.SUPERSEDED
                older.last_status_message = (
                    f"replaced by a newer version (entry {message.entry_id})"
                )
                older.updated_at = utcnow()
                session.add(older)
    item = _new_item(message, newer[0] if newer else None)
    session.add(item)
    versions.append(item)
    return item


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
        state=EntryState.SUPERSEDED if newer is not None else _review_state(message),
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
                or (held_reason(item.body) if item.state == EntryState.HELD else None),
                txn_id=link.txn_id if link and linked else None,
                edit_sequence=link.edit_sequence if link and linked else None,
                txn_number=link.txn_number if link and linked else None,
            )
        )
    order: dict[str, int] = {state: index for index, state in enumerate(STATE_ORDER)}
    rows.sort(key=lambda r: (order.get(r.state, 99), r.entry_kind, r.ref_number or "", r.entry_id))
    return rows
