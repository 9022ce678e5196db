"""``WebConnectorSimulator``: drives a gateway over HTTP/SOAP the way QBWC 2.x does.

One ``run_session()`` is one scheduled update (reference §1.3):
serverVersion, clientVersion, authenticate, opening QuickBooks (connectionError when that
fails), sendRequestXML (strHCPResponse on the first call only) / QuickBooks processes the
set / receiveResponseXML, repeated while the answer is below 100; getLastError after an
empty or NoOp request or a negative percentage; NoOp pauses; closeConnection.

Fault injection: QuickBooks not running, a different company file open in QuickBooks, a
slow QuickBooks, the connection dropped after QuickBooks processed a set but before
receiveResponseXML was sent, and QuickBooks' answer rewritten (``response_filter``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import NoReturn

import httpx

from omni2qbd_sims.quickbooks import QbxmlSetError, QuickBooksSimulator
from omni2qbd_sims.webconnector import soap
from omni2qbd_sims.webconnector.qb_link import LocalQuickBooks, QuickBooksLink, RemoteQuickBooks
from omni2qbd_sims.webconnector.report import ConnectionErrorCall, SessionReport

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_VERSION = "2.3.0.36"
NOOP_PAUSE_SECONDS = 5.0  # "QBWC pauses for 5 seconds" (reference §1.3)
_SVC = "QBWebConnector.SOAPWebService"

# QBXMLRP2 errors QBWC passes to connectionError (reference §4 and §5, plus 0x8004040A,
# the request processor's "different company file is open" error, which the reference
# does not list).
HR_NOT_RUNNING_NO_FILE = (
    "0x80040416",
    "If QuickBooks is not running, the company data file name must be supplied to BeginSession.",
)
HR_COULD_NOT_START = ("0x80040408", "Could not start QuickBooks.")
HR_OTHER_FILE_OPEN = (
    "0x8004040A",
    "A QuickBooks company data file is already open and it is different from the one requested.",
)
AUTH_STATUS_TEXT = {
    "none": "No Data Exchange",
    "nvu": "Invalid password for username",
    "busy": "Application Busy",
}


class SessionAborted(Exception):
    """The update stops without closeConnection (a call failed or the link dropped)."""


class WebConnectorSimulator:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        quickbooks: QuickBooksSimulator | str,
        company_path: str = "C:\\Companies\\Demo.qbw",
        *,
        client_version: str = DEFAULT_CLIENT_VERSION,
        country: str = "US",
        quickbooks_not_running: bool = False,
        wrong_company_open: str | None = None,
        quickbooks_delay_seconds: float = 0.0,
        drop_connection_after_set: int | None = None,
        noop_pause_seconds: float = NOOP_PAUSE_SECONDS,
        max_noops: int = 100,
        continue_on_warning: bool = True,
        connection_error_retries: int = 2,
        max_round_trips: int = 10_000,
        timeout_seconds: float = 60.0,
        response_filter: Callable[[str], str] | None = None,
        local_address: str | None = None,
    ) -> None:
        """``company_path`` is the company file open in QuickBooks (used when the gateway
        answers "" to authenticate); ``wrong_company_open`` puts another file there."""
        self.url = url
        self.username = username
        self._password = password
        self.quickbooks = quickbooks
        self.company_path = company_path
        self.client_version = client_version
        self.country = country
        self.quickbooks_not_running = quickbooks_not_running
        self.wrong_company_open = wrong_company_open
        self.quickbooks_delay_seconds = quickbooks_delay_seconds
        self.drop_connection_after_set = drop_connection_after_set
        self.noop_pause_seconds = noop_pause_seconds
        self.max_noops = max_noops
        self.continue_on_warning = continue_on_warning
        self.connection_error_retries = connection_error_retries
        self.max_round_trips = max_round_trips
        self.timeout_seconds = timeout_seconds
        # Rewrites QuickBooks' answer before it reaches the gateway (answers real QuickBooks
        # gives that the QuickBooks simulator does not, e.g. requestIDs lost, a Ret missing).
        self.response_filter = response_filter
        # The client address to connect from (e.g. 127.0.0.2: a second machine).
        self.local_address = local_address

    def __repr__(self) -> str:  # never show the password
        return f"WebConnectorSimulator(url={self.url!r}, username={self.username!r})"

    # ---- public ---------------------------------------------------------------------
    async def run(self, runs: int = 1, *, pause_seconds: float = 0.0) -> list[SessionReport]:
        reports = []
        for index in range(runs):
            if index and pause_seconds:
                await asyncio.sleep(pause_seconds)
            reports.append(await self.run_session())
        return reports

    async def run_session(self) -> SessionReport:
        report = SessionReport()
        transport = (
            httpx.AsyncHTTPTransport(local_address=self.local_address)
            if self.local_address
            else None
        )
        async with httpx.AsyncClient(timeout=self.timeout_seconds, transport=transport) as client:
            link: QuickBooksLink = (
                LocalQuickBooks(self.quickbooks)
                if isinstance(self.quickbooks, QuickBooksSimulator)
                else RemoteQuickBooks(self.quickbooks, client)
            )
            session = _Session(self, client, link, report)
            with contextlib.suppress(SessionAborted):
                await session.run()
        return report


class _Session:
    def __init__(
        self,
        wc: WebConnectorSimulator,
        client: httpx.AsyncClient,
        link: QuickBooksLink,
        report: SessionReport,
    ) -> None:
        self.wc = wc
        self.client = client
        self.link = link
        self.report = report

    # ---- one SOAP call --------------------------------------------------------------
    async def _call(self, operation: str, values: Sequence[soap.Param]) -> bytes:
        report = self.report
        if report.round_trips >= self.wc.max_round_trips:
            self._abort(f"Stopped after {report.round_trips} calls (max_round_trips).")
        report.round_trips += 1
        report.calls.append(operation)
        try:
            answer = await self.client.post(
                self.wc.url,
                content=soap.build_envelope(operation, values),
                headers={
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": soap.soap_action(operation),
                },
            )
        except httpx.HTTPError as exc:
            self._fail(operation, f"The connection to the web service failed: {exc!r}")
        if answer.status_code >= 400 and b"Fault" not in answer.content:
            self._fail(operation, f"HTTP {answer.status_code} from the web service.")
        return answer.content

    def _fail(self, operation: str, detail: str) -> NoReturn:
        if operation == "authenticate":
            text = f"QBWC1012: Authentication failed due to following error message.\n{detail}"
        elif operation == "receiveResponseXML":
            text = f"QBWC1042: ReceiveResponseXML failed\nError message: {detail}"
        else:
            name = operation[0].upper() + operation[1:]
            text = f"{name} failed\nError message: {detail}"
        self._abort(text)

    def _abort(self, text: str) -> NoReturn:
        self.report.errors.append(text)
        self.report.add_log(text)
        self.report.status = text
        raise SessionAborted(text)

    async def _string(self, operation: str, values: Sequence[soap.Param]) -> str:
        payload = await self._call(operation, values)
        try:
            return soap.read_string(operation, payload)
        except (soap.SoapFault, soap.BadSoapResponse) as exc:
            self._fail(operation, str(exc))

    # ---- the update -----------------------------------------------------------------
    async def run(self) -> None:
        report, wc = self.report, self.wc
        report.add_log(f"{_SVC}.do_serverVersion() : *** Calling serverVersion().")
        report.server_version = await self._string("serverVersion", [])
        report.add_log(
            "Received from serverVersion() following parameter:"
            f'<serverVersionRet="{report.server_version}">'
        )
        report.add_log(
            f"{_SVC}.do_clientVersion() : *** Calling clientVersion() with following "
            f'parameter:<productVersion="{wc.client_version}">'
        )
        answer = await self._string("clientVersion", [wc.client_version])
        report.client_version_answer = answer
        if not self._version_allows(answer):
            return
        ticket = await self._authenticate()
        if ticket is None:
            return
        company = await self._open_quickbooks(ticket)
        if company is None:
            return
        try:
            await self._exchange(ticket, company)
        finally:
            await self.link.end_session(company)

    def _version_allows(self, answer: str) -> bool:
        report = self.report
        if answer.startswith("E:"):
            report.status = answer[2:]
            report.errors.append(answer[2:])
            report.add_log(f"The web service refused this version of QBWebConnector: {answer[2:]}")
            return False
        if answer.startswith("O:"):
            report.status = (
                f"This application requires QBWebConnector version {answer[2:]} or higher."
            )
            report.errors.append(report.status)
            report.add_log(report.status)
            return False
        if answer.startswith("W:"):
            report.add_log(f"Warning from the web service: {answer[2:]}")
            if not self.wc.continue_on_warning:
                report.status = "Update cancelled by user after the web service's warning."
                return False
            return True
        report.add_log(
            "This application agrees with the current version of QBWebConnector. "
            "Allowing update operation."
        )
        return True

    async def _authenticate(self) -> str | None:
        report, wc = self.report, self.wc
        report.add_log(
            f"{_SVC}.do_authenticate() : *** Calling authenticate() with following parameters:"
            f'<userName="{wc.username}"><password=<MaskedForSecurity>'
        )
        payload = await self._call("authenticate", [wc.username, wc._password])
        try:
            answer = soap.read_strings("authenticate", payload)
        except (soap.SoapFault, soap.BadSoapResponse) as exc:
            self._fail("authenticate", str(exc))
        report.authenticate = answer
        if len(answer) < 2:
            self._fail("authenticate", "Index Out Of Range")
        ticket, status = answer[0], answer[1]
        report.ticket, report.auth_status = ticket, status
        report.postpone_seconds = _seconds(answer, 2)
        report.min_run_every_seconds = _seconds(answer, 3)
        if report.min_run_every_seconds:
            report.add_log(
                f"MinimumRunEveryNSeconds set to {report.min_run_every_seconds} by the application."
            )
        if status in AUTH_STATUS_TEXT:
            report.status = AUTH_STATUS_TEXT[status]
            report.add_log(f"Authentication result: {status}. {report.status}")
            await self._close(ticket)
            report.status = AUTH_STATUS_TEXT[status]
            return None
        if report.postpone_seconds:
            report.status = "Update postponed by application"
            report.add_log(
                f"{report.status}: the update resumes in {report.postpone_seconds} seconds."
            )
            return None
        report.add_log(
            "Received from authenticate() following parameters:"
            f'<authRet[0]="{ticket}"><authRet[1]="{status}">'
        )
        return ticket

    async def _open_quickbooks(self, ticket: str) -> str | None:
        """Open the company (QBXMLRP2 OpenConnection + BeginSession), with the
        connectionError dialogue when that fails."""
        report, wc = self.report, self.wc
        requested = report.auth_status or ""
        open_file = wc.wrong_company_open or wc.company_path
        failure: tuple[str, str] = HR_COULD_NOT_START
        for _attempt in range(wc.connection_error_retries + 1):
            if wc.quickbooks_not_running:
                failure = HR_COULD_NOT_START if requested else HR_NOT_RUNNING_NO_FILE
            elif requested and requested.casefold() != open_file.casefold():
                failure = HR_OTHER_FILE_OPEN
            else:
                report.company_path = requested or open_file
                report.add_log(f"Opened company file: {report.company_path}")
                return report.company_path
            hresult, message = failure
            report.add_log(f"QBWC could not open QuickBooks: {hresult} {message}")
            answer = await self._string("connectionError", [ticket, hresult, message])
            report.connection_errors.append(ConnectionErrorCall(hresult, message, answer))
            if answer.strip().lower() == "done":
                break
            requested = answer
        report.status = failure[1]
        report.errors.append(f"{failure[0]}: {failure[1]}")
        await self._close(ticket)
        report.status = failure[1]
        return None

    async def _exchange(self, ticket: str, company: str) -> None:
        report, wc = self.report, self.wc
        versions = await self.link.versions(company)
        highest = max(versions, key=lambda v: tuple(int(p) for p in v.split(".")))
        major, minor = (int(p) for p in highest.split("."))
        report.qbxml_version = highest
        hcp = await self.link.hcp_response(company)
        first = True
        while True:
            report.add_log(f"{_SVC}.do_sendRequestXML() : *** Calling sendRequestXML().")
            request = await self._string(
                "sendRequestXML",
                [ticket, hcp if first else "", company, wc.country, major, minor],
            )
            first = False
            if request in ("", "NoOp"):
                message = await self._string("getLastError", [ticket])
                report.last_errors.append(message)
                if message == "NoOp" and report.noops < wc.max_noops:
                    report.noops += 1
                    report.add_log(f"NoOp: pausing {wc.noop_pause_seconds:g} seconds.")
                    await asyncio.sleep(wc.noop_pause_seconds)
                    continue
                report.add_log(f"getLastError() returned: {message}")
                await self._close(ticket)
                report.status = message
                return
            report.request_sets.append(request)
            response, hresult, message = await self._quickbooks(company, request)
            if wc.drop_connection_after_set == report.requests_processed:
                report.dropped = True
                self._abort(
                    "The connection to the web service was lost after QuickBooks processed "
                    "the request; receiveResponseXML was not sent."
                )
            report.add_log(f"{_SVC}.do_receiveResponseXML() : *** Calling receiveResponseXML().")
            payload = await self._call("receiveResponseXML", [ticket, response, hresult, message])
            try:
                percent = soap.read_int("receiveResponseXML", payload)
            except (soap.SoapFault, soap.BadSoapResponse) as exc:
                self._fail("receiveResponseXML", str(exc))
            report.progress.append(percent)
            report.add_log(
                f'Received from receiveResponseXML() following parameter:<percentage="{percent}">'
            )
            if percent < 0:
                error = await self._string("getLastError", [ticket])
                report.last_errors.append(error)
                report.errors.append(error)
                report.add_log(f"getLastError() returned: {error}")
                await self._close(ticket)
                report.status = error
                return
            if percent >= 100:
                await self._close(ticket)
                return

    async def _quickbooks(self, company: str, request: str) -> tuple[str, str, str]:
        report, wc = self.report, self.wc
        if wc.quickbooks_delay_seconds:
            await asyncio.sleep(wc.quickbooks_delay_seconds)
        try:
            response = await self.link.process_request(company, request)
            hresult = message = ""
            if wc.response_filter is not None:
                response = wc.response_filter(response)
            report.responses.append(response)
        except QbxmlSetError as failure:
            response, hresult, message = "", failure.hresult, failure.message
            report.set_failures.append((hresult, message))
            report.add_log(f"QuickBooks could not process the request: {hresult} {message}")
        report.requests_processed += 1
        return response, hresult, message

    async def _close(self, ticket: str) -> None:
        self.report.add_log(f"{_SVC}.do_closeConnection() : *** Calling closeConnection().")
        result = await self._string("closeConnection", [ticket])
        self.report.close_result = result
        self.report.status = result
        self.report.add_log(f"closeConnection() returned: {result}")


def _seconds(answer: list[str], index: int) -> int | None:
    if len(answer) <= index:
        return None
    text = answer[index].strip()
    return int(text) if text.isdigit() and int(text) > 0 else None
