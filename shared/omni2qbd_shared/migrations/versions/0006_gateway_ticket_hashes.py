"""gateway: Web Connector tickets stored as SHA-256 hashes, never in clear

A ticket is a bearer credential for its tenant's session: whoever reads the database must
not be able to use it. The gateway now stores ``sha256(ticket)`` (64 hex characters, the
same column width) and hashes what the Web Connector sends before looking it up. Existing
rows are hashed in place, so a session live during the upgrade keeps working.

Revision ID: 0006
Revises: 0005 (login throttle, cherry-picked from api-core)
Create Date: 2026-11-30
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    for table in ("qbwc_sessions", "qbwc_requests"):
        tickets = [row[0] for row in bind.execute(sa.text(f"SELECT DISTINCT ticket FROM {table}"))]
        for ticket in tickets:
            bind.execute(
                sa.text(f"UPDATE {table} SET ticket = :new WHERE ticket = :old"),
                {"new": _hash(ticket), "old": ticket},
            )


def downgrade() -> None:
    # A hash cannot be turned back into its ticket: sessions live at the downgrade end, and
    # their Web Connectors start a new one on the next run (nothing is lost).
    op.execute(
        "UPDATE qbwc_sessions SET state = 'expired' WHERE state IN ('authenticated', 'working')"
    )
