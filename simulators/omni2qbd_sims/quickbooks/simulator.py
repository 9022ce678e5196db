"""``QuickBooksSimulator``: one in-memory company file per company path, in one process.

Company files are created on demand. A company named ``Demo`` lives at
``C:\\Companies\\Demo.qbw``; a full path can be given instead. Unless told otherwise, a
company's FileID is derived from its path, so two processes (say a Web Connector
simulator and a QuickBooks simulator server) agree on it without talking.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime

from omni2qbd_sims.quickbooks.company_file import CompanyFile
from omni2qbd_sims.quickbooks.hcp import DEFAULT_EDITION

COMPANIES_DIR = "C:\\Companies"
_FILE_ID_NAMESPACE = uuid.UUID("6d1a3a52-8f0c-4b59-9a35-2f3c3b1c9e11")


def resolve_company_path(name_or_path: str) -> str:
    text = name_or_path.strip()
    if "\\" in text or "/" in text or text.casefold().endswith(".qbw"):
        return text
    return f"{COMPANIES_DIR}\\{text}.qbw"


def company_name(path: str) -> str:
    base = path.replace("/", "\\").rsplit("\\", 1)[-1]
    return base[:-4] if base.casefold().endswith(".qbw") else base


def default_file_id(path: str) -> str:
    return "{" + str(uuid.uuid5(_FILE_ID_NAMESPACE, path.casefold())).upper() + "}"


class QuickBooksSimulator:
    def __init__(
        self,
        *,
        edition: str = DEFAULT_EDITION,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._edition = edition
        self._clock = clock
        self._companies: dict[str, CompanyFile] = {}
        self._lock = threading.Lock()

    def company(
        self,
        name_or_path: str,
        *,
        file_id: str | None = None,
        edition: str | None = None,
        seed_demo: bool = False,
    ) -> CompanyFile:
        """The company file at this path (or named so), created on first use."""
        path = resolve_company_path(name_or_path)
        key = path.casefold()
        with self._lock:
            company = self._companies.get(key)
            if company is None:
                company = CompanyFile(
                    path,
                    name=company_name(path),
                    file_id=file_id or default_file_id(path),
                    edition=edition or self._edition,
                    clock=self._clock,
                )
                self._companies[key] = company
            elif file_id is not None and file_id != company.file_id:
                raise ValueError(f"{path} already exists with FileID {company.file_id}")
        if seed_demo:
            company.seed_demo()
        return company

    def adopt(self, companies: list[CompanyFile]) -> None:
        """Add company files created elsewhere (loaded from disk), replacing same paths."""
        with self._lock:
            for company in companies:
                self._companies[company.path.casefold()] = company

    def companies(self) -> list[CompanyFile]:
        with self._lock:
            return list(self._companies.values())

    def process_request(self, company_path: str, qbxml: str) -> str:
        """Process one request message set; raises ``QbxmlSetError`` if it fails whole."""
        return self.company(company_path).process_request(qbxml)

    def hcp_response(self, company_path: str) -> str:
        return self.company(company_path).hcp_response()

    def begin_session(self, company_path: str) -> CompanyFile:
        return self.company(company_path)

    def end_session(self, company_path: str) -> None:
        self.company(company_path).end_session()


def hcp_response(company_path: str, *, edition: str = DEFAULT_EDITION) -> str:
    """The first-call HCP response of a fresh company file at this path."""
    path = resolve_company_path(company_path)
    return CompanyFile(
        path, name=company_name(path), file_id=default_file_id(path), edition=edition
    ).hcp_response()
