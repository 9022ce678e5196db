"""The session plan: which qbXML message set goes out next, in this order (docs/design.md §4):

1. recovery: every write set whose answer never came (``in_doubt``) is resolved first, with
   ``oldMessageSetID`` and a query by RefNumber (or name) compared on ExternalGUID;
2. names to link: contact adds that met 3100 are looked up and linked;
3. lists: the QuickBooks list mirror is refreshed incrementally (iterators);
4. drafts: entries to re-import are checked (still a draft, untouched since we wrote them);
5. writes: the approved outbox, in batches bounded by count and bytes, contact adds first.

The plan's memory lives in ``QbwcSession.plan`` (JSON) and the sent sets in
``qbwc_requests``, so the next call may reach any gateway process. This module is pure: it
decides from what ``session.py`` read through ``repository.py`` and queries nothing itself.
"""

from __future__ import annotations

import contextlib
import secrets as pysecrets
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from omni2qbd_gateway import lists
from omni2qbd_gateway.outbox import SENDABLE
from omni2qbd_gateway.outcomes import describe_entry
from omni2qbd_gateway.qbxml_io import query_by_values
from omni2qbd_shared.db.models import OutboxItem, QbLink, QbwcRequest
from omni2qbd_shared.entries import Entry
from omni2qbd_shared.kinds import QB_TYPE
from omni2qbd_shared.qbxml.message_set import (
    InvalidRequestSet,
    entry_request_id,
    message_set,
)
from omni2qbd_shared.qbxml.render import RenderError, render_add, render_mod

CONTACT_KINDS = ("customer_add", "vendor_add")
TXN_TYPES = QB_TYPE  # entry kind -> qbXML type, from the shared vocabulary
LINKED_TXN_QUERIES = ("Invoice", "CreditMemo", "Bill", "VendorCredit")
_SET_OVERHEAD_BYTES = 200


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


DocKey = tuple[str, str, str]  # (entry kind, source kind, Cin7 id): one document's entries


def natural_key(item: OutboxItem) -> DocKey:
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
    # A reconciliation reading went out in this run (one per run; reconciliation_session).
    reconciliation_sent: bool = False
    # The QuickBooks that answered (product, version, country), for connection health.
    host: dict[str, str] = field(default_factory=dict)

    def checked_drafts(self, checked: dict[str, str | None]) -> None:
        """Re-imports verified untouched in QuickBooks: Modded against these EditSequences."""
        self.mods_checked.update(checked)

    def finish_isolated(self, entry_ids: list[str]) -> None:
        """A set answered: if it was (part of) the group being isolated, that part is done."""
        isolate = self.isolate
        if isolate and set(isolate[0]) >= set(entry_ids):
            remaining = [e for e in isolate[0] if e not in entry_ids]
            if remaining:
                isolate[0] = remaining
            else:
                isolate.pop(0)

    def split_isolated(self, entry_ids: list[str], halves: list[list[str]]) -> None:
        """A set QuickBooks could not read: its halves are sent alone, first."""
        isolate = self.isolate
        if isolate and set(isolate[0]) >= set(entry_ids):
            isolate.pop(0)
        isolate[0:0] = halves

    @classmethod
    def from_json(cls, stored: dict[str, Any] | None) -> SessionPlan:
        data = dict(stored or {})
        plan = cls()
        for name in ("deferred", "isolate"):
            if isinstance(data.get(name), list):
                setattr(plan, name, list(data[name]))
        for name in ("mods_checked", "link_names", "iterators", "list_from", "done", "host"):
            if isinstance(data.get(name), dict):
                setattr(plan, name, dict(data[name]))
        for name in ("lists_started", "lists_done", "reconciliation_sent"):
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
                "reconciliation_sent",
                "page",
                "units_done",
                "errors",
                "done",
                "set_size",
                "client",
                "host",
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


@dataclass
class Window:
    """The next approved entries in sending order (contacts first, then by approval) and
    their documents' QuickBooks links: read once per call (issue 15 point 4), then consulted
    by every step of the plan. Entries the call changes (posted, failed) drop out by state."""

    items: list[OutboxItem]
    links: dict[DocKey, QbLink]
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


def window_for(set_size: int) -> int:
    """How many of the next approved entries one call looks at: a little more than a set,
    since some may wait for a dependency or a draft check. Bounded, so a call costs the same
    with 10 or 10,000 entries waiting."""
    return set_size * 2 + 10


def _entry(item: OutboxItem) -> Entry:
    return Entry.model_validate(item.body)


# -- 1. recovery ---------------------------------------------------------------------------------


def recovery_set(
    version: str,
    request: QbwcRequest,
    items: list[OutboxItem],
    links: dict[DocKey, QbLink],
) -> OutgoingSet:
    """Ask QuickBooks what became of one in-doubt set (its entries still in doubt, ``items``):
    error recovery plus lookups by RefNumber, TxnID (Mods) or FullName (contact adds)."""
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


def list_set(version: str, plan: SessionPlan, cursors: dict[str, str | None]) -> OutgoingSet:
    """All lists from their cursors (``FromModifiedDate``), or the next pages of those with
    an open iterator."""
    plan.page += 1
    page = plan.page
    requests: list[etree._Element] = []
    if not plan.lists_started:
        for spec in lists.LIST_SPECS:
            requests.append(
                lists.build_query(
                    spec,
                    page=page,
                    from_modified=cursors.get(spec.list_type),
                    iterator_id=None,
                )
            )
        plan.lists_started = True
        plan.list_from = {spec.list_type: cursors.get(spec.list_type) for spec in lists.LIST_SPECS}
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


@dataclass
class WriteCandidates:
    """What the writes step looks at: the first of the window's sendable entries (or of the
    group being isolated), their parsed entries and the documents they depend on."""

    items: list[OutboxItem]
    entries: dict[str, Entry]
    dependency_keys: set[DocKey]
    # The documents of every candidate, the ones beyond ``items`` included (waited for).
    keys: set[DocKey] = field(default_factory=set)
    # Candidates lie beyond ``items``: a set they do not fill is decided by reading more.
    truncated: bool = False


def sendable_candidates(plan: SessionPlan, window: Window) -> list[OutboxItem]:
    """The window's sendable entries in sending order, or the group being isolated."""
    isolate = plan.isolate
    candidates = window.sendable(plan.deferred)
    while isolate:
        group = [c for c in candidates if c.entry_id in isolate[0]]
        if group:
            return group
        isolate.pop(0)
    return candidates


def write_candidates(candidates: list[OutboxItem], limit: int | None = None) -> WriteCandidates:
    """The first ``limit`` candidates (all: None) parsed; only their bodies are read."""
    items = candidates if limit is None else candidates[:limit]
    entries: dict[str, Entry] = {}
    for item in items:
        with contextlib.suppress(ValueError):
            entries[item.entry_id] = _entry(item)
    dependency_keys: set[DocKey] = set()
    for entry in entries.values():
        for key in entry.depends_on:
            parts = key.split(":", 2)
            if len(parts) == 3:
                dependency_keys.add((parts[0], parts[1], parts[2]))
    keys = {natural_key(c) for c in candidates}
    return WriteCandidates(items, entries, dependency_keys, keys, len(items) < len(candidates))


def writes_set(
    version: str,
    plan: SessionPlan,
    limits: Limits,
    batch: WriteCandidates,
    links: dict[DocKey, QbLink],
    pending_keys: set[DocKey],
) -> tuple[OutgoingSet | None, list[Rejected]] | None:
    """The next set of approved entries, or None; plus entries that cannot be rendered.

    At most ``limits.max_requests`` requests and ``limits.max_bytes`` bytes. ``links``: the
    QuickBooks links of the candidates' and their dependencies' documents; ``pending_keys``:
    documents with an entry on its way (approved, or in this batch), waited for.

    None (no tuple) when ``batch`` is truncated and its items do not decide the set (fewer
    requests than allowed, the byte limit not reached): the caller reads more candidates and
    asks again. The entries considered are the same either way, in the same order, so the
    set is the one all candidates at once would give."""
    rejected: list[Rejected] = []
    chosen: list[tuple[OutboxItem, etree._Element]] = []
    chosen_keys: set[DocKey] = set()  # the documents of ``chosen`` (kept, not rebuilt per item)
    size = _SET_OVERHEAD_BYTES
    for item in batch.items:
        if len(chosen) >= limits.max_requests:
            break
        outcome = _write_request(version, plan, item, batch, links, pending_keys, chosen_keys)
        if outcome is None:
            continue
        if isinstance(outcome, Rejected):
            rejected.append(outcome)
            continue
        request_bytes = len(etree.tostring(outcome))
        if chosen and size + request_bytes > limits.max_bytes:
            break
        chosen.append((item, outcome))
        chosen_keys.add(natural_key(item))
        size += request_bytes
    else:
        if batch.truncated and len(chosen) < limits.max_requests:
            return None
    if not chosen:
        return None, rejected
    return _writes_message_set(version, chosen, rejected)


def _what(item: OutboxItem) -> str:
    return describe_entry(item.entry_kind, item.ref_number, item.cin7_id, item.source_kind)


def _write_request(
    version: str,
    plan: SessionPlan,
    item: OutboxItem,
    batch: WriteCandidates,
    links: dict[DocKey, QbLink],
    pending_keys: set[DocKey],
    chosen_keys: set[DocKey],
) -> etree._Element | Rejected | None:
    """The Add or Mod request for one candidate; a Rejected when it cannot be sent; None when
    it waits (for a dependency, or for its draft check) or is already in QuickBooks."""
    link = links.get(natural_key(item))
    try:
        entry = batch.entries[item.entry_id] if item.entry_id in batch.entries else _entry(item)
        missing = _missing_dependency(entry, links, pending_keys, chosen_keys)
        if missing == WAIT_FOR_DEPENDENCY:
            return None
        if missing is not None:
            # Sending it would only earn a 3140 "invalid reference" from QuickBooks.
            return Rejected(
                item,
                f"The {_what(item)} was not sent: it needs the {missing} first, which is not "
                "in QuickBooks and not approved (it may be held: see `omni2qbd status`). "
                "Fix or approve that one, then approve this entry again.",
                code="dependency",
            )
        if link is not None and link.entry_id != item.entry_id:
            if item.entry_kind in CONTACT_KINDS:
                return None  # handled by the caller as "already in QuickBooks"
            checked = plan.mods_checked.get(item.entry_id)
            if checked is None:
                return None  # not yet verified as a draft this session
            element = render_mod(entry, link.txn_id, checked, version)
        else:
            element = render_add(entry, version)
        element.set("requestID", entry_request_id(item.entry_id))
    except (RenderError, ValueError) as exc:
        return Rejected(item, f"The {_what(item)} cannot be sent to QuickBooks: {exc}")
    return element


def _writes_message_set(
    version: str, chosen: list[tuple[OutboxItem, etree._Element]], rejected: list[Rejected]
) -> tuple[OutgoingSet | None, list[Rejected]]:
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
                rejected.append(
                    Rejected(item, f"The {_what(item)} cannot be sent to QuickBooks: {exc}")
                )
        return None, rejected
    return (
        OutgoingSet("writes", xml, [item.entry_id for item, _ in chosen], message_set_id=set_id),
        rejected,
    )


WAIT_FOR_DEPENDENCY = "wait"


def _missing_dependency(
    entry: Entry,
    links: dict[DocKey, QbLink],
    pending_keys: set[DocKey],
    chosen_keys: set[DocKey],
) -> str | None:
    """None when every dependency (e.g. the CustomerAdd for this invoice) is in QuickBooks or
    goes first (``chosen_keys``: the documents already in this set); WAIT_FOR_DEPENDENCY when
    one is approved but not in this batch yet; otherwise the missing dependency, in words."""
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
