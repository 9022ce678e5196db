"""Applying what QuickBooks answered: outcomes, links (TxnID, EditSequence), list mirror.

Every change of an entry's state is staged as a ``ResultMessage`` in the same transaction
(``pending.stage``), so ``qb.results`` hears exactly what the database recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import lists, pending
from omni2qbd_gateway.outcomes import classify, describe_entry
from omni2qbd_gateway.plan import (
    CONTACT_KINDS,
    TXN_TYPES,
    SessionPlan,
    entry_id_of,
    natural_key,
)
from omni2qbd_gateway.qbxml_io import RequestResult, ResponseSet, text_of
from omni2qbd_gateway.repository import items_of as _items_of
from omni2qbd_gateway.repository import links_for
from omni2qbd_gateway.states import EntryState, RequestState
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import (
    ContactMatch,
    OutboxItem,
    QbLink,
    QbwcRequest,
    utcnow,
)
from omni2qbd_shared.db.tenancy import scoped

PARSE_ERROR_HRESULT = "0x80040400"
CONTACT_LIST = {"customer_add": "customer", "vendor_add": "vendor"}
# Final outcomes counted for the Web Connector's closing message ("what this run did").
RUN_OUTCOMES = ("posted", "failed", "locked", "retry_later")
CONTACT_CIN7_KIND = {"customer_add": "customer", "vendor_add": "supplier"}


@dataclass
class Ctx:
    db: AsyncSession
    tenant_id: str
    plan: SessionPlan
    # Links of the documents being answered, loaded once per set (not once per entry).
    links: dict[tuple[str, str, str], QbLink] | None = None


def what(item: OutboxItem) -> str:
    return describe_entry(item.entry_kind, item.ref_number, item.cin7_id, item.source_kind)


def set_state(
    ctx: Ctx,
    item: OutboxItem,
    state: EntryState,
    outcome: m.Outcome | None,
    *,
    code: str | None = None,
    message: str | None = None,
    link: QbLink | None = None,
) -> None:
    item.state = state.value
    item.last_status_code = code
    item.last_status_message = message
    item.updated_at = utcnow()
    ctx.db.add(item)
    if outcome in RUN_OUTCOMES:
        ctx.plan.done[outcome] = ctx.plan.done.get(outcome, 0) + 1
    if outcome is not None:
        pending.stage(
            ctx.db,
            m.ResultMessage(
                entry_id=item.entry_id,
                tenant_id=item.tenant_id,
                outcome=outcome,
                txn_id=link.txn_id if link else None,
                edit_sequence=link.edit_sequence if link else None,
                txn_number=link.txn_number if link else None,
                status_code=code,
                status_message=message,
            ),
        )


async def record_posted(
    ctx: Ctx,
    item: OutboxItem,
    *,
    txn_id: str,
    edit_sequence: str | None,
    txn_number: str | None,
    external_guid: str | None,
    is_pending: bool | None,
    message: str,
    ret: etree._Element | None = None,
) -> None:
    key = natural_key(item)
    if ctx.links is not None:
        link = ctx.links.get(key)
    else:
        query = scoped(QbLink, ctx.tenant_id).where(
            QbLink.entry_kind == key[0], QbLink.source_kind == key[1], QbLink.cin7_id == key[2]
        )
        link = (await ctx.db.exec(query)).one_or_none()
    now = utcnow()
    if link is None:
        link = QbLink(
            tenant_id=ctx.tenant_id,
            entry_kind=item.entry_kind,
            source_kind=item.source_kind,
            cin7_id=item.cin7_id,
            entry_id=item.entry_id,
            qb_txn_type=TXN_TYPES[item.entry_kind],
            txn_id=txn_id,
            edit_sequence=edit_sequence or "",
        )
    else:
        previous = await ctx.db.get(OutboxItem, link.entry_id)
        if previous is not None and previous.entry_id != item.entry_id:
            previous.state = EntryState.SUPERSEDED
            previous.last_status_message = f"re-imported as entry {item.entry_id}"
            previous.updated_at = now
            ctx.db.add(previous)
    link.entry_id = item.entry_id
    link.txn_id = txn_id
    link.edit_sequence = edit_sequence or link.edit_sequence
    link.txn_number = txn_number
    link.ref_number = item.ref_number
    link.external_guid = external_guid or (item.body.get("external_guid") or None)
    link.is_pending = is_pending
    link.updated_at = now
    ctx.db.add(link)
    if ctx.links is not None:
        ctx.links[key] = link
    if item.entry_kind in CONTACT_KINDS:
        await _record_contact(ctx, item, txn_id, ret)
    set_state(ctx, item, EntryState.POSTED, "posted", code="0", message=message, link=link)


async def _record_contact(
    ctx: Ctx, item: OutboxItem, list_id: str, ret: etree._Element | None
) -> None:
    list_type = CONTACT_LIST[item.entry_kind]
    contact = (item.body.get("header") or {}).get("contact") or {}
    name = (text_of(ret, "FullName") if ret is not None else None) or str(contact.get("name", ""))
    if ret is not None:
        change = await lists.record_list_item(ctx.db, ctx.tenant_id, list_type, ret)
        if change is not None:
            pending.stage(
                ctx.db,
                m.ListChangesMessage(
                    tenant_id=ctx.tenant_id, list_type=list_type, changes=[change]
                ),
            )
    cin7_kind = CONTACT_CIN7_KIND[item.entry_kind]
    query = scoped(ContactMatch, ctx.tenant_id).where(
        ContactMatch.cin7_kind == cin7_kind, ContactMatch.cin7_id == item.cin7_id
    )
    match = (await ctx.db.exec(query)).one_or_none()
    if match is None:
        match = ContactMatch(
            tenant_id=ctx.tenant_id,
            cin7_kind=cin7_kind,
            cin7_id=item.cin7_id,
            qb_list_type=list_type,
            qb_list_id=list_id,
            qb_name=name[:200],
            confirmed_by=item.approved_by or "import",
        )
    match.qb_list_id = list_id
    match.qb_name = name[:200]
    ctx.db.add(match)


def _bool(text: str | None) -> bool | None:
    return None if text is None else text.strip().lower() == "true"


async def posted_from_ret(ctx: Ctx, item: OutboxItem, ret: etree._Element, message: str) -> None:
    txn_id = text_of(ret, "TxnID") or text_of(ret, "ListID") or ""
    await record_posted(
        ctx,
        item,
        txn_id=txn_id,
        edit_sequence=text_of(ret, "EditSequence"),
        txn_number=text_of(ret, "TxnNumber"),
        external_guid=text_of(ret, "ExternalGUID"),
        is_pending=_bool(text_of(ret, "IsPending")),
        message=message,
        ret=ret,
    )


def defer(ctx: Ctx, item: OutboxItem) -> None:
    deferred = ctx.plan.deferred
    if item.entry_id not in deferred:
        deferred.append(item.entry_id)


async def apply_result(ctx: Ctx, item: OutboxItem, rs: RequestResult) -> None:
    """One write's answer → posted, retry later, link by name, locked or failed."""
    is_mod = rs.tag.endswith("ModRs")
    verdict = classify(
        code=rs.status_code,
        severity=rs.severity,
        message=rs.message,
        is_mod=is_mod,
        is_contact_add=item.entry_kind in CONTACT_KINDS and not is_mod,
        what=what(item),
    )
    code = str(rs.status_code)
    if verdict.verdict == "posted":
        ret = rs.ret()
        if ret is None:
            # Info/Warn without the Ret (a real answer: 3210, Info, no Ret): QuickBooks may or
            # may not have saved it. Confirmed by a query before it is called posted.
            set_state(
                ctx,
                item,
                EntryState.IN_DOUBT,
                "in_doubt",
                code=code,
                message=f"QuickBooks answered status {code} ({rs.severity}) without the "
                "saved record; checking QuickBooks before anything is sent again",
            )
            return
        await posted_from_ret(ctx, item, ret, verdict.reason)
    elif verdict.verdict == "retry":
        defer(ctx, item)
        set_state(ctx, item, EntryState.QUEUED, "retry_later", code=code, message=verdict.reason)
    elif verdict.verdict == "name_in_use":
        contact = (item.body.get("header") or {}).get("contact") or {}
        if not contact.get("name"):
            set_state(ctx, item, EntryState.FAILED, "failed", code=code, message=rs.message)
            return
        ctx.plan.link_names[item.entry_id] = [TXN_TYPES[item.entry_kind], contact["name"]]
        item.state = EntryState.QUEUED
        item.last_status_code = code
        item.last_status_message = "the name exists in QuickBooks; linking to it"
        ctx.db.add(item)
    elif verdict.verdict == "locked":
        set_state(ctx, item, EntryState.LOCKED, "locked", code=code, message=verdict.reason)
    else:
        set_state(ctx, item, EntryState.FAILED, "failed", code=code, message=verdict.reason)


async def items_of(ctx: Ctx, entry_ids: list[str]) -> list[OutboxItem]:
    """These entries of this tenant (one query), in the order given."""
    return await _items_of(ctx.db, ctx.tenant_id, entry_ids)


async def apply_writes(ctx: Ctx, request: QbwcRequest, response: ResponseSet) -> None:
    by_id = response.by_request_id()
    items = await items_of(ctx, request.entry_ids)
    ctx.links = await links_for(ctx.db, ctx.tenant_id, items)
    for item in items:
        answers = by_id.get(f"e-{item.entry_id}"[:50])
        if not answers:
            # Sets go out with continueOnError, so QuickBooks processed every request: an
            # answer that does not name this one (requestIDs matching nothing, an *Rs
            # missing) says nothing about whether it was saved. In doubt, never re-sent blind.
            set_state(
                ctx,
                item,
                EntryState.IN_DOUBT,
                "in_doubt",
                message="QuickBooks' answer did not include this request; checking QuickBooks "
                "before anything is sent again",
            )
            continue
        await apply_result(ctx, item, answers[0])
    # Entries left in doubt are resolved (error recovery, then a query) before the next write.
    doubtful = any(item.state == EntryState.IN_DOUBT for item in items)
    request.state = RequestState.IN_DOUBT if doubtful else RequestState.ANSWERED
    ctx.db.add(request)
    _finish_isolation_group(ctx, request.entry_ids)


def _finish_isolation_group(ctx: Ctx, entry_ids: list[str]) -> None:
    isolate = ctx.plan.isolate
    if isolate and set(isolate[0]) >= set(entry_ids):
        remaining = [e for e in isolate[0] if e not in entry_ids]
        if remaining:
            isolate[0] = remaining
        else:
            isolate.pop(0)


async def apply_whole_set_failure(
    ctx: Ctx, request: QbwcRequest, hresult: str, message: str
) -> None:
    """QuickBooks could not read the set at all (0x80040400): nothing was written.

    Split it in halves and send each alone, until the one entry it cannot read is isolated
    and reported; the others go through.
    """
    request.state = RequestState.FAILED
    request.hresult = hresult[:16]
    ctx.db.add(request)
    items = await items_of(ctx, request.entry_ids)
    isolate = ctx.plan.isolate
    if isolate and set(isolate[0]) >= set(request.entry_ids):
        isolate.pop(0)
    if len(items) == 1:
        item = items[0]
        reason = (
            f"QuickBooks could not read the request for the {what(item)} ({hresult}: "
            f"{message or 'parse error'}). The entry was sent alone and still refused; check "
            "its fields (characters, lengths, references) and import it again."
        )
        set_state(ctx, item, EntryState.FAILED, "failed", code=hresult[:16], message=reason)
        return
    ids = [item.entry_id for item in items]
    half = len(ids) // 2
    isolate[0:0] = [ids[:half], ids[half:]]
    for item in items:
        item.state = EntryState.QUEUED
        item.last_status_message = "QuickBooks refused the batch as a whole; being sent in parts"
        ctx.db.add(item)


async def mark_in_doubt(ctx: Ctx, request: QbwcRequest, reason: str) -> None:
    """The answer to a write set never came: it may or may not be in QuickBooks."""
    request.state = RequestState.IN_DOUBT
    ctx.db.add(request)
    for item in await items_of(ctx, request.entry_ids):
        if item.state == EntryState.SENT:
            set_state(ctx, item, EntryState.IN_DOUBT, "in_doubt", message=reason)


# -- recovery --------------------------------------------------------------------------------------


async def apply_recovery(ctx: Ctx, request: QbwcRequest, response: ResponseSet) -> None:
    """Decide, per in-doubt entry, whether QuickBooks has it; only what it lacks is re-sent."""
    recovered: dict[str, RequestResult] = {}
    rets_by_guid: dict[str, etree._Element] = {}
    rets_by_txn: dict[str, etree._Element] = {}
    for rs in response.results:
        entry_id = entry_id_of(rs.request_id)
        if entry_id is not None:
            recovered[entry_id] = rs
            continue
        for ret in rs.rets:
            guid = text_of(ret, "ExternalGUID")
            if guid:
                rets_by_guid[guid.upper()] = ret
            txn = text_of(ret, "TxnID")
            if txn:
                rets_by_txn[txn] = ret
    items = await items_of(ctx, request.entry_ids)
    links = await links_for(ctx.db, ctx.tenant_id, items)  # these documents' only
    for item in items:
        if item.state != EntryState.IN_DOUBT:
            continue
        answer = recovered.get(item.entry_id)
        guid = str(item.body.get("external_guid") or "").upper()
        link = links.get(natural_key(item))
        if answer is not None and answer.status_code == 0 and answer.error_recovery is not None:
            await posted_from_ret(
                ctx, item, answer.error_recovery, "verified after a lost response"
            )
        elif answer is not None and answer.severity == "Error":
            await apply_result(ctx, item, answer)
        elif guid and guid in rets_by_guid:
            await posted_from_ret(ctx, item, rets_by_guid[guid], "verified after a lost response")
        elif link is not None and link.entry_id != item.entry_id and link.txn_id in rets_by_txn:
            ret = rets_by_txn[link.txn_id]
            if text_of(ret, "EditSequence") != link.edit_sequence:
                await posted_from_ret(ctx, item, ret, "verified after a lost response")
            else:
                set_state(
                    ctx, item, EntryState.QUEUED, None, message="not in QuickBooks; sent again"
                )
        else:
            set_state(ctx, item, EntryState.QUEUED, None, message="not in QuickBooks; sent again")
    request.state = RequestState.RESOLVED
    ctx.db.add(request)


# -- names to link (3100) ------------------------------------------------------------------------


async def apply_links(ctx: Ctx, entry_ids: list[str], response: ResponseSet) -> None:
    by_id = response.by_request_id()
    link_names = ctx.plan.link_names
    for item in await items_of(ctx, entry_ids):
        link_names.pop(item.entry_id, None)
        answers = by_id.get(f"lnk-{item.entry_id}"[:50]) or []
        ret = answers[0].ret() if answers else None
        if ret is not None:
            name = text_of(ret, "FullName") or ""
            await posted_from_ret(
                ctx, item, ret, f"linked to the existing QuickBooks name {name!r} (3100)"
            )
            continue
        contact = (item.body.get("header") or {}).get("contact") or {}
        label = "customer" if item.entry_kind == "customer_add" else "vendor"
        set_state(
            ctx,
            item,
            EntryState.FAILED,
            "failed",
            code="3100",
            message=(
                f"The name {contact.get('name')!r} is already used in QuickBooks by another kind "
                f"of name (vendor, customer, employee or other name), so it cannot be a "
                f"{label}. Rename the contact in Cin7 or match it to an existing {label}."
            ),
        )


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


async def apply_drafts(ctx: Ctx, entry_ids: list[str], response: ResponseSet) -> None:
    by_id = response.by_request_id()
    for item in await items_of(ctx, entry_ids):
        key = natural_key(item)
        query = scoped(QbLink, ctx.tenant_id).where(
            QbLink.entry_kind == key[0], QbLink.source_kind == key[1], QbLink.cin7_id == key[2]
        )
        link = (await ctx.db.exec(query)).one_or_none()
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
            set_state(
                ctx, item, EntryState.LOCKED, "locked", code="locked", message=reason, link=link
            )
            previous = await ctx.db.get(OutboxItem, link.entry_id)
            if previous is not None and previous.state == EntryState.POSTED:
                previous.state = EntryState.LOCKED
                previous.last_status_message = reason
                ctx.db.add(previous)
        else:
            ctx.plan.mods_checked[item.entry_id] = text_of(ret, "EditSequence")
