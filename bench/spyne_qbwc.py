"""A reference QuickBooks Web Connector server on spyne (the Python peers' stack), no database.

What the open-source Python QBWC servers do, reduced to the protocol: spyne's SOAP 1.1
document/literal service in Intuit's namespace under a threaded WSGI server (waitress),
tickets in a dict, a fixed qbXML request per session. ``bench/gateway.py`` starts it as its
own process in the same run as the gateway, to compare the cost of a call.

    .venv/bin/python bench/spyne_qbwc.py --port 8200 --password secret
"""

# spyne and waitress ship no type information; this reference server is not type-checked.
# mypy: ignore-errors
from __future__ import annotations

import argparse
import threading
import uuid

from spyne import Application, Integer, Iterable, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

INTUIT_NS = "http://developer.intuit.com/"
REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?><QBXML>'
    '<QBXMLMsgsRq onError="continueOnError"><CustomerQueryRq requestID="1">'
    "<MaxReturned>10</MaxReturned></CustomerQueryRq></QBXMLMsgsRq></QBXML>"
)

_TICKETS: dict[str, str] = {}
_LOCK = threading.Lock()
_CREDENTIALS: dict[str, str] = {}


class QBWebConnectorService(ServiceBase):
    @rpc(Unicode, _returns=Unicode)
    def serverVersion(ctx, strVersion):
        return "spyne reference 1.0"

    @rpc(Unicode, _returns=Unicode)
    def clientVersion(ctx, strVersion):
        return ""

    @rpc(Unicode, Unicode, _returns=Iterable(Unicode))
    def authenticate(ctx, strUserName, strPassword):
        if _CREDENTIALS.get(strUserName) != strPassword:
            return ["", "nvu", "", ""]
        ticket = uuid.uuid4().hex
        with _LOCK:
            _TICKETS[ticket] = "sendRequestXML"
        return [ticket, "", "", ""]

    @rpc(Unicode, Unicode, Unicode, Unicode, Integer, Integer, _returns=Unicode)
    def sendRequestXML(
        ctx,
        ticket,
        strHCPResponse,
        strCompanyFileName,
        qbXMLCountry,
        qbXMLMajorVers,
        qbXMLMinorVers,
    ):
        with _LOCK:
            if _TICKETS.get(ticket) is None:
                return ""
            _TICKETS[ticket] = "receiveResponseXML"
        return REQUEST

    @rpc(Unicode, Unicode, Unicode, Unicode, _returns=Integer)
    def receiveResponseXML(ctx, ticket, response, hresult, message):
        with _LOCK:
            if _TICKETS.get(ticket) is None:
                return -1
            _TICKETS[ticket] = "closeConnection"
        return 100

    @rpc(Unicode, _returns=Unicode)
    def getLastError(ctx, ticket):
        with _LOCK:
            known = ticket in _TICKETS
        return "No error." if known else "unknown ticket"

    @rpc(Unicode, Unicode, Unicode, _returns=Unicode)
    def connectionError(ctx, ticket, hresult, message):
        return "done"

    @rpc(Unicode, _returns=Unicode)
    def closeConnection(ctx, ticket):
        with _LOCK:
            _TICKETS.pop(ticket, None)
        return "OK"


def wsgi_app() -> WsgiApplication:
    application = Application(
        [QBWebConnectorService],
        tns=INTUIT_NS,
        name="QBWebConnectorSvc",
        in_protocol=Soap11(validator="lxml"),
        out_protocol=Soap11(),
    )
    return WsgiApplication(application)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", default="bench")
    parser.add_argument("--password", default="bench")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    _CREDENTIALS[args.username] = args.password
    import waitress  # noqa: PLC0415 (optional: the bench extra, only when this server runs)

    waitress.serve(wsgi_app(), host="127.0.0.1", port=args.port, threads=args.threads, _quiet=True)


if __name__ == "__main__":
    main()
