"""The session plan: which qbXML message set goes out next, in this order (DESIGN §4):

1. recovery: every write set whose answer never came (``in_doubt``) is resolved first, with
   ``oldMessageSetID`` and a query by RefNumber (or name) compared on ExternalGUID;
2. names to link: contact adds that met 3100 are looked up and linked;
3. lists: the QuickBooks list mirror is refreshed incrementally (iterators);
4. drafts: entries to re-import are checked (still a draft, untouched since we wrote them);
5. writes: the approved outbox, in batches bounded by count and bytes, contact adds first.

The plan's memory lives in ``QbwcSession.plan`` (JSON) and the sent sets in
``qbwc_requests``, so the next call may reach any gateway process.
"""

from __future__ import annotations

import contextlib
import secrets as pysecrets
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import lists
from omni2qbd_gateway.outbox import SENDABLE
from omni2qbd_gateway.outcomes import describe_entry
from omni2qbd_gateway.qbxml_io import InvalidRequestSet, message_set, query_by_values
from omni2qbd_shared.db.models import OutboxItem, QbLink, QbwcRequest
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.entries import Entry
from omni2qbd_shared.qbxml.render import RenderError, render_add, render_mod

CONTACT_KINDS = ("customer_add", "vendor_add")
TXN_TYPES = {
    "invoice": "Invoice",
    "credit_memo": "CreditMemo",
    "bill": "Bill",
    "vendor_credit": "VendorCredit",
    "journal": "JournalEntry",
    "customer_add": "Customer",
    "vendor_add": "Vendor",
}
LINKED_TXN_QUERIES = ("Invoice", "CreditMemo", "Bill", "VendorCredit")
_SET_OVERHEAD_BYTES = 200


def entry_request_id(entry_id: str) -> str:
    return f"e-{entry_id}"[:50]


def entry_id_of(request_id: str | None) -> str | None:
    return request_id[2:] if request_id and request_id.startswith("e-") else None


def new_message_set_id() -> str:
    # qbXML allows at most 23 characters; 64 random bits is plenty per tenant.
    return "ws-" + pysecrets.token_hex(8)


@dataclass
class Limits:
    max_requests: int
    max_bytes: int


@dataclass
class OutgoingSet:
    purpose: str  # recovery | link | lists | drafts | writes
    xml: str
    entry_ids: list[str] = field(default_factory=list)
    message_set_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rejected:
    """An entry that could not be turned into a valid request; it fails without being sent."""

    item: OutboxItem
    reason: str
    code: str = "render"


def natural_key(item: OutboxItem) -> tuple[str, str, str]:
    return (item.entry_kind, item.source_kind, item.cin7_id)


@dataclass
class Outstanding:
    """The message set the session waits for an answer to."""

    request_id: int
    purpose: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SessionPlan:
    """The plan's memory between calls, stored as JSON in ``QbwcSession.plan`` (same keys as
    before the rebuild, so a session live during an upgrade continues)."""

    deferred: list[str] = field(default_factory=list)  # entries to retry on the next run
    isolate: list[list[str]] = field(default_factory=list)  # groups of a set refused whole
    mods_checked: dict[str, str | None] = field(default_factory=dict)  # entry -> EditSequence
    link_names: dict[str, list[str]] = field(default_factory=dict)  # entry -> [type, name]
    iterators: dict[str, str] = field(default_factory=dict)  # list type -> iteratorID
    list_from: dict[str, str | None] = field(default_factory=dict)
    lists_started: bool = False
    lists_done: bool = False
    page: int = 0
    units_done: int = 0
    errors: int = 0
    outstanding: Outstanding | None = None
    # What this run did (outcome -> entries), for the Web Connector's closing message.
    done: dict[str, int] = field(default_factory=dict)
    # Requests per write set, adapted to how fast QuickBooks answers (0: not yet chosen).
    set_size: int = 0
    # The Web Connector's address: a new login from it may take an idle session over.
    client: str | None = None

    @classmethod
    def from_json(cls, stored: dict[str, Any] | None) -> SessionPlan:
        data = dict(stored or {})
        plan = cls()
        for name in ("deferred", "isolate"):
            if isinstance(data.get(name), list):
                setattr(plan, name, list(data[name]))
        for name in ("mods_checked", "link_names", "iterators", "list_from", "done"):
            if isinstance(data.get(name), dict):
                setattr(plan, name, dict(data[name]))
        for name in ("lists_started", "lists_done"):
            plan.__dict__[name] = bool(data.get(name, False))
        for name in ("page", "units_done", "errors", "set_size"):
            value = data.get(name, 0)
            plan.__dict__[name] = value if isinstance(value, int) else 0
        client = data.get("client")
        plan.client = client if isinstance(client, str) else None
        outstanding = data.get("outstanding")
        if isinstance(outstanding, dict) and isinstance(outstanding.get("id"), int):
            plan.outstanding = Outstanding(
                outstanding["id"],
                str(outstanding.get("purpose", "")),
                dict(outstanding.get("meta") or {}),
            )
        return plan

    def to_json(self) -> dict[str, Any]:
        data = {
            name: getattr(self, name)
            for name in (
                "deferred",
                "isolate",
                "mods_checked",
                "link_names",
                "iterators",
                "list_from",
                "lists_started",
                "lists_done",
                "page",
                "units_done",
                "errors",
                "done",
                "set_size",
                "client",
            )
        }
        data["outstanding"] = (
            None
            if self.outstanding is None
            else {
                "id": self.outstanding.request_id,
                "purpose": self.outstanding.purpose,
                "meta": self.outstanding.meta,
            }
        )
        return data


async def links_for(
    session: AsyncSession, tenant_id: str, items: list[OutboxItem]
) -> dict[tuple[str, str, str], QbLink]:
    """The QuickBooks links of these items' documents (one query, bounded by the items)."""
    if not items:
        return {}
    cin7_ids = sorted({item.cin7_id for item in items})
    query = scoped(QbLink, tenant_id).where(col(QbLink.cin7_id).in_(cin7_ids))
    return {
        (link.entry_kind, link.source_kind, link.cin7_id): link
        for link in (await session.exec(query)).all()
    }


async def links_for_keys(
    session: AsyncSession, tenant_id: str, keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], QbLink]:
    if not keys:
        return {}
    query = scoped(QbLink, tenant_id).where(col(QbLink.cin7_id).in_(sorted(k[2] for k in keys)))
    return {
        (link.entry_kind, link.source_kind, link.cin7_id): link
        for link in (await session.exec(query)).all()
        if (link.entry_kind, link.source_kind, link.cin7_id) in keys
    }


async def approved_keys(
    session: AsyncSession, tenant_id: str, keys: set[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Which of these documents have an approved (or sent) entry waiting to be posted."""
    if not keys:
        return set()
    query = scoped(OutboxItem, tenant_id).where(
        col(OutboxItem.cin7_id).in_(sorted(k[2] for k in keys)),
        col(OutboxItem.state).in_(("approved", "queued", "sent", "in_doubt")),
    )
    return {natural_key(item) for item in (await session.exec(query)).all()} & keys


def _contacts_first() -> Any:
    return case((col(OutboxItem.entry_kind).in_(CONTACT_KINDS), 0), else_=1)


async def _in_flight_keys(session: AsyncSession, tenant_id: str) -> set[tuple[str, str, str]]:
    # Only the key columns: the JSON bodies of what is in flight are not needed here.
    query = select(OutboxItem.entry_kind, OutboxItem.source_kind, OutboxItem.cin7_id).where(
        OutboxItem.tenant_id == tenant_id, col(OutboxItem.state).in_(("sent", "in_doubt"))
    )
    return {(kind, source, cin7) for kind, source, cin7 in (await session.exec(query)).all()}


@dataclass
class Window:
    """The next approved entries in sending order (contacts first, then by approval) and
    their documents' QuickBooks links: read once per call (issue 15 point 4), then consulted
    by every step of the plan. Entries the call changes (posted, failed) drop out by state."""

    items: list[OutboxItem]
    links: dict[tuple[str, str, str], QbLink]
    complete: bool  # True when no approved entry lies beyond the window

    def sendable(self, deferred: list[str]) -> list[OutboxItem]:
        return [i for i in self.items if i.state in SENDABLE and i.entry_id not in deferred]

    def reimports(self, deferred: list[str]) -> list[tuple[OutboxItem, QbLink]]:
        """Entries whose document is already in QuickBooks under an older entry (a Mod, or
        for a contact nothing to do)."""
        return [
            (item, link)
            for item in self.sendable(deferred)
            if (link := self.links.get(natural_key(item))) is not None
            and link.entry_id != item.entry_id
        ]


async def load_window(
    session: AsyncSession, tenant_id: str, deferred: list[str], size: int
) -> Window:
    """At most ``size`` approved entries. A newer version waits while the older one's fate in
    QuickBooks is unknown (in flight)."""
    in_flight = await _in_flight_keys(session, tenant_id)
    query = scoped(OutboxItem, tenant_id).where(col(OutboxItem.state).in_(SENDABLE))
    if deferred:
        query = query.where(col(OutboxItem.entry_id).not_in(deferred))
    query = query.order_by(_contacts_first(), col(OutboxItem.approved_at), col(OutboxItem.entry_id))
    fetched = list((await session.exec(query.limit(size + len(in_flight) + 1))).all())
    rows = [row for row in fetched if natural_key(row) not in in_flight]
    complete = len(fetched) <= size + len(in_flight)
    items = rows[:size]
    return Window(items, await links_for(session, tenant_id, items), complete)


async def sendable_count(session: AsyncSession, tenant_id: str, deferred: list[str]) -> int:
    query = scoped(OutboxItem, tenant_id).where(col(OutboxItem.state).in_(SENDABLE))
    if deferred:
        query = query.where(col(OutboxItem.entry_id).not_in(deferred))
    counted = select(func.count()).select_from(query.subquery())
    return int((await session.exec(counted)).one())


def window_for(set_size: int) -> int:
    """How many of the next approved entries one call looks at: a little more than a set,
    since some may wait for a dependency or a draft check. Bounded, so a call costs the same
    with 10 or 10,000 entries waiting."""
    return set_size * 2 + 10


def _entry(item: OutboxItem) -> Entry:
    return Entry.model_validate(item.body)


# -- 1. recovery ---------------------------------------------------------------------------------


async def recovery_set(
    session: AsyncSession, tenant_id: str, version: str, request: QbwcRequest
) -> OutgoingSet:
    """Ask QuickBooks what became of one in-doubt set: error recovery plus lookups."""
    items = [
        item
        for item in [await session.get(OutboxItem, eid) for eid in request.entry_ids]
        if item is not None and item.tenant_id == tenant_id and item.state == "in_doubt"
    ]
    links = await links_for(session, tenant_id, items)
    by_type: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    mods: dict[str, list[str]] = {}
    for item in items:
        qb_type = TXN_TYPES[item.entry_kind]
        link = links.get(natural_key(item))
        if item.entry_kind in CONTACT_KINDS:
            contact = (item.body.get("header") or {}).get("contact") or {}
            if contact.get("name"):
                names.setdefault(qb_type, []).append(str(contact["name"]))
        elif link is not None and link.entry_id != item.entry_id:
            mods.setdefault(qb_type, []).append(link.txn_id)
        elif item.ref_number:
            by_type.setdefault(qb_type, []).append(item.ref_number)
    requests: list[etree._Element] = []
    for qb_type, refs in sorted(by_type.items()):
        requests.append(
            query_by_values(
                f"{qb_type}QueryRq", f"rec-ref-{qb_type}", "RefNumber", sorted(set(refs)), []
            )
        )
    for qb_type, txn_ids in sorted(mods.items()):
        requests.append(
            query_by_values(
                f"{qb_type}QueryRq", f"rec-mod-{qb_type}", "TxnID", sorted(set(txn_ids)), []
            )
        )
    for qb_type, wanted in sorted(names.items()):
        requests.append(
            query_by_values(
                f"{qb_type}QueryRq", f"rec-name-{qb_type}", "FullName", sorted(set(wanted)), []
            )
        )
    xml = message_set(
        version, requests, on_error="continueOnError", old_message_set_id=request.message_set_id
    )
    return OutgoingSet(
        "recovery",
        xml,
        entry_ids=[item.entry_id for item in items],
        meta={"recovering": request.id, "old_message_set_id": request.message_set_id},
    )


# -- 2. names to link (3100) ---------------------------------------------------------------------


def link_set(version: str, link_names: dict[str, list[str]]) -> OutgoingSet:
    """``{entry_id: [qb_type, name]}`` → one FullName query per name."""
    requests = [
        query_by_values(f"{qb_type}QueryRq", f"lnk-{entry_id}"[:50], "FullName", [name], [])
        for entry_id, (qb_type, name) in sorted(link_names.items())
    ]
    return OutgoingSet("link", message_set(version, requests), entry_ids=sorted(link_names))


# -- 3. lists ------------------------------------------------------------------------------------


async def list_set(
    session: AsyncSession, tenant_id: str, version: str, plan: SessionPlan
) -> OutgoingSet:
    plan.page += 1
    page = plan.page
    requests: list[etree._Element] = []
    if not plan.lists_started:
        known = await lists.cursors(session, tenant_id)
        for spec in lists.LIST_SPECS:
            cursor = known.get(spec.list_type)
            requests.append(
                lists.build_query(
                    spec,
                    page=page,
                    from_modified=cursor.from_modified if cursor else None,
                    iterator_id=None,
                )
            )
        plan.lists_started = True
        plan.list_from = {
            t: (c.from_modified if c else None)
            for t, c in ((s.list_type, known.get(s.list_type)) for s in lists.LIST_SPECS)
        }
    else:
        for list_type, iterator_id in sorted(plan.iterators.items()):
            requests.append(
                lists.build_query(
                    lists.SPEC_BY_TYPE[list_type],
                    page=page,
                    from_modified=plan.list_from.get(list_type),
                    iterator_id=iterator_id,
                )
            )
    return OutgoingSet("lists", message_set(version, requests, on_error="continueOnError"))


# -- 4. drafts -----------------------------------------------------------------------------------


def draft_candidates(window: Window, plan: SessionPlan) -> list[tuple[OutboxItem, QbLink]]:
    return [
        (item, link)
        for item, link in window.reimports(plan.deferred)
        if item.entry_kind not in CONTACT_KINDS and item.entry_id not in plan.mods_checked
    ]


def drafts_set(version: str, candidates: list[tuple[OutboxItem, QbLink]]) -> OutgoingSet:
    requests = []
    for item, link in candidates:
        qb_type = TXN_TYPES[item.entry_kind]
        extra = ["IncludeLinkedTxns"] if qb_type in LINKED_TXN_QUERIES else []
        requests.append(
            query_by_values(
                f"{qb_type}QueryRq", f"d-{item.entry_id}"[:50], "TxnID", [link.txn_id], extra
            )
        )
    return OutgoingSet(
        "drafts", message_set(version, requests), entry_ids=[i.entry_id for i, _ in candidates]
    )


# -- 5. writes -----------------------------------------------------------------------------------


async def writes_set(
    session: AsyncSession,
    tenant_id: str,
    version: str,
    plan: SessionPlan,
    limits: Limits,
    window: Window,
) -> tuple[OutgoingSet | None, list[Rejected]]:
    """The next set of approved entries, or None; plus entries that cannot be rendered.

    At most ``limits.max_requests`` requests and ``limits.max_bytes`` bytes."""
    isolate = plan.isolate
    candidates = window.sendable(plan.deferred)
    while isolate:
        group = [c for c in candidates if c.entry_id in isolate[0]]
        if group:
            candidates = group
            break
        isolate.pop(0)
    entries: dict[str, Entry] = {}
    for item in candidates:
        with contextlib.suppress(ValueError):
            entries[item.entry_id] = _entry(item)
    dependency_keys = {
        parts
        for entry in entries.values()
        for key in entry.depends_on
        if len(parts := tuple(key.split(":", 2))) == 3
    }
    links = dict(window.links)
    links.update(await links_for_keys(session, tenant_id, dependency_keys))  # type: ignore[arg-type]
    # Dependencies approved but outside this window (or in flight) are waited for, not failed.
    pending_keys = {natural_key(c) for c in candidates} | await approved_keys(
        session,
        tenant_id,
        dependency_keys,  # type: ignore[arg-type]
    )
    rejected: list[Rejected] = []
    chosen: list[tuple[OutboxItem, etree._Element]] = []
    size = _SET_OVERHEAD_BYTES
    for item in candidates:
        if len(chosen) >= limits.max_requests:
            break
        link = links.get(natural_key(item))
        try:
            entry = entries[item.entry_id] if item.entry_id in entries else _entry(item)
            missing = _missing_dependency(entry, links, pending_keys, chosen)
            if missing == WAIT_FOR_DEPENDENCY:
                continue
            if missing is not None:
                # Sending it would only earn a 3140 "invalid reference" from QuickBooks.
                what = describe_entry(
                    item.entry_kind, item.ref_number, item.cin7_id, item.source_kind
                )
                rejected.append(
                    Rejected(
                        item,
                        f"The {what} was not sent: it needs the {missing} first, which is not "
                        "in QuickBooks and not approved (it may be held: see `omni2qbd status`). "
                        "Fix or approve that one, then approve this entry again.",
                        code="dependency",
                    )
                )
                continue
            if link is not None and link.entry_id != item.entry_id:
                if item.entry_kind in CONTACT_KINDS:
                    continue  # handled by the caller as "already in QuickBooks"
                checked = plan.mods_checked.get(item.entry_id)
                if checked is None:
                    continue  # not yet verified as a draft this session
                element = render_mod(entry, link.txn_id, checked, version)
            else:
                element = render_add(entry, version)
            element.set("requestID", entry_request_id(item.entry_id))
        except (RenderError, ValueError) as exc:
            what = describe_entry(item.entry_kind, item.ref_number, item.cin7_id, item.source_kind)
            rejected.append(Rejected(item, f"The {what} cannot be sent to QuickBooks: {exc}"))
            continue
        request_bytes = len(etree.tostring(element))
        if chosen and size + request_bytes > limits.max_bytes:
            break
        chosen.append((item, element))
        size += request_bytes
    if not chosen:
        return None, rejected
    set_id = new_message_set_id()
    try:
        xml = message_set(version, [element for _, element in chosen], new_message_set_id=set_id)
    except InvalidRequestSet:
        # Rare (the renderer follows the XSD): find which requests are invalid, set them
        # aside with the reason, and build the batch again from the rest.
        for item, element in chosen:
            try:
                message_set(version, [element])
            except InvalidRequestSet as exc:
                what = describe_entry(
                    item.entry_kind, item.ref_number, item.cin7_id, item.source_kind
                )
                rejected.append(Rejected(item, f"The {what} cannot be sent to QuickBooks: {exc}"))
        return None, rejected
    return (
        OutgoingSet("writes", xml, [item.entry_id for item, _ in chosen], message_set_id=set_id),
        rejected,
    )


WAIT_FOR_DEPENDENCY = "wait"


def _missing_dependency(
    entry: Entry,
    links: dict[tuple[str, str, str], QbLink],
    pending_keys: set[tuple[str, str, str]],
    chosen: list[tuple[OutboxItem, etree._Element]],
) -> str | None:
    """None when every dependency (e.g. the CustomerAdd for this invoice) is in QuickBooks or
    goes first; WAIT_FOR_DEPENDENCY when one is approved but not in this batch yet; otherwise
    the missing dependency, in words."""
    chosen_keys = {natural_key(item) for item, _ in chosen}
    for key in entry.depends_on:
        parts = tuple(key.split(":", 2))
        if len(parts) != 3:
            continue
        if parts in links or parts in chosen_keys:
            continue
        if parts in pending_keys:
            return WAIT_FOR_DEPENDENCY
        kind, source_kind, cin7_id = parts
        return f"{kind.replace('_', ' ')} for Cin7 {source_kind} {cin7_id}"
    return None


def contact_repeats(window: Window, plan: SessionPlan) -> list[OutboxItem]:
    """Approved contact adds whose contact is already linked in QuickBooks: nothing to send."""
    return [
        item for item, _link in window.reimports(plan.deferred) if item.entry_kind in CONTACT_KINDS
    ]
