"""SOAP 1.1 envelopes as the QuickBooks Web Connector sends them, and reading the answers.

The shape follows the captured QBWC request (reference/qbwc/captures): a double-quoted
``<?xml version="1.0" encoding="utf-8"?>`` declaration, ``soap``/``xsi``/``xsd`` prefixes on
the envelope, the operation element with a default namespace of
``http://developer.intuit.com/``, parameters in WSDL order, and empty strings written as
empty elements (``<hresult />``).
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from omni2qbd_shared.xmlsafe import UnsafeXmlError, parse_xml

INTUIT_NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

# Parameter names and order of each operation, from QBWebConnectorSvc.wsdl.
OPERATION_PARAMS: dict[str, tuple[str, ...]] = {
    "serverVersion": (),
    "clientVersion": ("strVersion",),
    "authenticate": ("strUserName", "strPassword"),
    "sendRequestXML": (
        "ticket",
        "strHCPResponse",
        "strCompanyFileName",
        "qbXMLCountry",
        "qbXMLMajorVers",
        "qbXMLMinorVers",
    ),
    "receiveResponseXML": ("ticket", "response", "hresult", "message"),
    "connectionError": ("ticket", "hresult", "message"),
    "getLastError": ("ticket",),
    "closeConnection": ("ticket",),
}

Param = str | int


class SoapFault(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class BadSoapResponse(Exception):
    """The answer was not a SOAP response QBWC could read (not XML, wrong element...)."""


def soap_action(operation: str) -> str:
    return f'"{INTUIT_NS}{operation}"'


def build_envelope(operation: str, values: Sequence[Param]) -> bytes:
    names = OPERATION_PARAMS[operation]
    if len(values) != len(names):
        raise ValueError(f"{operation} takes {len(names)} parameters, got {len(values)}")
    envelope = etree.Element(
        f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS, "xsi": XSI_NS, "xsd": XSD_NS}
    )
    body = etree.SubElement(envelope, f"{{{SOAP_NS}}}Body")
    # lxml-stubs do not allow the None key that declares a default namespace.
    default_ns: dict[str, str] = {None: INTUIT_NS}  # type: ignore[dict-item]
    call = etree.SubElement(body, f"{{{INTUIT_NS}}}{operation}", nsmap=default_ns)
    for name, value in zip(names, values, strict=True):
        param = etree.SubElement(call, f"{{{INTUIT_NS}}}{name}")
        text = str(value)
        if text:
            param.text = text
    return b'<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(envelope, encoding="utf-8")


def _result(operation: str, payload: bytes) -> etree._Element | None:
    try:
        root = parse_xml(payload)
    except UnsafeXmlError as exc:
        raise BadSoapResponse(f"Response is not well-formed XML. {exc}") from exc
    body = root.find(f"{{{SOAP_NS}}}Body")
    if root.tag != f"{{{SOAP_NS}}}Envelope" or body is None:
        raise BadSoapResponse("Response is not a SOAP 1.1 envelope.")
    fault = body.find(f"{{{SOAP_NS}}}Fault")
    if fault is not None:
        raise SoapFault(fault.findtext("faultcode") or "", fault.findtext("faultstring") or "")
    answer = body.find(f"{{{INTUIT_NS}}}{operation}Response")
    if answer is None:
        raise BadSoapResponse(f"Response has no {operation}Response element.")
    return answer.find(f"{{{INTUIT_NS}}}{operation}Result")


def read_string(operation: str, payload: bytes) -> str:
    result = _result(operation, payload)
    return "" if result is None else (result.text or "")


def read_int(operation: str, payload: bytes) -> int:
    result = _result(operation, payload)
    text = "" if result is None else (result.text or "").strip()
    try:
        return int(text)
    except ValueError as exc:
        raise BadSoapResponse(f"{operation}Result {text!r} is not an integer.") from exc


def read_strings(operation: str, payload: bytes) -> list[str]:
    """An ``ArrayOfString``: ``<string>`` children in the Intuit namespace."""
    result = _result(operation, payload)
    if result is None:
        return []
    return [(child.text or "") for child in result.findall(f"{{{INTUIT_NS}}}string")]
