"""api-workflow: reconciliation_snapshots, QuickBooks figures read through the Web Connector

Revision ID: 0011
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("from_month", sa.String(length=7), nullable=False),
        sa.Column("to_month", sa.String(length=7), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("accounts", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_reconciliation_snapshots_tenant_id", "reconciliation_snapshots", ["tenant_id"]
    )
    op.create_index(
        "ix_reconciliation_snapshots_tenant_state",
        "reconciliation_snapshots",
        ["tenant_id", "state"],
    )


def downgrade() -> None:
    op.drop_index("ix_reconciliation_snapshots_tenant_state", "reconciliation_snapshots")
    op.drop_index("ix_reconciliation_snapshots_tenant_id", "reconciliation_snapshots")
    op.drop_table("reconciliation_snapshots")
