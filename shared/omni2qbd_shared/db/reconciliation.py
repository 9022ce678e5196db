"""Reconciliation readings of QuickBooks (gateway-owned, migration 0011).

``reconciliation_snapshots``: what QuickBooks itself said about a range of months, read by
the Web Connector session when a person asked for a reconciliation. The API compares it with
the Cin7 side; our own records are never used as "the QuickBooks side".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel

from omni2qbd_shared.db.models import empty_dict, utcnow


class ReconciliationSnapshot(SQLModel, table=True):
    """One reading of QuickBooks for months ``from_month``..``to_month`` (``YYYY-MM``)."""

    __tablename__ = "reconciliation_snapshots"
    __table_args__ = (Index("ix_reconciliation_snapshots_tenant_state", "tenant_id", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=36)
    from_month: str = Field(max_length=7)
    to_month: str = Field(max_length=7)
    # requested | sent | answered | failed
    state: str = Field(default="requested", max_length=16)
    # The account names the QuickBooks side was read for (settings at request time).
    accounts: dict[str, Any] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False)
    )
    figures: dict[str, Any] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False)
    )
    error: str | None = Field(default=None, sa_column=Column(Text))
    requested_by: str = Field(max_length=200)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    answered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
