"""A month's COGS journal with every order and line behind it (issue 10 §6).

The mapper keeps one contribution row per Cin7 document and month (``cogs_contribution``,
``current`` or ``superseded``) and sums the current ones into the month's journal. This view
reads them back: the journal, each document's share with its lines (qtyShipped x unitCost),
and, when a late cost or a late dispatch re-opened a month already posted, the difference
from what QuickBooks holds, per document, before it is re-posted. Months older than the
tenant's ``cogs.months_open`` are closed and say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.reconciliation_queries import parse_month
from omni2qbd_gateway.workflow.common import (
    IN_QUICKBOOKS,
    RETIRED,
    cin7_label,
    document_payload,
    money_text,
    months_ago,
    tenant_settings,
    tenant_today,
)
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.models import OutboxItem, QbLink, aware
from omni2qbd_shared.entries import Entry, money

CONTRIBUTION = "cogs_contribution"
MONTH_SOURCE = "cogs_month"
ZERO = Decimal("0.00")


def _lines(source_kind: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's lines as COGS counts them (credit notes: the restocked quantity)."""
    rows: list[dict[str, Any]] = []
    items = payload.get("lineItems") or []
    for number, line in enumerate(items if isinstance(items, list) else [], start=1):
        if not isinstance(line, dict):
            continue
        cost = money(line.get("unitCost") or 0)
        if source_kind == "credit_note":
            qty = Decimal(str(line.get("qtyShipped") or 0)) or Decimal(str(line.get("qty") or 0))
            qty = abs(qty)
            amount = -money(qty * abs(cost))
        else:
            raw = line.get("qtyShipped") if "qtyShipped" in line else line.get("qty")
            qty = Decimal(str(raw or 0))
            amount = money(qty * cost)
        rows.append(
            {
                "line": number,
                "code": line.get("code"),
                "name": line.get("name"),
                "qty": format(qty.normalize(), "f"),
                "unit_cost": f"{cost:.2f}",
                "cost": f"{amount:.2f}",
            }
        )
    return rows


def _live_at(row: EntryRow, when: datetime) -> bool:
    """Was this contribution current at ``when``? (superseded rows keep their retire time)."""
    created = aware(row.created_at)
    if created > when:
        return False
    return row.state == "current" or aware(row.updated_at) > when


async def cogs_month(session: AsyncSession, scope: TenantScope, month: str) -> dict[str, Any]:
    parse_month(month)
    settings = await tenant_settings(session, scope)
    age = months_ago(month, tenant_today(settings))
    closed = age > settings.cogs.months_open
    contributions, journals, link = await _read_month(session, scope, month)
    posted_row = _last(row for row in journals if row.state in IN_QUICKBOOKS)
    current_row = _last(row for row in journals if row.state not in RETIRED)

    when_posted = aware(posted_row.updated_at) if posted_row is not None else None
    rows = _document_rows(await _documents(session, contributions, when_posted))
    total = sum((Decimal(r["amount"]) for r in rows), ZERO)
    posted_total = money(posted_row.total or 0) if posted_row is not None else None
    difference = total - posted_total if posted_total is not None else None
    reopened = difference is not None and difference != ZERO
    journal = await _journal(session, current_row)
    return {
        "month": month,
        "status": "closed" if closed else "open",
        "months_open": settings.cogs.months_open,
        "total": f"{total:.2f}",
        "posted_total": money_text(posted_total),
        "difference": money_text(difference),
        "reopened": reopened,
        "journal": journal,
        "posted": _posted(posted_row, posted_total, link),
        "documents": rows,
        "changes": [r for r in rows if r["change"] not in (None, "0.00")],
        "next_step": _next_step(
            settings.cogs.months_open,
            closed=closed,
            difference=difference if reopened else None,
            relinked=link is not None,
            journal=journal,
            posted=posted_row is not None,
        ),
    }


def _last(rows: Iterable[EntryRow]) -> EntryRow | None:
    found = list(rows)
    return found[-1] if found else None


def _posted(
    posted_row: EntryRow | None, posted_total: Decimal | None, link: QbLink | None
) -> dict[str, Any] | None:
    """The journal QuickBooks holds for the month, and its identity there."""
    if posted_row is None:
        return None
    return {
        "entry_id": posted_row.id,
        "total": money_text(posted_total),
        "txn_id": link.txn_id if link else None,
        "edit_sequence": link.edit_sequence if link else None,
        "posted_at": link.posted_at.isoformat() if link else None,
    }


async def _read_month(
    session: AsyncSession, scope: TenantScope, month: str
) -> tuple[list[EntryRow], list[EntryRow], QbLink | None]:
    """The month's contribution rows, its journal's versions (oldest first) and its link to
    the journal in QuickBooks."""
    contributions = list(
        (
            await session.exec(
                scope.select(EntryRow).where(
                    EntryRow.entry_kind == CONTRIBUTION, EntryRow.txn_date == month
                )
            )
        ).all()
    )
    journals = list(
        (
            await session.exec(
                scope.select(EntryRow)
                .where(EntryRow.source_kind == MONTH_SOURCE, EntryRow.cin7_id == month)
                .order_by(col(EntryRow.version))
            )
        ).all()
    )
    link = (
        await session.exec(
            scope.select(QbLink).where(QbLink.source_kind == MONTH_SOURCE, QbLink.cin7_id == month)
        )
    ).first()
    return contributions, journals, link


async def _documents(
    session: AsyncSession, contributions: list[EntryRow], when_posted: datetime | None
) -> dict[tuple[str, str], dict[str, Any]]:
    """Each document's share of the month now (with its lines) and, once the month was
    posted, its share then."""
    documents: dict[tuple[str, str], dict[str, Any]] = {}
    for row in contributions:
        key = (row.source_kind, row.cin7_id)
        amount = money(row.total or 0)
        doc = documents.get(key)
        if doc is None:
            payload = await document_payload(session, row) if row.state == "current" else {}
            doc = documents[key] = {
                "kind": row.source_kind,
                "cin7_id": row.cin7_id,
                "document": cin7_label(row.source_kind, row.cin7_id, payload),
                "amount": ZERO,
                "posted_amount": ZERO if when_posted is not None else None,
                "lines": [],
            }
        if row.state == "current":
            doc["amount"] += amount
            payload = await document_payload(session, row)
            doc["document"] = cin7_label(row.source_kind, row.cin7_id, payload)
            doc["lines"] = _lines(row.source_kind, payload)
        if when_posted is not None and _live_at(row, when_posted):
            doc["posted_amount"] += amount
    return documents


def _document_rows(documents: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents in kind and id order, as text, without those that add and change nothing."""
    rows = []
    for doc in sorted(documents.values(), key=lambda d: (d["kind"], d["cin7_id"])):
        change = doc["amount"] - doc["posted_amount"] if doc["posted_amount"] is not None else None
        if doc["amount"] == ZERO and not change:
            continue
        rows.append(
            {
                **doc,
                "amount": f"{doc['amount']:.2f}",
                "posted_amount": money_text(doc["posted_amount"]),
                "change": money_text(change),
            }
        )
    return rows


async def _journal(session: AsyncSession, current_row: EntryRow | None) -> dict[str, Any] | None:
    """The month's current journal, in the outbox's state, with its debits and credits."""
    outbox = await session.get(OutboxItem, current_row.id) if current_row is not None else None
    if current_row is None:
        return None
    entry = Entry.model_validate(current_row.body)
    return {
        "entry_id": current_row.id,
        "state": outbox.state if outbox is not None else current_row.state,
        "ref_number": current_row.ref_number,
        "txn_date": current_row.txn_date,
        "total": money_text(current_row.total),
        "debit_credit": [p.model_dump(mode="json") for p in entry.debit_credit()],
        "findings": current_row.findings,
    }


def _next_step(
    months_open: int,
    *,
    closed: bool,
    difference: Decimal | None,
    relinked: bool,
    journal: dict[str, Any] | None,
    posted: bool,
) -> str:
    """What a person does next with the month; ``difference`` is set when it re-opened."""
    if closed and difference is not None:
        return (
            f"The month is closed (cogs.months_open = {months_open}) and its COGS "
            f"changed by {difference:.2f} since it was posted: post the difference by hand in "
            "an open month, or raise cogs.months_open to re-post it."
        )
    if difference is not None:
        how = "a Mod of the month's journal" if relinked else "the month's journal"
        return (
            f"COGS changed by {difference:.2f} since the month was posted (late costs or "
            f"dispatches in Cin7); approving entry {journal['entry_id'] if journal else '?'} "
            f"re-posts it as {how}."
        )
    if closed:
        return (
            f"The month is closed (older than cogs.months_open = {months_open}); "
            "it is no longer re-posted."
        )
    return "Nothing changed since it was posted." if posted else "Not posted yet."
