"""The gateway's queries about sessions, sent sets and credentials, each scoped to a tenant.

A session row is the whole state of a conversation (next call, phase, plan), so any gateway
process can answer any call. The database allows one live session per tenant (a partial
unique index), which is what turns a second Web Connector into ``busy`` even when two logins
race. Tickets are stored as their SHA-256 (migration 0006): the clear ticket exists only in
the Web Connector.

Also the outbox window (the next approved entries), the links a message set needs and the
entries an answer is about, and every write of a session step: the sets sent and answered,
and the decisions ``results.py`` takes about each entry (state, link, contact match, the
``qb.results`` message staged in the same transaction). (The list mirror is read and written
in ``lists.py``.)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, case, func, insert, inspect, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import lists, pending
from omni2qbd_gateway.outbox import SENDABLE
from omni2qbd_gateway.plan import (
    CONTACT_KINDS,
    TXN_TYPES,
    DocKey,
    OutgoingSet,
    Window,
    natural_key,
)
from omni2qbd_gateway.qbxml_io import text_of
from omni2qbd_gateway.reader import LoneReader
from omni2qbd_gateway.results import Decision, Saved
from omni2qbd_gateway.states import (
    LIVE_SESSION_STATES,
    EntryState,
    NextCall,
    Purpose,
    RequestState,
    SessionState,
)
from omni2qbd_shared import messages as m
from omni2qbd_shared import secrets
from omni2qbd_shared.db.models import (
    ContactMatch,
    OutboxItem,
    QbLink,
    QbwcRequest,
    QbwcSession,
    Tenant,
    aware,
    utcnow,
)
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.qbxml.message_set import entry_request_id

# Argon2 verification takes ~64 MiB and a core for a fraction of a second: more at once than
# there are cores only adds memory, not speed.
_ARGON2_SLOTS = asyncio.Semaphore(max(1, os.cpu_count() or 1))
MAX_TICKET_LENGTH = 64


def ticket_key(ticket: str) -> str:
    """What the database keeps of a ticket: its SHA-256. A ticket is a bearer credential;
    whoever reads the table must not be able to use one."""
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


async def tenant_by_username(session: AsyncSession, username: str) -> Tenant | None:
    query = select(Tenant).where(Tenant.qbwc_username == username)
    return (await session.exec(query)).one_or_none()


async def verify_tenant_password(tenant: Tenant | None, password: str) -> bool:
    """Argon2 verification, outside any transaction (so it holds no lock while it runs) and
    off the event loop; an unknown name costs the same (``verify_generated_password``)."""
    stored_hash = tenant.qbwc_password_hash if tenant is not None else None
    async with _ARGON2_SLOTS:
        ok = await asyncio.to_thread(secrets.verify_generated_password, stored_hash, password)
    return ok and tenant is not None and tenant.active


async def renewed_password_hash(tenant: Tenant, password: str) -> str | None:
    """After a good login: the hash with today's parameters when the stored one was made with
    the older, slower ones (None when it is current). Computed outside any transaction."""
    if not secrets.generated_hash_is_outdated(tenant.qbwc_password_hash):
        return None
    async with _ARGON2_SLOTS:
        return await asyncio.to_thread(secrets.hash_generated_password, password)


async def store_renewed_password_hash(
    session: AsyncSession, tenant: Tenant, renewed_hash: str
) -> None:
    """Replace the hash a login was verified against, unless the password changed meanwhile
    (a rotation between the check and this write wins)."""
    await session.execute(
        update(Tenant)
        .where(
            col(Tenant.id) == tenant.id, col(Tenant.qbwc_password_hash) == tenant.qbwc_password_hash
        )
        .values(qbwc_password_hash=renewed_hash)
    )


async def check_credentials(session: AsyncSession, username: str, password: str) -> Tenant | None:
    """The tenant these credentials belong to, or None; same Argon2 cost either way."""
    tenant = await tenant_by_username(session, username)
    return tenant if await verify_tenant_password(tenant, password) else None


async def live_sessions(
    session: AsyncSession, tenant_id: str, *, skip_locked: bool = False
) -> list[QbwcSession]:
    """The tenant's live sessions, locked for this transaction. ``skip_locked``: a session
    whose row another transaction holds (a call in flight) is left out."""
    query = scoped(QbwcSession, tenant_id).where(col(QbwcSession.state).in_(LIVE_SESSION_STATES))
    return list((await session.exec(query.with_for_update(skip_locked=skip_locked))).all())


async def stale_session_tenants(session: AsyncSession, stale_after: timedelta) -> list[str]:
    """Tenants with a live session that stopped calling (maintenance across tenants: only
    the ids; each tenant's sessions are then handled through its scope)."""
    query = select(QbwcSession.tenant_id).where(
        col(QbwcSession.state).in_(LIVE_SESSION_STATES),
        col(QbwcSession.last_seen_at) < utcnow() - stale_after,
    )
    return sorted(set((await session.exec(query)).all()))


@dataclass(frozen=True)
class OpenedSession:
    row: QbwcSession
    ticket: str  # the clear ticket, given to the Web Connector once and never stored


async def open_session(
    session: AsyncSession, tenant: Tenant, plan: dict[str, Any]
) -> OpenedSession | None:
    """A new live session, or None when another one won the race (the database refused)."""
    ticket = secrets.new_ticket()
    row = QbwcSession(
        ticket=ticket_key(ticket),
        tenant_id=tenant.id,
        state=SessionState.AUTHENTICATED.value,
        expected_call=NextCall.SEND.value,
        phase=Purpose.START.value,
        company_path=tenant.qb_company_path,
        plan=plan,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return None
    return OpenedSession(row, ticket)


async def session_by_ticket(session: AsyncSession, ticket: str) -> QbwcSession | None:
    """The session of ``ticket`` (live or not), locked for this transaction."""
    if not ticket or len(ticket) > MAX_TICKET_LENGTH:
        return None
    return await session.get(QbwcSession, ticket_key(ticket), with_for_update=True)


class SessionFacts(Protocol):
    """What liveness is decided on (a loaded row or a ``SessionGlance``)."""

    @property
    def state(self) -> str: ...
    @property
    def expected_call(self) -> str: ...
    @property
    def last_seen_at(self) -> datetime: ...


@dataclass(frozen=True)
class SessionGlance:
    """A session's state read without loading the row (its plan): for the calls that only
    report (getLastError), which the Web Connector makes often."""

    key: str
    tenant_id: str
    state: str
    expected_call: str
    last_seen_at: datetime
    last_error: str | None


async def glance(reader: LoneReader, ticket: str) -> SessionGlance | None:
    """One SELECT, no ORM, no transaction around it (``reader.py``)."""
    if not ticket or len(ticket) > MAX_TICKET_LENGTH:
        return None
    key = ticket_key(ticket)
    found = await reader.session_row(key)
    return None if found is None else SessionGlance(key, *found)


async def advance(
    session: AsyncSession, glanced: SessionGlance, expected: str, now: datetime
) -> None:
    """The session moves on from ``glanced.expected_call`` to ``expected`` (only if no other
    call moved it meanwhile), and counts as seen now."""
    await session.exec(
        update(QbwcSession)
        .where(
            col(QbwcSession.ticket) == glanced.key,
            col(QbwcSession.expected_call) == glanced.expected_call,
        )
        .values(expected_call=expected, last_seen_at=now)
    )


def is_live(row: SessionFacts, stale_after: timedelta) -> bool:
    return row.state in LIVE_SESSION_STATES and (aware(row.last_seen_at) >= utcnow() - stale_after)


async def outstanding_requests(session: AsyncSession, row: QbwcSession) -> list[QbwcRequest]:
    query = scoped(QbwcRequest, row.tenant_id).where(
        QbwcRequest.ticket == row.ticket, QbwcRequest.state == RequestState.SENT.value
    )
    return list((await session.exec(query)).all())


async def in_doubt_count(session: AsyncSession, tenant_id: str) -> int:
    """How many write sets of the tenant are in doubt (without reading their XML)."""
    query = (
        select(func.count())
        .select_from(QbwcRequest)
        .where(
            QbwcRequest.tenant_id == tenant_id,
            QbwcRequest.purpose == Purpose.WRITES.value,
            QbwcRequest.state == RequestState.IN_DOUBT.value,
        )
    )
    return int((await session.exec(query)).one())


async def in_doubt_sets(session: AsyncSession, tenant_id: str) -> list[QbwcRequest]:
    query = scoped(QbwcRequest, tenant_id).where(
        QbwcRequest.purpose == Purpose.WRITES.value,
        QbwcRequest.state == RequestState.IN_DOUBT.value,
    )
    return list((await session.exec(query.order_by(col(QbwcRequest.id)))).all())


async def sent_set(session: AsyncSession, tenant_id: str, request_id: int) -> QbwcRequest | None:
    row = await session.get(QbwcRequest, request_id)
    return row if row is not None and row.tenant_id == tenant_id else None


# -- the outbox window and the links a message set needs ---------------------------------------


async def links_for(
    session: AsyncSession, tenant_id: str, items: list[OutboxItem]
) -> dict[DocKey, QbLink]:
    """The QuickBooks links of these items' documents (one query, bounded by the items)."""
    if not items:
        return {}
    cin7_ids = sorted({item.cin7_id for item in items})
    query = scoped(QbLink, tenant_id).where(col(QbLink.cin7_id).in_(cin7_ids))
    return {
        (link.entry_kind, link.source_kind, link.cin7_id): link
        for link in (await session.exec(query)).all()
    }


async def links_for_keys(
    session: AsyncSession, tenant_id: str, keys: set[DocKey]
) -> dict[DocKey, QbLink]:
    if not keys:
        return {}
    query = scoped(QbLink, tenant_id).where(col(QbLink.cin7_id).in_(sorted(k[2] for k in keys)))
    return {
        (link.entry_kind, link.source_kind, link.cin7_id): link
        for link in (await session.exec(query)).all()
        if (link.entry_kind, link.source_kind, link.cin7_id) in keys
    }


async def approved_keys(session: AsyncSession, tenant_id: str, keys: set[DocKey]) -> set[DocKey]:
    """Which of these documents have an approved (or sent) entry waiting to be posted."""
    if not keys:
        return set()
    query = scoped(OutboxItem, tenant_id).where(
        col(OutboxItem.cin7_id).in_(sorted(k[2] for k in keys)),
        col(OutboxItem.state).in_(("approved", "queued", "sent", "in_doubt")),
    )
    return {natural_key(item) for item in (await session.exec(query)).all()} & keys


def _contacts_first() -> Any:
    return case((col(OutboxItem.entry_kind).in_(CONTACT_KINDS), 0), else_=1)


async def in_flight_keys(session: AsyncSession, tenant_id: str) -> set[DocKey]:
    # Only the key columns: the JSON bodies of what is in flight are not needed here.
    query = select(OutboxItem.entry_kind, OutboxItem.source_kind, OutboxItem.cin7_id).where(
        OutboxItem.tenant_id == tenant_id, col(OutboxItem.state).in_(("sent", "in_doubt"))
    )
    return {(kind, source, cin7) for kind, source, cin7 in (await session.exec(query)).all()}


async def items_of(
    session: AsyncSession, tenant_id: str, entry_ids: list[str], *, bodies: bool = True
) -> list[OutboxItem]:
    """These entries of this tenant (one query), in the order given. ``bodies=False``: their
    JSON bodies are not read (``load_bodies`` reads them where needed; an access before
    raises instead of querying behind the caller's back)."""
    if not entry_ids:
        return []
    query = scoped(OutboxItem, tenant_id).where(col(OutboxItem.entry_id).in_(entry_ids))
    if not bodies:
        query = query.options(defer(OutboxItem.body, raiseload=True))  # type: ignore[arg-type]
    found = {item.entry_id: item for item in (await session.exec(query)).all()}
    return [found[entry_id] for entry_id in entry_ids if entry_id in found]


async def _known_items_of(
    session: AsyncSession, tenant_id: str, entry_ids: list[str], known: Sequence[OutboxItem]
) -> list[OutboxItem]:
    """``items_of``, taking the entries already read in this transaction from ``known``."""
    found = {item.entry_id: item for item in known if item.tenant_id == tenant_id}
    missing = [entry_id for entry_id in entry_ids if entry_id not in found]
    found.update((item.entry_id, item) for item in await items_of(session, tenant_id, missing))
    return [found[entry_id] for entry_id in entry_ids if entry_id in found]


async def load_bodies(session: AsyncSession, tenant_id: str, items: list[OutboxItem]) -> None:
    """Read the JSON bodies of these entries where not read yet (a window read without
    them), in one query."""
    missing = {item.entry_id: item for item in items if "body" in inspect(item).unloaded}
    if not missing:
        return
    query = select(OutboxItem.entry_id, OutboxItem.body).where(
        OutboxItem.tenant_id == tenant_id, col(OutboxItem.entry_id).in_(sorted(missing))
    )
    for entry_id, body in (await session.exec(query)).all():
        set_committed_value(missing[entry_id], "body", body)


async def load_window(
    session: AsyncSession, tenant_id: str, deferred: list[str], size: int, *, bodies: bool = True
) -> Window:
    """At most ``size`` approved entries. A newer version waits while the older one's fate in
    QuickBooks is unknown (in flight). ``bodies=False``: their JSON bodies are not read (an
    access would raise instead of querying behind the caller's back)."""
    in_flight = await in_flight_keys(session, tenant_id)
    query = scoped(OutboxItem, tenant_id).where(col(OutboxItem.state).in_(SENDABLE))
    if not bodies:
        query = query.options(defer(OutboxItem.body, raiseload=True))  # type: ignore[arg-type]
    if deferred:
        query = query.where(col(OutboxItem.entry_id).not_in(deferred))
    query = query.order_by(_contacts_first(), col(OutboxItem.approved_at), col(OutboxItem.entry_id))
    fetched = list((await session.exec(query.limit(size + len(in_flight) + 1))).all())
    rows = [row for row in fetched if natural_key(row) not in in_flight]
    complete = len(fetched) <= size + len(in_flight)
    items = rows[:size]
    return Window(items, await links_for(session, tenant_id, items), complete)


async def sendable_count(session: AsyncSession, tenant_id: str, deferred: list[str]) -> int:
    query = scoped(OutboxItem, tenant_id).where(col(OutboxItem.state).in_(SENDABLE))
    if deferred:
        query = query.where(col(OutboxItem.entry_id).not_in(deferred))
    counted = select(func.count()).select_from(query.subquery())
    return int((await session.exec(counted)).one())


# -- a session step's writes ---------------------------------------------------------------------


def save_session(session: AsyncSession, row: QbwcSession, plan: dict[str, Any]) -> None:
    row.plan = plan
    session.add(row)


async def record_sent_set(
    session: AsyncSession,
    row: QbwcSession,
    outgoing: OutgoingSet,
    known: Sequence[OutboxItem] = (),
) -> QbwcRequest:
    """The set about to be returned, stored first (its XML, entries and message set id);
    a write set's entries become ``sent``. ``known``: entries this call already read (the
    window), not read again."""
    request = QbwcRequest(
        tenant_id=row.tenant_id,
        ticket=row.ticket,
        message_set_id=outgoing.message_set_id,
        purpose=outgoing.purpose,
        entry_ids=outgoing.entry_ids,
        request_xml=outgoing.xml,
    )
    session.add(request)
    await session.flush()  # every change made through the ORM so far is written first
    if outgoing.purpose == Purpose.WRITES:
        now = utcnow()
        sent = await _known_items_of(session, row.tenant_id, outgoing.entry_ids, known)
        for item in sent:
            # As committed: the rows are written just below, in one statement.
            for name, value in (
                ("state", EntryState.SENT.value),
                ("attempts", item.attempts + 1),
                ("request_id", entry_request_id(item.entry_id)),
                ("message_set_id", outgoing.message_set_id),
                ("updated_at", now),
            ):
                set_committed_value(item, name, value)
        if sent:
            await session.exec(
                _SENT_UPDATE,
                params=[
                    {
                        "b_entry_id": item.entry_id,
                        "b_attempts": item.attempts,
                        "b_request_id": item.request_id,
                        "b_message_set_id": item.message_set_id,
                        "b_updated_at": now,
                    }
                    for item in sent
                ],
            )
    return request


def record_answer(
    session: AsyncSession, request: QbwcRequest, response_text: str, hresult: str
) -> None:
    request.response_xml = response_text
    request.hresult = hresult[:16] or None
    request.answered_at = utcnow()
    session.add(request)


def set_request_state(
    session: AsyncSession, request: QbwcRequest, state: RequestState, hresult: str | None = None
) -> None:
    request.state = state.value
    if hresult is not None:
        request.hresult = hresult[:16]
    session.add(request)


@dataclass
class _Writes:
    """A set's outbox state changes and staged messages, in the order they were decided,
    written at the end of ``apply_decisions`` with one statement each (not one ORM object
    per entry through the unit of work)."""

    states: dict[str, OutboxItem]  # entry id -> the entry whose state row to write
    messages: list[pending.Staged]
    # Documents linked for the first time: their links, not added to the ORM session.
    new_links: dict[DocKey, QbLink] = field(default_factory=dict)

    def mark(self, item: OutboxItem, **values: Any) -> None:
        """Change the entry in memory (as committed: the row is written by ``write``)."""
        for name, value in values.items():
            set_committed_value(item, name, value)
        self.states[item.entry_id] = item  # written once, with its final values

    async def write(self, session: AsyncSession) -> None:
        if self.new_links:
            await session.exec(
                insert(_LINKS),
                params=[
                    {name: getattr(link, name) for name in _LINK_COLUMNS}
                    for link in self.new_links.values()
                ],
            )
        if self.states:
            await session.exec(
                _STATE_UPDATE,
                params=[
                    {
                        "b_entry_id": item.entry_id,
                        "b_state": item.state,
                        "b_code": item.last_status_code,
                        "b_message": item.last_status_message,
                        "b_updated_at": item.updated_at,
                    }
                    for item in self.states.values()
                ],
            )
        await pending.stage_many(session, self.messages)


_OUTBOX = OutboxItem.__table__  # type: ignore[attr-defined]
_LINKS = QbLink.__table__  # type: ignore[attr-defined]
_LINK_COLUMNS = [column.name for column in _LINKS.columns if column.name != "id"]
_STATE_UPDATE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.entry_id == bindparam("b_entry_id"))
    .values(
        state=bindparam("b_state"),
        last_status_code=bindparam("b_code"),
        last_status_message=bindparam("b_message"),
        updated_at=bindparam("b_updated_at"),
    )
)

_SENT_UPDATE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.entry_id == bindparam("b_entry_id"))
    .values(
        state=EntryState.SENT.value,
        attempts=bindparam("b_attempts"),
        request_id=bindparam("b_request_id"),
        message_set_id=bindparam("b_message_set_id"),
        updated_at=bindparam("b_updated_at"),
    )
)


async def apply_decisions(
    session: AsyncSession,
    tenant_id: str,
    items: list[OutboxItem],
    decisions: list[Decision],
    links: dict[DocKey, QbLink] | None = None,
) -> None:
    """Record what ``results.py`` decided about these entries: state, status, link (TxnID,
    EditSequence), contact match, and the ``qb.results`` message of each, staged in the
    same transaction. ``links``: the stored links of these documents when already read."""
    if not decisions:
        return
    by_id = {item.entry_id: item for item in items}
    if links is None:
        links = await links_for(session, tenant_id, items)
    if any(isinstance(changed, OutboxItem) for changed in session.dirty):
        # Entries changed through the ORM and not flushed yet are written first, as before
        # (``_Writes`` changes entries as committed, then writes their rows itself).
        await session.flush()
    writes = _Writes({}, [])
    for decision in decisions:
        item = by_id[decision.entry_id]
        link: QbLink | None = None
        if decision.saved is not None:
            link = await _record_posted(session, tenant_id, item, decision.saved, links, writes)
        elif decision.report_link:
            link = links.get(natural_key(item))
        if decision.lock_posted_version and link is not None:
            previous = await session.get(OutboxItem, link.entry_id)
            if previous is not None and previous.state == EntryState.POSTED:
                writes.mark(
                    previous,
                    state=EntryState.LOCKED.value,
                    last_status_message=decision.message,
                )
        _set_state(writes, item, decision, link)
    await writes.write(session)


def _set_state(writes: _Writes, item: OutboxItem, decision: Decision, link: QbLink | None) -> None:
    writes.mark(
        item,
        state=decision.state.value,
        last_status_code=decision.code,
        last_status_message=decision.message,
        updated_at=utcnow(),
    )
    if decision.outcome is not None:
        writes.messages.append(
            m.ResultMessage(
                entry_id=item.entry_id,
                tenant_id=item.tenant_id,
                outcome=decision.outcome,
                txn_id=link.txn_id if link else None,
                edit_sequence=link.edit_sequence if link else None,
                txn_number=link.txn_number if link else None,
                status_code=decision.code,
                status_message=decision.message,
            ),
        )


async def _record_posted(
    session: AsyncSession,
    tenant_id: str,
    item: OutboxItem,
    saved: Saved,
    links: dict[DocKey, QbLink],
    writes: _Writes,
) -> QbLink:
    """The document's link now points at this entry and what QuickBooks saved; an older
    entry of the same document is superseded by it."""
    key = natural_key(item)
    link = links.get(key)
    now = utcnow()
    if link is None:
        link = QbLink(
            tenant_id=tenant_id,
            entry_kind=item.entry_kind,
            source_kind=item.source_kind,
            cin7_id=item.cin7_id,
            entry_id=item.entry_id,
            qb_txn_type=TXN_TYPES[item.entry_kind],
            txn_id=saved.txn_id,
            edit_sequence=saved.edit_sequence or "",
            posted_at=now,  # given: a default factory costs a signature inspection each time
            updated_at=now,
        )
    else:
        previous = await session.get(OutboxItem, link.entry_id)
        if previous is not None and previous.entry_id != item.entry_id:
            writes.mark(
                previous,
                state=EntryState.SUPERSEDED.value,
                last_status_message=f"re-imported as entry {item.entry_id}",
                updated_at=now,
            )
    link.entry_id = item.entry_id
    link.txn_id = saved.txn_id
    link.edit_sequence = saved.edit_sequence or link.edit_sequence
    link.txn_number = saved.txn_number
    link.ref_number = item.ref_number
    link.external_guid = saved.external_guid or (item.body.get("external_guid") or None)
    link.is_pending = saved.is_pending
    link.updated_at = now
    if link.id is None:
        writes.new_links[key] = link  # inserted with the set's others (``_Writes.write``)
    else:
        session.add(link)
    links[key] = link
    if item.entry_kind in CONTACT_KINDS:
        await _record_contact(session, tenant_id, item, saved, writes)
    return link


_CONTACT_LIST = {"customer_add": "customer", "vendor_add": "vendor"}
_CONTACT_CIN7_KIND = {"customer_add": "customer", "vendor_add": "supplier"}


async def _record_contact(
    session: AsyncSession, tenant_id: str, item: OutboxItem, saved: Saved, writes: _Writes
) -> None:
    """A customer or vendor the bridge created or linked: mirrored into the list at once and
    matched to its Cin7 contact."""
    list_type = _CONTACT_LIST[item.entry_kind]
    contact = (item.body.get("header") or {}).get("contact") or {}
    name = text_of(saved.ret, "FullName") or str(contact.get("name", ""))
    change = await lists.record_list_item(session, tenant_id, list_type, saved.ret)
    if change is not None:
        writes.messages.append(
            m.ListChangesMessage(tenant_id=tenant_id, list_type=list_type, changes=[change])
        )
    cin7_kind = _CONTACT_CIN7_KIND[item.entry_kind]
    query = scoped(ContactMatch, tenant_id).where(
        ContactMatch.cin7_kind == cin7_kind, ContactMatch.cin7_id == item.cin7_id
    )
    match = (await session.exec(query)).one_or_none()
    if match is None:
        match = ContactMatch(
            tenant_id=tenant_id,
            cin7_kind=cin7_kind,
            cin7_id=item.cin7_id,
            qb_list_type=list_type,
            qb_list_id=saved.txn_id,
            qb_name=name[:200],
            confirmed_by=item.approved_by or "import",
        )
    match.qb_list_id = saved.txn_id
    match.qb_name = name[:200]
    session.add(match)
