"""gateway: one live Web Connector session per tenant; pending messages; list cursors

Revision ID: 0002_gateway_sessions_messages
Revises: 0001
Create Date: 2026-11-25 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002_gateway_sessions_messages"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "state IN ('authenticated', 'working')"


def upgrade() -> None:
    op.create_table(
        "qb_list_cursors",
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("list_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("from_modified", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "list_type"),
    )
    op.create_table(
        "gateway_pending_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gateway_pending_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_pending_messages_tenant_id"), ["tenant_id"], unique=False
        )
    with op.batch_alter_table("qbwc_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_qbwc_sessions_live_tenant",
            ["tenant_id"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )


def downgrade() -> None:
    with op.batch_alter_table("qbwc_sessions", schema=None) as batch_op:
        batch_op.drop_index("uq_qbwc_sessions_live_tenant")
    with op.batch_alter_table("gateway_pending_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_pending_messages_tenant_id"))
    op.drop_table("gateway_pending_messages")
    op.drop_table("qb_list_cursors")
