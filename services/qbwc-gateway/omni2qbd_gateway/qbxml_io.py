"""Building qbXML message sets and reading QuickBooks' responses (reference §3).

Message sets are assembled from request elements (ours or the shared renderer's); every set
is validated against the XSD of the negotiated version before it leaves, so QuickBooks never
sees a request we could have known was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lxml import etree

from omni2qbd_shared.qbxml.schema import schema_for
from omni2qbd_shared.xmlsafe import UnsafeXmlError, parse_xml


class InvalidRequestSet(ValueError):
    """A message set we built does not validate: a bug or bad entry data, never sent."""


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def message_set(
    version: str,
    requests: Iterable[etree._Element],
    *,
    on_error: str = "continueOnError",
    new_message_set_id: str | None = None,
    old_message_set_id: str | None = None,
) -> str:
    root = etree.Element("QBXML")
    msgs = sub(root, "QBXMLMsgsRq")
    msgs.set("onError", on_error)
    if new_message_set_id:
        msgs.set("newMessageSetID", new_message_set_id)
    if old_message_set_id:
        msgs.set("oldMessageSetID", old_message_set_id)
    for request in requests:
        msgs.append(request)
    errors = validation_problems(root, version)
    if errors:
        raise InvalidRequestSet("; ".join(errors[:5]))
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?><?qbxml version="{version}"?>{body}'


def validation_problems(root: etree._Element, version: str) -> list[str]:
    schema = schema_for(version)
    if schema.validate(root.getroottree()):
        return []
    return [f"{e.message}" for e in schema.error_log]  # type: ignore[attr-defined]


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
    """Read a qbXML response; raises ``UnsafeXmlError`` when it is not acceptable XML."""
    root = parse_xml(text, max_bytes=max_bytes)
    msgs = root.find("QBXMLMsgsRs")
    if root.tag != "QBXML" or msgs is None:
        raise UnsafeXmlError("the response is not a QBXML document with QBXMLMsgsRs")
    results: list[RequestResult] = []
    for rs in msgs:
        if not isinstance(rs.tag, str):
            continue
        try:
            code = int(rs.get("statusCode", "0"))
        except ValueError:
            code = -1
        rets = [c for c in rs if isinstance(c.tag, str) and c.tag != "ErrorRecovery"]
        remaining = rs.get("iteratorRemainingCount")
        results.append(
            RequestResult(
                tag=str(rs.tag),
                request_id=rs.get("requestID"),
                status_code=code,
                severity=rs.get("statusSeverity", "Info"),
                message=rs.get("statusMessage", ""),
                rets=rets,
                error_recovery=rs.find("ErrorRecovery"),
                iterator_id=rs.get("iteratorID"),
                iterator_remaining=int(remaining) if remaining and remaining.isdigit() else None,
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
