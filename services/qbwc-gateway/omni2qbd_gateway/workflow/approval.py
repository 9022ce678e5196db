"""Approval: what a person presses Import on, taking back an approval, retrying a failure,
and the optional auto-approve rules.

Only ``ready`` entries can be approved. An entry's dependencies (a new customer or vendor
that must exist in QuickBooks first) are approved with it when they are ready, and named in
the answer; an entry whose dependency needs attention is refused with that dependency's
name and reason, so the person knows what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import tuple_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.outbox import DocumentKey, lock_tenant
from omni2qbd_gateway.outcomes import describe_entry
from omni2qbd_gateway.states import EntryState
from omni2qbd_gateway.workflow import audit
from omni2qbd_gateway.workflow.entries import EntryNotFound
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_gateway.workflow.states import (
    APPROVABLE,
    NEEDS_ATTENTION,
    RETRYABLE,
    UNAPPROVABLE,
    api_state,
)
from omni2qbd_shared.db.models import OutboxItem, QbLink, utcnow
from omni2qbd_shared.db.tenant_options import TenantOptions

AUTO_APPROVER = "auto-approve rule"
SETTLED = (
    EntryState.APPROVED,
    EntryState.QUEUED,
    EntryState.SENT,
    EntryState.POSTED,
    EntryState.IN_DOUBT,
    EntryState.LOCKED,
)


class ApprovedEntry(BaseModel):
    id: str
    kind: str
    label: str = Field(description="How people recognise it, e.g. invoice INV-1 (Cin7 ...)")
    dependency_of: list[str] = Field(
        default_factory=list, description="Entries this one was approved for"
    )


class RefusedEntry(BaseModel):
    id: str
    reason: str


class ApprovalResult(BaseModel):
    approved: list[ApprovedEntry]
    dependencies: list[ApprovedEntry] = Field(
        description="Dependencies (a new customer or vendor) approved with the entries"
    )
    refused: list[RefusedEntry]


class ActionRefused(ValueError):
    """The entry is not in a state this action applies to; the reason says why."""


def label(row: OutboxItem) -> str:
    return describe_entry(row.entry_kind, row.ref_number, row.cin7_id, row.source_kind)


def _first_blocking(row: OutboxItem) -> str:
    findings = row.body.get("findings") or []
    for finding in findings:
        if isinstance(finding, dict) and finding.get("blocking"):
            return str(finding.get("message"))
    return row.last_status_message or "it needs attention"


def _why_not(row: OutboxItem) -> str:
    state = api_state(row.state)
    if state == NEEDS_ATTENTION:
        return f"it needs attention: {_first_blocking(row)}"
    if row.state == EntryState.SUPERSEDED:  # shown as withdrawn
        return f"it is no longer current ({row.last_status_message or 'withdrawn'})"
    if row.state == EntryState.FAILED:
        return "it failed in QuickBooks; use retry after fixing the cause"
    return f"it is {state.replace('_', ' ')}; only ready entries can be approved"


async def _newest(db: AsyncSession, scope: TenantScope, key: str) -> OutboxItem | None:
    parts = key.split(":", 2)
    if len(parts) != 3:
        return None
    entry_kind, source_kind, cin7_id = parts
    query = scope.select(OutboxItem).where(
        OutboxItem.entry_kind == entry_kind,
        OutboxItem.source_kind == source_kind,
        OutboxItem.cin7_id == cin7_id,
    )
    rows = sorted((await db.exec(query.with_for_update())).all(), key=lambda r: r.version)
    return rows[-1] if rows else None


async def _in_quickbooks(db: AsyncSession, scope: TenantScope, key: str) -> bool:
    parts = key.split(":", 2)
    if len(parts) != 3:
        return True  # not a dependency the gateway tracks
    query = scope.select(QbLink).where(
        QbLink.entry_kind == parts[0], QbLink.source_kind == parts[1], QbLink.cin7_id == parts[2]
    )
    return (await db.exec(query)).first() is not None


def mark_approved(row: OutboxItem, actor: str) -> None:
    """Approved by ``actor`` now: what every way of approving an outbox row records."""
    now = utcnow()
    row.state = EntryState.APPROVED
    row.approved_by = actor
    row.approved_at = now
    row.updated_at = now


class DependencyLookup(Protocol):
    """Where a dependency's answers come from: the entries a person approves, read together
    (``BatchLookup``), or a batch of newly arrived entries read once (``AutoApprover``). Keys are
    ``entry_kind:source_kind:cin7_id``."""

    async def in_quickbooks(self, key: str) -> bool: ...

    async def newest(self, key: str) -> OutboxItem | None: ...


@dataclass
class BatchLookup:
    """The dependencies of a set of entries to approve, read in a few queries up front (a
    query or two per entry made approving 9,000 ready entries take about ten seconds).

    ``lock``: lock the dependencies' rows. Approving every ready entry needs no more locks:
    the ready rows, the only ones it changes, are locked already; other states only decide."""

    linked: set[DocumentKey]
    versions: dict[DocumentKey, list[OutboxItem]]

    @classmethod
    async def read(
        cls, db: AsyncSession, scope: TenantScope, rows: Iterable[OutboxItem], *, lock: bool
    ) -> BatchLookup:
        keys = sorted(
            {
                parsed
                for row in rows
                for key in row.body.get("depends_on") or []
                if (parsed := document_key(str(key))) is not None
            }
        )
        linked: set[DocumentKey] = set()
        versions: dict[DocumentKey, list[OutboxItem]] = {}
        for start in range(0, len(keys), 300):  # bounded IN lists for SQLite and PostgreSQL
            chunk = keys[start : start + 300]
            links = scope.columns(QbLink, QbLink.entry_kind, QbLink.source_kind, QbLink.cin7_id)
            linked.update(tuple(r) for r in (await db.exec(links.where(_key_in(QbLink, chunk)))))
            query = scope.select(OutboxItem).where(_key_in(OutboxItem, chunk))
            for item in (await db.exec(query.with_for_update() if lock else query)).all():
                versions.setdefault((item.entry_kind, item.source_kind, item.cin7_id), []).append(
                    item
                )
        return cls(linked, versions)

    async def in_quickbooks(self, key: str) -> bool:
        parsed = document_key(key)
        return parsed is None or parsed in self.linked

    async def newest(self, key: str) -> OutboxItem | None:
        parsed = document_key(key)
        rows = self.versions.get(parsed, []) if parsed is not None else []
        return max(rows, key=lambda r: r.version) if rows else None


async def _dependencies(
    lookup: DependencyLookup, row: OutboxItem
) -> tuple[list[OutboxItem], str | None]:
    """Dependencies to approve with ``row``, or the reason it cannot be approved."""
    needed: list[OutboxItem] = []
    for key in row.body.get("depends_on") or []:
        if await lookup.in_quickbooks(str(key)):
            continue
        dependency = await lookup.newest(str(key))
        kind, _, rest = str(key).partition(":")
        if dependency is None:
            what = f"{kind.replace('_', ' ')} for Cin7 {rest.replace(':', ' ').replace('_', ' ')}"
            return [], f"it needs the {what}, which has not been prepared yet"
        if dependency.state in SETTLED:
            continue
        if dependency.state in APPROVABLE:
            needed.append(dependency)
            continue
        name = _dependency_name(dependency)
        return [], (
            f"it needs the {label(dependency)}{name} first, and that {_why_not(dependency)}"
        )
    return needed, None


def _dependency_name(row: OutboxItem) -> str:
    header = row.body.get("header") or {}
    contact = header.get("contact") if isinstance(header, dict) else None
    if isinstance(contact, dict) and contact.get("name"):
        return f" {contact['name']!r}"
    return ""


async def _ready_rows(
    db: AsyncSession, scope: TenantScope, kind: str | None, until: date | None
) -> list[OutboxItem]:
    query = scope.select(OutboxItem).where(col(OutboxItem.state).in_(APPROVABLE))
    if kind:
        query = query.where(OutboxItem.entry_kind == kind)
    rows = list((await db.exec(query.with_for_update())).all())
    if until is not None:
        rows = [r for r in rows if str(r.body.get("txn_date") or "") <= until.isoformat()]
    return sorted(rows, key=lambda r: (str(r.body.get("txn_date") or ""), r.entry_id))


async def approve(
    db: AsyncSession,
    scope: TenantScope,
    *,
    entry_ids: Sequence[str] | None = None,
    all_ready: bool = False,
    kind: str | None = None,
    until: date | None = None,
) -> ApprovalResult:
    """Approve the given entries, or every ready one (optionally of a kind, up to a date)."""
    if entry_ids is None and not all_ready:
        raise ActionRefused("give entry_ids, or all_ready: true")
    await lock_tenant(db, scope.tenant_id)  # one approval or arriving batch at a time
    approved: list[ApprovedEntry] = []
    dependencies: dict[str, ApprovedEntry] = {}
    refused: list[RefusedEntry] = []
    asked = await _asked_for(db, scope, entry_ids, kind, until)
    found = [row for _entry_id, row in asked if row is not None]
    lookup = await BatchLookup.read(db, scope, found, lock=entry_ids is not None)
    for entry_id, row in asked:
        if row is None:
            refused.append(RefusedEntry(id=entry_id, reason="no such entry in this tenant"))
            continue
        needed, problem = await _approvable(lookup, row)
        if problem is not None:
            refused.append(RefusedEntry(id=entry_id, reason=problem))
            continue
        _approve_dependencies(db, scope, row, needed, dependencies)
        mark_approved(row, scope.actor)
        db.add(row)
        approved.append(ApprovedEntry(id=row.entry_id, kind=row.entry_kind, label=label(row)))
    # An entry asked for and also a dependency of another is reported once, as asked for.
    approved_ids = {a.id for a in approved}
    extra = [d for d in dependencies.values() if d.id not in approved_ids]
    if approved or extra:
        await audit.record(
            db,
            tenant_id=scope.tenant_id,
            actor=scope.actor,
            action="entries.approved",
            subject=f"{len(approved)} entries, {len(extra)} dependencies",
            detail={
                "entry_ids": [a.id for a in approved],
                "dependency_ids": [d.id for d in extra],
            },
        )
    return ApprovalResult(approved=approved, dependencies=extra, refused=refused)


async def _asked_for(
    db: AsyncSession,
    scope: TenantScope,
    entry_ids: Sequence[str] | None,
    kind: str | None,
    until: date | None,
) -> list[tuple[str, OutboxItem | None]]:
    """The entries to approve with the ids asked for (``None`` for an id this tenant lacks)."""
    if entry_ids is None:
        return [(r.entry_id, r) for r in await _ready_rows(db, scope, kind, until)]
    # Each id once, in the order given.
    return [
        (entry_id, await scope.get(db, OutboxItem, entry_id))
        for entry_id in dict.fromkeys(entry_ids)
    ]


async def _approvable(
    lookup: DependencyLookup, row: OutboxItem
) -> tuple[list[OutboxItem], str | None]:
    """``row`` itself must be ready; then its dependencies decide (``_dependencies``)."""
    if row.state not in APPROVABLE:
        return [], _why_not(row)
    return await _dependencies(lookup, row)


def _approve_dependencies(
    db: AsyncSession,
    scope: TenantScope,
    row: OutboxItem,
    needed: Sequence[OutboxItem],
    dependencies: dict[str, ApprovedEntry],
) -> None:
    """Approve ``row``'s dependencies into ``dependencies``: each once, however many entries
    need it, with every entry that does."""
    for dependency in needed:
        if dependency.entry_id not in dependencies:
            mark_approved(dependency, scope.actor)
            db.add(dependency)
            dependencies[dependency.entry_id] = ApprovedEntry(
                id=dependency.entry_id, kind=dependency.entry_kind, label=label(dependency)
            )
        dependencies[dependency.entry_id].dependency_of.append(row.entry_id)


async def _row_for(
    db: AsyncSession, scope: TenantScope, entry_id: str, allowed: tuple[str, ...], only: str
) -> OutboxItem:
    """The entry, locked, when it is in one of the ``allowed`` states; else why not."""
    query = scope.select(OutboxItem).where(OutboxItem.entry_id == entry_id).with_for_update()
    row = (await db.exec(query)).one_or_none()
    if row is None:
        raise EntryNotFound(f"no entry {entry_id} in this tenant")
    if row.state not in allowed:
        raise ActionRefused(
            f"the {label(row)} is {api_state(row.state).replace('_', ' ')}; only {only}"
        )
    return row


async def _record(
    db: AsyncSession, scope: TenantScope, action: str, row: OutboxItem, detail: dict[str, Any]
) -> None:
    await audit.record(
        db,
        tenant_id=scope.tenant_id,
        actor=scope.actor,
        action=action,
        subject=label(row),
        detail={"entry_id": row.entry_id, **detail},
    )


async def unapprove(db: AsyncSession, scope: TenantScope, entry_id: str) -> OutboxItem:
    """Take an approval back while the entry has not been sent."""
    only = "an approved entry that has not been sent can be taken back"
    row = await _row_for(db, scope, entry_id, UNAPPROVABLE, only)
    previous = row.approved_by
    row.state = EntryState.READY
    row.approved_by = None
    row.approved_at = None
    row.updated_at = utcnow()
    db.add(row)
    await _record(db, scope, "entries.unapproved", row, {"approved_by": previous})
    return row


async def retry(db: AsyncSession, scope: TenantScope, entry_id: str) -> OutboxItem:
    """Send a failed entry again on the next Web Connector run (after the cause was fixed)."""
    row = await _row_for(db, scope, entry_id, RETRYABLE, "a failed entry can be retried")
    failure = {"status_code": row.last_status_code, "status_message": row.last_status_message}
    mark_approved(row, scope.actor)
    row.last_status_code = None
    row.last_status_message = None
    db.add(row)
    await _record(db, scope, "entries.retried", row, {"previous_failure": failure})
    return row


# -- auto-approve rules ----------------------------------------------------------------------


EntryKindName = Literal["invoice", "credit_memo", "bill", "vendor_credit", "journal"]


class AutoApproveRule(BaseModel):
    enabled: bool = False
    kinds: list[EntryKindName] = Field(
        default_factory=list, max_length=5, description="Entry kinds it approves"
    )
    max_total: Decimal | None = Field(
        None, ge=0, max_digits=16, decimal_places=2, description="Largest total it approves"
    )


async def options(db: AsyncSession, tenant_id: str) -> TenantOptions:
    row = await db.get(TenantOptions, tenant_id)
    return row if row is not None else TenantOptions(tenant_id=tenant_id)


async def get_rule(db: AsyncSession, scope: TenantScope) -> AutoApproveRule:
    row = await options(db, scope.tenant_id)
    return AutoApproveRule.model_validate(
        {
            "enabled": row.auto_approve,
            "kinds": list(row.auto_approve_kinds or []),
            "max_total": row.auto_approve_max_total,
        }
    )


async def set_rule(db: AsyncSession, scope: TenantScope, rule: AutoApproveRule) -> AutoApproveRule:
    row = await options(db, scope.tenant_id)
    row.auto_approve = rule.enabled
    row.auto_approve_kinds = sorted(set(rule.kinds))
    row.auto_approve_max_total = rule.max_total
    row.updated_by = scope.actor
    row.updated_at = utcnow()
    db.add(row)
    await audit.record(
        db,
        tenant_id=scope.tenant_id,
        actor=scope.actor,
        action="rules.auto_approve_saved",
        detail=rule.model_dump(mode="json"),
    )
    return rule


def _rule_admits(rule: TenantOptions, row: OutboxItem) -> bool:
    return _rule_admits_entry(rule, row.entry_kind, row.body)


def _rule_admits_entry(rule: TenantOptions, entry_kind: str, body: dict[str, Any]) -> bool:
    if not rule.auto_approve or entry_kind not in (rule.auto_approve_kinds or []):
        return False
    if body.get("findings"):
        return False
    if rule.auto_approve_max_total is not None:
        total: Any = body.get("total")
        try:
            if Decimal(str(total if total is not None else "0")) > rule.auto_approve_max_total:
                return False
        except ArithmeticError:
            return False
    return True


def document_key(key: str) -> DocumentKey | None:
    """``entry_kind:source_kind:cin7_id`` as a key, or None when it is not one the gateway
    tracks."""
    parts = key.split(":", 2)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


@dataclass
class AutoApprover:
    """The tenant's auto-approve rule applied to a batch of newly arrived entries
    (``outbox.upsert_entries``), with the batch's reads made once: the rule, the QuickBooks
    links of the dependencies the entries it may admit name, and (read by the outbox with
    the entries' own versions, and kept up to date as the batch adds rows) those
    dependencies' versions; the settings version for the audit log when it approves.

    ``load`` reads nothing more when the rule is off. ``approve_new`` decides exactly as one
    entry at a time did: the rows it looks at are the ones the outbox holds for this
    transaction, under the tenant lock.
    """

    db: AsyncSession
    tenant_id: str
    rule: TenantOptions | None
    dependency_keys: set[DocumentKey] = field(default_factory=set)
    linked: set[DocumentKey] = field(default_factory=set)
    versions: dict[DocumentKey, list[OutboxItem]] = field(default_factory=dict)
    _settings_version: tuple[int | None] | None = None  # read with the first approval

    @classmethod
    async def load(
        cls, db: AsyncSession, tenant_id: str, entries: Iterable[tuple[str, dict[str, Any]]]
    ) -> AutoApprover:
        """The rule, and for the ``(entry_kind, body)`` it may admit their dependencies'
        QuickBooks links (one query each)."""
        rule = await db.get(TenantOptions, tenant_id)
        approver = cls(db, tenant_id, rule)
        if rule is None or not rule.auto_approve:
            return approver
        for entry_kind, body in entries:
            if _rule_admits_entry(rule, entry_kind, body):
                keys = (document_key(str(key)) for key in body.get("depends_on") or [])
                approver.dependency_keys.update(key for key in keys if key is not None)
        if approver.dependency_keys:
            linked = (
                TenantScope(tenant_id, AUTO_APPROVER)
                .columns(QbLink, QbLink.entry_kind, QbLink.source_kind, QbLink.cin7_id)
                .where(_key_in(QbLink, approver.dependency_keys))
            )
            approver.linked = {tuple(row) for row in (await db.exec(linked)).all()}
        return approver

    async def in_quickbooks(self, key: str) -> bool:
        parsed = document_key(key)
        if parsed is None:
            return True  # not a dependency the gateway tracks
        if parsed not in self.dependency_keys:  # not read with the batch (never expected)
            return await _in_quickbooks(self.db, self._scope, key)
        return parsed in self.linked

    async def newest(self, key: str) -> OutboxItem | None:
        parsed = document_key(key)
        if parsed is None:
            return None
        if parsed not in self.dependency_keys:
            return await _newest(self.db, self._scope, key)
        rows = sorted(self.versions.get(parsed, []), key=lambda r: r.version)
        return rows[-1] if rows else None

    @property
    def _scope(self) -> TenantScope:
        return TenantScope(self.tenant_id, AUTO_APPROVER)

    async def approve_new(self, row: OutboxItem) -> bool:
        """Approve a newly arrived ready entry if the tenant's rule admits it (and its
        dependencies can go with it); True when it did."""
        if row.state not in APPROVABLE:
            return False
        if self.rule is None or not _rule_admits(self.rule, row):
            return False
        needed, problem = await _dependencies(self, row)
        # A new customer or vendor goes with the entry only when nothing is said against it.
        if problem is not None or any(d.body.get("findings") for d in needed):
            return False
        for dependency in [*needed, row]:
            mark_approved(dependency, AUTO_APPROVER)
            self.db.add(dependency)
        if self._settings_version is None:
            self._settings_version = (await audit.settings_version(self.db, self.tenant_id),)
        await audit.record(
            self.db,
            tenant_id=row.tenant_id,
            actor=AUTO_APPROVER,
            action="entries.approved",
            subject=label(row),
            detail={
                "entry_ids": [row.entry_id],
                "dependency_ids": [d.entry_id for d in needed],
                "settings_version": self._settings_version[0],
            },
        )
        return True


def _key_in(model: type[OutboxItem] | type[QbLink], keys: Iterable[DocumentKey]) -> Any:
    """``(entry_kind, source_kind, cin7_id) IN keys`` for ``model``'s rows."""
    return tuple_(model.entry_kind, model.source_kind, model.cin7_id).in_(sorted(keys))
