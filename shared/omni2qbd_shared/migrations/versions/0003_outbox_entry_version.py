"""outbox: the mapper's entry version, so a late older version never replaces a newer one

Revision ID: 0003_outbox_entry_version
Revises: 0002_gateway_sessions_messages
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_outbox_entry_version"
down_revision: str | None = "0002_gateway_sessions_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("version")
