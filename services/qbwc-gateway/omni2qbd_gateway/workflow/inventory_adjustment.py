"""An inventory value difference approved as an adjustment journal (issue 10 §7).

The journal moves Inventory Asset to Cin7's value against ``accounts.inventory_value_adjustments``
and goes straight into the outbox, approved by the person who asked (the gateway owns the
outbox; the mapper has no Cin7 document for it). It is refused while the reading of
QuickBooks it would correct is missing or stale.
"""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import Any

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.reconciliation_queries import month_end, parse_month
from omni2qbd_gateway.workflow import audit
from omni2qbd_gateway.workflow.approval import mark_approved
from omni2qbd_gateway.workflow.common import tenant_settings
from omni2qbd_gateway.workflow.reconciliation import (
    ADJUSTMENT_SOURCE,
    ZERO,
    ReconciliationError,
    latest_reading,
    reconciliation,
)
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.models import OutboxItem
from omni2qbd_shared.db.reconciliation import ReconciliationSnapshot
from omni2qbd_shared.entries import (
    Entry,
    EntryKind,
    EntryLine,
    JournalSubkind,
    LineRole,
    Side,
    SourceRef,
    external_guid_for,
    money,
)
from omni2qbd_shared.tenant_settings import REF_NUMBER_LIMITS, TenantSettings

# Adjustment entry ids are derived from what they adjust, so approving twice is recognised.
ADJUSTMENT_NAMESPACE = uuid.UUID("0b7f4f5e-6a52-4c1e-9f1e-3c0de5a7b1d2")


def adjustment_entry(
    tenant_id: str, month: str, difference: Decimal, settings: TenantSettings, reading_id: int
) -> Entry:
    """Dr/Cr Inventory Asset against the inventory value adjustment account."""
    period = month.replace("-", "")
    key = f"journal:{ADJUSTMENT_SOURCE}:inventory-{month}"
    revision = hashlib.sha256(f"{month}|{difference}|{reading_id}".encode()).hexdigest()
    memo = (
        f"Inventory value {month}: brings QuickBooks Inventory Asset to Cin7 "
        f"(difference {difference:.2f}, reconciliation reading {reading_id})"
    )
    asset_side, offset_side = (
        (Side.DEBIT, Side.CREDIT) if difference > 0 else (Side.CREDIT, Side.DEBIT)
    )
    amount = money(abs(difference))
    ref = settings.adjustments.inventory_value_ref_pattern.format_map({"period": period})
    entry = Entry(
        kind=EntryKind.JOURNAL,
        subkind=JournalSubkind.INVENTORY_VALUE,
        source=SourceRef(
            kind=ADJUSTMENT_SOURCE, cin7_id=f"inventory-{month}", revision=revision, reference=month
        ),
        key=key,
        tenant_id=tenant_id,
        external_guid=external_guid_for(tenant_id, key, revision),
        lines=[
            EntryLine(
                role=LineRole.JOURNAL, account=account, side=side, amount=amount, description=memo
            )
            for account, side in (
                (settings.accounts.inventory_asset, asset_side),
                (settings.accounts.inventory_value_adjustments, offset_side),
            )
        ],
        ref_number=ref[-REF_NUMBER_LIMITS["journal"] :],
        txn_date=month_end(month),
        total=amount,
        currency=settings.home_currency,
    )
    entry.header.memo = memo
    entry.header.is_adjustment = True
    return entry


async def approve_inventory_adjustment(
    session: AsyncSession, scope: TenantScope, month: str, *, actor: str
) -> dict[str, Any]:
    parse_month(month)
    reading, difference = await _inventory_difference(session, scope, month, actor=actor)
    settings = await tenant_settings(session, scope)
    entry = adjustment_entry(scope.tenant_id, month, difference, settings, reading.id or 0)
    await _refuse_one_on_its_way(session, scope, entry, month)
    item = _approved_item(scope, entry, actor)
    if await session.get(OutboxItem, item.entry_id) is not None:
        raise ReconciliationError(f"this adjustment for {month} was already approved", 409)
    session.add(item)
    await audit.record(
        session,
        tenant_id=scope.tenant_id,
        actor=actor,
        action="reconciliation.inventory_adjustment_approved",
        subject=f"inventory {month}",
        detail={"entry_id": item.entry_id, "difference": f"{difference:.2f}"},
    )
    return {
        "entry_id": item.entry_id,
        "month": month,
        "difference": f"{difference:.2f}",
        "state": "approved",
        "ref_number": entry.ref_number,
        "debit_credit": [p.model_dump(mode="json") for p in entry.debit_credit()],
    }


async def _inventory_difference(
    session: AsyncSession, scope: TenantScope, month: str, *, actor: str
) -> tuple[ReconciliationSnapshot, Decimal]:
    """The month's inventory difference, only from a reading of QuickBooks that is current
    (an adjustment from an outdated one would correct what is already corrected)."""
    reading = await latest_reading(session, scope, [month])
    if reading is None:
        raise ReconciliationError(
            f"QuickBooks has not been read for {month} yet: open the reconciliation, run the "
            "Web Connector, then approve the adjustment",
            409,
        )
    view = await reconciliation(session, scope, month, month, actor=actor)
    if view["quickbooks_status"] != "answered":
        raise ReconciliationError(
            "the bridge has written to QuickBooks since it was last read: run the Web Connector "
            f"(it reads QuickBooks again), then approve the adjustment for {month}",
            409,
        )
    row = next(r for r in view["months"][0]["rows"] if r["measure"] == "inventory")
    if row["difference"] is None or Decimal(row["difference"]) == ZERO:
        raise ReconciliationError(f"the inventory of {month} has no difference to adjust", 409)
    return reading, Decimal(row["difference"])


async def _refuse_one_on_its_way(
    session: AsyncSession, scope: TenantScope, entry: Entry, month: str
) -> None:
    """One adjustment per month at a time: a second would move the balance twice."""
    open_same = await session.exec(
        scope.select(OutboxItem).where(
            OutboxItem.source_kind == ADJUSTMENT_SOURCE,
            OutboxItem.cin7_id == entry.source.cin7_id,
            col(OutboxItem.state).in_(["approved", "queued", "sent", "in_doubt"]),
        )
    )
    if open_same.first() is not None:
        raise ReconciliationError(
            f"an inventory adjustment for {month} is already on its way to QuickBooks", 409
        )


def _approved_item(scope: TenantScope, entry: Entry, actor: str) -> OutboxItem:
    item = OutboxItem(
        entry_id=str(
            uuid.uuid5(
                ADJUSTMENT_NAMESPACE, f"{scope.tenant_id}|{entry.key}|{entry.source.revision}"
            )
        ),
        tenant_id=scope.tenant_id,
        entry_kind=entry.kind.value,
        source_kind=ADJUSTMENT_SOURCE,
        cin7_id=entry.source.cin7_id,
        revision=entry.source.revision,
        ref_number=entry.ref_number,
        body=entry.model_dump(mode="json"),
    )
    mark_approved(item, actor)
    return item
