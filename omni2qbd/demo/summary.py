"""The bookkeeper's summary, with every QuickBooks figure read from the company file itself."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd.demo.progress import Snapshot
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Entry, FetchedDocument, OutboxItem
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.kinds import (
    CIN7_PLURAL,
    QB_TITLE_PLURAL,
    QB_TYPE,
    TRANSACTION_KIND,
    Cin7Kind,
    EntryKind,
    EntryState,
    MapperState,
)
from omni2qbd_sims.quickbooks.company_file import CompanyFile

# QuickBooks transaction types, by qbXML type, as the summary's table heads them.
QB_TYPE_WORDS = {QB_TYPE[kind]: plural for kind, plural in QB_TITLE_PLURAL.items()}
# Cin7 documents whose own total is what QuickBooks must show: those that become a transaction.
TOTAL_FIELD_KINDS = set(TRANSACTION_KIND)
NOT_SENT = {EntryState.HELD, EntryState.SUPERSEDED}
LIST_ADDS = (EntryKind.CUSTOMER_ADD, EntryKind.VENDOR_ADD)
WAITING_FOR: dict[str, str] = {
    Cin7Kind.SALES_ORDER: "not yet approved or invoiced in Cin7",
    Cin7Kind.PURCHASE_ORDER: (
        "no supplier invoice yet (invoice date and supplier invoice reference)"
    ),
    Cin7Kind.CREDIT_NOTE: "not yet completed in Cin7",
    Cin7Kind.ADJUSTMENT: "not yet approved in Cin7",
    Cin7Kind.SUPPLIER_CREDIT_NOTE: "not yet completed in Cin7",
}
# Kinds that become an entry of their own once importable (contacts and products feed others).
DOCUMENT_KINDS = set(WAITING_FOR)


@dataclass
class KindLine:
    qb_type: str
    posted_entries: int = 0
    qb_count: int = 0
    cin7_total: Decimal = Decimal("0.00")
    qb_total: Decimal = Decimal("0.00")


@dataclass
class Summary:
    fetched: Counter[str]
    by_type: dict[str, KindLine]
    contacts_added: int
    held: list[tuple[str, int, str]]  # reason code, count, an example in the product's words
    round_trips: int
    sessions: int
    not_importable: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        out: list[str] = ["", "Summary", "======="]
        out.append("Documents fetched from Cin7 Omni:")
        for kind, count in sorted(self.fetched.items()):
            out.append(f"  {CIN7_PLURAL.get(kind, kind):<24} {count:>6}")
        out.append("Posted to QuickBooks (figures read from the QuickBooks company file):")
        out.append(
            f"  {'type':<18} {'entries':>8} {'in QB':>7} {'Cin7 total':>14} {'QB total':>14}"
        )
        for line in sorted(self.by_type.values(), key=lambda item: item.qb_type):
            mark = "" if line.cin7_total == line.qb_total else "   <-- differs"
            out.append(
                f"  {QB_TYPE_WORDS.get(line.qb_type, line.qb_type):<18} {line.posted_entries:>8} "
                f"{line.qb_count:>7} {line.cin7_total:>14,.2f} {line.qb_total:>14,.2f}{mark}"
            )
        out.append(f"  customers and vendors added to QuickBooks: {self.contacts_added}")
        out.append("Not importable yet (waiting for a step in Cin7, nothing to fix):")
        if not self.not_importable:
            out.append("  nothing")
        for kind, count in sorted(self.not_importable.items()):
            out.append(f"  {count:>4} {CIN7_PLURAL.get(kind, kind)}: {WAITING_FOR.get(kind, '')}")
        out.append("Held for a person to fix (not sent):")
        if not self.held:
            out.append("  nothing")
        for code, count, example in self.held:
            out.append(f"  {count:>4} x {code}: {example}")
        out.append(
            f"Web Connector: {self.sessions} sessions, {self.round_trips} round trips "
            "(sendRequestXML/receiveResponseXML pairs)"
        )
        if self.ok:
            out.append(
                "Result: every importable document is in QuickBooks exactly once, and the "
                "totals agree to the cent."
            )
        else:
            out.append("Result: NOT reconciled:")
            out.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(out)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or "0")).quantize(Decimal("0.01"))


@dataclass
class _Rows:
    outbox: list[OutboxItem]
    held_entries: list[Entry]
    documents: dict[tuple[str, str, str], FetchedDocument]
    with_entries: set[tuple[str, str]]


async def _read_rows(sessions: async_sessionmaker[AsyncSession], tenant_id: str) -> _Rows:
    # Only reads: on SQLite it must not take the write lock the services need.
    async with unit_of_work(sessions, read_only=True) as session:
        outbox = list((await session.exec(scoped(OutboxItem, tenant_id))).all())
        held_entries = list(
            (
                await session.exec(
                    scoped(Entry, tenant_id).where(
                        col(Entry.state) == MapperState.NEEDS_ATTENTION.value
                    )
                )
            ).all()
        )
        documents = {
            (d.kind, d.cin7_id, d.revision): d
            for d in (await session.exec(scoped(FetchedDocument, tenant_id))).all()
        }
        with_entries = {
            (e.source_kind, e.cin7_id) for e in (await session.exec(scoped(Entry, tenant_id))).all()
        }
    return _Rows(outbox, held_entries, documents, with_entries)


def _tally_outbox(
    rows: _Rows, company: CompanyFile, by_type: dict[str, KindLine], problems: list[str]
) -> int:
    """Count each sent entry against its QuickBooks type; returns the contacts added."""
    contacts_added = 0
    for item in rows.outbox:
        if item.state in NOT_SENT:
            continue
        if item.entry_kind in LIST_ADDS:
            if item.state == EntryState.POSTED:
                contacts_added += 1
            continue
        _tally_transaction(item, rows, company, by_type, problems)
    return contacts_added


def _tally_transaction(
    item: OutboxItem,
    rows: _Rows,
    company: CompanyFile,
    by_type: dict[str, KindLine],
    problems: list[str],
) -> None:
    label = f"{item.entry_kind} {item.ref_number or ''} (Cin7 {item.source_kind} {item.cin7_id})"
    qb_type = QB_TYPE.get(item.entry_kind, item.entry_kind)
    line = by_type.setdefault(qb_type, KindLine(qb_type))
    if item.state != EntryState.POSTED:
        problems.append(f"{label} is {item.state}: {item.last_status_message or 'not sent'}")
        return
    times = _times_in_company(item, company, qb_type)
    if times != 1:
        problems.append(f"{label} is in QuickBooks {times} times, not once")
        return
    line.posted_entries += 1
    line.cin7_total += _cin7_total(item, rows)


def _times_in_company(item: OutboxItem, company: CompanyFile, qb_type: str) -> int:
    """How many transactions in the company file are this entry (1 when all is well)."""
    guid = str(item.body.get("external_guid") or "")
    found = company.find_by_external_guid(guid) if guid else []
    live = [t for t in found if t.txn_type == qb_type]
    if len(live) == 1:
        return 1
    # A re-import (Mod) keeps one transaction; its GUID is the first version's.
    by_ref = company.count_by_ref_number(item.ref_number or "", qb_type)
    return 1 if by_ref == 1 else (len(live) or by_ref)


def _cin7_total(item: OutboxItem, rows: _Rows) -> Decimal:
    """The Cin7 document's own total where it has one QuickBooks must show, else the entry's."""
    document = rows.documents.get((item.source_kind, item.cin7_id, item.revision))
    if item.source_kind in TOTAL_FIELD_KINDS and document is not None:
        return abs(_money(document.payload.get("total")))
    return abs(_money(item.body.get("total")))


def _compare_with_company(
    company: CompanyFile, by_type: dict[str, KindLine], problems: list[str]
) -> None:
    # The demo's company file holds only what the bridge wrote, so every transaction of a type
    # must be accounted for by exactly one posted entry: more means something posted twice.
    for qb_type, totals in company.totals_by_type().items():
        if qb_type not in QB_TYPE_WORDS:
            continue
        line = by_type.setdefault(qb_type, KindLine(qb_type))
        line.qb_count = totals.count
        line.qb_total = sum(
            (abs(txn.total) for txn in company.transactions(qb_type)), Decimal("0.00")
        )
    for qb_type, line in by_type.items():
        words = QB_TYPE_WORDS.get(qb_type, qb_type)
        if line.qb_count != line.posted_entries:
            problems.append(
                f"{words}: QuickBooks holds {line.qb_count} but {line.posted_entries} entries "
                "were posted"
            )
        if line.qb_total != line.cin7_total:
            problems.append(
                f"{words}: Cin7 total {line.cin7_total:,.2f} but QuickBooks total "
                f"{line.qb_total:,.2f}"
            )


def _not_importable(rows: _Rows) -> Counter[str]:
    not_importable: Counter[str] = Counter()
    for kind, cin7_id in {(kind, cin7_id) for kind, cin7_id, _rev in rows.documents}:
        if kind in DOCUMENT_KINDS and (kind, cin7_id) not in rows.with_entries:
            not_importable[kind] += 1
    return not_importable


def _held_reasons(held_entries: list[Entry]) -> list[tuple[str, int, str]]:
    """Blocking finding codes, most frequent first, with one example message each."""
    reasons: dict[str, list[str]] = defaultdict(list)
    for entry in held_entries:
        for finding in entry.findings:
            if finding.get("blocking"):
                reasons[str(finding.get("code"))].append(str(finding.get("message")))
    return sorted(
        ((code, len(messages), messages[0]) for code, messages in reasons.items()),
        key=lambda row: -row[1],
    )


async def build_summary(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: str,
    company: CompanyFile,
    snap: Snapshot,
    *,
    round_trips: int,
    session_count: int,
) -> Summary:
    rows = await _read_rows(sessions, tenant_id)
    by_type: dict[str, KindLine] = {}
    problems: list[str] = []
    contacts_added = _tally_outbox(rows, company, by_type, problems)
    _compare_with_company(company, by_type, problems)
    return Summary(
        fetched=snap.fetched,
        by_type=by_type,
        contacts_added=contacts_added,
        held=_held_reasons(rows.held_entries),
        not_importable=_not_importable(rows),
        round_trips=round_trips,
        sessions=session_count,
        problems=problems,
    )
