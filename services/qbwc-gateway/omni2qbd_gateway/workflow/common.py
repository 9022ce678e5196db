"""Small reads the workflow views (matching, COGS, re-import, reconciliation) share."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.plan import CONTACT_KINDS, TXN_TYPES
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.models import FetchedDocument, utcnow
from omni2qbd_shared.db.settings_store import latest_settings
from omni2qbd_shared.tenant_settings import TenantSettings

# Entry kind -> QuickBooks transaction type (contact adds are list elements, not transactions).
TRANSACTION_TYPES = {k: v for k, v in TXN_TYPES.items() if k not in CONTACT_KINDS}
# Mapper states of entry rows that no longer stand for the document.
RETIRED = ("superseded", "void")
IN_QUICKBOOKS = ("posted", "locked")


async def tenant_settings(session: AsyncSession, scope: TenantScope) -> TenantSettings:
    saved = await latest_settings(session, scope.tenant_id)
    return TenantSettings() if saved is None else TenantSettings.model_validate(saved.body)


def tenant_today(settings: TenantSettings) -> date:
    return utcnow().astimezone(settings.zone()).date()


def months_ago(period: str, today: date) -> int:
    year, month = (int(part) for part in period.split("-"))
    return (today.year - year) * 12 + (today.month - month)


async def document_payload(session: AsyncSession, row: EntryRow) -> dict[str, Any]:
    """The Cin7 document revision an entry row was made from ({} when it is not kept)."""
    base_id = row.cin7_id.split(":", 1)[0]
    document = await session.get(
        FetchedDocument, (row.tenant_id, row.source_kind, base_id, row.revision)
    )
    return dict(document.payload) if document is not None else {}


def cin7_label(source_kind: str, cin7_id: str, payload: dict[str, Any]) -> str:
    """'Cin7 sales order SO-1042 (id 2221)': how bookkeepers find a document in Cin7."""
    reference = payload.get("reference")
    what = source_kind.replace("_", " ")
    return f"Cin7 {what} {reference} (id {cin7_id})" if reference else f"Cin7 {what} {cin7_id}"


def money_text(value: Any) -> str | None:
    return None if value is None else f"{value:.2f}"
