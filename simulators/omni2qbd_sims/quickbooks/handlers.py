"""One handler per supported request type: each turns an ``*Rq`` into its ``*Rs``.

Handlers raise ``RequestFailed`` for a QuickBooks status error; the processor turns that
into an Rs carrying only the status attributes, as QuickBooks does ("Error responses
return no data", reference §4).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from omni2qbd_shared.xmlsafe import parse_xml
from omni2qbd_sims.quickbooks import statuses
from omni2qbd_sims.quickbooks.company import CompanyState, IteratorState
from omni2qbd_sims.quickbooks.model import (
    ITEM_KINDS,
    TERMS_KINDS,
    ListRecord,
    Txn,
)
from omni2qbd_sims.quickbooks.qbtext import child_text, fmt_datetime, sub
from omni2qbd_sims.quickbooks.render import list_ret, txn_ret
from omni2qbd_sims.quickbooks.statuses import RequestStatus
from omni2qbd_sims.quickbooks.txn_ops import SPECS, add_txn, mod_txn, totals
from omni2qbd_sims.quickbooks.xsd_order import keep_only, sort_children


@dataclass
class RequestContext:
    company: CompanyState
    version: str
    include_data: bool = True


@dataclass
class HandlerResult:
    rets: list[etree._Element]
    status: RequestStatus = statuses.STATUS_OK
    attrs: dict[str, str] | None = None


Handler = Callable[[RequestContext, etree._Element], HandlerResult]

LIST_QUERIES: dict[str, tuple[str, ...]] = {
    "CustomerQueryRq": ("Customer",),
    "VendorQueryRq": ("Vendor",),
    "EmployeeQueryRq": ("Employee",),
    "OtherNameQueryRq": ("OtherName",),
    "AccountQueryRq": ("Account",),
    "ClassQueryRq": ("Class",),
    "TermsQueryRq": TERMS_KINDS,
    "StandardTermsQueryRq": ("StandardTerms",),
    "SalesTaxCodeQueryRq": ("SalesTaxCode",),
    "ItemQueryRq": ITEM_KINDS,
    "ItemServiceQueryRq": ("ItemService",),
    "ItemNonInventoryQueryRq": ("ItemNonInventory",),
    "ItemOtherChargeQueryRq": ("ItemOtherCharge",),
    "ItemInventoryQueryRq": ("ItemInventory",),
    "ItemDiscountQueryRq": ("ItemDiscount",),
    "ItemSalesTaxQueryRq": ("ItemSalesTax",),
    "ItemSalesTaxGroupQueryRq": ("ItemSalesTaxGroup",),
}


# ---- first-call queries -----------------------------------------------------------


def _hcp_part(tag: str) -> Handler:
    def handle(ctx: RequestContext, rq: etree._Element) -> HandlerResult:
        hcp = parse_xml(ctx.company.hcp_response())
        rs = hcp.find(f"QBXMLMsgsRs/{tag.removesuffix('Rq')}Rs")
        assert rs is not None
        return HandlerResult([copy.deepcopy(child) for child in rs])

    return handle


# ---- list adds --------------------------------------------------------------------

_TYPED_LIST_FIELDS = ("Name", "ParentRef", "IsActive", "ExternalGUID")


def _list_add(kind: str) -> Handler:
    def handle(ctx: RequestContext, rq: etree._Element) -> HandlerResult:
        company = ctx.company
        add = rq.find(f"{kind}Add")
        assert add is not None
        fields = copy.deepcopy(add)
        fields.attrib.clear()
        company.resolve_all_refs(fields, kind)
        name = child_text(fields, "Name") or ""
        parent_id = fields.findtext("ParentRef/ListID")
        lock = company.take_lock(f"{kind}Add")
        if lock is not None:
            raise statuses.lock_error(lock, kind, name)
        record = company.add_list(
            kind,
            name,
            parent_id=parent_id,
            is_active=child_text(fields, "IsActive") != "false",
            external_guid=child_text(fields, "ExternalGUID"),
            sales_tax_code_id=fields.findtext("SalesTaxCodeRef/ListID"),
            item_sales_tax_id=fields.findtext("ItemSalesTaxRef/ListID"),
        )
        for tag in (*_TYPED_LIST_FIELDS, "SalesTaxCodeRef", "ItemSalesTaxRef"):
            for element in fields.findall(tag):
                fields.remove(element)
        record.extra = fields
        return HandlerResult([list_ret(company, record, ctx.version)])

    return handle


# ---- list queries -----------------------------------------------------------------


def _parse_when(text: str | None, company: CompanyState, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.strip())
    if len(text.strip()) == 10 and end:
        value = value.replace(hour=23, minute=59, second=59)
    if value.tzinfo is None:
        value = value.replace(tzinfo=company.now().tzinfo)
    return value


def _matches_name(name: str, criterion: str, wanted: str) -> bool:
    name, wanted = name.casefold(), wanted.casefold()
    if criterion == "StartsWith":
        return name.startswith(wanted)
    if criterion == "EndsWith":
        return name.endswith(wanted)
    return wanted in name


def _list_query(kinds: tuple[str, ...]) -> Handler:
    def handle(ctx: RequestContext, rq: etree._Element) -> HandlerResult:
        company = ctx.company
        continued = _continue_iterator(ctx, rq)
        if continued is not None:
            return continued
        ids = [(e.text or "").strip() for e in rq.findall("ListID")]
        names = [(e.text or "").strip() for e in rq.findall("FullName")]
        keys: list[str] = []
        missing: list[str] = []
        if ids or names:
            for list_id in ids:
                found = company.find_list(kinds, list_id=list_id)
                (keys.append(found.list_id) if found else missing.append(list_id))
            for full_name in names:
                found = company.find_list(kinds, full_name=full_name)
                (keys.append(found.list_id) if found else missing.append(full_name))
        else:
            keys = [r.list_id for r in company.records(kinds) if _list_filter(ctx, rq, r)]
        result = _page(ctx, rq, "list", keys)
        if missing:
            result.status = statuses.partial(missing[0])
        return result

    return handle


def _list_filter(ctx: RequestContext, rq: etree._Element, record: ListRecord) -> bool:
    account_types = [(e.text or "").strip() for e in rq.findall("AccountType")]
    return (
        _active_matches(rq, record)
        and _modified_within(ctx.company, rq, record)
        and _name_matches(rq, ctx.company.full_name(record))
        and not (account_types and record.account_type not in account_types)
    )


# ActiveStatus -> the is_active a record needs; other values (All) take both.
_ACTIVE_STATUS = {"ActiveOnly": True, "InactiveOnly": False}


def _active_matches(rq: etree._Element, record: ListRecord) -> bool:
    wanted = _ACTIVE_STATUS.get(child_text(rq, "ActiveStatus") or "ActiveOnly")
    return wanted is None or bool(record.is_active) == wanted


def _modified_within(company: CompanyState, rq: etree._Element, record: ListRecord) -> bool:
    since = _parse_when(rq.findtext("FromModifiedDate"), company)
    until = _parse_when(rq.findtext("ToModifiedDate"), company, end=True)
    if since is not None and record.time_modified < since:
        return False
    return until is None or record.time_modified <= until


def _name_matches(rq: etree._Element, full_name: str) -> bool:
    """NameFilter (a match criterion) and NameRangeFilter (from/to, case-insensitive)."""
    name_filter = rq.find("NameFilter")
    if name_filter is not None and not _matches_name(
        full_name,
        child_text(name_filter, "MatchCriterion") or "",
        child_text(name_filter, "Name") or "",
    ):
        return False
    name_range = rq.find("NameRangeFilter")
    if name_range is None:
        return True
    low = (child_text(name_range, "FromName") or "").casefold()
    high = child_text(name_range, "ToName")
    return not (
        full_name.casefold() < low or (high is not None and full_name.casefold() > high.casefold())
    )


# ---- iterators ----------------------------------------------------------------------


def _page(ctx: RequestContext, rq: etree._Element, source: str, keys: list[str]) -> HandlerResult:
    """Apply MaxReturned, and start an iterator when the request asks for one."""
    max_text = child_text(rq, "MaxReturned")
    limit = int(max_text) if max_text else None
    options = {
        "lines": child_text(rq, "IncludeLineItems") == "true",
        "links": child_text(rq, "IncludeLinkedTxns") == "true",
    }
    if rq.get("iterator") == "Start":
        page, rest = (keys[:limit], keys[limit:]) if limit is not None else (keys, [])
        iterator_id = "{" + str(uuid.uuid4()) + "}"
        state = IteratorState(str(rq.tag), rest, {**options, "list": source == "list"})
        if rest:
            ctx.company.iterators[iterator_id] = state
        result = _render_keys(ctx, rq, page, state.options)
        result.attrs = {"iteratorRemainingCount": str(len(rest)), "iteratorID": iterator_id}
        return result
    if limit is not None:
        keys = keys[:limit]
    return _render_keys(ctx, rq, keys, {**options, "list": source == "list"})


def _continue_iterator(ctx: RequestContext, rq: etree._Element) -> HandlerResult | None:
    mode = rq.get("iterator")
    if mode not in ("Continue", "Stop"):
        return None
    iterator_id = rq.get("iteratorID") or ""
    state = ctx.company.iterators.get(iterator_id)
    if state is None or state.request_tag != str(rq.tag):
        # Not confirmed from Intuit's table: an unknown or expired iterator is reported
        # like any other invalid object id.
        raise statuses.invalid_object_id(iterator_id, "iteratorID")
    if mode == "Stop":
        del ctx.company.iterators[iterator_id]
        return HandlerResult([], attrs={"iteratorRemainingCount": "0", "iteratorID": iterator_id})
    max_text = child_text(rq, "MaxReturned")
    limit = int(max_text) if max_text else len(state.remaining_keys)
    page, state.remaining_keys = state.remaining_keys[:limit], state.remaining_keys[limit:]
    if not state.remaining_keys:
        del ctx.company.iterators[iterator_id]
    result = _render_keys(ctx, rq, page, state.options)
    result.attrs = {
        "iteratorRemainingCount": str(len(state.remaining_keys)),
        "iteratorID": iterator_id,
    }
    if not result.rets:
        result.status = statuses.STATUS_OK
    return result


def _render_keys(
    ctx: RequestContext, rq: etree._Element, keys: list[str], options: dict[str, bool]
) -> HandlerResult:
    company = ctx.company
    rets: list[etree._Element] = []
    for key in keys:
        if options.get("list"):
            record = company.lists.get(key)
            if record is not None:
                rets.append(list_ret(company, record, ctx.version))
            continue
        txn = company.live_txn(key)
        if txn is not None:
            rets.append(
                txn_ret(
                    company,
                    txn,
                    ctx.version,
                    include_lines=options.get("lines", False),
                    include_links=options.get("links", False),
                )
            )
    included = [(e.text or "").strip() for e in rq.findall("IncludeRetElement")]
    if included:
        for ret in rets:
            keep_only(ret, included)
    status = (
        statuses.STATUS_OK if rets or rq.get("iterator") == "Continue" else statuses.STATUS_NO_MATCH
    )
    return HandlerResult(rets, status)


# ---- transactions -----------------------------------------------------------------


def _txn_add(txn_type: str) -> Handler:
    def handle(ctx: RequestContext, rq: etree._Element) -> HandlerResult:
        add = rq.find(f"{txn_type}Add")
        assert add is not None
        txn = add_txn(ctx.company, txn_type, add)
        # add_txn wrote every ref of the new body with the current names.
        return HandlerResult([_write_ret(ctx, rq, txn, names_current=True)])

    return handle


def _txn_mod(txn_type: str) -> Handler:
    def handle(ctx: RequestContext, rq: etree._Element) -> HandlerResult:
        mod = rq.find(f"{txn_type}Mod")
        assert mod is not None
        try:
            txn = mod_txn(ctx.company, txn_type, mod)
        except statuses.RequestFailed as failure:
            current = ctx.company.live_txn((mod.findtext("TxnID") or "").strip())
            if failure.status.code == statuses.STALE_EDIT_SEQUENCE and current is not None:
                # QuickBooks answers a stale EditSequence with the transaction as it is now.
                failure.rets = [_write_ret(ctx, rq, current)]
            raise
        return HandlerResult([_write_ret(ctx, rq, txn)])

    return handle


def _write_ret(
    ctx: RequestContext, rq: etree._Element, txn: Txn, *, names_current: bool = False
) -> etree._Element:
    ret = txn_ret(ctx.company, txn, ctx.version, names_current=names_current)
    included = [(e.text or "").strip() for e in rq.findall("IncludeRetElement")]
    if included:
        keep_only(ret, included)
    return ret


def _txn_query(txn_type: str) -> Handler:
    def handle(ctx: RequestContext, rq: etree._Element) -> HandlerResult:
        company = ctx.company
        continued = _continue_iterator(ctx, rq)
        if continued is not None:
            return continued
        ids = [(e.text or "").strip() for e in rq.findall("TxnID")]
        missing: list[str] = []
        if ids:
            keys = []
            for txn_id in ids:
                txn = company.live_txn(txn_id)
                if txn is not None and txn.txn_type == txn_type:
                    keys.append(txn_id)
                else:
                    missing.append(txn_id)
        else:
            keys = [
                t.txn_id
                for t in company.txns.values()
                if t.txn_type == txn_type and not t.deleted and _txn_filter(ctx, rq, t)
            ]
        result = _page(ctx, rq, "txn", keys)
        if missing:
            result.status = statuses.partial(missing[0])
        return result

    return handle


def _txn_filter(ctx: RequestContext, rq: etree._Element, txn: Txn) -> bool:
    """Does ``txn`` pass every filter of the query (checked in this order, cheapest first)?"""
    company = ctx.company
    ref_number = txn.body.findtext("RefNumber") or ""
    return (
        _ref_number_matches(rq, ref_number)
        and _modified_in_range(rq, txn, company)
        and _txn_date_in_range(rq, txn)
        and _entity_matches(rq, txn, company)
        and _ref_number_filters_match(rq, ref_number)
        and _paid_status_matches(rq, txn, company)
    )


def _ref_number_matches(rq: etree._Element, ref_number: str) -> bool:
    """RefNumber (case-insensitive) and RefNumberCaseSensitive lists."""
    exact = [(e.text or "").strip() for e in rq.findall("RefNumber")]
    if exact and ref_number.casefold() not in {r.casefold() for r in exact}:
        return False
    exact_cs = [(e.text or "").strip() for e in rq.findall("RefNumberCaseSensitive")]
    return not exact_cs or ref_number in exact_cs


def _modified_in_range(rq: etree._Element, txn: Txn, company: CompanyState) -> bool:
    modified = rq.find("ModifiedDateRangeFilter")
    if modified is None:
        return True
    since = _parse_when(modified.findtext("FromModifiedDate"), company)
    until = _parse_when(modified.findtext("ToModifiedDate"), company, end=True)
    if since is not None and txn.time_modified < since:
        return False
    return not (until is not None and txn.time_modified > until)


def _txn_date_in_range(rq: etree._Element, txn: Txn) -> bool:
    dates = rq.find("TxnDateRangeFilter")
    if dates is None:
        return True
    txn_date = date.fromisoformat(txn.body.findtext("TxnDate") or "1900-01-01")
    low = dates.findtext("FromTxnDate")
    high = dates.findtext("ToTxnDate")
    if low and txn_date < date.fromisoformat(low.strip()):
        return False
    return not (high and txn_date > date.fromisoformat(high.strip()))


def _entity_matches(rq: etree._Element, txn: Txn, company: CompanyState) -> bool:
    """EntityFilter: the transaction's customer or vendor by ListID, FullName, or under a
    FullNameWithChildren."""
    entity = rq.find("EntityFilter")
    if entity is None:
        return True
    spec = SPECS[txn.txn_type]
    entity_id = txn.body.findtext(f"{spec.entity_tag}/ListID") if spec.entity_tag else None
    record = company.lists.get(entity_id) if entity_id else None
    if record is None:
        return False
    full = company.full_name(record).casefold()
    wanted_ids = {(e.text or "").strip() for e in entity.findall("ListID")}
    wanted_names = {(e.text or "").strip().casefold() for e in entity.findall("FullName")}
    with_children = {
        (e.text or "").strip().casefold() for e in entity.findall("FullNameWithChildren")
    }
    ok = record.list_id in wanted_ids or full in wanted_names
    return ok or any(full == n or full.startswith(n + ":") for n in with_children)


def _ref_number_filters_match(rq: etree._Element, ref_number: str) -> bool:
    """RefNumberFilter (a match criterion) and RefNumberRangeFilter."""
    ref_filter = rq.find("RefNumberFilter")
    if ref_filter is not None and not _matches_name(
        ref_number,
        child_text(ref_filter, "MatchCriterion") or "",
        child_text(ref_filter, "RefNumber") or "",
    ):
        return False
    ref_range = rq.find("RefNumberRangeFilter")
    if ref_range is None:
        return True
    low_ref = child_text(ref_range, "FromRefNumber")
    high_ref = child_text(ref_range, "ToRefNumber")
    if low_ref is not None and ref_number < low_ref:
        return False
    return not (high_ref is not None and ref_number > high_ref)


def _paid_status_matches(rq: etree._Element, txn: Txn, company: CompanyState) -> bool:
    paid = child_text(rq, "PaidStatus")
    if paid not in ("PaidOnly", "NotPaidOnly"):
        return True
    return (paid == "PaidOnly") == totals(company, txn).is_paid


def _txn_deleted(ctx: RequestContext, rq: etree._Element) -> HandlerResult:
    company = ctx.company
    types = {(e.text or "").strip() for e in rq.findall("TxnDelType")}
    window = rq.find("DeletedDateRangeFilter")
    since = until = None
    if window is not None:
        since = _parse_when(window.findtext("FromDeletedDate"), company)
        until = _parse_when(window.findtext("ToDeletedDate"), company, end=True)
    rets: list[etree._Element] = []
    for txn in company.txns.values():
        if txn.time_deleted is None or txn.txn_type not in types:
            continue
        if since is not None and txn.time_deleted < since:
            continue
        if until is not None and txn.time_deleted > until:
            continue
        ret = etree.Element("TxnDeletedRet")
        sub(ret, "TxnDelType", txn.txn_type)
        sub(ret, "TxnID", txn.txn_id)
        sub(ret, "TimeCreated", fmt_datetime(txn.time_created))
        sub(ret, "TimeDeleted", fmt_datetime(txn.time_deleted))
        ref_number = txn.body.findtext("RefNumber")
        if ref_number:
            sub(ret, "RefNumber", ref_number)
        sort_children(ret, ctx.version)
        rets.append(ret)
    status = statuses.STATUS_OK if rets else statuses.STATUS_NO_MATCH
    return HandlerResult(rets, status, {"retCount": str(len(rets))})


def build_handlers() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {
        "HostQueryRq": _hcp_part("HostQueryRq"),
        "CompanyQueryRq": _hcp_part("CompanyQueryRq"),
        "PreferencesQueryRq": _hcp_part("PreferencesQueryRq"),
        "CustomerAddRq": _list_add("Customer"),
        "VendorAddRq": _list_add("Vendor"),
        "TxnDeletedQueryRq": _txn_deleted,
    }
    for tag, kinds in LIST_QUERIES.items():
        handlers[tag] = _list_query(kinds)
    for txn_type in SPECS:
        handlers[f"{txn_type}AddRq"] = _txn_add(txn_type)
        handlers[f"{txn_type}ModRq"] = _txn_mod(txn_type)
        handlers[f"{txn_type}QueryRq"] = _txn_query(txn_type)
    return handlers


HANDLERS = build_handlers()
