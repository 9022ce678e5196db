"""A Cin7 document changed after it was posted (issue 10 §5, docs/design.md §3).

For each document whose QuickBooks transaction the bridge wrote and whose newest entry is a
later version: what changed, field by field, between the version in QuickBooks and the new
one; whether QuickBooks can still be updated (``draft``: the next approved run sends a Mod)
or not (``locked``, and why: marked final, edited, paid or applied in QuickBooks); and what
to do in each system.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.outcomes import describe_entry
from omni2qbd_gateway.workflow.common import RETIRED, TRANSACTION_TYPES
from omni2qbd_gateway.workflow.field_words import field_words
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.models import OutboxItem, QbLink
from omni2qbd_shared.kinds import EntryState

# Identity, provenance and review notes differ between any two versions; they are not changes
# a bookkeeper acts on.
IGNORED = {"source", "external_guid", "findings", "tenant_id", "key", "depends_on"}
Status = Literal["draft", "locked"]


class NotReimported(LookupError):
    pass


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"header": {"memo": "x"}, "lines": [{"amount": "1"}]}`` -> ``{"header.memo": "x",
    "lines[0].amount": "1"}``; scalars keep their JSON form."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            if not prefix and key in IGNORED:
                continue
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list):
        flat = {}
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{index}]"))
        if not value:
            flat[prefix] = []
        return flat
    return {prefix: value}


def field_diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Every field whose value differs (added and removed fields included), in path order;
    ``label`` says it in words for people, ``field`` keeps the path for tools."""
    old, new = flatten(before), flatten(after)
    changes = []
    for path in sorted(set(old) | set(new)):
        if old.get(path) != new.get(path):
            was, now = old.get(path), new.get(path)
            changes.append({"field": path, "label": field_words(path), "before": was, "after": now})
    return changes


def _lock_reason(
    newest: OutboxItem | None, posted: OutboxItem | None, link: QbLink, entry_kind: str
) -> str | None:
    for item in (newest, posted):
        if item is not None and item.state == EntryState.LOCKED:
            return (
                item.last_status_message or "it was changed in QuickBooks after the bridge wrote it"
            )
    if entry_kind in ("invoice", "credit_memo") and link.is_pending is False:
        return "it is no longer pending in QuickBooks (marked final)"
    return None


def _actions(
    status: Status, what: str, link: QbLink, changes: list[dict[str, Any]], entry_id: str
) -> dict[str, str]:
    fields = ", ".join(c["label"] for c in changes[:8]) + (
        f" and {len(changes) - 8} more" if len(changes) > 8 else ""
    )
    qb_type = TRANSACTION_TYPES.get(link.entry_kind, link.qb_txn_type)
    if status == "draft":
        return {
            "quickbooks": (
                f"Nothing by hand: approve entry {entry_id} and the next Web Connector run sends "
                f"a {qb_type}Mod to TxnID {link.txn_id} (after checking it is still untouched)."
            ),
            "cin7": "Nothing: Cin7 already has the new version.",
        }
    return {
        "quickbooks": (
            f"Edit {what} (TxnID {link.txn_id}) by hand in QuickBooks to match Cin7"
            + (f": {fields}" if fields else "")
            + ". The bridge never overwrites what people changed in QuickBooks."
        ),
        "cin7": (
            "Nothing if the Cin7 change is right; if it was a mistake, undo it in Cin7 and the "
            "document goes back to what QuickBooks has."
        ),
    }


async def _document_rows(
    session: AsyncSession, scope: TenantScope, entry_kind: str, source_kind: str, cin7_id: str
) -> list[EntryRow]:
    statement = (
        scope.select(EntryRow)
        .where(
            EntryRow.entry_kind == entry_kind,
            EntryRow.source_kind == source_kind,
            EntryRow.cin7_id == cin7_id,
        )
        .order_by(col(EntryRow.version))
    )
    return list((await session.exec(statement)).all())


async def _describe(
    session: AsyncSession, scope: TenantScope, link: QbLink, rows: list[EntryRow]
) -> dict[str, Any] | None:
    live = [row for row in rows if row.state not in RETIRED]
    posted = next((row for row in rows if row.id == link.entry_id), None)
    newest = live[-1] if live else None
    if posted is None or newest is None or newest.version <= posted.version:
        return None
    newest_item = await session.get(OutboxItem, newest.id)
    posted_item = await session.get(OutboxItem, posted.id)
    changes = field_diff(posted.body, newest.body)
    reason = _lock_reason(newest_item, posted_item, link, link.entry_kind)
    status: Status = "locked" if reason else "draft"
    what = describe_entry(link.entry_kind, link.ref_number, link.cin7_id, link.source_kind)
    return {
        "entry_id": newest.id,
        "posted_entry_id": posted.id,
        "document": {"kind": link.source_kind, "cin7_id": link.cin7_id, "label": what},
        "qb_type": TRANSACTION_TYPES.get(link.entry_kind, link.qb_txn_type),
        "txn_id": link.txn_id,
        "edit_sequence": link.edit_sequence,
        "state": newest_item.state if newest_item is not None else newest.state,
        "status": status,
        "reason": reason or "it is still a draft in QuickBooks: the bridge may update it (a Mod)",
        "changes": changes,
        "actions": _actions(status, what, link, changes, newest.id),
    }


async def reimports(session: AsyncSession, scope: TenantScope) -> list[dict[str, Any]]:
    """Every posted document with a newer version waiting (draft or locked)."""
    links = (await session.exec(scope.select(QbLink))).all()
    found = []
    for link in links:
        if link.entry_kind not in TRANSACTION_TYPES:
            continue
        rows = await _document_rows(session, scope, link.entry_kind, link.source_kind, link.cin7_id)
        described = await _describe(session, scope, link, rows)
        if described is not None:
            found.append(described)
    return sorted(found, key=lambda d: (d["status"] != "locked", d["document"]["label"]))


async def reimport_of(session: AsyncSession, scope: TenantScope, entry_id: str) -> dict[str, Any]:
    row = (await session.exec(scope.select(EntryRow).where(EntryRow.id == entry_id))).first()
    if row is None:
        raise NotReimported(f"no entry {entry_id} for this tenant")
    link = (
        await session.exec(
            scope.select(QbLink).where(
                QbLink.entry_kind == row.entry_kind,
                QbLink.source_kind == row.source_kind,
                QbLink.cin7_id == row.cin7_id,
            )
        )
    ).first()
    if link is None:
        raise NotReimported(
            f"entry {entry_id} is not a re-import: its Cin7 document is not in QuickBooks yet"
        )
    rows = await _document_rows(session, scope, row.entry_kind, row.source_kind, row.cin7_id)
    described = await _describe(session, scope, link, rows)
    if described is None:
        raise NotReimported(
            f"entry {entry_id}: nothing changed in Cin7 since the version in QuickBooks"
        )
    return described
