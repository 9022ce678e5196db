"""Helpers shared by the QuickBooks simulator tests (imported by file name)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lxml import etree

from omni2qbd_shared.qbxml.schema import schema_for
from omni2qbd_shared.xmlsafe import parse_xml
from tests.xml_errors import schema_errors


def message_set(
    *requests: str,
    version: str = "13.0",
    on_error: str = "stopOnError",
    attrs: str = "",
) -> str:
    body = "".join(requests)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><?qbxml version="{version}"?>'
        f'<QBXML><QBXMLMsgsRq onError="{on_error}"{attrs}>{body}</QBXMLMsgsRq></QBXML>'
    )


def parse_valid(response: str, version: str = "13.0") -> etree._Element:
    """Parse a response and insist it is valid against the XSD of the version."""
    root = parse_xml(response)
    schema = schema_for(version)
    assert schema.validate(root.getroottree()), schema_errors(schema)
    return root


def rs_list(response: str, version: str = "13.0") -> list[etree._Element]:
    root = parse_valid(response, version)
    msgs = root.find("QBXMLMsgsRs")
    assert msgs is not None
    return [child for child in msgs if isinstance(child.tag, str)]


def status(rs: etree._Element) -> tuple[int, str, str]:
    return (
        int(rs.get("statusCode", "-1")),
        rs.get("statusSeverity", ""),
        rs.get("statusMessage", ""),
    )


def invoice_add(
    ref: str,
    *,
    customer: str = "Acme Corp",
    lines: str = "<InvoiceLineAdd><ItemRef><FullName>Widget</FullName></ItemRef>"
    "<Quantity>2</Quantity></InvoiceLineAdd>",
    request_id: str = "1",
    pending: bool | None = True,
    txn_date: str = "2024-06-01",
    guid: str | None = None,
) -> str:
    pending_xml = "" if pending is None else f"<IsPending>{str(pending).lower()}</IsPending>"
    guid_xml = f"<ExternalGUID>{guid}</ExternalGUID>" if guid else ""
    return (
        f'<InvoiceAddRq requestID="{request_id}"><InvoiceAdd>'
        f"<CustomerRef><FullName>{customer}</FullName></CustomerRef>"
        f"<TxnDate>{txn_date}</TxnDate><RefNumber>{ref}</RefNumber>{pending_xml}"
        f"{guid_xml}{lines}</InvoiceAdd></InvoiceAddRq>"
    )


class SteppingClock:
    """A clock tests move by hand, so modification times are deterministic."""

    def __init__(self) -> None:
        self.now = datetime(2024, 6, 3, 9, 0, 0, tzinfo=ZoneInfo("America/New_York"))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
