"""The mapper's running COGS totals (migration 0012; issue 15).

``cogs_month_totals`` holds, per tenant, month and class, the sum of the COGS contributions
that count (their invoice or credit memo is in QuickBooks, or marked "do not import"), so a
month's journal is built from a few rows instead of every contribution of the month.
``cogs_counted`` remembers what each document adds to those totals today, so a change to one
document adjusts them by the difference alone.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Column, Numeric
from sqlmodel import Field, SQLModel


class CogsMonthTotal(SQLModel, table=True):
    __tablename__ = "cogs_month_totals"

    tenant_id: str = Field(primary_key=True, max_length=36)
    period: str = Field(primary_key=True, max_length=7)  # YYYY-MM
    class_key: str = Field(primary_key=True, max_length=200)  # "" = no class
    amount: Decimal = Field(default=Decimal(0), sa_column=Column(Numeric(18, 2), nullable=False))
    documents: int = 0
    pending_amount: Decimal = Field(
        default=Decimal(0), sa_column=Column(Numeric(18, 2), nullable=False)
    )
    pending_documents: int = 0
    # Hex of the sum (mod 2**256) of the counted contributions' hashes: changes whenever
    # what the month is made of changes, whatever order the changes came in.
    digest: str = Field(default="0", max_length=64)


class CogsCounted(SQLModel, table=True):
    __tablename__ = "cogs_counted"

    tenant_id: str = Field(primary_key=True, max_length=36)
    source_kind: str = Field(primary_key=True, max_length=32)
    cin7_id: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=7)
    amount: Decimal = Field(default=Decimal(0), sa_column=Column(Numeric(18, 2), nullable=False))
    class_name: str | None = Field(default=None, max_length=200)
    pending: bool = False
