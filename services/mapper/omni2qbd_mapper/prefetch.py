"""What a batch of documents (or of results) reads, read once per batch (issue 15).

Mapping one document asked the database about a dozen small questions: is a newer revision
stored, the document's entry rows and their versions, its QuickBooks links, its COGS
contributions, whether its revenue is in QuickBooks, what it counted in its months, who holds
its RefNumbers, the versions of the customer add it needs. Each round trip costs far more CPU
(statement building, execution, ORM rows) than the mapping itself (about 13 statements and
12 ms of CPU per document, against well under a millisecond of mapping), so
``handlers.handle_documents`` and ``handlers.reevaluate`` ask them for the whole batch in a
few queries (``BatchReads``), ``handlers.handle_results`` likewise (``ResultReads``), and the
store's functions take their answers from here while one is installed on the session.

Exactness: the batch holds the tenant's advisory lock before reading, so nobody else changes
these rows meanwhile, and the rows handed out are the session's own objects, so what the batch
changes on them shows. What the batch *adds* is accounted for thus:

* A document's own answers serve its *first* mapping in the batch only (``finish`` marks it
  done); the same document again (a second revision) reads the database as before and sees
  what the first one wrote. During that first mapping its answers are read before it writes,
  except its rows read again by ``store.retire_missing`` after its entries were stored: the
  rows it added are the ones it keeps, which ``retire_missing`` skips.
* Entries several documents share (a new customer's or vendor's add, filed under the contact)
  are in ``shared``, and every entry row the session adds meanwhile joins them
  (``transient_to_pending``), so each document sees the add an earlier one stored.
* Revenue states: mapping documents never moves an invoice or credit memo into or out of
  QuickBooks' states, so the batch's answers stay true to its end; for results, the states
  are worked out from the live rows each time.

``tests/perf/test_batch_reads.py`` compares a batch with the same messages one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.cogs_totals import CogsCounted
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.models import FetchedDocument, QbLink
from omni2qbd_shared.entries import EntryKind

if TYPE_CHECKING:
    from omni2qbd_mapper.result import MappingResult
    from omni2qbd_mapper.store import RevenueState

INFO_KEY = "omni2qbd_mapper.batch_reads"
CONTRIBUTION_KIND = "cogs_contribution"  # store.CONTRIBUTION_KIND (store imports this module)
_CHUNK = 500  # bounded IN lists for SQLite and PostgreSQL

DocKey = tuple[str, str]  # (source kind, Cin7 id)


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


async def _read_counted_months(
    session: AsyncSession,
    tenant_id: str,
    kinds: list[str],
    chunk: list[str],
    into: dict[DocKey, list[CogsCounted]],
) -> None:
    """The counted COGS months of the documents ``into`` has a list for (one query)."""
    counted = select(CogsCounted).where(
        col(CogsCounted.tenant_id) == tenant_id,
        col(CogsCounted.source_kind).in_(kinds),
        col(CogsCounted.cin7_id).in_(chunk),
    )
    for counted_row in (await session.exec(counted)).all():
        key = (counted_row.source_kind, counted_row.cin7_id)
        if key in into:
            into[key].append(counted_row)


@dataclass(frozen=True)
class FirstMapping:
    result: MappingResult
    looked_up: frozenset[tuple[str, str]]  # (entry kind, case-folded RefNumber)


@dataclass
class BatchReads:
    """One batch's answers per document (``batch_reads``), until ``finish``."""

    tenant_id: str
    keys: set[DocKey]
    rows: dict[DocKey, list[EntryRow]] = field(default_factory=dict)  # contributions apart
    contributions: dict[DocKey, list[EntryRow]] = field(default_factory=dict)
    links: dict[DocKey, list[QbLink]] = field(default_factory=dict)
    counted: dict[DocKey, list[CogsCounted]] = field(default_factory=dict)
    modified: dict[DocKey, list[datetime | None]] = field(default_factory=dict)
    # Whose invoice or credit memo counts for COGS (absent: not counted); set by the handler.
    revenue: dict[DocKey, RevenueState] | None = None
    done: set[DocKey] = field(default_factory=set)
    current: DocKey | None = None  # the document being mapped (``start``)
    # Entry identities several documents of the batch share (a new customer's or vendor's
    # add, filed under the contact): their rows, and the rows the batch adds (``_added``).
    shared: dict[DocKey, list[EntryRow]] = field(default_factory=dict)
    # Each document's mapping before anything was stored, with the RefNumbers it looked up
    # (by kind, Cin7 id, revision): reused when mapping again would give the same.
    first_mappings: dict[tuple[str, str, str], FirstMapping] = field(default_factory=dict)

    @classmethod
    async def read(
        cls, session: AsyncSession, tenant_id: str, documents: Iterable[DocKey]
    ) -> BatchReads:
        reads = cls(tenant_id, set(documents))
        kinds = sorted({kind for kind, _ in reads.keys})
        ids = sorted({cin7_id for _, cin7_id in reads.keys})
        for key in reads.keys:
            reads.rows[key], reads.contributions[key] = [], []
            reads.links[key], reads.counted[key], reads.modified[key] = [], [], []
        await reads._read_entry_rows(session, kinds, ids)
        for chunk in _chunks(ids):
            await reads._read_links(session, kinds, chunk)
            await reads._read_counted(session, kinds, chunk)
            await reads._read_modified(session, kinds, chunk)
        return reads

    async def _read_entry_rows(
        self, session: AsyncSession, kinds: list[str], ids: list[str]
    ) -> None:
        """The documents' entry rows and COGS contributions, reversals included."""
        # A reversal's id is ``<cin7 id>:void:<entry kind>`` (rules.common, store.document_rows).
        base_of = {cin7_id: cin7_id for cin7_id in ids}
        for cin7_id in ids:
            for entry_kind in EntryKind:
                base_of[f"{cin7_id}:void:{entry_kind.value}"] = cin7_id
        for chunk in _chunks(sorted(base_of)):
            statement = select(EntryRow).where(
                col(EntryRow.tenant_id) == self.tenant_id,
                col(EntryRow.source_kind).in_(kinds),
                col(EntryRow.cin7_id).in_(chunk),
            )
            for row in (await session.exec(statement)).all():
                key = (row.source_kind, base_of[row.cin7_id])
                if key not in self.keys:
                    continue
                if row.entry_kind != CONTRIBUTION_KIND:
                    self.rows[key].append(row)
                elif row.cin7_id == key[1]:
                    self.contributions[key].append(row)

    async def _read_links(self, session: AsyncSession, kinds: list[str], chunk: list[str]) -> None:
        links = select(QbLink).where(
            col(QbLink.tenant_id) == self.tenant_id,
            col(QbLink.source_kind).in_(kinds),
            col(QbLink.cin7_id).in_(chunk),
        )
        for link in (await session.exec(links)).all():
            if (link.source_kind, link.cin7_id) in self.keys:
                self.links[(link.source_kind, link.cin7_id)].append(link)

    async def _read_counted(
        self, session: AsyncSession, kinds: list[str], chunk: list[str]
    ) -> None:
        await _read_counted_months(session, self.tenant_id, kinds, chunk, self.counted)

    async def _read_modified(
        self, session: AsyncSession, kinds: list[str], chunk: list[str]
    ) -> None:
        fetched = select(
            FetchedDocument.kind, FetchedDocument.cin7_id, FetchedDocument.modified_date
        ).where(
            col(FetchedDocument.tenant_id) == self.tenant_id,
            col(FetchedDocument.kind).in_(kinds),
            col(FetchedDocument.cin7_id).in_(chunk),
        )
        for fetched_kind, fetched_id, modified in (await session.exec(fetched)).all():
            if (fetched_kind, fetched_id) in self.keys:
                self.modified[(fetched_kind, fetched_id)].append(modified)

    async def read_shared(self, session: AsyncSession, keys: Iterable[DocKey]) -> None:
        """The rows of entry identities filed under another document (a contact's add)."""
        wanted = set(keys)
        for key in wanted:
            self.shared[key] = []
        kinds = sorted({kind for kind, _ in wanted})
        for chunk in _chunks(sorted({cin7_id for _, cin7_id in wanted})):
            statement = select(EntryRow).where(
                col(EntryRow.tenant_id) == self.tenant_id,
                col(EntryRow.source_kind).in_(kinds),
                col(EntryRow.cin7_id).in_(chunk),
                col(EntryRow.entry_kind) != CONTRIBUTION_KIND,
            )
            for row in (await session.exec(statement)).all():
                if (row.source_kind, row.cin7_id) in wanted:
                    self.shared[(row.source_kind, row.cin7_id)].append(row)

    def _added(self, _session: Session, instance: object) -> None:
        """A row the batch stores (added; inserted at the next flush): a shared identity's
        versions include it."""
        if isinstance(instance, EntryRow) and instance.tenant_id == self.tenant_id:
            rows = self.shared.get((instance.source_kind, instance.cin7_id))
            if rows is not None and all(row is not instance for row in rows):
                rows.append(instance)

    def install(self, session: AsyncSession) -> None:
        session.info[INFO_KEY] = self
        event.listen(session.sync_session, "transient_to_pending", self._added)

    def remove(self, session: AsyncSession) -> None:
        session.info.pop(INFO_KEY, None)
        event.remove(session.sync_session, "transient_to_pending", self._added)

    def shared_rows(self, source_kind: str, cin7_id: str) -> list[EntryRow] | None:
        rows = self.shared.get((source_kind, cin7_id))
        return list(rows) if rows is not None else None

    def start(self, key: DocKey) -> None:
        """The document about to be mapped: its entries' versions come from here."""
        self.current = key if key in self.keys and key not in self.done else None

    def finish(self, key: DocKey) -> None:
        """The document was mapped: from now on its reads go to the database."""
        self.done.add(key)
        self.current = None

    def current_rows(self, source_kind: str, cin7_id: str) -> list[EntryRow] | None:
        """The rows of one entry identity (any entry kind) of the document being mapped,
        or None when it is not that document's (a contact's add, a COGS month): those are
        shared by several documents of the batch, so they are read from the database."""
        current = self.current
        if current is None or source_kind != current[0]:
            return None
        if cin7_id != current[1] and not cin7_id.startswith(f"{current[1]}:void:"):
            return None
        return [row for row in self.rows[current] if row.cin7_id == cin7_id]

    def loaded(self, ids: Sequence[str]) -> list[EntryRow] | None:
        """These rows, if the batch read them all (the session's own objects)."""
        by_id = {row.id: row for rows in self.rows.values() for row in rows}
        by_id.update((row.id, row) for rows in self.shared.values() for row in rows)
        found = [by_id[i] for i in ids if i in by_id]
        return found if len(found) == len(ids) else None

    def newer_stored(self, key: DocKey, modified: datetime) -> bool | None:
        """Whether a revision modified after ``modified`` is stored; None: ask the database
        (a date without a zone, as SQLite returns them, is not compared here)."""
        if key not in self.keys or key in self.done:
            return None
        stored = self.modified[key]
        if modified.tzinfo is None or any(d is not None and d.tzinfo is None for d in stored):
            return None
        return any(d is not None and d > modified for d in stored)


def installed(session: AsyncSession) -> BatchReads | None:
    reads = session.info.get(INFO_KEY)
    return reads if isinstance(reads, BatchReads) else None


def batch_reads(session: AsyncSession, tenant_id: str, key: DocKey) -> BatchReads | None:
    """The batch's answers for this document, if they are still valid."""
    reads = session.info.get(INFO_KEY)
    if not isinstance(reads, BatchReads) or reads.tenant_id != tenant_id:
        return None
    if key not in reads.keys or key in reads.done:
        return None
    return reads


RESULT_INFO_KEY = "omni2qbd_mapper.result_reads"
REVENUE_KINDS = ("invoice", "credit_memo")  # store.REVENUE_KINDS
CURRENT = "current"  # store.CURRENT


@dataclass
class ResultReads:
    """A batch of ``qb.results``' reads, made once (``handlers.handle_results``, issue 15).

    Each result read its entry, then for an invoice or credit memo its document's revenue
    rows, current COGS contributions and counted months, one query each. Here they are read
    for the whole batch. The rows are the session's own objects, kept here (the session
    holds them only weakly), so a state a result sets shows in what the next result reads:
    revenue states are worked out from these rows as the query would; contributions do not
    change while results are tracked; a document's counted months are handed out once
    (``sync_document`` changes them), after which they are read from the database again.
    """

    tenant_id: str
    entries: dict[str, EntryRow] = field(default_factory=dict)
    revenue_rows: dict[DocKey, list[EntryRow]] = field(default_factory=dict)
    contributions: dict[DocKey, list[EntryRow]] = field(default_factory=dict)
    counted: dict[DocKey, list[CogsCounted]] = field(default_factory=dict)
    done: set[DocKey] = field(default_factory=set)

    @classmethod
    async def read(
        cls, session: AsyncSession, tenant_id: str, entry_ids: Sequence[str]
    ) -> ResultReads:
        reads = cls(tenant_id)
        for chunk in _chunks(sorted(set(entry_ids))):
            statement = select(EntryRow).where(col(EntryRow.id).in_(chunk))
            for row in (await session.exec(statement)).all():
                reads.entries[row.id] = row
        keys = {
            (row.source_kind, row.cin7_id)
            for row in reads.entries.values()
            if row.tenant_id == tenant_id and row.entry_kind in REVENUE_KINDS
        }
        for key in keys:
            reads.revenue_rows[key], reads.contributions[key], reads.counted[key] = [], [], []
        kinds = sorted({kind for kind, _ in keys})
        for chunk in _chunks(sorted({cin7_id for _, cin7_id in keys})):
            await reads._read_revenue_rows(session, keys, kinds, chunk)
            await reads._read_counted(session, kinds, chunk)
        return reads

    async def _read_revenue_rows(
        self, session: AsyncSession, keys: set[DocKey], kinds: list[str], chunk: list[str]
    ) -> None:
        """The documents' invoices and credit memos, and their current COGS contributions."""
        statement = select(EntryRow).where(
            col(EntryRow.tenant_id) == self.tenant_id,
            col(EntryRow.source_kind).in_(kinds),
            col(EntryRow.cin7_id).in_(chunk),
            col(EntryRow.entry_kind).in_((*REVENUE_KINDS, CONTRIBUTION_KIND)),
        )
        for row in (await session.exec(statement)).all():
            key = (row.source_kind, row.cin7_id)
            if key not in keys:
                continue
            if row.entry_kind != CONTRIBUTION_KIND:
                self.revenue_rows[key].append(row)
            elif row.state == CURRENT:
                self.contributions[key].append(row)

    async def _read_counted(
        self, session: AsyncSession, kinds: list[str], chunk: list[str]
    ) -> None:
        await _read_counted_months(session, self.tenant_id, kinds, chunk, self.counted)

    def periods(self) -> set[str]:
        """The COGS months the batch's documents count in or contribute to."""
        periods = {row.period for rows in self.counted.values() for row in rows}
        periods |= {row.txn_date or "" for rows in self.contributions.values() for row in rows}
        return periods - {""}

    def install(self, session: AsyncSession) -> None:
        session.info[RESULT_INFO_KEY] = self

    @staticmethod
    def remove(session: AsyncSession) -> None:
        session.info.pop(RESULT_INFO_KEY, None)

    def take_counted(self, key: DocKey) -> list[CogsCounted] | None:
        """The document's counted months, once; None: read them from the database."""
        if key not in self.counted or key in self.done:
            return None
        self.done.add(key)
        return list(self.counted[key])


def result_reads(session: AsyncSession, tenant_id: str) -> ResultReads | None:
    reads = session.info.get(RESULT_INFO_KEY)
    if not isinstance(reads, ResultReads) or reads.tenant_id != tenant_id:
        return None
    return reads
