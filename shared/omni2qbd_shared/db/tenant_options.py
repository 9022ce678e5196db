"""Per-tenant workflow options the gateway keeps beside the tenant (migration 0007).

Auto-approval is off by default (docs/design.md §1): when enabled, entries of the listed kinds with
no findings and a total up to the maximum are approved as they arrive. ``expected_run_minutes``
is how often the Web Connector should run; health calls a tenant ``stale`` after that.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Numeric, Text
from sqlmodel import Field, SQLModel

from omni2qbd_shared.db.models import empty_list, utcnow


class TenantOptions(SQLModel, table=True):
    __tablename__ = "tenant_options"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", max_length=36)
    auto_approve: bool = False
    auto_approve_kinds: list[Any] = Field(default_factory=empty_list, sa_column=Column(JSON))
    auto_approve_max_total: Decimal | None = Field(default=None, sa_column=Column(Numeric(18, 2)))
    expected_run_minutes: int = 60
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    updated_by: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
