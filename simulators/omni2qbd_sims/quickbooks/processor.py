"""Processing one qbXML request message set, as QuickBooks' request processor does.

- The set is validated whole against the XSD of its declared version; a set that is not
  well-formed, out of order or otherwise invalid fails whole with hresult 0x80040400 and
  no response (reference §3.3).
- Requests run in order; ``stopOnError`` stops after the first Error (earlier requests are
  not rolled back), ``continueOnError`` answers every request (reference §4).
- Error recovery (reference §3.5): a set sent with ``newMessageSetID`` is remembered. The
  same id with the same content is answered from memory instead of being applied twice;
  with different content it is refused with messageSetStatusCode 9001. An
  ``oldMessageSetID`` check returns the statuses of the remembered set, each Add/Mod with
  an ``ErrorRecovery`` block naming what was created, or messageSetStatusCode 600 when
  nothing is remembered under that id. The reference could not confirm QuickBooks' exact
  answer here (§8.6); this is the documented intent implemented plainly.
"""

from __future__ import annotations

import copy
import hashlib

from lxml import etree

from omni2qbd_shared.qbxml.schema import SUPPORTED_VERSIONS, declared_version, schema_for
from omni2qbd_shared.xmlsafe import UnsafeXmlError, parse_xml
from omni2qbd_sims.quickbooks import statuses, us_rules
from omni2qbd_sims.quickbooks.company import CompanyState, StoredMessageSet
from omni2qbd_sims.quickbooks.handlers import HANDLERS, Handler, RequestContext
from omni2qbd_sims.quickbooks.qbtext import sub, to_qb_text
from omni2qbd_sims.quickbooks.report_ops import REPORT_HANDLERS
from omni2qbd_sims.quickbooks.statuses import QbxmlSetError, RequestFailed, RequestStatus

MAX_REMEMBERED_SETS = 200
MAX_REQUEST_ID = 50


def process_request(company: CompanyState, qbxml: str) -> str:
    version = _check_version(company, qbxml)
    msgs = _message_set(qbxml, version)
    with company.lock:
        response = etree.Element("QBXML")
        out = sub(response, "QBXMLMsgsRs")
        old_id = msgs.get("oldMessageSetID")
        new_id = msgs.get("newMessageSetID")
        recalled_status = _recall_old_set(company, old_id, out)
        answered_status = _answer_set(company, version, msgs, new_id, out)
        if old_id or new_id:
            if new_id:
                out.set("newMessageSetID", new_id)
            out.set("messageSetStatusCode", answered_status or recalled_status)
        company.sets_processed += 1
    return to_qb_text(response)


def _message_set(qbxml: str, version: str) -> etree._Element:
    """The set's QBXMLMsgsRq, once the whole set is safe, valid and one the simulator runs."""
    try:
        root = parse_xml(qbxml)
    except UnsafeXmlError as exc:
        raise QbxmlSetError(detail=str(exc)) from exc
    schema = schema_for(version)
    if not schema.validate(root.getroottree()):
        # Over-long strings fail only their own request (3070, see us_rules), not the set.
        errors = [
            f"line {e.line}: {e.message}"
            for e in schema.error_log  # type: ignore[attr-defined]
            if not us_rules.is_length_error(e.message)
        ]
        if errors:
            raise QbxmlSetError(detail="; ".join(errors[:5]))
    msgs = root.find("QBXMLMsgsRq")
    if msgs is None:
        raise QbxmlSetError(detail="only QBXMLMsgsRq message sets are supported")
    if msgs.get("onError") == "rollbackOnError":
        raise QbxmlSetError(detail="rollbackOnError is not valid (reference §3.1)")
    return msgs


def _recall_old_set(company: CompanyState, old_id: str | None, out: etree._Element) -> str:
    """oldMessageSetID: answer the remembered set's statuses (or forget every set); returns
    the messageSetStatusCode."""
    if old_id == "ClearAllMessageSets":
        company.message_sets.clear()
    elif old_id:
        remembered = company.message_sets.get(old_id)
        if remembered is None:
            return str(statuses.NO_CLEARED_STATE)
        for rs in remembered.recovery_msgs:
            out.append(copy.deepcopy(rs))
    return "0"


def _answer_set(
    company: CompanyState,
    version: str,
    msgs: etree._Element,
    new_id: str | None,
    out: etree._Element,
) -> str | None:
    """Run the set's requests, or replay a set already applied under newMessageSetID;
    returns a messageSetStatusCode only when the set is refused."""
    on_error = msgs.get("onError") or "stopOnError"
    if not new_id:
        # Nothing to replay and nothing to remember (so no checksum): the set just runs.
        out.extend(_run_requests(company, version, msgs, on_error))
        return None
    checksum = _checksum(msgs)
    replay = company.message_sets.get(new_id)
    if replay is not None and replay.checksum == checksum:
        # Already applied: answer from memory so nothing is posted twice.
        for rs in replay.response_msgs:
            out.append(copy.deepcopy(rs))
        return None
    if replay is not None:
        return str(statuses.INVALID_CHECKSUM)
    answered = _run_requests(company, version, msgs, on_error)
    for rs in answered:
        out.append(rs)
    _remember(company, new_id, checksum, answered)
    return None


def _check_version(company: CompanyState, qbxml: str) -> str:
    version = declared_version(qbxml)
    if version is None:
        raise QbxmlSetError(detail='missing <?qbxml version="..."?> processing instruction')
    if version not in company.qbxml_versions:
        raise QbxmlSetError(
            detail=f"qbXML {version} is not supported by {company.edition.product_name}"
        )
    if version not in SUPPORTED_VERSIONS:
        raise QbxmlSetError(detail=f"the simulator has no XSD for qbXML {version}")
    return version


def _checksum(msgs: etree._Element) -> str:
    scrubbed = msgs
    if "oldMessageSetID" in msgs.attrib:
        scrubbed = copy.deepcopy(msgs)
        del scrubbed.attrib["oldMessageSetID"]
    # The same bytes as the copy's: canonical XML of the element alone, without its tail.
    return hashlib.sha256(etree.tostring(scrubbed, method="c14n", with_tail=False)).hexdigest()


def _run_requests(
    company: CompanyState, version: str, msgs: etree._Element, on_error: str
) -> list[etree._Element]:
    include_data = msgs.get("responseData", "includeAll") != "includeNone"
    ctx = RequestContext(company=company, version=version, include_data=include_data)
    answered: list[etree._Element] = []
    for rq in msgs:
        if not isinstance(rq.tag, str):
            continue
        rs, failed = _run_one(ctx, rq)
        answered.append(rs)
        company.requests_processed += 1
        if failed and on_error == "stopOnError":
            break
    return answered


def _run_one(ctx: RequestContext, rq: etree._Element) -> tuple[etree._Element, bool]:
    tag = str(rq.tag)
    rs = etree.Element(tag.removesuffix("Rq") + "Rs")
    request_id = rq.get("requestID")
    if request_id is not None:
        rs.set("requestID", request_id)
    status, rets, attrs = _answer(ctx, rq, tag, request_id)
    rs.set("statusCode", str(status.code))
    rs.set("statusSeverity", status.severity)
    rs.set("statusMessage", status.message)
    for key, value in attrs.items():
        rs.set(key, value)
    meta = rq.get("metaData", "NoMetaData")
    if meta in ("MetaDataOnly", "MetaDataAndResponseData"):
        rs.set("retCount", str(len(rets)))
    if ctx.include_data and meta != "MetaDataOnly":
        for ret in rets:
            rs.append(ret)
    return rs, status.severity == "Error"


def _answer(
    ctx: RequestContext, rq: etree._Element, tag: str, request_id: str | None
) -> tuple[RequestStatus, list[etree._Element], dict[str, str]]:
    """The request's status, Rets and extra Rs attributes; a failure answers its status."""
    attrs: dict[str, str] = {}
    try:
        handler = _handler(tag, request_id)
        us_rules.check_request(rq)
        injected = ctx.company.take_answer(tag)
        if injected is not None and not injected.apply:
            raise RequestFailed(injected.code, injected.message, injected.severity)
        result = handler(ctx, rq)
        attrs = result.attrs or {}
        if injected is not None:
            # Saved, but answered with a status and without the Ret (attributes stay).
            raise RequestFailed(injected.code, injected.message, injected.severity)
    except RequestFailed as failure:
        return failure.status, failure.rets, attrs  # a 3200 carries the transaction as it is now
    return result.status, result.rets, attrs


def _handler(tag: str, request_id: str | None) -> Handler:
    if request_id is not None and len(request_id) > MAX_REQUEST_ID:
        raise RequestFailed(
            statuses.INVALID_REQUEST_ID,
            f'Invalid request ID "{request_id}", possibly too long, max 50 chars.',
        )
    handler = HANDLERS.get(tag) or REPORT_HANDLERS.get(tag)
    if handler is None:
        raise RequestFailed(1030, f"{tag} is not supported by this implementation.")
    return handler


def _remember(
    company: CompanyState, set_id: str, checksum: str, answered: list[etree._Element]
) -> None:
    response_msgs = etree.Element("QBXMLMsgsRs")
    recovery_msgs = etree.Element("QBXMLMsgsRs")
    for rs in answered:
        response_msgs.append(copy.deepcopy(rs))
        recovery_msgs.append(_recovery_form(rs))
    company.message_sets[set_id] = StoredMessageSet(checksum, response_msgs, recovery_msgs)
    company.message_sets.move_to_end(set_id)
    while len(company.message_sets) > MAX_REMEMBERED_SETS:
        company.message_sets.popitem(last=False)


def _recovery_form(rs: etree._Element) -> etree._Element:
    """The remembered status of one request: what it created, not the whole Ret."""
    copy_rs = etree.Element(str(rs.tag))
    for key in ("requestID", "statusCode", "statusSeverity", "statusMessage"):
        value = rs.get(key)
        if value is not None:
            copy_rs.set(key, value)
    tag = str(rs.tag)
    if not (tag.endswith("AddRs") or tag.endswith("ModRs")):
        return copy_rs
    ret = next((c for c in rs if isinstance(c.tag, str)), None)
    if ret is None:
        return copy_rs
    recovery = sub(copy_rs, "ErrorRecovery")
    for field in ("ListID", "TxnID", "TxnNumber", "EditSequence", "ExternalGUID"):
        value = ret.findtext(field)
        if value:
            sub(recovery, field, value)
    return copy_rs
