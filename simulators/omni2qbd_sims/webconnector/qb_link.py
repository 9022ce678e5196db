"""How the Web Connector simulator reaches QuickBooks: the simulator in this process, or a
QuickBooks simulator server (``omni2qbd sim quickbooks``) over HTTP."""

from __future__ import annotations

import asyncio
from typing import Protocol
from urllib.parse import quote

import httpx

from omni2qbd_sims.quickbooks import QbxmlSetError, QuickBooksSimulator


class QuickBooksLink(Protocol):
    async def versions(self, company_path: str) -> list[str]: ...
    async def hcp_response(self, company_path: str) -> str: ...
    async def process_request(self, company_path: str, qbxml: str) -> str: ...
    async def end_session(self, company_path: str) -> None: ...


class LocalQuickBooks:
    def __init__(self, sim: QuickBooksSimulator) -> None:
        self.sim = sim

    async def versions(self, company_path: str) -> list[str]:
        return list(self.sim.company(company_path).qbxml_versions)

    async def hcp_response(self, company_path: str) -> str:
        return self.sim.hcp_response(company_path)

    async def process_request(self, company_path: str, qbxml: str) -> str:
        # In a worker thread: the company lock serialises sets the way QuickBooks does,
        # and another session's event-loop work goes on meanwhile.
        return await asyncio.to_thread(self.sim.process_request, company_path, qbxml)

    async def end_session(self, company_path: str) -> None:
        self.sim.end_session(company_path)


class RemoteQuickBooks:
    def __init__(self, base_url: str, client: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client

    def _url(self, company_path: str, tail: str = "") -> str:
        return f"{self.base_url}/companies/{quote(company_path, safe='')}{tail}"

    async def versions(self, company_path: str) -> list[str]:
        answer = await self.client.get(self._url(company_path))
        answer.raise_for_status()
        return [str(v) for v in answer.json()["qbxml_versions"]]

    async def hcp_response(self, company_path: str) -> str:
        answer = await self.client.get(self._url(company_path, "/hcp"))
        answer.raise_for_status()
        return answer.text

    async def process_request(self, company_path: str, qbxml: str) -> str:
        answer = await self.client.post(
            self._url(company_path, "/qbxml"),
            content=qbxml.encode("utf-8"),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        if answer.status_code == 422:
            failure = answer.json()
            raise QbxmlSetError(failure["hresult"], failure["message"], failure.get("detail", ""))
        answer.raise_for_status()
        return answer.text

    async def end_session(self, company_path: str) -> None:
        answer = await self.client.post(self._url(company_path, "/sessions/end"))
        answer.raise_for_status()
