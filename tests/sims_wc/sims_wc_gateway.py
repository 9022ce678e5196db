"""A small but faithful QBWC web service for testing the Web Connector simulator.

It serves every operation of reference/qbwc/QBWebConnectorSvc.wsdl as document/literal
SOAP 1.1, follows a scripted plan per user, checks each request envelope against the
WSDL's schema and the SOAPAction header, and records everything it received.
"""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from lxml import etree

from omni2qbd_shared.xmlsafe import parse_xml
from tests.conftest import REFERENCE_DIR
from tests.xml_errors import schema_errors

WSDL_PATH = REFERENCE_DIR / "qbwc" / "QBWebConnectorSvc.wsdl"
INTUIT = "http://developer.intuit.com/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XS = "http://www.w3.org/2001/XMLSchema"


def wsdl_schema() -> etree.XMLSchema:
    """The xsd:schema embedded in the WSDL's <types>, compiled on its own."""
    wsdl = etree.parse(str(WSDL_PATH)).getroot()
    schema = wsdl.find(f"{{http://schemas.xmlsoap.org/wsdl/}}types/{{{XS}}}schema")
    assert schema is not None
    # Carry the WSDL's namespace declarations (tns:, s:) that the schema's QName values use.
    nsmap = dict(wsdl.nsmap)
    standalone = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=nsmap)
    for child in schema:
        standalone.append(copy.deepcopy(child))
    return etree.XMLSchema(etree.ElementTree(standalone))


@dataclass
class Plan:
    password: str
    auth_status: str = ""
    postpone: str = ""
    min_run: str = ""
    client_version_answer: str = ""
    server_version: str = "omni2qbd-test-gateway 1.0"
    request_sets: list[str] = field(default_factory=list)
    connection_error_answers: list[str] = field(default_factory=lambda: ["done"])
    nothing_to_do_message: str = "Nothing more to do."
    close_message: str = "OK"
    auth_answer: list[str] | None = None  # overrides the 4-string answer
    broken_receive: bool = False  # answer receiveResponseXML with a PHP-style error page


@dataclass
class Received:
    operation: str
    params: dict[str, str]
    schema_errors: list[str]
    soap_action: str
    content_type: str
    raw: bytes


@dataclass
class TicketState:
    user: str
    plan: Plan
    next_set: int = 0
    last_error: str = ""
    noop_pending: bool = False
    connection_errors: int = 0


class TestGateway:
    __test__ = False  # not a pytest class

    def __init__(self, plans: dict[str, Plan]) -> None:
        self.plans = plans
        self.received: list[Received] = []
        self.tickets: dict[str, TicketState] = {}
        self.responses: list[tuple[str, str, str]] = []  # (response, hresult, message)
        self._schema = wsdl_schema()
        self._lock = threading.Lock()
        self.app = self._build()

    def calls(self, user: str | None = None) -> list[Received]:
        if user is None:
            return list(self.received)
        tickets = {t for t, s in self.tickets.items() if s.user == user}
        return [
            r
            for r in self.received
            if r.params.get("strUserName") == user or r.params.get("ticket") in tickets
        ]

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/qbwc")
        async def qbwc(request: Request) -> Response:
            raw = await request.body()
            envelope = parse_xml(raw)
            body = envelope.find(f"{{{SOAP}}}Body")
            assert body is not None
            call = next(iter(body))
            operation = etree.QName(call).localname
            schema_ok = self._schema.validate(etree.ElementTree(_detached(call)))
            errors = [] if schema_ok else schema_errors(self._schema)
            params = {etree.QName(p).localname: p.text or "" for p in call}
            with self._lock:
                self.received.append(
                    Received(
                        operation,
                        params,
                        errors,
                        request.headers.get("soapaction", ""),
                        request.headers.get("content-type", ""),
                        raw,
                    )
                )
                result = self._answer(operation, params)
                state = self.tickets.get(params.get("ticket", ""))
            if (
                operation == "receiveResponseXML"
                and state is not None
                and state.plan.broken_receive
            ):
                return Response(
                    b"<b>Fatal error</b>: Uncaught PDOException", media_type="text/html"
                )
            return Response(_envelope(operation, result), media_type="text/xml; charset=utf-8")

        return app

    def _answer(self, operation: str, p: dict[str, str]) -> str | int | list[str]:
        if operation == "serverVersion":
            return next(iter(self.plans.values())).server_version
        if operation == "clientVersion":
            return next(iter(self.plans.values())).client_version_answer
        if operation == "authenticate":
            plan = self.plans.get(p.get("strUserName", ""))
            if plan is None or plan.password != p.get("strPassword"):
                return ["", "nvu", "", ""]
            ticket = str(uuid.uuid4())
            self.tickets[ticket] = TicketState(p["strUserName"], plan)
            if plan.auth_answer is not None:
                return plan.auth_answer
            return [ticket, plan.auth_status, plan.postpone, plan.min_run]
        state = self.tickets.get(p.get("ticket", ""))
        if state is None:
            return "The ticket is not valid." if operation != "receiveResponseXML" else -1
        plan = state.plan
        if operation == "sendRequestXML":
            if state.next_set >= len(plan.request_sets):
                state.last_error = plan.nothing_to_do_message
                return ""
            request = plan.request_sets[state.next_set]
            if request == "NoOp":
                state.next_set += 1
                state.noop_pending = True
                return "NoOp"
            return request
        if operation == "receiveResponseXML":
            self.responses.append((p.get("response", ""), p.get("hresult", ""), p["message"]))
            if p.get("hresult"):
                state.last_error = (
                    f"QuickBooks could not process the request: {p['hresult']} {p['message']}"
                )
                return -101
            state.next_set += 1
            done, total = state.next_set, len(plan.request_sets)
            return 100 if done >= total else max(1, min(99, 100 * done // total))
        if operation == "getLastError":
            if state.noop_pending:
                state.noop_pending = False
                return "NoOp"
            return state.last_error
        if operation == "connectionError":
            answers = plan.connection_error_answers
            answer = answers[min(state.connection_errors, len(answers) - 1)]
            state.connection_errors += 1
            return answer
        if operation == "closeConnection":
            return plan.close_message
        raise AssertionError(f"unexpected operation {operation}")


def _detached(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))


def _envelope(operation: str, result: str | int | list[str]) -> bytes:
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP})
    body = etree.SubElement(env, f"{{{SOAP}}}Body")
    answer = etree.SubElement(
        body,
        f"{{{INTUIT}}}{operation}Response",
        nsmap={None: INTUIT},  # type: ignore[dict-item]  # default namespace: lxml-stubs wants str keys
    )
    value = etree.SubElement(answer, f"{{{INTUIT}}}{operation}Result")
    if isinstance(result, list):
        for item in result:
            etree.SubElement(value, f"{{{INTUIT}}}string").text = item
    else:
        value.text = str(result)
    return b'<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(env)


def qbxml_set(body: str, *, version: str = "13.0", attrs: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><?qbxml version="{version}"?>'
        f'<QBXML><QBXMLMsgsRq onError="continueOnError"{attrs}>{body}</QBXMLMsgsRq></QBXML>'
    )


def invoice_rq(ref: str, *, customer: str = "Acme Corp", request_id: str = "inv") -> str:
    return (
        f'<InvoiceAddRq requestID="{request_id}"><InvoiceAdd>'
        f"<CustomerRef><FullName>{customer}</FullName></CustomerRef>"
        f"<TxnDate>2024-06-01</TxnDate><RefNumber>{ref}</RefNumber><IsPending>true</IsPending>"
        "<InvoiceLineAdd><ItemRef><FullName>Widget</FullName></ItemRef><Quantity>4</Quantity>"
        "</InvoiceLineAdd></InvoiceAdd></InvoiceAddRq>"
    )
