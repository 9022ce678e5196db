"""Building qbXML requests and reading QuickBooks' responses (reference §3).

Message sets are assembled by the shared builder (``omni2qbd_shared.qbxml.message_set``), the
one ``omni2qbd preview`` prints too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from omni2qbd_shared.xmlsafe import UnsafeXmlError, parse_xml


class AnswerRefused(ValueError):
    """An answer carrying a value qbXML does not allow there: nothing of it is stored (a
    write set answered so is in doubt and resolved by query; a query is asked again)."""


# What qbXML allows in the values the bridge keeps from an answer (qbxmltypes*.xsd: IDTYPE
# is at most 36 characters; EditSequence at most 16; statusCode a small integer). Digits
# are ASCII only: Python's isdigit() also accepts "²", which int() then refuses.
_STATUS_CODE = re.compile(r"-?[0-9]{1,9}")
_COUNT = re.compile(r"[0-9]{1,9}")
_SEVERITIES = ("Info", "Warn", "Error")
_ID_FIELDS = {"ListID": 36, "TxnID": 36, "EditSequence": 16, "TxnNumber": 11}
_TIME_FIELDS = ("TimeModified", "TimeCreated")
_QB_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})"
)


def qb_time(value: str, what: str) -> str:
    """A QuickBooks date and time as qbXML accepts it back (``FromModifiedDate``): with its
    UTC offset; ``Z`` is written ``+00:00``. Raises ``AnswerRefused`` otherwise."""
    text = value.strip()
    if not _QB_TIME.fullmatch(text):
        raise AnswerRefused(
            f"{what} {value[:40]!r} is not a QuickBooks date and time with a UTC offset "
            "(like 2026-11-30T09:15:00-08:00)"
        )
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        datetime.fromisoformat(text)
    except ValueError as exc:
        raise AnswerRefused(f"{what} {value[:40]!r} is not a real date and time") from exc
    return text


def _check_ret(ret: etree._Element, rs_tag: str) -> None:
    """Refuse a Ret whose identifiers or times qbXML would not allow; normalise times."""
    what = f"{ret.tag} in {rs_tag}"
    for name, limit in _ID_FIELDS.items():
        for element in ret.iter(name):
            if len(element.text or "") > limit:
                raise AnswerRefused(
                    f"{name} of {what} is {len(element.text or '')} characters long; qbXML "
                    f"allows at most {limit}"
                )
    for name in _TIME_FIELDS:
        stamp = ret.find(name)
        if stamp is not None and stamp.text is not None:
            stamp.text = qb_time(stamp.text, f"{name} of {what}")


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


@dataclass(frozen=True)
class RequestResult:
    """One ``*Rs`` of a response: its status and what it returned."""

    tag: str
    request_id: str | None
    status_code: int
    severity: str
    message: str
    rets: list[etree._Element] = field(default_factory=list)
    error_recovery: etree._Element | None = None
    iterator_id: str | None = None
    iterator_remaining: int | None = None

    @property
    def ok(self) -> bool:
        return self.severity != "Error"

    def ret(self) -> etree._Element | None:
        return self.rets[0] if self.rets else None


@dataclass(frozen=True)
class ResponseSet:
    results: list[RequestResult]
    message_set_status: str | None = None

    def by_request_id(self) -> dict[str, list[RequestResult]]:
        found: dict[str, list[RequestResult]] = {}
        for result in self.results:
            if result.request_id is not None:
                found.setdefault(result.request_id, []).append(result)
        return found


def parse_response(text: str, *, max_bytes: int) -> ResponseSet:
    """Read a qbXML response; raises ``UnsafeXmlError`` when it is not acceptable XML and
    ``AnswerRefused`` when a value the bridge would keep is not one qbXML allows."""
    root = parse_xml(text, max_bytes=max_bytes)
    msgs = root.find("QBXMLMsgsRs")
    if root.tag != "QBXML" or msgs is None:
        raise UnsafeXmlError("the response is not a QBXML document with QBXMLMsgsRs")
    results: list[RequestResult] = []
    for rs in msgs:
        if not isinstance(rs.tag, str):
            continue
        code_text = rs.get("statusCode", "0").strip()
        if not _STATUS_CODE.fullmatch(code_text):
            raise AnswerRefused(f"{rs.tag} has statusCode {code_text[:30]!r}, not a status code")
        severity = rs.get("statusSeverity", "Info")
        if severity not in _SEVERITIES:
            raise AnswerRefused(f"{rs.tag} has statusSeverity {severity[:30]!r}")
        rets = [c for c in rs if isinstance(c.tag, str) and c.tag != "ErrorRecovery"]
        for ret in rets:
            _check_ret(ret, str(rs.tag))
        recovery = rs.find("ErrorRecovery")
        if recovery is not None:
            _check_ret(recovery, str(rs.tag))
        remaining = rs.get("iteratorRemainingCount")
        if remaining is not None and not _COUNT.fullmatch(remaining.strip()):
            raise AnswerRefused(
                f"{rs.tag} has iteratorRemainingCount {remaining[:30]!r}, not a count"
            )
        results.append(
            RequestResult(
                tag=str(rs.tag),
                request_id=rs.get("requestID"),
                status_code=int(code_text),
                severity=severity,
                message=rs.get("statusMessage", "")[:2000],
                rets=rets,
                error_recovery=recovery,
                iterator_id=rs.get("iteratorID"),
                iterator_remaining=int(remaining) if remaining is not None else None,
            )
        )
    return ResponseSet(results, msgs.get("messageSetStatusCode"))


def text_of(element: etree._Element | None, path: str) -> str | None:
    if element is None:
        return None
    value = element.findtext(path)
    return value if value else None


def ref_element(tag: str, name: str | None = None, list_id: str | None = None) -> etree._Element:
    ref = etree.Element(tag)
    if list_id:
        sub(ref, "ListID", list_id)
    elif name:
        sub(ref, "FullName", name)
    return ref


def query_by_values(
    request_tag: str, request_id: str, field_name: str, values: Sequence[str], extra: Sequence[str]
) -> etree._Element:
    """E.g. ``InvoiceQueryRq`` with ``RefNumber+`` then flags like ``IncludeLinkedTxns``."""
    rq = etree.Element(request_tag)
    rq.set("requestID", request_id)
    for value in values:
        sub(rq, field_name, value)
    for flag in extra:
        sub(rq, flag, "true")
    return rq
