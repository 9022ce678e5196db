"""How each month's COGS stands, for ``omni2qbd status`` and the console.

COGS follows the revenue (docs/mapper.md, "COGS"): a document's cost counts in its month
once its invoice or credit memo is in QuickBooks, pending draft or final, or a person marked
it "do not import". This module says, per month, what counts, how much of that sits on
pending drafts, and what still waits for its invoice or credit memo.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_mapper import store
from omni2qbd_shared.entries import ZERO, money


@dataclass
class CogsMonthStatus:
    period: str  # YYYY-MM
    counted: Decimal = ZERO  # in the month's journal: revenue in QuickBooks / do not import
    counted_documents: int = 0
    pending: Decimal = ZERO  # part of ``counted`` whose invoice/credit memo is a pending draft
    pending_documents: int = 0
    waiting: Decimal = ZERO  # not counted yet: invoice/credit memo not in QuickBooks
    waiting_documents: int = 0


async def cogs_status(session: AsyncSession, tenant_id: str) -> list[CogsMonthStatus]:
    contributions = await store.current_contributions(session, tenant_id)
    counted = await store.counted_contributions(session, tenant_id, contributions)
    counted_keys = {(c.source.kind, c.source.cin7_id, c.period) for c in counted}
    months: dict[str, CogsMonthStatus] = {}
    for contribution in counted:
        month = months.setdefault(contribution.period, CogsMonthStatus(contribution.period))
        month.counted += contribution.amount
        month.counted_documents += 1
        if contribution.pending:
            month.pending += contribution.amount
            month.pending_documents += 1
    for contribution in contributions:
        key = (contribution.source.kind, contribution.source.cin7_id, contribution.period)
        if key in counted_keys:
            continue
        month = months.setdefault(contribution.period, CogsMonthStatus(contribution.period))
        month.waiting += contribution.amount
        month.waiting_documents += 1
    return [months[period] for period in sorted(months)]


def describe_cogs_status(months: list[CogsMonthStatus]) -> list[str]:
    """One line per month in words, e.g. for ``omni2qbd status``."""
    lines = []
    for month in months:
        text = (
            f"COGS {month.period}: {money(month.counted):,.2f} counted "
            f"({month.counted_documents} documents in QuickBooks"
        )
        if month.pending_documents:
            text += (
                f", of which {money(month.pending):,.2f} on {month.pending_documents} "
                "pending drafts"
            )
        text += ")"
        if month.waiting_documents:
            text += (
                f"; {money(month.waiting):,.2f} waiting for {month.waiting_documents} "
                "invoices/credit memos to reach QuickBooks"
            )
        lines.append(text)
    return lines
