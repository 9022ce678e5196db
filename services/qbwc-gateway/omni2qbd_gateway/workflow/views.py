"""What the workflow hands to the API and the console: pydantic models, so the OpenAPI
document describes exactly what is returned."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from omni2qbd_gateway.workflow.states import ApiState


class DocumentRef(BaseModel):
    kind: str = Field(description="Cin7 document kind, e.g. sales_order")
    id: str = Field(description="Cin7 id of the document")
    reference: str | None = Field(None, description="Cin7 reference, e.g. SO-1001")
    url: str | None = Field(None, description="The document in the tenant's Cin7 API")


class FindingView(BaseModel):
    code: str
    blocking: bool
    message: str
    field: str | None = None


class EntryItem(BaseModel):
    id: str
    kind: str
    qb_type: str
    state: ApiState
    document: DocumentRef
    contact: str | None
    txn_date: str | None
    total: str | None
    currency: str
    findings: list[FindingView]
    status_message: str | None = Field(
        None, description="QuickBooks' answer, or why the entry is in its state, in words"
    )
    updated_at: datetime


class EntryPage(BaseModel):
    items: list[EntryItem]
    next_cursor: str | None


class DebitCreditLine(BaseModel):
    account: str
    debit: str
    credit: str
    memo: str = ""


class QuickBooksOutcome(BaseModel):
    txn_id: str | None = None
    edit_sequence: str | None = None
    txn_number: str | None = None
    status_code: str | None = None
    status_message: str | None = None


class HistoryEvent(BaseModel):
    at: datetime
    what: str
    by: str | None = None
    entry_id: str
    version: int
    state: ApiState


class EntryDetail(EntryItem):
    version: int
    revision: str
    ref_number: str | None
    approved_by: str | None
    approved_at: datetime | None
    debit_credit: list[DebitCreditLine]
    qbxml: str | None = Field(None, description="The qbXML the gateway would send now")
    qbxml_problem: str | None = Field(None, description="Why no qbXML can be built, in words")
    quickbooks: QuickBooksOutcome
    depends_on: list[str]
    history: list[HistoryEvent]


class StateCount(BaseModel):
    state: ApiState
    kind: str
    count: int


class Summary(BaseModel):
    by_state: dict[str, int]
    by_kind: dict[str, int]
    counts: list[StateCount]
