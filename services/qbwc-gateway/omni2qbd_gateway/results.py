"""What QuickBooks' answer means for each entry of a sent set: pure decisions.

Given the entries a set carried (and, where it matters, their documents' QuickBooks links)
and the parsed answer, these functions return one ``Decision`` per entry: its new state,
the ``qb.results`` outcome to publish, what QuickBooks saved (TxnID, EditSequence, ...) and
what the session plan has to remember. They read nothing and write nothing: ``session.py``
applies the decisions to the plan and, through ``repository.py``, to the database, in the
call's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from omni2qbd_gateway.outcomes import classify, describe_entry
from omni2qbd_gateway.plan import (
    CONTACT_KINDS,
    TXN_TYPES,
    DocKey,
    natural_key,
)
from omni2qbd_gateway.qbxml_io import RequestResult, ResponseSet, text_of
from omni2qbd_gateway.states import EntryState, RequestState
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import OutboxItem, QbLink
from omni2qbd_shared.qbxml.message_set import entry_id_of, entry_request_id

PARSE_ERROR_HRESULT = "0x80040400"
# Final outcomes counted for the Web Connector's closing message ("what this run did").
RUN_OUTCOMES = ("posted", "failed", "locked", "retry_later")
VERIFIED = "verified after a lost response"


def what(item: OutboxItem) -> str:
    return describe_entry(item.entry_kind, item.ref_number, item.cin7_id, item.source_kind)


def _bool(text: str | None) -> bool | None:
    return None if text is None else text.strip().lower() == "true"


@dataclass(frozen=True)
class Saved:
    """What QuickBooks saved for an entry (the Ret of its answer): recorded as its link."""

    txn_id: str
    edit_sequence: str | None
    txn_number: str | None
    external_guid: str | None
    is_pending: bool | None
    # The Ret itself: a new customer or vendor is mirrored into the list at once.
    ret: etree._Element

    @classmethod
    def of(cls, ret: etree._Element) -> Saved:
        return cls(
            txn_id=text_of(ret, "TxnID") or text_of(ret, "ListID") or "",
            edit_sequence=text_of(ret, "EditSequence"),
            txn_number=text_of(ret, "TxnNumber"),
            external_guid=text_of(ret, "ExternalGUID"),
            is_pending=_bool(text_of(ret, "IsPending")),
            ret=ret,
        )


@dataclass(frozen=True)
class Decision:
    """What became of one entry."""

    entry_id: str
    state: EntryState
    outcome: m.Outcome | None  # the qb.results message to publish (None: none)
    code: str | None = None
    message: str | None = None
    saved: Saved | None = None  # posted: the link to record
    # The document's stored link goes into the qb.results message (a draft that was locked).
    report_link: bool = False
    # A draft changed in QuickBooks: the posted version of the document is locked too.
    lock_posted_version: bool = False
    # Plan memory: not again in this session (3170 and friends) ...
    retry_next_run: bool = False
    # ... or look this name up and link to it (3100 on a contact add): (qb type, name).
    link_name: tuple[str, str] | None = None


@dataclass(frozen=True)
class SetOutcome:
    """The decisions about one sent set, and the state that set ends in."""

    decisions: list[Decision]
    set_state: RequestState
    # A set QuickBooks could not read at all: the halves to send alone next.
    split: list[list[str]] = field(default_factory=list)
    # Drafts verified untouched in QuickBooks: entry -> EditSequence to Mod against.
    checked: dict[str, str | None] = field(default_factory=dict)


def _contact_name(item: OutboxItem) -> str | None:
    contact = (item.body.get("header") or {}).get("contact") or {}
    name = contact.get("name")
    return str(name) if name else None


def posted(item: OutboxItem, ret: etree._Element, message: str) -> Decision:
    return Decision(
        item.entry_id, EntryState.POSTED, "posted", code="0", message=message, saved=Saved.of(ret)
    )


def already_posted(item: OutboxItem) -> Decision:
    """An approved contact add whose contact is already linked: nothing to send."""
    return Decision(
        item.entry_id, EntryState.POSTED, "posted", code="0", message="already in QuickBooks"
    )


def refused(item: OutboxItem, code: str, reason: str) -> Decision:
    """An entry that fails without being sent (cannot be rendered, dependency missing)."""
    return Decision(item.entry_id, EntryState.FAILED, "failed", code=code, message=reason)


def in_doubt(item: OutboxItem, message: str, code: str | None = None) -> Decision:
    return Decision(item.entry_id, EntryState.IN_DOUBT, "in_doubt", code=code, message=message)


def verdict(item: OutboxItem, rs: RequestResult) -> Decision:
    """One write's answer -> posted, retry later, link by name, locked or failed."""
    is_mod = rs.tag.endswith("ModRs")
    judged = classify(
        code=rs.status_code,
        severity=rs.severity,
        message=rs.message,
        is_mod=is_mod,
        is_contact_add=item.entry_kind in CONTACT_KINDS and not is_mod,
        what=what(item),
    )
    code = str(rs.status_code)
    entry_id = item.entry_id
    if judged.verdict == "posted":
        ret = rs.ret()
        if ret is None:
            # Info/Warn without the Ret (a real answer: 3210, Info, no Ret): QuickBooks may or
            # may not have saved it. Confirmed by a query before it is called posted.
            return in_doubt(
                item,
                f"QuickBooks answered status {code} ({rs.severity}) without the saved record; "
                "checking QuickBooks before anything is sent again",
                code=code,
            )
        return posted(item, ret, judged.reason)
    if judged.verdict == "retry":
        return Decision(
            entry_id,
            EntryState.QUEUED,
            "retry_later",
            code=code,
            message=judged.reason,
            retry_next_run=True,
        )
    if judged.verdict == "name_in_use":
        name = _contact_name(item)
        if not name:
            return Decision(entry_id, EntryState.FAILED, "failed", code=code, message=rs.message)
        return Decision(
            entry_id,
            EntryState.QUEUED,
            None,
            code=code,
            message="the name exists in QuickBooks; linking to it",
            link_name=(TXN_TYPES[item.entry_kind], name),
        )
    if judged.verdict == "locked":
        return Decision(entry_id, EntryState.LOCKED, "locked", code=code, message=judged.reason)
    return Decision(entry_id, EntryState.FAILED, "failed", code=code, message=judged.reason)


# -- write sets ----------------------------------------------------------------------------------


def writes(items: list[OutboxItem], response: ResponseSet) -> SetOutcome:
    by_id = response.by_request_id()
    decisions: list[Decision] = []
    for item in items:
        answers = by_id.get(entry_request_id(item.entry_id))
        if not answers:
            # Sets go out with continueOnError, so QuickBooks processed every request: an
            # answer that does not name this one (requestIDs matching nothing, an *Rs
            # missing) says nothing about whether it was saved. In doubt, never re-sent blind.
            decisions.append(
                in_doubt(
                    item,
                    "QuickBooks' answer did not include this request; checking QuickBooks "
                    "before anything is sent again",
                )
            )
            continue
        decisions.append(verdict(item, answers[0]))
    # Entries left in doubt are resolved (error recovery, then a query) before the next write.
    doubtful = any(d.state == EntryState.IN_DOUBT for d in decisions)
    return SetOutcome(decisions, RequestState.IN_DOUBT if doubtful else RequestState.ANSWERED)


def set_refused(items: list[OutboxItem], hresult: str, message: str) -> SetOutcome:
    """QuickBooks could not read the set at all (0x80040400): nothing was written.

    Split it in halves and send each alone, until the one entry it cannot read is isolated
    and reported; the others go through.
    """
    if len(items) == 1:
        item = items[0]
        reason = (
            f"QuickBooks could not read the request for the {what(item)} ({hresult}: "
            f"{message or 'parse error'}). The entry was sent alone and still refused; check "
            "its fields (characters, lengths, references) and import it again."
        )
        return SetOutcome([refused(item, hresult[:16], reason)], RequestState.FAILED, split=[])
    ids = [item.entry_id for item in items]
    half = len(ids) // 2
    queued = [
        Decision(
            item.entry_id,
            EntryState.QUEUED,
            None,
            message="QuickBooks refused the batch as a whole; being sent in parts",
        )
        for item in items
    ]
    return SetOutcome(queued, RequestState.FAILED, split=[ids[:half], ids[half:]])


def unanswered(items: Iterable[OutboxItem], reason: str) -> SetOutcome:
    """The answer to a write set never came: what was sent may or may not be in QuickBooks."""
    decisions = [in_doubt(item, reason) for item in items if item.state == EntryState.SENT]
    return SetOutcome(decisions, RequestState.IN_DOUBT)


# -- recovery ------------------------------------------------------------------------------------


@dataclass
class _RecoveryAnswer:
    """A recovery set's answer: each entry's error recovery, and the Rets the lookups found
    (by ExternalGUID and by TxnID)."""

    recovered: dict[str, RequestResult] = field(default_factory=dict)
    by_guid: dict[str, etree._Element] = field(default_factory=dict)
    by_txn: dict[str, etree._Element] = field(default_factory=dict)

    @classmethod
    def of(cls, response: ResponseSet) -> _RecoveryAnswer:
        answer = cls()
        for rs in response.results:
            entry_id = entry_id_of(rs.request_id)
            if entry_id is not None:
                answer.recovered[entry_id] = rs
                continue
            for ret in rs.rets:
                guid = text_of(ret, "ExternalGUID")
                if guid:
                    answer.by_guid[guid.upper()] = ret
                txn = text_of(ret, "TxnID")
                if txn:
                    answer.by_txn[txn] = ret
        return answer


def recovery(
    items: list[OutboxItem], links: dict[DocKey, QbLink], response: ResponseSet
) -> SetOutcome:
    """Decide, per in-doubt entry, whether QuickBooks has it; only what it lacks is re-sent.
    ``links``: the stored links of these entries' documents."""
    answer = _RecoveryAnswer.of(response)
    decisions = [
        _recovered(item, answer, links.get(natural_key(item)))
        for item in items
        if item.state == EntryState.IN_DOUBT
    ]
    return SetOutcome(decisions, RequestState.RESOLVED)


def _recovered(item: OutboxItem, answer: _RecoveryAnswer, link: QbLink | None) -> Decision:
    recovered = answer.recovered.get(item.entry_id)
    if recovered is not None:
        if recovered.status_code == 0 and recovered.error_recovery is not None:
            return posted(item, recovered.error_recovery, VERIFIED)
        if recovered.severity == "Error":
            return verdict(item, recovered)
    guid = str(item.body.get("external_guid") or "").upper()
    if guid and guid in answer.by_guid:
        return posted(item, answer.by_guid[guid], VERIFIED)
    if link is not None and link.entry_id != item.entry_id and link.txn_id in answer.by_txn:
        # A re-import (a Mod of the document's earlier entry): saved if QuickBooks' copy moved
        # on from the EditSequence stored for it.
        ret = answer.by_txn[link.txn_id]
        if text_of(ret, "EditSequence") != link.edit_sequence:
            return posted(item, ret, VERIFIED)
    return Decision(item.entry_id, EntryState.QUEUED, None, message="not in QuickBooks; sent again")


# -- names to link (3100) ------------------------------------------------------------------------


def name_links(items: list[OutboxItem], response: ResponseSet) -> SetOutcome:
    by_id = response.by_request_id()
    decisions: list[Decision] = []
    for item in items:
        answers = by_id.get(f"lnk-{item.entry_id}"[:50]) or []
        ret = answers[0].ret() if answers else None
        if ret is not None:
            name = text_of(ret, "FullName") or ""
            decisions.append(
                posted(item, ret, f"linked to the existing QuickBooks name {name!r} (3100)")
            )
            continue
        label = "customer" if item.entry_kind == "customer_add" else "vendor"
        decisions.append(
            refused(
                item,
                "3100",
                f"The name {_contact_name(item)!r} is already used in QuickBooks by another "
                f"kind of name (vendor, customer, employee or other name), so it cannot be a "
                f"{label}. Rename the contact in Cin7 or match it to an existing {label}.",
            )
        )
    return SetOutcome(decisions, RequestState.ANSWERED)


# -- drafts --------------------------------------------------------------------------------------


def draft_changes(item: OutboxItem, link: QbLink, ret: etree._Element | None) -> list[str]:
    """What makes a posted transaction no longer a draft the bridge may overwrite."""
    if ret is None:
        return ["it no longer exists in QuickBooks (deleted)"]
    changes: list[str] = []
    pending_flag = (ret.findtext("IsPending") or "").strip().lower()
    if item.entry_kind in ("invoice", "credit_memo") and pending_flag != "true":
        changes.append("it was marked final in QuickBooks (no longer pending)")
    current = text_of(ret, "EditSequence")
    if current != link.edit_sequence:
        changes.append(
            f"it was edited in QuickBooks (edit sequence {link.edit_sequence} is now {current})"
        )
    linked = [
        " ".join(
            part
            for part in (
                text_of(txn, "TxnType") or "transaction",
                text_of(txn, "RefNumber") or text_of(txn, "TxnID"),
            )
            if part
        )
        for txn in ret.findall("LinkedTxn")
    ]
    if linked:
        changes.append(f"it has linked transactions in QuickBooks ({', '.join(linked)})")
    return changes


def drafts(
    items: list[OutboxItem], links: dict[DocKey, QbLink], response: ResponseSet
) -> SetOutcome:
    """Each re-import checked against what QuickBooks holds now: still an untouched draft
    (its EditSequence is remembered for the Mod), or locked with what changed."""
    by_id = response.by_request_id()
    decisions: list[Decision] = []
    checked: dict[str, str | None] = {}
    for item in items:
        link = links.get(natural_key(item))
        if link is None:
            continue
        answers = by_id.get(f"d-{item.entry_id}"[:50]) or []
        ret = answers[0].ret() if answers else None
        changes = draft_changes(item, link, ret)
        if changes:
            reason = (
                f"The {what(item)} was not re-imported because {'; '.join(changes)}. The bridge "
                "never overwrites what people changed in QuickBooks: update both systems by hand."
            )
            decisions.append(
                Decision(
                    item.entry_id,
                    EntryState.LOCKED,
                    "locked",
                    code="locked",
                    message=reason,
                    report_link=True,
                    lock_posted_version=True,
                )
            )
        else:
            checked[item.entry_id] = text_of(ret, "EditSequence")
    return SetOutcome(decisions, RequestState.ANSWERED, checked=checked)
