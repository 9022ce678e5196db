"""mapper: running COGS totals per tenant, month and class; entries by document (issue 15)

Revision ID: 0012
Revises: 0007
Create Date: 2026-11-30

Existing tenants' totals are filled by the mapper's full recount the first time it touches a
tenant without them (``omni2qbd_mapper.cogs_totals.ensure_totals``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cogs_month_totals",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("class_key", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("pending_amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("pending_documents", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "period", "class_key"),
    )
    op.create_table(
        "cogs_counted",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("source_kind", sa.String(length=32), nullable=False),
        sa.Column("cin7_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("class_name", sa.String(length=200), nullable=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "source_kind", "cin7_id", "period"),
    )
    op.create_index(
        "ix_entries_tenant_document", "entries", ["tenant_id", "source_kind", "cin7_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_entries_tenant_document", table_name="entries")
    op.drop_table("cogs_counted")
    op.drop_table("cogs_month_totals")
