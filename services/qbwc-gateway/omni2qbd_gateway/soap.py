"""SOAP 1.1 document/literal envelopes of the Web Connector protocol (reference §1.1-§1.5).

Only this module knows what an envelope looks like: it turns a request body into an
``Call`` (operation name and its string/int parameters) and a Python result back into the
response envelope, or a SOAP Fault. The XML parser is the project's safe one (no entities,
no DTD, no network, size-capped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from omni2qbd_shared.xmlsafe import UnsafeXmlError, parse_xml

INTUIT_NS = "http://developer.intuit.com/"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

ResultType = Literal["string", "int", "ArrayOfString"]


@dataclass(frozen=True)
class Operation:
    """One Web Connector callback: its parameters (name, type) in WSDL order and its result."""

    name: str
    params: tuple[tuple[str, Literal["string", "int"]], ...]
    result: ResultType = "string"

    @property
    def result_element(self) -> str:
        return f"{self.name}Result"


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("serverVersion", (("strVersion", "string"),)),
        Operation("clientVersion", (("strVersion", "string"),)),
        Operation(
            "authenticate",
            (("strUserName", "string"), ("strPassword", "string")),
            "ArrayOfString",
        ),
        Operation(
            "sendRequestXML",
            (
                ("ticket", "string"),
                ("strHCPResponse", "string"),
                ("strCompanyFileName", "string"),
                ("qbXMLCountry", "string"),
                ("qbXMLMajorVers", "int"),
                ("qbXMLMinorVers", "int"),
            ),
        ),
        Operation(
            "receiveResponseXML",
            (
                ("ticket", "string"),
                ("response", "string"),
                ("hresult", "string"),
                ("message", "string"),
            ),
            "int",
        ),
        Operation(
            "connectionError",
            (("ticket", "string"), ("hresult", "string"), ("message", "string")),
        ),
        Operation("getLastError", (("ticket", "string"),)),
        Operation("closeConnection", (("ticket", "string"),)),
        # Interactive mode (reference §1.7; shapes from Intuit's C# sample service).
        Operation("getInteractiveURL", (("wcTicket", "string"), ("sessionID", "string"))),
        Operation("interactiveDone", (("wcTicket", "string"),)),
        Operation("interactiveRejected", (("wcTicket", "string"), ("reason", "string"))),
        # Documented in the programmer's guide (Ch.10) though absent from every WSDL.
        Operation("getServerVersion", (("ticket", "string"),)),
    )
}

# Spellings seen in the wild for the same parameter (reference §1.2: qbwc/qbwc declares it so).
PARAM_ALIASES = {"strCompanyFilename": "strCompanyFileName", "Country": "qbXMLCountry"}


class SoapFault(Exception):
    """A request we refuse; answered as a SOAP Fault (``Client``) with a plain message."""

    def __init__(self, message: str, code: Literal["Client", "Server"] = "Client") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Call:
    operation: Operation
    soap_ns: str
    args: dict[str, str | int] = field(default_factory=dict)
    # The caller's address (the HTTP layer fills it in): login throttling and takeover.
    client: str = ""

    def text(self, name: str) -> str:
        value = self.args.get(name, "")
        return value if isinstance(value, str) else str(value)

    def number(self, name: str) -> int:
        value = self.args.get(name, 0)
        return value if isinstance(value, int) else 0


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse_call(body: bytes, *, max_bytes: int) -> Call:
    """Read one SOAP request; raise ``SoapFault`` for anything that is not a known call."""
    soap_ns, request = _request_element(body, max_bytes)
    operation = _operation_of(request)
    return Call(operation, soap_ns, _arguments(operation, request))


def _request_element(body: bytes, max_bytes: int) -> tuple[str, etree._Element]:
    """The SOAP namespace of the Envelope and the first element of its Body."""
    try:
        root = parse_xml(body, max_bytes=max_bytes)
    except UnsafeXmlError as exc:
        raise SoapFault(f"the request is not an acceptable XML document: {exc}") from exc
    envelope = etree.QName(root)
    if envelope.localname != "Envelope" or envelope.namespace not in (SOAP11_NS, SOAP12_NS):
        raise SoapFault("the request is not a SOAP 1.1 or 1.2 Envelope")
    soap_ns = envelope.namespace
    body_el = root.find(f"{{{soap_ns}}}Body")
    if body_el is None:
        raise SoapFault("the SOAP Envelope has no Body")
    request = next((child for child in body_el if isinstance(child.tag, str)), None)
    if request is None:
        raise SoapFault("the SOAP Body is empty")
    return soap_ns, request


def _operation_of(request: etree._Element) -> Operation:
    name = etree.QName(request)
    operation = OPERATIONS.get(name.localname)
    if operation is None or name.namespace != INTUIT_NS:
        raise SoapFault(
            f"unknown operation {{{name.namespace}}}{name.localname}; this service answers "
            f"{', '.join(OPERATIONS)} in namespace {INTUIT_NS}"
        )
    return operation


def _arguments(operation: Operation, request: etree._Element) -> dict[str, str | int]:
    """The operation's parameters, by their WSDL names; a missing one is empty (or 0)."""
    given: dict[str, str] = {}
    for child in request:
        if isinstance(child.tag, str):
            local = _local(child.tag)
            given[PARAM_ALIASES.get(local, local)] = child.text or ""
    args: dict[str, str | int] = {}
    for param, kind in operation.params:
        raw = given.get(param, "")
        if kind != "int":
            args[param] = raw
            continue
        try:
            args[param] = int(raw.strip() or "0")
        except ValueError as exc:
            raise SoapFault(
                f"{operation.name}: parameter {param} must be an integer, got {raw[:40]!r}"
            ) from exc
    return args


def _envelope(soap_ns: str) -> tuple[etree._Element, etree._Element]:
    nsmap = {"soap": soap_ns, "xsi": XSI_NS, "xsd": XSD_NS}
    envelope = etree.Element(f"{{{soap_ns}}}Envelope", nsmap=nsmap)
    body = etree.SubElement(envelope, f"{{{soap_ns}}}Body")
    return envelope, body


def _serialise(envelope: etree._Element) -> bytes:
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def response_envelope(call: Call, result: str | int | list[str]) -> bytes:
    """``<opResponse xmlns="http://developer.intuit.com/"><opResult>...``."""
    envelope, body = _envelope(call.soap_ns)
    op = call.operation
    response = etree.SubElement(
        body,
        f"{{{INTUIT_NS}}}{op.name}Response",
        nsmap={None: INTUIT_NS},  # type: ignore[dict-item]
    )
    result_el = etree.SubElement(response, f"{{{INTUIT_NS}}}{op.result_element}")
    if op.result == "ArrayOfString":
        assert isinstance(result, list)
        for item in result:
            etree.SubElement(result_el, f"{{{INTUIT_NS}}}string").text = item
    elif op.result == "int":
        assert isinstance(result, int)
        result_el.text = str(result)
    else:
        result_el.text = str(result)
    return _serialise(envelope)


def fault_envelope(fault: SoapFault, soap_ns: str = SOAP11_NS) -> bytes:
    """A SOAP Fault carrying only the plain message (never a stack trace)."""
    envelope, body = _envelope(soap_ns)
    fault_el = etree.SubElement(body, f"{{{soap_ns}}}Fault")
    if soap_ns == SOAP12_NS:
        code = etree.SubElement(fault_el, f"{{{soap_ns}}}Code")
        value = "Sender" if fault.code == "Client" else "Receiver"
        etree.SubElement(code, f"{{{soap_ns}}}Value").text = f"soap:{value}"
        reason = etree.SubElement(fault_el, f"{{{soap_ns}}}Reason")
        text = etree.SubElement(reason, f"{{{soap_ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = fault.message
    else:
        etree.SubElement(fault_el, "faultcode").text = f"soap:{fault.code}"
        etree.SubElement(fault_el, "faultstring").text = fault.message
    return _serialise(envelope)


def content_type(soap_ns: str) -> str:
    return (
        "application/soap+xml; charset=utf-8" if soap_ns == SOAP12_NS else "text/xml; charset=utf-8"
    )
