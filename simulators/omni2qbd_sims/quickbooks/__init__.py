"""QuickBooks Desktop simulator: in-memory company files that answer qbXML like QuickBooks.

See docs/simulators.md for what it reproduces and what it does not.
"""

from omni2qbd_sims.quickbooks.company_file import CompanyFile
from omni2qbd_sims.quickbooks.hcp import EDITIONS, Edition
from omni2qbd_sims.quickbooks.model import (
    LineSnapshot,
    LinkSnapshot,
    ListSnapshot,
    TxnSnapshot,
    TypeTotals,
)
from omni2qbd_sims.quickbooks.simulator import (
    QuickBooksSimulator,
    default_file_id,
    hcp_response,
    resolve_company_path,
)
from omni2qbd_sims.quickbooks.statuses import (
    PARSE_ERROR_HRESULT,
    PARSE_ERROR_MESSAGE,
    QbxmlSetError,
)

__all__ = [
    "EDITIONS",
    "PARSE_ERROR_HRESULT",
    "PARSE_ERROR_MESSAGE",
    "CompanyFile",
    "Edition",
    "LineSnapshot",
    "LinkSnapshot",
    "ListSnapshot",
    "QbxmlSetError",
    "QuickBooksSimulator",
    "TxnSnapshot",
    "TypeTotals",
    "default_file_id",
    "hcp_response",
    "resolve_company_path",
]
