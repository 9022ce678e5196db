"""The tables of docs/design.md §2. Each table is written by one service only (see its docstring).

Columns holding JSON use SQLAlchemy's generic ``JSON`` so the same model runs on PostgreSQL
and SQLite. Every tenant-owned table carries ``tenant_id``; queries go through
``omni2qbd_shared.db.tenancy`` so none can forget it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, overload

from sqlalchemy import (
    JSON,
    Column,
    Computed,
    DateTime,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """A stored datetime as an aware UTC one: SQLite hands back naive datetimes, and every
    datetime we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def _ts(nullable: bool = False) -> Any:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column_kwargs={},
        sa_type=DateTime(timezone=True),
        nullable=nullable,
    )


def empty_list() -> list[Any]:
    """``default_factory=list`` without its cost: pydantic reads the factory's signature on
    every construction, and for the builtin ``list`` that means parsing its text signature
    (90 us; the mapper builds thousands of entry rows per batch). A Python function's
    signature is read in under 4 us."""
    return []


def empty_dict() -> dict[str, Any]:
    return {}


def _json(default: Any = empty_dict) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


# --- gateway: tenants, credentials, settings -------------------------------------------------


class Tenant(SQLModel, table=True):
    """A client company file. Owned by the gateway."""

    __tablename__ = "tenants"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    qbwc_username: str = Field(max_length=100, unique=True, index=True)
    qbwc_password_hash: str = Field(max_length=200)
    # FileID written into the .qwc file; QuickBooks stores it in the company file on first run.
    qb_file_id: str = Field(default_factory=lambda: "{" + str(uuid.uuid4()).upper() + "}")
    qb_company_path: str | None = Field(default=None, max_length=500)
    qbxml_version: str = Field(default="13.0", max_length=8)
    active: bool = True
    created_at: datetime = _ts()


class Cin7Credential(SQLModel, table=True):
    """Cin7 Omni API credentials; the key is Fernet-encrypted with the secret key."""

    __tablename__ = "cin7_credentials"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=36)
    username: str = Field(max_length=200)
    api_key_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    base_url: str = Field(default="https://api.cin7.com/api/", max_length=500)
    updated_at: datetime = _ts()


class TenantSettingsVersion(SQLModel, table=True):
    """Every saved version of a tenant's mapping settings, with who saved it and when."""

    __tablename__ = "tenant_settings_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=36)
    version: int
    body: dict[str, Any] = _json()
    created_by: str = Field(max_length=200)
    created_at: datetime = _ts()


class ContactMatch(SQLModel, table=True):
    """A confirmed link between a Cin7 contact or product and a QuickBooks list object."""

    __tablename__ = "contact_matches"
    __table_args__ = (UniqueConstraint("tenant_id", "cin7_kind", "cin7_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=36)
    cin7_kind: str = Field(max_length=32)  # customer | supplier | product
    cin7_id: str = Field(max_length=64)
    qb_list_type: str = Field(max_length=32)
    qb_list_id: str = Field(max_length=64)
    qb_name: str = Field(max_length=200)
    confirmed_by: str = Field(max_length=200)
    confirmed_at: datetime = _ts()


# --- fetcher ---------------------------------------------------------------------------------


class SyncCursor(SQLModel, table=True):
    """How far the fetcher has read one tenant's documents of one kind, by one date field."""

    __tablename__ = "sync_cursors"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=36)
    kind: str = Field(primary_key=True, max_length=32)
    date_field: str = Field(primary_key=True, max_length=32)  # modifiedDate | modifiedCOGSDate
    position: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    updated_at: datetime = _ts()


class FetchedDocument(SQLModel, table=True):
    """One revision of a Cin7 document, as published; the key makes re-fetching idempotent."""

    __tablename__ = "fetched_documents"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=36)
    kind: str = Field(primary_key=True, max_length=32)
    cin7_id: str = Field(primary_key=True, max_length=64)
    revision: str = Field(primary_key=True, max_length=64)
    modified_date: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    fetched_at: datetime = _ts()
    published_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    payload: dict[str, Any] = _json()


class SyncLease(SQLModel, table=True):
    """Which fetcher process syncs a tenant right now: one at a time per tenant, so two
    processes never spend the same Cin7 API key's rate limit at once."""

    __tablename__ = "sync_leases"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=36)
    holder: str = Field(max_length=200)
    lease_until: datetime = Field(sa_type=DateTime(timezone=True))


class SyncStatus(SQLModel, table=True):
    """Per tenant and kind: last success, last error and counts, for the console and /readyz."""

    __tablename__ = "sync_status"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=36)
    kind: str = Field(primary_key=True, max_length=32)
    last_success_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_error_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    documents_seen: int = 0
    revisions_published: int = 0


# --- mapper ----------------------------------------------------------------------------------


class Entry(SQLModel, table=True):
    """A QuickBooks-shaped accounting entry built from one Cin7 document revision."""

    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entry_kind", "source_kind", "cin7_id", "revision"),
        Index("ix_entries_tenant_state", "tenant_id", "state"),
        # The mapper reads a document's rows by (source kind, Cin7 id) for every message.
        Index("ix_entries_tenant_document", "tenant_id", "source_kind", "cin7_id"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=36)
    entry_kind: str = Field(max_length=32)
    source_kind: str = Field(max_length=32)
    cin7_id: str = Field(max_length=64)
    revision: str = Field(max_length=64)
    version: int = 1
    # mapped | needs_attention | ready | superseded | void
    state: str = Field(default="mapped", max_length=24)
    ref_number: str | None = Field(default=None, max_length=40)
    txn_date: str | None = Field(default=None, max_length=10)
    total: Decimal | None = Field(default=None, sa_column=Column(Numeric(18, 2)))
    body: dict[str, Any] = _json()
    findings: list[dict[str, Any]] = _json(empty_list)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


# --- gateway: outbox, Web Connector, QuickBooks ----------------------------------------------


class OutboxItem(SQLModel, table=True):
    """An entry as the gateway tracks it from review to QuickBooks (docs/design.md §3 lifecycle)."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Counts by state and kind, a document's versions for the review queue's "newest
        # version only", the queue's order by transaction date (migrations 0007, 0017). The
        # console's search reads a column the database computes from the body (``search_text``,
        # migration 0017), deliberately not mapped here: see workflow/entries.py.
        Index("ix_outbox_state_kind", "tenant_id", "state", "entry_kind", "updated_at"),
        Index(
            "ix_outbox_versions",
            "tenant_id",
            "entry_kind",
            "source_kind",
            "cin7_id",
            "version",
            "entry_id",
        ),
        Index("ix_outbox_tenant_date", "tenant_id", "txn_date", "entry_id"),
    )

    entry_id: str = Field(primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=36)
    entry_kind: str = Field(max_length=32)
    source_kind: str = Field(max_length=32)
    cin7_id: str = Field(max_length=64)
    revision: str = Field(max_length=64)
    # The mapper's version of this document's entry; a lower one arriving late is stale.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # ready | held | approved | queued | sent | posted | failed | locked | in_doubt | superseded
    state: str = Field(default="ready", max_length=24)
    ref_number: str | None = Field(default=None, max_length=40)
    # The entry's transaction date (YYYY-MM-DD, '' when it has none), copied out of the body
    # so the review queue can sort and page by it through an index.
    txn_date: str = Field(default="", max_length=10, sa_column_kwargs={"server_default": ""})
    body: dict[str, Any] = _json()
    approved_by: str | None = Field(default=None, max_length=200)
    approved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    attempts: int = 0
    last_status_code: str | None = Field(default=None, max_length=16)
    last_status_message: str | None = Field(default=None, sa_column=Column(Text))
    request_id: str | None = Field(default=None, max_length=64)
    message_set_id: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _ts()


# Computed by the database from the body, one dialect-specific expression each (migration
# 0017): the reference number, contact name and Cin7 reference, lower-cased, one per line, for
# the queue's text search. In the table but deliberately not mapped, so loading an entry never
# computes it (SQLite computes a virtual column on every read); read as
# ``OutboxItem.__table__.c.search_text``.
OutboxItem.__table__.append_column(  # type: ignore[attr-defined]
    Column("search_text", Text, Computed("''"), nullable=True)
)


class QbLink(SQLModel, table=True):
    """Where a Cin7 document lives in QuickBooks: TxnID/ListID and the EditSequence we wrote."""

    __tablename__ = "qb_links"
    __table_args__ = (UniqueConstraint("tenant_id", "entry_kind", "source_kind", "cin7_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=36)
    entry_kind: str = Field(max_length=32)
    source_kind: str = Field(max_length=32)
    cin7_id: str = Field(max_length=64)
    entry_id: str = Field(max_length=36)
    qb_txn_type: str = Field(max_length=32)
    txn_id: str = Field(max_length=64)
    edit_sequence: str = Field(max_length=32)
    txn_number: str | None = Field(default=None, max_length=32)
    ref_number: str | None = Field(default=None, max_length=40)
    external_guid: str | None = Field(default=None, max_length=40)
    is_pending: bool | None = None
    posted_at: datetime = _ts()
    updated_at: datetime = _ts()


class QbListItem(SQLModel, table=True):
    """The tenant's QuickBooks lists as last read (customers, vendors, items, accounts...)."""

    __tablename__ = "qb_list_items"
    __table_args__ = (Index("ix_qb_list_items_name", "tenant_id", "list_type", "full_name"),)

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=36)
    list_type: str = Field(primary_key=True, max_length=32)
    list_id: str = Field(primary_key=True, max_length=64)
    full_name: str = Field(max_length=400)
    is_active: bool = True
    edit_sequence: str | None = Field(default=None, max_length=32)
    time_modified: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    data: dict[str, Any] = _json()


LIVE_SESSION_CONDITION = "state IN ('authenticated', 'working')"


class QbListCursor(SQLModel, table=True):
    """How far the gateway has read one QuickBooks list (gateway-owned, migration 0002).

    ``from_modified`` is QuickBooks' own TimeModified text of the newest element seen, sent
    back verbatim as ``FromModifiedDate`` so the two clocks are never mixed.
    """

    __tablename__ = "qb_list_cursors"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=36)
    list_type: str = Field(primary_key=True, max_length=32)
    from_modified: str | None = Field(default=None, max_length=40)
    refreshed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class QbwcSession(SQLModel, table=True):
    """One Web Connector session; any gateway replica can answer its next call."""

    __tablename__ = "qbwc_sessions"
    __table_args__ = (
        Index("ix_qbwc_sessions_tenant_state", "tenant_id", "state"),
        # At most one live session per tenant, enforced by the database (gateway migration
        # 0002) so two Web Connectors racing to authenticate cannot both get a session.
        Index(
            "uq_qbwc_sessions_live_tenant",
            "tenant_id",
            unique=True,
            sqlite_where=text(LIVE_SESSION_CONDITION),
            postgresql_where=text(LIVE_SESSION_CONDITION),
        ),
    )

    ticket: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=36)
    # authenticated | working | closed | expired | failed
    state: str = Field(default="authenticated", max_length=24)
    expected_call: str = Field(default="sendRequestXML", max_length=32)
    phase: str = Field(default="start", max_length=32)
    company_path: str | None = Field(default=None, max_length=500)
    qbxml_version: str | None = Field(default=None, max_length=8)
    progress: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    plan: dict[str, Any] = _json()
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    ended_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class QbwcRequest(SQLModel, table=True):
    """A qbXML message set sent to the Web Connector, and what came back."""

    __tablename__ = "qbwc_requests"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=36)
    ticket: str = Field(index=True, max_length=64)
    message_set_id: str | None = Field(default=None, max_length=64, index=True)
    purpose: str = Field(max_length=32)  # recovery | lists | writes
    # sent | answered | failed | in_doubt | resolved
    state: str = Field(default="sent", max_length=16)
    entry_ids: list[str] = _json(empty_list)
    request_xml: str = Field(sa_column=Column(Text, nullable=False))
    response_xml: str | None = Field(default=None, sa_column=Column(Text))
    hresult: str | None = Field(default=None, max_length=16)
    sent_at: datetime = _ts()
    answered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class GatewayPendingMessage(SQLModel, table=True):
    """A message the gateway committed to publish (transactional outbox; gateway-owned).

    Written in the same transaction as the state it reports, deleted once the broker
    confirmed it, so a broker outage delays results but never loses them.
    """

    __tablename__ = "gateway_pending_messages"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True, max_length=36)
    kind: str = Field(max_length=32)  # result | list_changes
    body: dict[str, Any] = _json()
    created_at: datetime = _ts()


class AuthFailure(SQLModel, table=True):
    """Failed Web Connector logins per user name, to slow down guessing."""

    __tablename__ = "auth_failures"

    username: str = Field(primary_key=True, max_length=100)
    failures: int = 0
    last_failure_at: datetime = _ts()


class AuditLog(SQLModel, table=True):
    """Who did what, when, to which tenant's data."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str | None = Field(default=None, index=True, max_length=36)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    subject: str | None = Field(default=None, max_length=200)
    detail: dict[str, Any] = _json()
    at: datetime = _ts()


class ProcessedMessage(SQLModel, table=True):
    """Message ids a consumer has applied; lets handlers without a natural key stay idempotent."""

    __tablename__ = "processed_messages"

    consumer: str = Field(primary_key=True, max_length=64)
    message_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime = _ts()


# Tables kept in their own modules, imported here so every metadata user sees them.
from omni2qbd_shared.db import cogs_totals as _cogs_totals  # noqa: E402, F401
from omni2qbd_shared.db import console_sessions as _console_sessions  # noqa: E402, F401
from omni2qbd_shared.db import login_throttle as _login_throttle  # noqa: E402, F401
from omni2qbd_shared.db import people as _people  # noqa: E402, F401
from omni2qbd_shared.db import reconciliation as _reconciliation  # noqa: E402, F401
from omni2qbd_shared.db import tenant_options as _tenant_options  # noqa: E402, F401
