"""The mapper's tables: entries (one row per entry version) and COGS contributions.

Identity of an entry across revisions is (tenant, entry kind, source kind, Cin7 id); a row is
one revision of it, unique with the revision. A new revision supersedes the open (unsent)
row; a row that reached QuickBooks stays ``posted`` and the new row is its re-import. The same
revision mapped again (redelivery, or re-evaluation after a settings or list change) updates
its row in place with a higher version, or changes nothing when the result is the same.

COGS contributions are kept as rows of entry kind ``cogs_contribution`` (state ``current``
or ``superseded``); they are never published, only summed into monthly COGS journals. A
contribution counts in its month only once its document's invoice or credit memo is in
QuickBooks (posted, pending or final, or locked) or a person marked it "do not import"
(``counted_documents``): COGS follows the revenue, as in Cin7's own integrations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_mapper.list_references import ChangedNames
from omni2qbd_mapper.prefetch import batch_reads, installed, result_reads
from omni2qbd_mapper.result import CogsContribution, DocumentStatus, MappingResult, PostedEntry
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.models import QbLink, utcnow
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.entries import Entry, EntryKind
from omni2qbd_shared.kinds import GATEWAY_STATE, MapperState
from omni2qbd_shared.qb_lists import QbListsView

READY = MapperState.READY.value
NEEDS_ATTENTION = MapperState.NEEDS_ATTENTION.value
SUPERSEDED = MapperState.SUPERSEDED.value
# Contacts and products post nothing themselves; the CustomerAdd/VendorAdd rows filed under a
# contact belong to the orders that need them, so a contact's own revision must not retire them.
FEEDER_KINDS = ("contact", "product")
VOID = MapperState.VOID.value
POSTED = MapperState.POSTED.value
LOCKED = MapperState.LOCKED.value
FAILED = MapperState.FAILED.value
# A person decided the entry is not to be imported (Cin7's "Do Not Import"); its COGS counts.
DO_NOT_IMPORT = MapperState.DO_NOT_IMPORT.value
OPEN_STATES = (READY, NEEDS_ATTENTION, FAILED)
IN_QUICKBOOKS = (POSTED, LOCKED)
# The entries whose QuickBooks fate decides whether a document's COGS counts.
REVENUE_KINDS = (EntryKind.INVOICE.value, EntryKind.CREDIT_MEMO.value)
COUNTS_COGS = (POSTED, LOCKED, DO_NOT_IMPORT)
_ID_CHUNK = 500

CONTRIBUTION_KIND = "cogs_contribution"  # also prefetch.CONTRIBUTION_KIND
CONTACT_SOURCE = "contact"
CURRENT = "current"
COGS_MONTH_SOURCE = "cogs_month"

# What the gateway is told an entry row's state is.
_MESSAGE_STATES = GATEWAY_STATE


@dataclass
class Outbox:
    """Messages to publish once the transaction committed."""

    messages: list[m.Message] = field(default_factory=list)
    touched_periods: set[str] = field(default_factory=set)


def entry_message(row: EntryRow) -> m.EntryMessage:
    return m.EntryMessage(
        entry_id=row.id,
        tenant_id=row.tenant_id,
        entry_kind=row.entry_kind,
        version=row.version,
        state=_MESSAGE_STATES.get(row.state, row.state),
        source=m.EntrySource(kind=row.source_kind, cin7_id=row.cin7_id, revision=row.revision),
        entry=row.body,
    )


async def lock_tenant(session: AsyncSession, tenant_id: str) -> None:
    """Serialise one tenant's mapping work until commit (PostgreSQL; SQLite writes are
    serialised by the database itself). Monthly COGS sums must see every contribution."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.exec(  # type: ignore[call-overload]
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            params={"key": f"mapper:{tenant_id}"},
        )


def _base_id(cin7_id: str) -> str:
    return cin7_id.split(":", 1)[0]


async def document_rows(
    session: AsyncSession, tenant_id: str, source_kind: str, cin7_id: str
) -> list[EntryRow]:
    """Every entry row made from one Cin7 document (its reversals included)."""
    reads = batch_reads(session, tenant_id, (source_kind, cin7_id))
    if reads is not None:
        return list(reads.rows[(source_kind, cin7_id)])  # read with the batch (``prefetch``)
    statement = scoped(EntryRow, tenant_id).where(
        EntryRow.source_kind == source_kind,
        col(EntryRow.entry_kind) != CONTRIBUTION_KIND,
        # Exact ids, not ``LIKE 'id:void:%'``: outside the C collation that prefix is no index
        # condition, so every row of the tenant and source kind was read for each document
        # (issue 15). A reversal's id is ``<cin7 id>:void:<entry kind>`` (rules.common).
        col(EntryRow.cin7_id).in_([cin7_id, *(f"{cin7_id}:void:{k.value}" for k in EntryKind)]),
    )
    return list((await session.exec(statement)).all())


async def posted_entries(
    session: AsyncSession, tenant_id: str, source_kind: str, cin7_id: str
) -> list[PostedEntry]:
    """Entries of this document that reached QuickBooks, newest row per identity."""
    rows = [
        r
        for r in await document_rows(session, tenant_id, source_kind, cin7_id)
        if r.state in IN_QUICKBOOKS and r.cin7_id == cin7_id
    ]
    newest: dict[str, EntryRow] = {}
    for row in rows:
        if row.entry_kind not in newest or row.version > newest[row.entry_kind].version:
            newest[row.entry_kind] = row
    reads = batch_reads(session, tenant_id, (source_kind, cin7_id))
    if reads is not None:
        links: Sequence[QbLink] = reads.links[(source_kind, cin7_id)]
    else:
        links = (
            await session.exec(
                scoped(QbLink, tenant_id).where(
                    QbLink.source_kind == source_kind, QbLink.cin7_id == cin7_id
                )
            )
        ).all()
    link_by_kind = {link.entry_kind: link for link in links}
    posted = []
    for row in newest.values():
        entry = Entry.model_validate(row.body)
        link = link_by_kind.get(row.entry_kind)
        if row.state == LOCKED:
            is_draft = False
        elif link is not None and link.is_pending is not None:
            is_draft = link.is_pending
        else:
            # Invoices and credit memos are drafts only while pending; other transactions are
            # drafts while untouched, which a posted (not locked) row means here.
            sales = entry.kind in (EntryKind.INVOICE, EntryKind.CREDIT_MEMO)
            is_draft = bool(entry.header.is_pending) if sales else True
        posted.append(
            PostedEntry(entry=entry, txn_id=link.txn_id if link else None, is_draft=is_draft)
        )
    return posted


def _row_values(entry: Entry) -> dict[str, Any]:
    return {
        "state": NEEDS_ATTENTION if entry.held else READY,
        "ref_number": entry.ref_number,
        "txn_date": entry.txn_date.isoformat() if entry.txn_date else None,
        "total": entry.total,
        "body": entry.model_dump(mode="json"),
        "findings": [f.model_dump(mode="json") for f in entry.findings],
    }


def _supersede_open(rows: Sequence[EntryRow], out: Outbox) -> None:
    for row in rows:
        if row.state in OPEN_STATES:
            row.state = SUPERSEDED
            row.updated_at = utcnow()
            out.messages.append(entry_message(row))


@dataclass(frozen=True)
class _Version:
    """One stored version of an entry, without its JSON (a COGS month has hundreds)."""

    id: str
    revision: str
    version: int
    state: str
    entry_kind: str
    total: Decimal | None  # a posted COGS month's total is all its rebuild needs of it


async def _versions(
    session: AsyncSession, tenant_id: str, entry_kind: str | None, source_kind: str, cin7_id: str
) -> list[_Version]:
    """The versions' few columns only: decoding every version's body and findings made each
    COGS month rebuild cost more as its journal gathered versions (issue 15)."""
    reads = installed(session)
    known = None
    if reads is not None and reads.tenant_id == tenant_id:
        known = reads.shared_rows(source_kind, cin7_id)
        if known is None:
            known = reads.current_rows(source_kind, cin7_id)
    if known is not None:
        # Read with the batch (``prefetch``): the document being mapped, or an identity its
        # documents share, with the rows the batch added since.
        return [
            _Version(r.id, r.revision, r.version, r.state, r.entry_kind, r.total)
            for r in known
            if entry_kind is None or r.entry_kind == entry_kind
        ]
    # Six columns: past sqlmodel's typed ``select`` overloads (four), hence ``Any``.
    statement: Any = (
        select(EntryRow.id, EntryRow.revision, EntryRow.version, EntryRow.state)
        .add_columns(col(EntryRow.entry_kind), col(EntryRow.total))
        .where(
            col(EntryRow.tenant_id) == tenant_id,
            col(EntryRow.source_kind) == source_kind,
            col(EntryRow.cin7_id) == cin7_id,
        )
    )
    if entry_kind is not None:
        statement = statement.where(col(EntryRow.entry_kind) == entry_kind)
    return [_Version(*row) for row in (await session.exec(statement)).all()]


async def _load(
    session: AsyncSession,
    versions: Iterable[_Version],
    known: Mapping[str, EntryRow] | None = None,
) -> list[EntryRow]:
    """The given versions' whole rows, in one round trip (none if ``known`` has them all)."""
    ids = [v.id for v in versions]
    if not ids:
        return []
    if known is not None and all(i in known for i in ids):
        return [known[i] for i in ids]
    reads = installed(session)
    if reads is not None and (rows := reads.loaded(ids)) is not None:
        return rows
    return list((await session.exec(select(EntryRow).where(col(EntryRow.id).in_(ids)))).all())


async def journal_versions(session: AsyncSession, tenant_id: str, period: str) -> list[_Version]:
    return await _versions(session, tenant_id, None, COGS_MONTH_SOURCE, period)


@dataclass
class Journals:
    """Several COGS months' journal versions (without their JSON) and their open versions'
    whole rows, read in two queries for the months a batch rebuilds instead of two per
    month (``handlers._rebuild_months``, issue 15). Each month is rebuilt once per batch,
    and a month's rebuild touches only its own journal, so these stay true for it."""

    versions: dict[str, list[_Version]] = field(default_factory=dict)
    rows: dict[str, EntryRow] = field(default_factory=dict)  # open versions, by id

    @classmethod
    async def read(cls, session: AsyncSession, tenant_id: str, periods: Iterable[str]) -> Journals:
        journals = cls()
        wanted = sorted(set(periods))
        for period in wanted:
            journals.versions[period] = []
        for start in range(0, len(wanted), _ID_CHUNK):  # bounded IN lists
            statement: Any = (
                select(EntryRow.id, EntryRow.revision, EntryRow.version, EntryRow.state)
                .add_columns(col(EntryRow.entry_kind), col(EntryRow.total), col(EntryRow.cin7_id))
                .where(
                    col(EntryRow.tenant_id) == tenant_id,
                    col(EntryRow.source_kind) == COGS_MONTH_SOURCE,
                    col(EntryRow.cin7_id).in_(wanted[start : start + _ID_CHUNK]),
                )
            )
            for *version, period in (await session.exec(statement)).all():
                journals.versions[period].append(_Version(*version))
        open_versions = [
            v for vs in journals.versions.values() for v in vs if v.state in OPEN_STATES
        ]
        for start in range(0, len(open_versions), _ID_CHUNK):
            chunk = [v.id for v in open_versions[start : start + _ID_CHUNK]]
            statement = select(EntryRow).where(col(EntryRow.id).in_(chunk))
            for row in (await session.exec(statement)).all():
                journals.rows[row.id] = row
        return journals


async def open_rows(
    session: AsyncSession,
    versions: Iterable[_Version],
    known: Mapping[str, EntryRow] | None = None,
) -> list[EntryRow]:
    return await _load(session, (v for v in versions if v.state in OPEN_STATES), known)


async def upsert_entry(
    session: AsyncSession,
    tenant_id: str,
    entry: Entry,
    out: Outbox,
    versions: Sequence[_Version] | None = None,
    known: Mapping[str, EntryRow] | None = None,
) -> EntryRow:
    """``versions``: the identity's versions (any entry kind), if the caller just read them,
    and ``known`` rows read with them (``cogs_totals.rebuild_month``: a month's journal)."""
    if versions is None:
        versions = await _versions(
            session, tenant_id, entry.kind.value, entry.source.kind, entry.source.cin7_id
        )
    else:
        versions = [v for v in versions if v.entry_kind == entry.kind.value]
    # Only the open versions (superseded below) and the one of this revision are loaded whole.
    rows = await _load(
        session,
        (v for v in versions if v.state in OPEN_STATES or v.revision == entry.source.revision),
        known,
    )
    top_version = max((v.version for v in versions), default=0)
    values = _row_values(entry)
    same = next((r for r in rows if r.revision == entry.source.revision), None)
    if same is None:
        _supersede_open(rows, out)
        return await _insert_version(session, tenant_id, entry, values, top_version, out)
    if entry.source.kind == COGS_MONTH_SOURCE and (
        same.version < top_version or same.state == SUPERSEDED
    ):
        # A COGS month whose sums went back to what an earlier version held (a change undone),
        # or came back after the month emptied, which superseded its newest version.
        _supersede_open(rows, out)
        if same.version == _newest_in_quickbooks(versions):
            return same  # QuickBooks holds exactly these sums already
        same.state = READY  # current again, as a new version (below)
        same.body = {}
    return _update_same_revision(session, same, entry, values, top_version, out)


def _newest_in_quickbooks(versions: Iterable[_Version]) -> int | None:
    return max((v.version for v in versions if v.state in IN_QUICKBOOKS), default=None)


def _update_same_revision(
    session: AsyncSession,
    same: EntryRow,
    entry: Entry,
    values: dict[str, Any],
    top_version: int,
    out: Outbox,
) -> EntryRow:
    """This revision was mapped before: a new version only if what it holds changed."""
    if same.state in (*IN_QUICKBOOKS, SUPERSEDED, VOID, DO_NOT_IMPORT):
        return same  # already sent, or an old revision delivered again: nothing to do
    if entry.source.kind == CONTACT_SOURCE and same.state == values["state"]:
        # A new customer/vendor is shared by all its orders, each with its own address
        # and findings: only a change of held/ready makes a new version, so an approved
        # CustomerAdd is not replaced (losing its approval) every time another order of
        # that customer is mapped.
        out.messages.append(entry_message(same))
        return same
    changed = any(getattr(same, k) != v for k, v in values.items() if k != "total") or (
        same.total is None or Decimal(same.total) != entry.total
    )
    if changed:
        for key, value in values.items():
            setattr(same, key, value)
        same.version = top_version + 1
        same.updated_at = utcnow()
        session.add(same)
    out.messages.append(entry_message(same))
    return same


async def _insert_version(
    session: AsyncSession,
    tenant_id: str,
    entry: Entry,
    values: dict[str, Any],
    top_version: int,
    out: Outbox,
) -> EntryRow:
    row = EntryRow(
        tenant_id=tenant_id,
        entry_kind=entry.kind.value,
        source_kind=entry.source.kind,
        cin7_id=entry.source.cin7_id,
        revision=entry.source.revision,
        version=top_version + 1,
        **values,
    )
    session.add(row)  # inserted with the next flush, together with the batch's other rows
    out.messages.append(entry_message(row))
    return row


async def retire_missing(
    session: AsyncSession,
    tenant_id: str,
    source_kind: str,
    cin7_id: str,
    keep: Iterable[tuple[str, str]],
    status: DocumentStatus,
    out: Outbox,
) -> None:
    """Open rows of this document that the new revision no longer produces are retired."""
    kept = set(keep)
    for row in await document_rows(session, tenant_id, source_kind, cin7_id):
        if (row.entry_kind, row.cin7_id) in kept or row.state not in OPEN_STATES:
            continue
        row.state = VOID if status is DocumentStatus.VOID else SUPERSEDED
        row.updated_at = utcnow()
        session.add(row)
        out.messages.append(entry_message(row))


async def retire_matched_contact_adds(
    session: AsyncSession, tenant_id: str, lists: QbListsView, out: Outbox
) -> None:
    """A customer or vendor add whose Cin7 contact a person has since matched to an existing
    QuickBooks name is not needed any more: sent, it would create a second customer or vendor
    beside the one the bookkeeper chose (the orders now point at the match)."""
    statement = scoped(EntryRow, tenant_id).where(
        col(EntryRow.entry_kind).in_((EntryKind.CUSTOMER_ADD.value, EntryKind.VENDOR_ADD.value)),
        col(EntryRow.state).in_(OPEN_STATES),
    )
    for row in (await session.exec(statement)).all():
        party: Literal["customer", "vendor"] = (
            "customer" if row.entry_kind == EntryKind.CUSTOMER_ADD.value else "vendor"
        )
        if lists.confirmed_match(party, row.cin7_id) is None:
            continue
        row.state = SUPERSEDED
        row.updated_at = utcnow()
        session.add(row)
        out.messages.append(entry_message(row))


async def store_contributions(
    session: AsyncSession,
    tenant_id: str,
    source_kind: str,
    cin7_id: str,
    revision: str,
    contributions: Sequence[CogsContribution],
    out: Outbox,
) -> None:
    reads = batch_reads(session, tenant_id, (source_kind, cin7_id))
    if reads is not None:
        rows = list(reads.contributions[(source_kind, cin7_id)])
    else:
        statement = scoped(EntryRow, tenant_id).where(
            EntryRow.entry_kind == CONTRIBUTION_KIND,
            EntryRow.source_kind == source_kind,
            EntryRow.cin7_id == cin7_id,
        )
        rows = list((await session.exec(statement)).all())
    wanted = {c.period: c for c in contributions}
    for row in rows:
        keep = row.revision == revision and row.txn_date in wanted
        if row.state == CURRENT and not keep:
            row.state = SUPERSEDED
            row.updated_at = utcnow()
            session.add(row)
            out.touched_periods.add(row.txn_date or "")
    existing = {(r.revision, r.txn_date) for r in rows}
    for period, contribution in wanted.items():
        # Rebuilt even when unchanged: a redelivery must publish the month's journal again.
        out.touched_periods.add(period)
        if (revision, period) in existing:
            continue
        session.add(
            EntryRow(
                tenant_id=tenant_id,
                entry_kind=CONTRIBUTION_KIND,
                source_kind=source_kind,
                cin7_id=cin7_id,
                revision=revision,
                version=1,
                state=CURRENT,
                txn_date=period,
                total=contribution.amount,
                body=contribution.model_dump(mode="json"),
            )
        )
        out.touched_periods.add(period)


@dataclass(frozen=True)
class RevenueState:
    """How a document's invoice or credit memo stands in QuickBooks, for COGS."""

    counted: bool  # in QuickBooks (pending or final) or marked do not import
    pending: bool  # in QuickBooks as a pending draft (not yet in the books there)


async def revenue_states(
    session: AsyncSession, tenant_id: str, documents: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], RevenueState]:
    """(source kind, Cin7 id) -> whether its COGS counts, for the documents given."""
    wanted = set(documents)
    if not wanted:
        return {}
    found: dict[tuple[str, str], RevenueState] = {}
    for row in await _counting_revenue_rows(session, tenant_id, wanted):
        key = (row.source_kind, row.cin7_id)
        if key not in wanted:
            continue
        pending = row.state == POSTED and bool((row.body.get("header") or {}).get("is_pending"))
        previous = found.get(key)
        # Any final (locked / not pending) version means the revenue is in the books.
        found[key] = RevenueState(True, pending and (previous is None or previous.pending))
    return found


async def _counting_revenue_rows(
    session: AsyncSession, tenant_id: str, wanted: set[tuple[str, str]]
) -> list[EntryRow]:
    """The documents' invoices and credit memos in a state whose COGS counts."""
    results = result_reads(session, tenant_id)
    if results is not None and wanted <= results.revenue_rows.keys():
        # A batch of results read these rows together (``prefetch``); their states are live.
        return [
            row for key in wanted for row in results.revenue_rows[key] if row.state in COUNTS_COGS
        ]
    ids = sorted({cin7_id for _kind, cin7_id in wanted})
    revenue_rows: list[EntryRow] = []
    for start in range(0, len(ids), _ID_CHUNK):  # bounded IN lists for SQLite and PostgreSQL
        statement = scoped(EntryRow, tenant_id).where(
            # The source kinds let ix_entries_tenant_document find the ids (issue 15).
            col(EntryRow.source_kind).in_(sorted({kind for kind, _id in wanted})),
            col(EntryRow.entry_kind).in_(REVENUE_KINDS),
            col(EntryRow.state).in_(COUNTS_COGS),
            col(EntryRow.cin7_id).in_(ids[start : start + _ID_CHUNK]),
        )
        revenue_rows += (await session.exec(statement)).all()
    return revenue_rows


async def current_contributions(
    session: AsyncSession, tenant_id: str, period: str | None = None
) -> list[CogsContribution]:
    statement = scoped(EntryRow, tenant_id).where(
        EntryRow.entry_kind == CONTRIBUTION_KIND, EntryRow.state == CURRENT
    )
    if period is not None:
        statement = statement.where(EntryRow.txn_date == period)
    return [
        CogsContribution.model_validate(row.body) for row in (await session.exec(statement)).all()
    ]


async def counted_contributions(
    session: AsyncSession, tenant_id: str, contributions: Sequence[CogsContribution]
) -> list[CogsContribution]:
    """The contributions whose documents' revenue is in QuickBooks, marked with pending."""
    states = await revenue_states(
        session, tenant_id, ((c.source.kind, c.source.cin7_id) for c in contributions)
    )
    counted = []
    for contribution in contributions:
        state = states.get((contribution.source.kind, contribution.source.cin7_id))
        if state is not None and state.counted:
            counted.append(contribution.model_copy(update={"pending": state.pending}))
    return counted


async def contribution_periods(
    session: AsyncSession, tenant_id: str, source_kind: str, cin7_id: str
) -> set[str]:
    results = result_reads(session, tenant_id)
    if results is not None and (source_kind, cin7_id) in results.contributions:
        rows = results.contributions[(source_kind, cin7_id)]  # read with the batch (``prefetch``)
        return {row.txn_date or "" for row in rows} - {""}
    statement = scoped(EntryRow, tenant_id).where(
        EntryRow.entry_kind == CONTRIBUTION_KIND,
        EntryRow.state == CURRENT,
        EntryRow.source_kind == source_kind,
        EntryRow.cin7_id == cin7_id,
    )
    return {row.txn_date or "" for row in (await session.exec(statement)).all()} - {""}


async def apply_result(
    session: AsyncSession,
    tenant_id: str,
    source_kind: str,
    cin7_id: str,
    revision: str,
    result: MappingResult,
    out: Outbox,
) -> None:
    """Store what mapping one document revision produced."""
    kept: list[tuple[str, str]] = []
    for entry in result.entries:
        await upsert_entry(session, tenant_id, entry, out)
        if entry.source.kind == source_kind:
            kept.append((entry.kind.value, entry.source.cin7_id))
    if source_kind not in FEEDER_KINDS:
        await retire_missing(session, tenant_id, source_kind, cin7_id, kept, result.status, out)
    if result.status in (DocumentStatus.READY, DocumentStatus.HELD) or result.cogs:
        await store_contributions(
            session, tenant_id, source_kind, cin7_id, revision, result.cogs, out
        )
    elif result.status in (DocumentStatus.VOID, DocumentStatus.NOT_READY):
        # A voided or no-longer-invoiced document takes its cost back out of the month.
        await store_contributions(session, tenant_id, source_kind, cin7_id, revision, [], out)


async def set_state_from_result(
    session: AsyncSession, tenant_id: str, entry_id: str, outcome: str
) -> EntryRow | None:
    row = await session.get(EntryRow, entry_id)
    if row is None or row.tenant_id != tenant_id:
        return None
    new_state = {"posted": POSTED, "locked": LOCKED, "failed": FAILED}.get(outcome)
    if new_state is None or row.state == new_state:
        return row
    if row.state == LOCKED and new_state == POSTED:
        return row  # a late "posted" never unlocks a transaction someone changed in QuickBooks
    row.state = new_state
    row.updated_at = utcnow()
    session.add(row)
    return row


async def mark_do_not_import(
    session: AsyncSession, tenant_id: str, entry_ids: Iterable[str], out: Outbox
) -> list[EntryRow]:
    """A person decided these open entries are not to be imported (Cin7's "Do Not Import").

    They are withdrawn from the gateway; an invoice or credit memo marked so lets its
    document's COGS count, as Cin7 does for documents set to "Do Not Import".
    """
    marked = []
    for entry_id in entry_ids:
        row = await session.get(EntryRow, entry_id)
        if row is None or row.tenant_id != tenant_id or row.state not in OPEN_STATES:
            continue
        row.state = DO_NOT_IMPORT
        row.updated_at = utcnow()
        session.add(row)
        out.messages.append(entry_message(row))
        marked.append(row)
        if row.entry_kind in REVENUE_KINDS:
            out.touched_periods |= await contribution_periods(
                session, tenant_id, row.source_kind, row.cin7_id
            )
    return marked


async def open_document_revisions(
    session: AsyncSession,
    tenant_id: str,
    held_only: bool,
    mentioning: ChangedNames | None = None,
) -> list[tuple[str, str, str]]:
    """(source kind, Cin7 id, revision) of documents with entries still to be sent; with
    ``mentioning``, only those whose entries name a changed QuickBooks list element."""
    states = (NEEDS_ATTENTION,) if held_only else OPEN_STATES
    statement = scoped(EntryRow, tenant_id).where(
        col(EntryRow.state).in_(states), col(EntryRow.entry_kind) != CONTRIBUTION_KIND
    )
    seen: dict[tuple[str, str, str], None] = {}
    for row in (await session.exec(statement)).all():
        if row.source_kind in ("contact", COGS_MONTH_SOURCE):
            continue
        if mentioning is not None and not mentioning.mentioned_in(row.body, row.findings):
            continue
        seen[(row.source_kind, _base_id(row.cin7_id), row.revision)] = None
    return list(seen)


async def open_cogs_months(session: AsyncSession, tenant_id: str) -> list[str]:
    statement = scoped(EntryRow, tenant_id).where(
        EntryRow.source_kind == COGS_MONTH_SOURCE, col(EntryRow.state).in_(OPEN_STATES)
    )
    return sorted({row.cin7_id for row in (await session.exec(statement)).all()})
