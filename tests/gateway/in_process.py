"""An in-process Web Connector: drives ``QbwcService`` (and through it ``WebConnectorSession``)
call by call as QBWC does, against the QuickBooks simulator, without HTTP or SOAP envelopes.

For the many protocol cases; the HTTP tests (``running_gateway`` + the Web Connector
simulator) stay for the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.plan import Limits
from omni2qbd_gateway.protocol import QbwcService
from omni2qbd_gateway.session import GatewayOptions, SetSizing
from omni2qbd_gateway.soap import OPERATIONS, SOAP11_NS, Call
from omni2qbd_sims.quickbooks import QbxmlSetError, QuickBooksSimulator


def service_for(
    sessions: async_sessionmaker[AsyncSession],
    *,
    sqlite: bool = True,
    sizing: SetSizing | None = None,
    max_bytes: int = 512 * 1024,
) -> QbwcService:
    sizing = sizing or SetSizing()
    options = GatewayOptions(
        public_url="http://gateway.test",
        session_timeout=timedelta(minutes=15),
        limits=Limits(sizing.initial, max_bytes),
        max_soap_bytes=8 * 1024 * 1024,
        sizing=sizing,
    )
    return QbwcService(sessions, options, serialise_writes=sqlite)


@dataclass
class InProcessRun:
    auth_status: str = ""
    round_trips: int = 0
    request_sets: list[str] = field(default_factory=list)
    progress: list[int] = field(default_factory=list)
    last_errors: list[str] = field(default_factory=list)
    closing: str = ""


@dataclass
class InProcessConnector:
    service: QbwcService
    username: str
    password: str
    quickbooks: QuickBooksSimulator
    company_path: str
    client: str = "127.0.0.1"

    async def call(
        self, run: InProcessRun, operation: str, **args: str | int
    ) -> str | int | list[str]:
        run.round_trips += 1
        return await self.service.handle(
            Call(OPERATIONS[operation], SOAP11_NS, dict(args), client=self.client)
        )

    async def run(self) -> InProcessRun:
        run = InProcessRun()
        await self.call(run, "serverVersion", strVersion="")
        await self.call(run, "clientVersion", strVersion="2.3.0.36")
        auth = await self.call(
            run, "authenticate", strUserName=self.username, strPassword=self.password
        )
        assert isinstance(auth, list)
        ticket, run.auth_status = auth[0], auth[1]
        if run.auth_status in ("none", "busy", "nvu"):
            run.closing = str(await self.call(run, "closeConnection", ticket=ticket))
            return run
        hcp = self.quickbooks.company(self.company_path).hcp_response()
        first = True
        while True:
            request = await self.call(
                run,
                "sendRequestXML",
                ticket=ticket,
                strHCPResponse=hcp if first else "",
                strCompanyFileName=self.company_path,
                qbXMLCountry="US",
                qbXMLMajorVers=13,
                qbXMLMinorVers=0,
            )
            first = False
            assert isinstance(request, str)
            if not request:
                run.last_errors.append(str(await self.call(run, "getLastError", ticket=ticket)))
                break
            run.request_sets.append(request)
            try:
                response, hresult, message = (
                    self.quickbooks.process_request(self.company_path, request),
                    "",
                    "",
                )
            except QbxmlSetError as failure:
                response, hresult, message = "", failure.hresult, failure.message
            percent = await self.call(
                run,
                "receiveResponseXML",
                ticket=ticket,
                response=response,
                hresult=hresult,
                message=message,
            )
            assert isinstance(percent, int)
            run.progress.append(percent)
            if percent < 0:
                run.last_errors.append(str(await self.call(run, "getLastError", ticket=ticket)))
                break
            if percent >= 100:
                break
        run.closing = str(await self.call(run, "closeConnection", ticket=ticket))
        return run
