"""The simulator's envelopes against the WSDL: valid against its schema, and the same
structure zeep (a standard SOAP client) builds from it for the same call."""

from __future__ import annotations

import pytest
import zeep
from lxml import etree

from omni2qbd_shared.xmlsafe import parse_xml
from omni2qbd_sims.webconnector import soap
from tests.sims_wc.sims_wc_gateway import WSDL_PATH, wsdl_schema
from tests.xml_errors import schema_errors

CALLS: list[tuple[str, list[soap.Param]]] = [
    ("serverVersion", []),
    ("clientVersion", ["2.3.0.36"]),
    ("authenticate", ["tenant-user", "s3cret"]),
    ("sendRequestXML", ["tkt", '<?xml version="1.0" ?><QBXML/>', "C:\\Co\\A.qbw", "US", 13, 0]),
    ("sendRequestXML", ["tkt", "", "C:\\Co\\A.qbw", "US", 16, 0]),
    ("receiveResponseXML", ["tkt", "<QBXML>&amp;</QBXML>", "", ""]),
    ("receiveResponseXML", ["tkt", "", "0x80040400", "QuickBooks found an error."]),
    ("connectionError", ["tkt", "0x80040408", "Could not start QuickBooks."]),
    ("getLastError", ["tkt"]),
    ("closeConnection", ["tkt"]),
]


def _shape(element: etree._Element) -> tuple[str, list[tuple[str, str]]]:
    return (
        str(element.tag),
        [(str(child.tag), child.text or "") for child in element],
    )


@pytest.fixture(scope="module")
def zeep_client() -> zeep.Client:
    return zeep.Client(str(WSDL_PATH))


@pytest.mark.parametrize(("operation", "values"), CALLS)
def test_envelope_is_valid_and_matches_zeep(
    zeep_client: zeep.Client, operation: str, values: list[soap.Param]
) -> None:
    ours = parse_xml(soap.build_envelope(operation, values))
    body = ours.find(f"{{{soap.SOAP_NS}}}Body")
    assert ours.tag == f"{{{soap.SOAP_NS}}}Envelope" and body is not None
    (call,) = list(body)

    schema = wsdl_schema()
    assert schema.validate(etree.ElementTree(etree.fromstring(etree.tostring(call)))), (
        schema_errors(schema)
    )

    names = soap.OPERATION_PARAMS[operation]
    theirs = zeep_client.create_message(
        zeep_client.service, operation, **dict(zip(names, values, strict=True))
    )
    their_body = theirs.find(f"{{{soap.SOAP_NS}}}Body")
    assert their_body is not None
    (their_call,) = list(their_body)
    assert _shape(call) == _shape(their_call)


def test_envelope_text_matches_the_captured_qbwc_request() -> None:
    raw = soap.build_envelope("receiveResponseXML", ["t", "<QBXML/>", "", ""])
    assert raw.startswith(
        b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        b'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        b'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
        b'<receiveResponseXML xmlns="http://developer.intuit.com/">'
    )
    assert b"<response>&lt;QBXML/&gt;</response><hresult/><message/>" in raw
    assert soap.soap_action("authenticate") == '"http://developer.intuit.com/authenticate"'


def test_reading_answers() -> None:
    auth = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<authenticateResponse xmlns="http://developer.intuit.com/"><authenticateResult>'
        b"<string>tkt</string><string></string><string /><string>60</string>"
        b"</authenticateResult></authenticateResponse></soap:Body></soap:Envelope>"
    )
    assert soap.read_strings("authenticate", auth) == ["tkt", "", "", "60"]
    wcf = auth.replace(b"<string>", b'<a:string xmlns:a="urn:arrays">').replace(
        b"</string>", b"</a:string>"
    )
    # A WCF-style array in another namespace is not what QBWC reads (reference §1.4).
    assert soap.read_strings("authenticate", wcf.replace(b"<string />", b"")) == []
    fault = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>boom</faultstring>"
        b"</soap:Fault></soap:Body></soap:Envelope>"
    )
    with pytest.raises(soap.SoapFault, match="boom"):
        soap.read_int("receiveResponseXML", fault)
    with pytest.raises(soap.BadSoapResponse, match="not well-formed"):
        soap.read_int("receiveResponseXML", b"<html>Fatal error: PHP")
