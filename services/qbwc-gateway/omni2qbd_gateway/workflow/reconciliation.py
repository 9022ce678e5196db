"""Cin7 against QuickBooks, month by month (issue 10 §7, integration-features §5.3).

Measures: ``sales`` (invoices - credit memos), ``purchases`` (bills - vendor credits),
``cogs`` (the months' COGS) and ``inventory`` (the Inventory Asset balance at month end
against Cin7's stock value, or, without one, against what Cin7's documents put into it).

- The Cin7 side comes from the mapper's entries: the current version of every document,
  posted or not, by its transaction date.
- The QuickBooks side comes from a ``ReconciliationSnapshot``: QuickBooks' own answers to the
  queries of ``reconciliation_queries``, read by the next Web Connector session after a
  person asked. Never from our own records.
- Every difference drills down to the documents behind it: Cin7 documents missing from
  QuickBooks or with another amount there, and QuickBooks transactions no Cin7 document made.
- An inventory difference can be approved as an adjustment journal
  (``inventory_adjustment``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.reconciliation_queries import (
    MEASURE_OF,
    ReconciliationAccounts,
    month_end,
    months_between,
)
from omni2qbd_gateway.workflow.common import (
    IN_QUICKBOOKS,
    RETIRED,
    TRANSACTION_TYPES,
    money_text,
    tenant_settings,
)
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.models import (
    FetchedDocument,
    OutboxItem,
    QbLink,
    aware,
)
from omni2qbd_shared.db.reconciliation import ReconciliationSnapshot
from omni2qbd_shared.entries import Entry, money
from omni2qbd_shared.tenant_settings import TenantSettings

ZERO = Decimal("0.00")
OPEN_READINGS = ("requested", "sent")
SIGNED_KINDS = {
    "invoice": ("sales", 1),
    "credit_memo": ("sales", -1),
    "bill": ("purchases", 1),
    "vendor_credit": ("purchases", -1),
}
# Source kind of the adjustment journals this view offers (``inventory_adjustment``).
ADJUSTMENT_SOURCE = "reconciliation"


class ReconciliationError(ValueError):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def accounts_of(settings: TenantSettings) -> ReconciliationAccounts:
    return ReconciliationAccounts(settings.accounts.inventory_asset, settings.accounts.cogs)


# -- readings of QuickBooks -------------------------------------------------------------------


async def open_reading(session: AsyncSession, scope: TenantScope) -> ReconciliationSnapshot | None:
    """The oldest reading waiting for a Web Connector session (the session hook uses it)."""
    statement = (
        scope.select(ReconciliationSnapshot)
        .where(col(ReconciliationSnapshot.state).in_(OPEN_READINGS))
        .order_by(col(ReconciliationSnapshot.id))
    )
    return (await session.exec(statement.limit(1))).first()


async def request_reading(
    session: AsyncSession, scope: TenantScope, from_month: str, to_month: str, *, actor: str
) -> ReconciliationSnapshot:
    """Ask the next Web Connector session to read these months (one open request at a time
    per range: asking twice before it ran changes nothing)."""
    months_between(from_month, to_month)
    waiting = await session.exec(
        scope.select(ReconciliationSnapshot).where(
            ReconciliationSnapshot.from_month == from_month,
            ReconciliationSnapshot.to_month == to_month,
            col(ReconciliationSnapshot.state).in_(OPEN_READINGS),
        )
    )
    existing = waiting.first()
    if existing is not None:
        return existing
    settings = await tenant_settings(session, scope)
    accounts = accounts_of(settings)
    row = ReconciliationSnapshot(
        tenant_id=scope.tenant_id,
        from_month=from_month,
        to_month=to_month,
        accounts={"inventory_asset": accounts.inventory_asset, "cogs": accounts.cogs},
        requested_by=actor,
    )
    session.add(row)
    await session.flush()
    return row


def reading_accounts(row: ReconciliationSnapshot) -> ReconciliationAccounts:
    return ReconciliationAccounts(
        str(row.accounts.get("inventory_asset") or "Inventory Asset"),
        str(row.accounts.get("cogs") or "Cost of Goods Sold"),
    )


async def latest_reading(
    session: AsyncSession, scope: TenantScope, months: Sequence[str]
) -> ReconciliationSnapshot | None:
    """The newest answered reading that covers every month asked for."""
    statement = (
        scope.select(ReconciliationSnapshot)
        .where(ReconciliationSnapshot.state == "answered")
        .order_by(col(ReconciliationSnapshot.id).desc())
    )
    for row in (await session.exec(statement)).all():
        if row.from_month <= months[0] and row.to_month >= months[-1]:
            return row
    return None


async def _written_since(
    session: AsyncSession, scope: TenantScope, reading: ReconciliationSnapshot
) -> bool:
    """Did the bridge post or modify anything in QuickBooks after this reading?"""
    if reading.answered_at is None:
        return False
    newer = await session.exec(
        scope.select(QbLink).where(col(QbLink.updated_at) > aware(reading.answered_at)).limit(1)
    )
    return newer.first() is not None


# -- the Cin7 side ------------------------------------------------------------------------------


@dataclass
class Cin7Document:
    row: EntryRow
    entry: Entry
    link: QbLink | None
    state: str

    @property
    def label(self) -> str:
        reference = self.entry.source.reference or self.entry.ref_number
        what = self.row.source_kind.replace("_", " ")
        return f"Cin7 {what} {reference or ''} (id {self.row.cin7_id})".replace("  ", " ")


async def current_documents(
    session: AsyncSession, scope: TenantScope, last_day: str
) -> list[Cin7Document]:
    """The newest live version of every document's entry, dated on or before ``last_day``."""
    newest = await _newest_versions(session, scope, last_day)
    links = {
        (link.entry_kind, link.source_kind, link.cin7_id): link
        for link in (await session.exec(scope.select(QbLink))).all()
    }
    outbox = await _outbox_states(session, scope, [r.id for r in newest.values()])
    documents = [
        Cin7Document(
            row, Entry.model_validate(row.body), links.get(key), outbox.get(row.id, row.state)
        )
        for key, row in newest.items()
    ]
    return documents + await _adjustment_documents(session, scope, last_day, links)


async def _newest_versions(
    session: AsyncSession, scope: TenantScope, last_day: str
) -> dict[tuple[str, str, str], EntryRow]:
    statement = scope.select(EntryRow).where(
        col(EntryRow.state).not_in([*RETIRED, "current"]),
        col(EntryRow.entry_kind).in_(list(TRANSACTION_TYPES)),
        col(EntryRow.txn_date) <= last_day,
    )
    newest: dict[tuple[str, str, str], EntryRow] = {}
    for row in (await session.exec(statement)).all():
        key = (row.entry_kind, row.source_kind, row.cin7_id)
        if key not in newest or row.version > newest[key].version:
            newest[key] = row
    return newest


async def _outbox_states(
    session: AsyncSession, scope: TenantScope, entry_ids: list[str]
) -> dict[str, str]:
    """Where each entry is on its way to QuickBooks (entries not yet in the outbox are absent)."""
    items = await session.exec(
        scope.select(OutboxItem).where(col(OutboxItem.entry_id).in_(entry_ids))
    )
    return {item.entry_id: item.state for item in items.all()}


async def _adjustment_documents(
    session: AsyncSession,
    scope: TenantScope,
    last_day: str,
    links: dict[tuple[str, str, str], QbLink],
) -> list[Cin7Document]:
    """Bridge-made adjustment journals live only in the outbox: listed so their QuickBooks
    transactions are recognised as the bridge's (they count on neither side's movements)."""
    adjustments = await session.exec(
        scope.select(OutboxItem).where(
            OutboxItem.source_kind == ADJUSTMENT_SOURCE, col(OutboxItem.state) != "superseded"
        )
    )
    documents: list[Cin7Document] = []
    for item in adjustments.all():
        entry = Entry.model_validate(item.body)
        if entry.txn_date is None or entry.txn_date.isoformat() > last_day:
            continue
        row = EntryRow(
            id=item.entry_id,
            tenant_id=scope.tenant_id,
            entry_kind=item.entry_kind,
            source_kind=item.source_kind,
            cin7_id=item.cin7_id,
            revision=item.revision,
            state=item.state,
            txn_date=entry.txn_date.isoformat(),
            total=entry.total,
            body=item.body,
        )
        link = links.get((item.entry_kind, item.source_kind, item.cin7_id))
        documents.append(Cin7Document(row, entry, link, item.state))
    return documents


def _account_net(entry: Entry, account: str) -> Decimal:
    wanted = account.strip().casefold()
    return sum(
        (
            p.debit - p.credit
            for p in entry.debit_credit()
            if p.account.strip().casefold() == wanted
        ),
        ZERO,
    )


async def cogs_contributions(
    session: AsyncSession, scope: TenantScope, month: str
) -> list[EntryRow]:
    statement = scope.select(EntryRow).where(
        EntryRow.entry_kind == "cogs_contribution",
        EntryRow.state == "current",
        EntryRow.txn_date == month,
    )
    return list((await session.exec(statement)).all())


async def cin7_stock_value(session: AsyncSession, scope: TenantScope, month: str) -> Decimal | None:
    """Cin7's stock value for the month end, when a ``stock_value`` document was fetched
    (Cin7 Omni's API has no valuation endpoint; see reference cin7-omni-api §10)."""
    rows = await session.exec(
        scope.select(FetchedDocument).where(FetchedDocument.kind == "stock_value")
    )
    found = [r for r in rows.all() if str((r.payload or {}).get("period")) == month]
    if not found:
        return None
    payload = max(found, key=lambda r: aware(r.fetched_at)).payload
    if payload.get("stockValue") is not None:
        return money(payload["stockValue"])
    stock = payload.get("stock") or []
    return money(
        sum(
            (Decimal(str(s.get("stockOnHand") or 0)) * Decimal(str(s.get("unitCost") or 0)))
            for s in stock
        )
    )


# -- comparing ------------------------------------------------------------------------------------


def _qb_index(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["txn_id"]: t for t in figures.get("transactions", []) if t.get("txn_id")}


def _in_month(value: str | None, month: str) -> bool:
    return bool(value) and str(value)[:7] == month


def _doc_row(
    doc: Cin7Document, cin7: Decimal, qb_txn: dict[str, Any] | None, qb: Decimal
) -> dict[str, Any]:
    if qb_txn is None and doc.link is None:
        reason = f"not in QuickBooks yet (the entry is {doc.state})"
    elif qb_txn is None:
        reason = (
            f"the bridge posted it (TxnID {doc.link.txn_id if doc.link else '?'}) but QuickBooks "
            "has no such transaction in these months: deleted, or re-dated in QuickBooks"
        )
    elif not _in_month(qb_txn.get("txn_date"), doc.row.txn_date or ""):
        reason = f"dated {qb_txn.get('txn_date')} in QuickBooks"
    else:
        reason = "the amount in QuickBooks differs (edited in QuickBooks, or a newer version waits)"
    return {
        "source": "cin7",
        "entry_id": doc.row.id,
        "document": doc.label,
        "kind": doc.row.source_kind,
        "cin7_id": doc.row.cin7_id,
        "qb_type": TRANSACTION_TYPES.get(doc.row.entry_kind),
        "txn_id": doc.link.txn_id if doc.link else None,
        "ref_number": doc.entry.ref_number,
        "txn_date": doc.row.txn_date,
        "state": doc.state,
        "cin7": f"{cin7:.2f}",
        "quickbooks": f"{qb:.2f}",
        "difference": f"{cin7 - qb:.2f}",
        "reason": reason,
    }


def _qb_only_row(txn: dict[str, Any], amount: Decimal) -> dict[str, Any]:
    return {
        "source": "quickbooks",
        "entry_id": None,
        "document": f"QuickBooks {txn['txn_type']} {txn.get('ref_number') or txn['txn_id']}",
        "kind": None,
        "cin7_id": None,
        "qb_type": txn["txn_type"],
        "txn_id": txn["txn_id"],
        "ref_number": txn.get("ref_number"),
        "txn_date": txn.get("txn_date"),
        "state": None,
        "cin7": "0.00",
        "quickbooks": f"{amount:.2f}",
        "difference": f"{-amount:.2f}",
        "reason": "in QuickBooks only: no Cin7 document made it (entered by hand, or from "
        "another application)",
    }


def _row(
    measure: str, cin7: Decimal | None, qb: Decimal | None, documents: list[dict[str, Any]]
) -> dict[str, Any]:
    difference = cin7 - qb if cin7 is not None and qb is not None else None
    return {
        "measure": measure,
        "cin7": money_text(cin7),
        "quickbooks": money_text(qb),
        "difference": money_text(difference),
        "documents": documents if difference is None or difference != ZERO else [],
    }


def month_rows(
    month: str,
    documents: Sequence[Cin7Document],
    contributions: Sequence[EntryRow],
    stock_value: Decimal | None,
    figures: dict[str, Any] | None,
    accounts: ReconciliationAccounts,
) -> list[dict[str, Any]]:
    """The four rows of one month (pure: every input is already read)."""
    qb_by_id = _qb_index(figures) if figures is not None else {}
    linked_ids = {d.link.txn_id for d in documents if d.link is not None}
    rows = [
        _measure_row(measure, month, documents, figures, qb_by_id, linked_ids)
        for measure in ("sales", "purchases")
    ]
    rows.append(_cogs_row(month, documents, contributions, figures, qb_by_id, linked_ids))
    rows.append(_inventory_row(month, documents, stock_value, figures, accounts, linked_ids))
    return rows


def _measure_row(
    measure: str,
    month: str,
    documents: Sequence[Cin7Document],
    figures: dict[str, Any] | None,
    qb_by_id: dict[str, dict[str, Any]],
    linked_ids: set[str],
) -> dict[str, Any]:
    """Sales or purchases: Cin7's documents of the month against QuickBooks' transactions."""
    cin7 = ZERO
    detail: list[dict[str, Any]] = []
    for doc in documents:
        signed = SIGNED_KINDS.get(doc.row.entry_kind)
        if signed is None or signed[0] != measure or not _in_month(doc.row.txn_date, month):
            continue
        amount = signed[1] * money(doc.entry.total)
        cin7 += amount
        txn = qb_by_id.get(doc.link.txn_id) if doc.link else None
        qb_amount = (
            Decimal(txn["amount"]) if txn and _in_month(txn.get("txn_date"), month) else ZERO
        )
        if amount != qb_amount:
            detail.append(_doc_row(doc, amount, txn, qb_amount))
    qb = None
    if figures is not None:
        qb = ZERO
        for txn in figures.get("transactions", []):
            if MEASURE_OF.get(txn["txn_type"]) != measure or not _in_month(
                txn.get("txn_date"), month
            ):
                continue
            qb += Decimal(txn["amount"])
            if txn["txn_id"] not in linked_ids and Decimal(txn["amount"]) != ZERO:
                detail.append(_qb_only_row(txn, Decimal(txn["amount"])))
    return _row(measure, cin7, qb, detail)


def _cogs_row(
    month: str,
    documents: Sequence[Cin7Document],
    contributions: Sequence[EntryRow],
    figures: dict[str, Any] | None,
    qb_by_id: dict[str, dict[str, Any]],
    linked_ids: set[str],
) -> dict[str, Any]:
    """The month's COGS contributions against QuickBooks' journal entries of the month."""
    cin7_cogs = sum((money(c.total or 0) for c in contributions), ZERO)
    detail: list[dict[str, Any]] = []
    cogs_journals = [
        d for d in documents if d.row.source_kind == "cogs_month" and d.row.cin7_id == month
    ]
    qb_cogs = None
    if figures is not None:
        qb_cogs = _qb_journals(month, figures, linked_ids, detail)
        for doc in cogs_journals:
            txn = qb_by_id.get(doc.link.txn_id) if doc.link else None
            qb_amount = Decimal(txn["amount"]) if txn else ZERO
            if qb_amount != cin7_cogs:
                detail.append(_doc_row(doc, cin7_cogs, txn, qb_amount))
    return _row("cogs", cin7_cogs, qb_cogs, detail)


def _qb_journals(
    month: str, figures: dict[str, Any], linked_ids: set[str], detail: list[dict[str, Any]]
) -> Decimal:
    """QuickBooks' journal entries of the month, summed; those the bridge did not post are
    added to ``detail``."""
    total = ZERO
    for txn in figures.get("transactions", []):
        if txn["txn_type"] != "JournalEntry" or not _in_month(txn.get("txn_date"), month):
            continue
        amount = Decimal(txn["amount"])
        total += amount
        if txn["txn_id"] not in linked_ids and amount != ZERO:
            detail.append(_qb_only_row(txn, amount))
    return total


def _inventory_row(
    month: str,
    documents: Sequence[Cin7Document],
    stock_value: Decimal | None,
    figures: dict[str, Any] | None,
    accounts: ReconciliationAccounts,
    linked_ids: set[str],
) -> dict[str, Any]:
    """Cin7's stock value (or its documents' inventory movements) against QuickBooks'
    inventory balance at the month's end."""
    book = ZERO
    detail: list[dict[str, Any]] = []
    for doc in documents:
        net = _account_net(doc.entry, accounts.inventory_asset)
        if net == ZERO or doc.row.source_kind == ADJUSTMENT_SOURCE:
            # An approved adjustment brings QuickBooks to Cin7's value; it is not a Cin7
            # movement (it is only known, so it is not reported as "in QuickBooks only").
            continue
        book += net
        in_qb = doc.link is not None and doc.state in (*IN_QUICKBOOKS, "sent")
        if not in_qb:
            detail.append(_doc_row(doc, net, None, ZERO))
    cin7_inventory = stock_value if stock_value is not None else book
    qb_inventory = None
    if figures is not None:
        balance = figures.get("inventory_balances", {}).get(month)
        qb_inventory = Decimal(balance) if balance is not None else None
        for txn in figures.get("transactions", []):
            amount = Decimal(txn.get("inventory_amount") or "0")
            if (
                amount != ZERO
                and txn["txn_id"] not in linked_ids
                and _in_month(txn.get("txn_date"), month)
            ):
                detail.append(_qb_only_row(txn, amount))
    row = _row("inventory", cin7_inventory, qb_inventory, detail)
    row["basis"] = "cin7_stock_value" if stock_value is not None else "cin7_documents"
    return row


async def reconciliation(
    session: AsyncSession, scope: TenantScope, from_month: str, to_month: str, *, actor: str
) -> dict[str, Any]:
    """Rows per month; without a reading of QuickBooks covering the months, one is requested
    and the QuickBooks figures are ``null`` until the next Web Connector session."""
    months = months_between(from_month, to_month)
    settings = await tenant_settings(session, scope)
    accounts = accounts_of(settings)
    reading = await latest_reading(session, scope, months)
    stale = reading is not None and await _written_since(session, scope, reading)
    waiting = await open_reading(session, scope)
    if (reading is None or stale) and waiting is None:
        waiting = await request_reading(session, scope, from_month, to_month, actor=actor)
    figures = reading.figures if reading is not None else None
    documents = await current_documents(session, scope, month_end(months[-1]).isoformat())
    result_months = []
    for month in months:
        last_day = month_end(month).isoformat()
        upto = [d for d in documents if (d.row.txn_date or "") <= last_day]
        rows = month_rows(
            month,
            upto,
            await cogs_contributions(session, scope, month),
            await cin7_stock_value(session, scope, month),
            figures,
            accounts,
        )
        result_months.append({"month": month, "rows": rows})
    status, note = _reading_status(reading, stale=stale)
    return {
        "quickbooks_status": status,
        "quickbooks_read_at": (
            aware(reading.answered_at).isoformat() if reading and reading.answered_at else None
        ),
        "reading_requested": waiting is not None,
        "note": note,
        "problems": (figures.get("problems", []) if figures is not None else []),
        "months": result_months,
    }


def _reading_status(reading: ReconciliationSnapshot | None, *, stale: bool) -> tuple[str, str]:
    """How far to trust the QuickBooks figures, as a status and a note for the person."""
    if reading is None:
        return "waiting", (
            "QuickBooks has not been read for these months yet: the next Web Connector run "
            "reads it (run the Web Connector, then reload)."
        )
    read_at = aware(reading.answered_at or reading.requested_at)
    note = f"QuickBooks as read on {read_at.isoformat()}"
    if not stale:
        return "answered", note
    return "stale", (
        note + "; the bridge has written to QuickBooks since, so the next Web Connector run "
        "reads it again"
    )
