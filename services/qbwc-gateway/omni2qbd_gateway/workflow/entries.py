"""The review queue, one entry in detail, and the counts by state and kind.

The queue shows each document's newest entry version (older versions are that entry's
history); ``waiting_in_cin7`` lists Cin7 documents fetched but not importable yet (they have
no entry), so they are listed only when asked for by that state, and counted in the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.plan import TXN_TYPES
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_gateway.workflow.states import (
    API_STATES,
    WAITING_IN_CIN7,
    ApiState,
    api_state,
    internal_states,
)
from omni2qbd_gateway.workflow.views import (
    DebitCreditLine,
    DocumentRef,
    EntryDetail,
    EntryItem,
    EntryPage,
    FindingView,
    HistoryEvent,
    QuickBooksOutcome,
    StateCount,
    Summary,
)
from omni2qbd_shared.db.models import (
    Cin7Credential,
    FetchedDocument,
    OutboxItem,
    QbLink,
    Tenant,
    aware,
)
from omni2qbd_shared.entries import Entry
from omni2qbd_shared.kinds import CIN7_RESOURCE, TRANSACTION_KIND
from omni2qbd_shared.qbxml.message_set import InvalidRequestSet, entry_request_id, message_set
from omni2qbd_shared.qbxml.render import RenderError, render_add, render_mod

QB_TYPES = TXN_TYPES
# Cin7 document kinds that become transactions, and the entry kind each becomes.
IMPORTABLE = TRANSACTION_KIND
MAX_LIMIT = 500


class BadRequest(ValueError):
    """A filter or cursor that cannot be used, in words."""


@dataclass(frozen=True)
class EntryFilter:
    state: ApiState | None = None
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    contact: str | None = None
    q: str | None = None


def _body() -> Any:
    return col(OutboxItem.body)


def _txn_date() -> Any:
    return col(OutboxItem.txn_date)


def _contact() -> Any:
    return func.coalesce(
        _body()[("header", "party", "name")].as_string(),
        _body()[("header", "contact", "name")].as_string(),
        "",
    )


def _search_text() -> Any:
    """The reference number, contact name and Cin7 reference, lower-cased, one per line: a
    column the database computes from the body (migration 0017), so a search reads it instead
    of parsing every row's JSON (``ix_outbox_search`` holds it on SQLite)."""
    return OutboxItem.__table__.c.search_text  # type: ignore[attr-defined]


class Unlikely(ColumnElement[bool]):
    """A condition few rows meet. SQLite's planner is told so (``unlikely()``), and then
    filters a text search in ``ix_outbox_search`` before reading rows, rather than walking
    every row in date order; other databases get the condition unchanged."""

    inherit_cache = True
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self.condition = condition


@compiles(Unlikely)
def _unlikely_default(element: Unlikely, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.condition, **kw)})"


@compiles(Unlikely, "sqlite")
def _unlikely_sqlite(element: Unlikely, compiler: Any, **kw: Any) -> str:
    return f"unlikely({compiler.process(element.condition, **kw)})"


def _newest_version() -> Any:
    """No other row of the same document has a higher version (ties: the higher id)."""
    other: Any = aliased(OutboxItem)
    return ~exists().where(
        other.tenant_id == OutboxItem.tenant_id,
        other.entry_kind == OutboxItem.entry_kind,
        other.source_kind == OutboxItem.source_kind,
        other.cin7_id == OutboxItem.cin7_id,
        or_(
            other.version > OutboxItem.version,
            and_(other.version == OutboxItem.version, other.entry_id > OutboxItem.entry_id),
        ),
    )


def _cursor(cursor: str | None) -> tuple[str, str] | None:
    if not cursor:
        return None
    sort_date, sep, ident = cursor.partition("|")
    if not sep or not ident or (sort_date and len(sort_date) != 10):
        raise BadRequest("the cursor is not one this API gave out; start again without it")
    return sort_date, ident


async def _base_url(db: AsyncSession, tenant_id: str) -> str | None:
    credential = await db.get(Cin7Credential, tenant_id)
    return credential.base_url if credential is not None else None


def document_url(base_url: str | None, kind: str, cin7_id: str) -> str | None:
    resource = CIN7_RESOURCE.get(kind)
    if base_url is None or resource is None or not cin7_id.isdigit():
        return None
    root = base_url.rstrip("/")
    if not root.endswith("/v1"):
        root += "/v1"
    return f"{root}/{resource}/{cin7_id}"


def _findings(body: dict[str, Any]) -> list[FindingView]:
    found = body.get("findings")
    if not isinstance(found, list):
        return []
    return [
        FindingView(
            code=str(f.get("code", "")),
            blocking=bool(f.get("blocking")),
            message=str(f.get("message", "")),
            field=f.get("field"),
        )
        for f in found
        if isinstance(f, dict)
    ]


def _contact_of(body: dict[str, Any]) -> str | None:
    header = body.get("header") if isinstance(body.get("header"), dict) else {}
    assert isinstance(header, dict)
    for key in ("party", "contact"):
        part = header.get(key)
        if isinstance(part, dict) and part.get("name"):
            return str(part["name"])
    return None


def _total(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return f"{Decimal(str(value)):.2f}"
    except ArithmeticError:
        return None


def item_view(row: OutboxItem, base_url: str | None) -> EntryItem:
    body = row.body
    source = body.get("source") if isinstance(body.get("source"), dict) else {}
    assert isinstance(source, dict)
    return EntryItem(
        id=row.entry_id,
        kind=row.entry_kind,
        qb_type=QB_TYPES.get(row.entry_kind, row.entry_kind),
        state=api_state(row.state),
        document=DocumentRef(
            kind=row.source_kind,
            id=row.cin7_id,
            reference=source.get("reference"),
            url=document_url(base_url, row.source_kind, row.cin7_id),
        ),
        contact=_contact_of(body),
        txn_date=body.get("txn_date"),
        total=_total(body.get("total")),
        currency=str(body.get("currency") or "USD"),
        findings=_findings(body),
        status_message=row.last_status_message,
        updated_at=aware(row.updated_at),
    )


async def list_entries(
    db: AsyncSession,
    scope: TenantScope,
    wanted: EntryFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> EntryPage:
    """One page of the queue, newest transaction date first."""
    limit = max(1, min(limit, MAX_LIMIT))
    position = _cursor(cursor)
    if wanted.state == WAITING_IN_CIN7:
        return await _waiting_page(db, scope, wanted, limit, position)
    query = scope.select(OutboxItem).where(_newest_version())
    if wanted.state is not None:
        query = query.where(col(OutboxItem.state).in_(internal_states(wanted.state)))
    if wanted.kind:
        query = query.where(OutboxItem.entry_kind == wanted.kind)
    if wanted.date_from:
        query = query.where(_txn_date() >= wanted.date_from.isoformat())
    if wanted.date_to:
        query = query.where(_txn_date() <= wanted.date_to.isoformat())
    if wanted.contact:
        query = query.where(_contact().ilike(f"%{_escape(wanted.contact)}%", escape="\\"))
    if wanted.q:
        pattern = f"%{_escape(wanted.q)}%"
        query = query.where(
            Unlikely(
                or_(
                    _search_text().ilike(pattern, escape="\\"),
                    col(OutboxItem.cin7_id) == wanted.q,
                )
            )
        )
    if position is not None:
        sort_date, ident = position
        query = query.where(
            or_(
                _txn_date() < sort_date,
                and_(_txn_date() == sort_date, col(OutboxItem.entry_id) < ident),
            )
        )
    # A search orders by an expression of the date (the same order: the column is never
    # NULL) so that no index serves the order, and SQLite filters the few matches in
    # ix_outbox_search first instead of walking every row in date order.
    order = func.coalesce(_txn_date(), "") if wanted.q else _txn_date()
    query = query.order_by(order.desc(), col(OutboxItem.entry_id).desc()).limit(limit + 1)
    rows = list((await db.exec(query)).all())
    base_url = await _base_url(db, scope.tenant_id)
    items = [item_view(row, base_url) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = f"{last.txn_date}|{last.entry_id}"
    return EntryPage(items=items, next_cursor=next_cursor)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- waiting in Cin7 -------------------------------------------------------------------------


def _waiting_conditions() -> list[Any]:
    """Newest revision of an importable Cin7 document that has no entry (yet)."""
    newer: Any = aliased(FetchedDocument)
    entry: Any = aliased(OutboxItem)
    return [
        col(FetchedDocument.kind).in_(list(IMPORTABLE)),
        ~exists().where(
            newer.tenant_id == FetchedDocument.tenant_id,
            newer.kind == FetchedDocument.kind,
            newer.cin7_id == FetchedDocument.cin7_id,
            or_(
                newer.fetched_at > FetchedDocument.fetched_at,
                and_(
                    newer.fetched_at == FetchedDocument.fetched_at,
                    newer.revision > FetchedDocument.revision,
                ),
            ),
        ),
        ~exists().where(
            entry.tenant_id == FetchedDocument.tenant_id,
            entry.source_kind == FetchedDocument.kind,
            entry.cin7_id == FetchedDocument.cin7_id,
        ),
    ]


def _waiting_query(scope: TenantScope) -> Any:
    return scope.select(FetchedDocument).where(*_waiting_conditions())


def _payload_date(payload: dict[str, Any]) -> str:
    for key in ("invoiceDate", "completedDate", "createdDate"):
        value = payload.get(key)
        if isinstance(value, str) and len(value) >= 10:
            return value[:10]
    return ""


def _waiting_view(row: FetchedDocument, base_url: str | None) -> EntryItem:
    payload = row.payload
    entry_kind = IMPORTABLE[row.kind]
    person = " ".join(str(payload.get(k) or "") for k in ("firstName", "lastName")).strip()
    label = row.kind.replace("_", " ")
    return EntryItem(
        id=f"cin7:{row.kind}:{row.cin7_id}",
        kind=entry_kind,
        qb_type=QB_TYPES[entry_kind],
        state=WAITING_IN_CIN7,
        document=DocumentRef(
            kind=row.kind,
            id=row.cin7_id,
            reference=payload.get("reference"),
            url=document_url(base_url, row.kind, row.cin7_id),
        ),
        contact=str(payload.get("company") or "") or person or None,
        txn_date=_payload_date(payload) or None,
        total=_total(payload.get("total")),
        currency=str(payload.get("currencyCode") or "USD"),
        findings=[
            FindingView(
                code="not_ready_in_cin7",
                blocking=True,
                message=(
                    f"Cin7 has this {label}, but it is not ready to import yet (for example "
                    "not invoiced, not completed, or at a stage the settings do not import)."
                ),
                field=None,
            )
        ],
        updated_at=aware(row.fetched_at),
    )


async def _waiting_page(
    db: AsyncSession,
    scope: TenantScope,
    wanted: EntryFilter,
    limit: int,
    position: tuple[str, str] | None,
) -> EntryPage:
    query = _waiting_query(scope)
    if wanted.kind:
        kinds = [k for k, entry_kind in IMPORTABLE.items() if entry_kind == wanted.kind]
        query = query.where(col(FetchedDocument.kind).in_(kinds))
    rows = list((await db.exec(query)).all())
    base_url = await _base_url(db, scope.tenant_id)
    items = [_waiting_view(row, base_url) for row in rows]
    items = [i for i in items if _matches(i, wanted)]
    items.sort(key=lambda i: (i.txn_date or "", i.id), reverse=True)
    if position is not None:
        items = [i for i in items if (i.txn_date or "", i.id) < position]
    page = items[:limit]
    more = len(items) > limit
    return EntryPage(
        items=page,
        next_cursor=f"{page[-1].txn_date or ''}|{page[-1].id}" if more and page else None,
    )


def _matches(item: EntryItem, wanted: EntryFilter) -> bool:
    day = item.txn_date or ""
    if wanted.date_from and day < wanted.date_from.isoformat():
        return False
    if wanted.date_to and day > wanted.date_to.isoformat():
        return False
    contact = (item.contact or "").casefold()
    if wanted.contact and wanted.contact.casefold() not in contact:
        return False
    if wanted.q:
        needle = wanted.q.casefold()
        haystack = [contact, (item.document.reference or "").casefold(), item.document.id]
        if not any(needle in text for text in haystack):
            return False
    return True


async def waiting_count(db: AsyncSession, scope: TenantScope) -> dict[str, int]:
    """Documents waiting in Cin7, by the entry kind they will become (counted in SQL)."""
    query = (
        scope.columns(FetchedDocument, col(FetchedDocument.kind), func.count())
        .where(*_waiting_conditions())
        .group_by(col(FetchedDocument.kind))
    )
    counts: dict[str, int] = {}
    for kind, count in (await db.exec(query)).all():
        entry_kind = IMPORTABLE[kind]
        counts[entry_kind] = counts.get(entry_kind, 0) + int(count)
    return counts


# -- summary ---------------------------------------------------------------------------------


async def _newest_counts(db: AsyncSession, scope: TenantScope) -> list[tuple[str, str, int]]:
    """Newest versions by state and entry kind: every row counted from ``ix_outbox_state_kind``,
    less the older versions, looked for only in documents with more than one row (a few).

    Asking "is there a newer version?" of every row costs a probe per row; counting all
    rows and taking off the few older ones gives the same counts for a fraction."""
    every = scope.columns(
        OutboxItem, col(OutboxItem.state), col(OutboxItem.entry_kind), func.count()
    ).group_by(col(OutboxItem.state), col(OutboxItem.entry_kind))
    document = (
        col(OutboxItem.entry_kind),
        col(OutboxItem.source_kind),
        col(OutboxItem.cin7_id),
    )
    revised = scope.columns(OutboxItem, *document).group_by(*document).having(func.count() > 1)
    older = (
        scope.columns(OutboxItem, col(OutboxItem.state), col(OutboxItem.entry_kind), func.count())
        .where(tuple_(*document).in_(revised), ~_newest_version())
        .group_by(col(OutboxItem.state), col(OutboxItem.entry_kind))
    )
    counts: dict[tuple[str, str], int] = {}
    for state, kind, count in (await db.exec(every)).all():
        counts[(state, kind)] = int(count)
    for state, kind, count in (await db.exec(older)).all():
        counts[(state, kind)] -= int(count)
    return [(state, kind, count) for (state, kind), count in counts.items() if count]


async def summary(db: AsyncSession, scope: TenantScope) -> Summary:
    """Counts of the queue by state and kind (every state listed, zeros included)."""
    totals: dict[tuple[ApiState, str], int] = {}
    for internal, kind, count in await _newest_counts(db, scope):
        key = (api_state(internal), kind)
        totals[key] = totals.get(key, 0) + count
    for kind, count in (await waiting_count(db, scope)).items():
        totals[(WAITING_IN_CIN7, kind)] = count
    by_state = dict.fromkeys(API_STATES, 0)
    by_kind: dict[str, int] = {}
    for (state, kind), count in totals.items():
        by_state[state] += count
        by_kind[kind] = by_kind.get(kind, 0) + count
    counts = [
        StateCount(state=state, kind=kind, count=count)
        for (state, kind), count in sorted(
            totals.items(), key=lambda kv: (API_STATES.index(kv[0][0]), kv[0][1])
        )
    ]
    return Summary(by_state=by_state, by_kind=dict(sorted(by_kind.items())), counts=counts)


# -- one entry -------------------------------------------------------------------------------


class EntryNotFound(LookupError):
    pass


async def entry_row(db: AsyncSession, scope: TenantScope, entry_id: str) -> OutboxItem:
    row = await scope.get(db, OutboxItem, entry_id)
    if row is None:
        raise EntryNotFound(f"no entry {entry_id} in this tenant")
    return row


async def document_versions(
    db: AsyncSession, scope: TenantScope, row: OutboxItem
) -> list[OutboxItem]:
    query = scope.select(OutboxItem).where(
        OutboxItem.entry_kind == row.entry_kind,
        OutboxItem.source_kind == row.source_kind,
        OutboxItem.cin7_id == row.cin7_id,
    )
    return sorted((await db.exec(query)).all(), key=lambda r: (r.version, r.entry_id))


async def document_link(db: AsyncSession, scope: TenantScope, row: OutboxItem) -> QbLink | None:
    query = scope.select(QbLink).where(
        QbLink.entry_kind == row.entry_kind,
        QbLink.source_kind == row.source_kind,
        QbLink.cin7_id == row.cin7_id,
    )
    return (await db.exec(query)).one_or_none()


def preview_qbxml(
    row: OutboxItem, link: QbLink | None, version: str
) -> tuple[str | None, str | None]:
    """The qbXML the gateway would send for this entry now (an Add, or a Mod of the linked
    transaction), built and XSD-checked the way a Web Connector session builds it; or why not."""
    try:
        entry = Entry.model_validate(row.body)
        if link is not None and link.entry_id != row.entry_id:
            element = render_mod(entry, link.txn_id, link.edit_sequence, version)
        else:
            element = render_add(entry, version)
        element.set("requestID", entry_request_id(row.entry_id))
        return message_set(version, [element]), None
    except (RenderError, InvalidRequestSet, ValueError) as exc:
        return None, f"QuickBooks would refuse this entry as it stands: {exc}"


def _history(versions: list[OutboxItem]) -> list[HistoryEvent]:
    events: list[HistoryEvent] = []
    for v in versions:
        what = f"version {v.version} (Cin7 revision {v.revision[:12]}): {api_state(v.state)}"
        if v.last_status_message:
            what += f". {v.last_status_message}"
        if v.approved_at is not None:
            events.append(
                HistoryEvent(
                    at=aware(v.approved_at),
                    what=f"version {v.version} approved",
                    by=v.approved_by,
                    entry_id=v.entry_id,
                    version=v.version,
                    state="approved",
                )
            )
        events.append(
            HistoryEvent(
                at=aware(v.updated_at),
                what=what,
                entry_id=v.entry_id,
                version=v.version,
                state=api_state(v.state),
            )
        )
    events.sort(key=lambda e: e.at)
    return events


async def entry_detail(db: AsyncSession, scope: TenantScope, entry_id: str) -> EntryDetail:
    row = await entry_row(db, scope, entry_id)
    tenant = await db.get(Tenant, scope.tenant_id)
    assert tenant is not None
    link = await document_link(db, scope, row)
    versions = await document_versions(db, scope, row)
    qbxml, problem = preview_qbxml(row, link, tenant.qbxml_version)
    own_link = link is not None and link.entry_id == row.entry_id
    try:
        postings = [
            DebitCreditLine(
                account=p.account, debit=f"{p.debit:.2f}", credit=f"{p.credit:.2f}", memo=p.memo
            )
            for p in Entry.model_validate(row.body).debit_credit()
        ]
    except ValueError:
        postings = []
    item = item_view(row, await _base_url(db, scope.tenant_id))
    return EntryDetail(
        **item.model_dump(),
        version=row.version,
        revision=row.revision,
        ref_number=row.ref_number,
        approved_by=row.approved_by,
        approved_at=aware(row.approved_at),
        debit_credit=postings,
        qbxml=qbxml,
        qbxml_problem=problem,
        quickbooks=QuickBooksOutcome(
            txn_id=link.txn_id if link is not None and own_link else None,
            edit_sequence=link.edit_sequence if link is not None and own_link else None,
            txn_number=link.txn_number if link is not None and own_link else None,
            status_code=row.last_status_code,
            status_message=row.last_status_message,
        ),
        depends_on=[str(k) for k in row.body.get("depends_on") or []],
        history=_history(versions),
    )
