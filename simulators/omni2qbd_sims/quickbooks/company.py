"""One in-memory QuickBooks company file: lists, transactions, ids, and its locks.

Every mutation happens under the company's re-entrant lock, and a whole qbXML message set
is processed under it, the way QuickBooks processes one request set at a time.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from lxml import etree

from omni2qbd_sims.quickbooks import statuses
from omni2qbd_sims.quickbooks.hcp import (
    CAPTURE_OWNER_ID,
    DEFAULT_EDITION,
    EDITIONS,
    Edition,
    build_hcp_response,
)
from omni2qbd_sims.quickbooks.indexes import REF, NameIndex, TxnIndex, txn_keys
from omni2qbd_sims.quickbooks.model import (
    ITEM_KINDS,
    NAME_KINDS,
    TERMS_KINDS,
    ListRecord,
    Txn,
    list_family,
)
from omni2qbd_sims.quickbooks.qbtext import find1, findtext1
from omni2qbd_sims.quickbooks.xsd_order import ref_names

DEFAULT_TZ = ZoneInfo("America/New_York")

# Which list a *Ref element points into, and how QuickBooks names that list in a 3140.
_REF_KINDS: dict[str, tuple[str, ...]] = {
    "CustomerRef": ("Customer",),
    "VendorRef": ("Vendor",),
    "TaxVendorRef": ("Vendor",),
    "PrefVendorRef": ("Vendor",),
    "EntityRef": NAME_KINDS,
    "ItemRef": ITEM_KINDS,
    "ItemGroupRef": ("ItemGroup",),
    "ClassRef": ("Class",),
    "TermsRef": TERMS_KINDS,
    "SalesTaxCodeRef": ("SalesTaxCode",),
    "CustomerSalesTaxCodeRef": ("SalesTaxCode",),
    "ItemSalesTaxRef": ("ItemSalesTax", "ItemSalesTaxGroup"),
}
_ACCOUNT_REFS = {
    "AccountRef",
    "ARAccountRef",
    "APAccountRef",
    "OverrideItemAccountRef",
    "IncomeAccountRef",
    "ExpenseAccountRef",
    "COGSAccountRef",
    "AssetAccountRef",
    "DepositToAccountRef",
}
_KIND_LABEL = {
    "Customer": "Customer",
    "Vendor": "Vendor",
    "Employee": "Employee",
    "OtherName": "Other Name",
    "Account": "Account",
    "Class": "Class",
    "StandardTerms": "Terms",
    "DateDrivenTerms": "Terms",
    "SalesTaxCode": "Sales Tax Code",
}


TEMPLATE_NAMES = {"Invoice": "Intuit Service Invoice", "CreditMemo": "Custom Credit Memo"}

_LINE_SUFFIXES = ("LineAdd", "LineMod", "LineRet", "DebitLine", "CreditLine")


def ref_kinds(tag: str) -> tuple[str, ...]:
    if tag in _ACCOUNT_REFS:
        return ("Account",)
    if tag in _REF_KINDS:
        return _REF_KINDS[tag]
    return (tag.removesuffix("Ref"),)


def kind_label(kinds: tuple[str, ...]) -> str:
    if set(kinds) & set(ITEM_KINDS):
        return "Item"
    if len(kinds) > 1 and set(kinds) == set(NAME_KINDS):
        return "Entity"
    return _KIND_LABEL.get(kinds[0], kinds[0])


def _collect_refs(element: etree._Element, in_line: bool) -> list[tuple[etree._Element, bool]]:
    """The refs that name a list record (a ListID or a FullName), each with whether it is
    inside a line (an ancestor's tag ends like a line's), in document order."""
    out: list[tuple[etree._Element, bool]] = []
    for found in element.iter(*ref_names()):
        if find1(found, "ListID") is None and find1(found, "FullName") is None:
            continue
        ref_in_line = in_line
        if not ref_in_line and found is not element:
            for ancestor in found.iterancestors():
                if str(ancestor.tag).endswith(_LINE_SUFFIXES):
                    ref_in_line = True
                    break
                if ancestor is element:
                    break
        out.append((found, ref_in_line))
    return out


def _written_as(ref: etree._Element, list_id: str, full_name: str) -> bool:
    """Whether ``write_ref`` would leave ``ref`` as it is: exactly a ListID and a FullName
    with these texts, no attributes (nor tails, comments or other children)."""
    if len(ref) != 2:
        return False
    first, second = ref[0], ref[1]
    return (
        first.tag == "ListID"
        and second.tag == "FullName"
        and first.text == list_id
        and second.text == full_name
        and not first.attrib
        and not second.attrib
        and first.tail is None
        and second.tail is None
        and not len(first)
        and not len(second)
    )


@dataclass
class PendingLock:
    code: int
    remaining: int
    request_types: frozenset[str] | None


@dataclass
class InjectedAnswer:
    """A status QuickBooks answers a write with instead of its Ret (e.g. 3210 Info)."""

    code: int
    severity: str
    message: str
    remaining: int
    request_types: frozenset[str] | None
    apply: bool  # whether QuickBooks still saved the write


@dataclass
class IteratorState:
    request_tag: str
    remaining_keys: list[str]
    options: dict[str, bool] = field(default_factory=dict)


@dataclass
class StoredMessageSet:
    checksum: str
    response_msgs: etree._Element  # the QBXMLMsgsRs as first answered
    recovery_msgs: etree._Element  # the same statuses with ErrorRecovery instead of Rets


class CompanyState:
    def __init__(
        self,
        path: str,
        *,
        name: str,
        file_id: str | None = None,
        owner_id: str = CAPTURE_OWNER_ID,
        edition: str = DEFAULT_EDITION,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if edition not in EDITIONS:
            raise ValueError(f"unknown edition {edition!r}; use one of {sorted(EDITIONS)}")
        self.path = path
        self.name = name
        self.file_id = file_id or "{" + str(uuid.uuid4()).upper() + "}"
        self.owner_id = owner_id
        self.edition_key = edition
        self.lock = threading.RLock()
        self._clock = clock or (lambda: datetime.now(DEFAULT_TZ))
        self.lists: dict[str, ListRecord] = {}
        self.txns: dict[str, Txn] = {}
        self.iterators: dict[str, IteratorState] = {}
        self.message_sets: OrderedDict[str, StoredMessageSet] = OrderedDict()
        self.pending_locks: list[PendingLock] = []
        self.injected_answers: list[InjectedAnswer] = []
        self._next_list = 0x80000001
        self._next_txn = 0x1
        self._next_txn_number = 1
        self._next_ref: dict[str, int] = {}
        self._last_edit = 0
        self.requests_processed = 0
        self.sets_processed = 0
        self._txn_index = TxnIndex(self.txns)
        self._name_index = self._new_name_index()

    # ---- persistence ----------------------------------------------------------------
    def __getstate__(self) -> dict[str, object]:
        # Locks and the clock belong to the running process, not to the company file.
        state = dict(self.__dict__)
        state.pop("lock", None)
        state.pop("_clock", None)
        # The indexes are derived from the lists and transactions: rebuilt on loading.
        state.pop("_txn_index", None)
        state.pop("_name_index", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("injected_answers", [])  # company files saved before it
        self.lock = threading.RLock()
        self._clock = lambda: datetime.now(DEFAULT_TZ)
        self._txn_index = TxnIndex(self.txns)
        self._name_index = self._new_name_index()

    # ---- identity -------------------------------------------------------------------
    @property
    def edition(self) -> Edition:
        return EDITIONS[self.edition_key]

    @property
    def qbxml_versions(self) -> tuple[str, ...]:
        return self.edition.qbxml_versions

    def hcp_response(self) -> str:
        return build_hcp_response(
            edition=self.edition,
            company_name=self.name,
            file_id=self.file_id,
            owner_id=self.owner_id,
        )

    def info(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": self.path,
            "file_id": self.file_id,
            "owner_id": self.owner_id,
            "edition": self.edition.product_name,
            "qbxml_versions": list(self.qbxml_versions),
            "highest_qbxml_version": self.edition.highest_version,
        }

    # ---- clock and ids ----------------------------------------------------------------
    def now(self) -> datetime:
        return self._clock().replace(microsecond=0)

    def _unix(self) -> int:
        return int(self.now().timestamp())

    def new_list_id(self) -> str:
        value = self._next_list
        self._next_list += 1
        return f"{value:X}-{self._unix()}"

    def new_txn_id(self) -> str:
        value = self._next_txn
        self._next_txn += 1
        return f"{value:X}-{self._unix()}"

    def new_txn_number(self) -> int:
        value = self._next_txn_number
        self._next_txn_number += 1
        return value

    def new_edit_sequence(self) -> str:
        # A Unix time, like QuickBooks', but strictly increasing so two edits in the same
        # second still give different sequences.
        value = max(self._unix(), self._last_edit + 1)
        self._last_edit = value
        return str(value)

    def next_ref_number(self, txn_type: str) -> str:
        value = self._next_ref.get(txn_type, 1)
        while any(t.txn_type == txn_type for t in self.txns_by(REF, str(value))):
            value += 1
        self._next_ref[txn_type] = value + 1
        return str(value)

    # ---- lists ----------------------------------------------------------------------
    def full_name(self, record: ListRecord) -> str:
        parts = [record.name]
        parent_id = record.parent_id
        while parent_id is not None:
            parent = self.lists[parent_id]
            parts.append(parent.name)
            parent_id = parent.parent_id
        return ":".join(reversed(parts))

    def sublevel(self, record: ListRecord) -> int:
        level = 0
        parent_id = record.parent_id
        while parent_id is not None:
            level += 1
            parent_id = self.lists[parent_id].parent_id
        return level

    def find_list(
        self, kinds: Iterable[str], *, list_id: str | None = None, full_name: str | None = None
    ) -> ListRecord | None:
        if list_id is not None:
            record = self.lists.get(list_id)
            if record is None:
                return None
            return (
                record
                if record.kind in (kinds if isinstance(kinds, tuple) else set(kinds))
                else None
            )
        wanted = set(kinds)
        if full_name is not None:
            for record in self._named(full_name):
                if record.kind in wanted:
                    return record
        return None

    def find_name(self, family: str, full_name: str) -> ListRecord | None:
        for record in self._named(full_name):
            if list_family(record.kind) == family:
                return record
        return None

    def _named(self, full_name: str) -> list[ListRecord]:
        """The records whose full name is ``full_name`` (trimmed, case-insensitive), in the
        order a scan of ``lists`` meets them."""
        key = full_name.strip().casefold()
        if self._name_index.size != len(self.lists):  # lists changed directly: re-index
            self._name_index = self._new_name_index()
        found = []
        for list_id in self._name_index.ids(key):
            record = self.lists.get(list_id)
            if record is not None and self.full_name(record).casefold() == key:
                found.append(record)
        return found

    def _new_name_index(self) -> NameIndex:
        return NameIndex((record, self.full_name(record)) for record in self.lists.values())

    def names_changed(self) -> None:
        """A record was renamed: its full name and its descendants' changed."""
        self._name_index = self._new_name_index()

    def add_list(
        self, kind: str, name: str, *, parent_id: str | None = None, **attrs: object
    ) -> ListRecord:
        """Create a list element; the name must be unique within its family (3100)."""
        with self.lock:
            full = name if parent_id is None else f"{self.full_name(self.lists[parent_id])}:{name}"
            if self.find_name(list_family(kind), full) is not None:
                raise statuses.name_in_use(full)
            now = self.now()
            record = ListRecord(
                kind=kind,
                list_id=self.new_list_id(),
                name=name,
                edit_sequence=self.new_edit_sequence(),
                time_created=now,
                time_modified=now,
                parent_id=parent_id,
            )
            for key, value in attrs.items():
                if not hasattr(record, key):
                    raise TypeError(f"list records have no field {key!r}")
                setattr(record, key, value)
            if self._name_index.size != len(self.lists):
                self._name_index = self._new_name_index()
            self.lists[record.list_id] = record
            self._name_index.add(record, full)
            return record

    def default_template(self, txn_type: str) -> ListRecord:
        """The form template QuickBooks puts on a sale sent without one (created on first
        use, as the sample company files have it)."""
        name = TEMPLATE_NAMES.get(txn_type, f"Intuit {txn_type}")
        found = self.find_list(("Template",), full_name=name)
        return found if found is not None else self.add_list("Template", name)

    def touch_list(self, record: ListRecord) -> None:
        record.edit_sequence = self.new_edit_sequence()
        record.time_modified = self.now()

    def records(self, kinds: Iterable[str]) -> list[ListRecord]:
        wanted = set(kinds)
        found = [r for r in self.lists.values() if r.kind in wanted]
        return sorted(found, key=lambda r: self.full_name(r).casefold())

    def require_list(self, kinds: Iterable[str], name_or_id: str) -> ListRecord:
        kinds = tuple(kinds)
        record = self.find_list(kinds, list_id=name_or_id) or self.find_list(
            kinds, full_name=name_or_id
        )
        if record is None:
            raise KeyError(f"no {kind_label(kinds)} named or with ListID {name_or_id!r}")
        return record

    # ---- refs -----------------------------------------------------------------------
    def resolve_ref(self, ref: etree._Element, txn_label: str) -> ListRecord:
        """Resolve a ``*Ref`` (ListID wins over FullName) and rewrite it to both."""
        kinds = ref_kinds(str(ref.tag))
        list_id = findtext1(ref, "ListID")
        full_name = findtext1(ref, "FullName")
        record = (
            self.find_list(kinds, list_id=list_id.strip())
            if list_id
            else self.find_list(kinds, full_name=full_name)
            if full_name
            else None
        )
        if record is None:
            shown = (list_id or full_name or "").strip()
            raise statuses.invalid_reference(kind_label(kinds), shown, txn_label)
        self.write_ref(ref, record)
        return record

    def write_ref(self, ref: etree._Element, record: ListRecord) -> None:
        for child in list(ref):
            ref.remove(child)
        etree.SubElement(ref, "ListID").text = record.list_id
        etree.SubElement(ref, "FullName").text = self.full_name(record)

    def refresh_refs(self, element: etree._Element) -> None:
        """Show current names: a renamed customer appears renamed in old transactions."""
        for ref in element.iter(*ref_names()):
            list_id = findtext1(ref, "ListID")
            if list_id and list_id in self.lists:
                record = self.lists[list_id]
                if not _written_as(ref, list_id, self.full_name(record)):
                    self.write_ref(ref, record)

    def resolve_all_refs(self, element: etree._Element, txn_label: str) -> None:
        """Resolve every ``*Ref`` under ``element`` (itself included), in document order."""
        in_line = any(str(a.tag).endswith(_LINE_SUFFIXES) for a in element.iterancestors())
        for ref, ref_in_line in _collect_refs(element, in_line):
            # QuickBooks names the place: "... in the SalesReceipt line." for line refs.
            self.resolve_ref(ref, f"{txn_label} line" if ref_in_line else txn_label)

    # ---- transactions ---------------------------------------------------------------
    def store_txn(self, txn: Txn) -> None:
        """Add a new transaction to the company file (and to its index)."""
        index = self._fresh_txn_index()
        self.txns[txn.txn_id] = txn
        index.update(txn)
        index.size = len(self.txns)

    def reindex_txn(self, txn: Txn) -> None:
        """``txn``'s body was replaced (a Mod) or it was deleted."""
        self._fresh_txn_index().update(txn)

    def txns_by(self, field: str, value: str) -> list[Txn]:
        """The live transactions whose ``field`` (``indexes.GUID``, ``REF``, ``CUSTOMER`` or
        ``VENDOR``) is ``value``, in ``txns`` order: what a scan of ``txns`` finds."""
        found = []
        for txn_id in self._fresh_txn_index().ids(field, value):
            txn = self.txns.get(txn_id)
            if txn is not None and (field, value) in txn_keys(txn):
                found.append(txn)
        return found

    def _fresh_txn_index(self) -> TxnIndex:
        if self._txn_index.size != len(self.txns):  # txns changed directly: re-index
            self._txn_index = TxnIndex(self.txns)
        return self._txn_index

    def live_txn(self, txn_id: str) -> Txn | None:
        txn = self.txns.get(txn_id)
        return txn if txn is not None and not txn.deleted else None

    def require_txn(self, txn_id: str) -> Txn:
        txn = self.live_txn(txn_id)
        if txn is None:
            raise KeyError(f"no transaction with TxnID {txn_id!r}")
        return txn

    def touch_txn(self, txn: Txn) -> None:
        txn.edit_sequence = self.new_edit_sequence()
        txn.time_modified = self.now()

    # ---- fault injection ------------------------------------------------------------
    def inject_lock(
        self, code: int, count: int = 1, request_types: Iterable[str] | None = None
    ) -> None:
        """Make the next ``count`` writes fail with lock status 3170, 3175 or 3180."""
        if code not in statuses.LOCK_CODES:
            raise ValueError(f"{code} is not a lock status; use one of {statuses.LOCK_CODES}")
        types = frozenset(request_types) if request_types else None
        with self.lock:
            self.pending_locks.append(PendingLock(code, count, types))

    def inject_answer(
        self,
        code: int,
        severity: str,
        message: str,
        *,
        count: int = 1,
        request_types: Iterable[str] | None = None,
        apply: bool = True,
    ) -> None:
        """Answer the next ``count`` requests (of ``request_types``, e.g. ``InvoiceAddRq``)
        with this status and no Ret, as real QuickBooks sometimes does: a captured answer
        has status 3210, severity Info, and no Ret. ``apply`` says whether the write is
        still saved, so a test can check that the bridge confirms by query."""
        types = frozenset(request_types) if request_types else None
        with self.lock:
            self.injected_answers.append(
                InjectedAnswer(code, severity, message, count, types, apply)
            )

    def take_answer(self, request_tag: str) -> InjectedAnswer | None:
        for injected in self.injected_answers:
            if injected.request_types is None or request_tag in injected.request_types:
                injected.remaining -= 1
                if injected.remaining <= 0:
                    self.injected_answers.remove(injected)
                return injected
        return None

    def take_lock(self, request_type: str) -> int | None:
        for pending in self.pending_locks:
            if pending.request_types is None or request_type in pending.request_types:
                pending.remaining -= 1
                if pending.remaining <= 0:
                    self.pending_locks.remove(pending)
                return pending.code
        return None

    def end_session(self) -> None:
        """Iterators live only for one QuickBooks session (reference §3.4)."""
        with self.lock:
            self.iterators.clear()
