"""The WSDL served at ``GET /qbwc?wsdl``, generated from the same operation table the
endpoint dispatches on, so the two can never disagree.

Shapes follow Intuit's QBWebConnectorSvc WSDL (reference/qbwc/QBWebConnectorSvc.wsdl) plus
the interactive-mode operations and getServerVersion (reference §1.7, §1.2).
"""

from __future__ import annotations

import functools

from lxml import etree

from omni2qbd_gateway.soap import INTUIT_NS, OPERATIONS, Operation

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XS_NS = "http://www.w3.org/2001/XMLSchema"


def _e(parent: etree._Element, ns: str, tag: str, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    for key, value in attrs.items():
        element.set(key, value)
    return element


def _request_element(schema: etree._Element, op: Operation) -> None:
    element = _e(schema, XS_NS, "element", name=op.name)
    sequence = _e(_e(element, XS_NS, "complexType"), XS_NS, "sequence")
    for name, kind in op.params:
        min_occurs = "1" if kind == "int" else "0"
        _e(sequence, XS_NS, "element", minOccurs=min_occurs, maxOccurs="1", name=name,
           type=f"s:{kind}")  # fmt: skip


def _response_element(schema: etree._Element, op: Operation) -> None:
    element = _e(schema, XS_NS, "element", name=f"{op.name}Response")
    sequence = _e(_e(element, XS_NS, "complexType"), XS_NS, "sequence")
    kind = {"string": "s:string", "int": "s:int", "ArrayOfString": "tns:ArrayOfString"}[op.result]
    _e(sequence, XS_NS, "element", minOccurs="1" if op.result == "int" else "0", maxOccurs="1",
       name=op.result_element, type=kind)  # fmt: skip


@functools.cache
def build_wsdl(endpoint_url: str) -> bytes:
    nsmap = {"wsdl": WSDL_NS, "soap": WSOAP_NS, "s": XS_NS, "tns": INTUIT_NS}
    root = etree.Element(f"{{{WSDL_NS}}}definitions", nsmap=nsmap)
    root.set("targetNamespace", INTUIT_NS)
    types = _e(root, WSDL_NS, "types")
    schema = _e(types, XS_NS, "schema", elementFormDefault="qualified", targetNamespace=INTUIT_NS)
    array = _e(schema, XS_NS, "complexType", name="ArrayOfString")
    _e(_e(array, XS_NS, "sequence"), XS_NS, "element", minOccurs="0", maxOccurs="unbounded",
       name="string", nillable="true", type="s:string")  # fmt: skip
    for op in OPERATIONS.values():
        _request_element(schema, op)
        _response_element(schema, op)
    for op in OPERATIONS.values():
        for direction, element in (("In", op.name), ("Out", f"{op.name}Response")):
            message = _e(root, WSDL_NS, "message", name=f"{op.name}Soap{direction}")
            _e(message, WSDL_NS, "part", name="parameters", element=f"tns:{element}")
    port_type = _e(root, WSDL_NS, "portType", name="QBWebConnectorSvcSoap")
    for op in OPERATIONS.values():
        operation = _e(port_type, WSDL_NS, "operation", name=op.name)
        _e(operation, WSDL_NS, "input", message=f"tns:{op.name}SoapIn")
        _e(operation, WSDL_NS, "output", message=f"tns:{op.name}SoapOut")
    binding = _e(root, WSDL_NS, "binding", name="QBWebConnectorSvcSoap",
                 type="tns:QBWebConnectorSvcSoap")  # fmt: skip
    _e(binding, WSOAP_NS, "binding", transport="http://schemas.xmlsoap.org/soap/http",
       style="document")  # fmt: skip
    for op in OPERATIONS.values():
        operation = _e(binding, WSDL_NS, "operation", name=op.name)
        _e(operation, WSOAP_NS, "operation", soapAction=f"{INTUIT_NS}{op.name}",
           style="document")  # fmt: skip
        for direction in ("input", "output"):
            _e(_e(operation, WSDL_NS, direction), WSOAP_NS, "body", use="literal")
    service = _e(root, WSDL_NS, "service", name="QBWebConnectorSvc")
    port = _e(service, WSDL_NS, "port", name="QBWebConnectorSvcSoap",
              binding="tns:QBWebConnectorSvcSoap")  # fmt: skip
    _e(port, WSOAP_NS, "address", location=endpoint_url)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
