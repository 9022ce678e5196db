"""The message contracts of docs/design.md §2. Each body is JSON with a ``schema_version``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from omni2qbd_shared.kinds import Cin7Kind

EXCHANGE_CIN7_DOCUMENTS = "cin7.documents"
EXCHANGE_QB_ENTRIES = "qb.entries"
EXCHANGE_QB_RESULTS = "qb.results"
EXCHANGE_QB_LISTS = "qb.lists"
EXCHANGE_TENANT_EVENTS = "tenant.events"

Outcome = Literal["posted", "failed", "locked", "in_doubt", "held", "retry_later"]


class Message(BaseModel):
    """Base of every message: strict about what we know, tolerant of what later versions add."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    exchange: ClassVar[str]
    schema_version: int = 1

    def routing_key(self) -> str:
        raise NotImplementedError


class Cin7DocumentMessage(Message):
    exchange: ClassVar[str] = EXCHANGE_CIN7_DOCUMENTS

    tenant_id: str
    # Validated as the enum (JSON carries its value, e.g. "sales_order"): one list of kinds.
    kind: Cin7Kind
    cin7_id: str
    revision: str = Field(description="sha256 of the canonical JSON payload")
    modified_date: datetime | None = None
    fetched_at: datetime
    payload: dict[str, Any]

    def routing_key(self) -> str:
        return f"{self.tenant_id}.{self.kind}"


class EntrySource(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: str
    cin7_id: str
    revision: str


class EntryMessage(Message):
    exchange: ClassVar[str] = EXCHANGE_QB_ENTRIES

    entry_id: str
    tenant_id: str
    entry_kind: str
    version: int = 1
    state: str = "ready"
    source: EntrySource
    entry: dict[str, Any]

    def routing_key(self) -> str:
        return f"{self.tenant_id}.{self.entry_kind}"


class ResultMessage(Message):
    exchange: ClassVar[str] = EXCHANGE_QB_RESULTS

    entry_id: str
    tenant_id: str
    outcome: Outcome
    txn_id: str | None = None
    edit_sequence: str | None = None
    txn_number: str | None = None
    status_code: str | None = None
    status_message: str | None = None

    def routing_key(self) -> str:
        return f"{self.tenant_id}.{self.outcome}"


class ListChange(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    list_id: str
    full_name: str
    is_active: bool = True
    deleted: bool = False


class ListChangesMessage(Message):
    exchange: ClassVar[str] = EXCHANGE_QB_LISTS

    tenant_id: str
    list_type: str
    changes: list[ListChange]

    def routing_key(self) -> str:
        return f"{self.tenant_id}.{self.list_type}"


class TenantEventMessage(Message):
    exchange: ClassVar[str] = EXCHANGE_TENANT_EVENTS

    tenant_id: str
    # do_not_import: detail {"entry_ids": [...]}, entries a person will not import (mapper)
    event: Literal[
        "settings_saved", "match_confirmed", "refresh_requested", "tenant_created", "do_not_import"
    ]
    actor: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    def routing_key(self) -> str:
        return f"{self.tenant_id}.{self.event}"
