"""mapper: RefNumber owners looked up by reference, not read for the whole tenant (issue 15)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01

The mapper used to read every live entry's and QuickBooks link's RefNumber of a tenant for
each batch of documents, so a document's cost grew with what was stored. It now asks for the
RefNumbers the documents it maps would use (``lists_loader.ref_number_owners``); these
indexes answer that by tenant, entry kind and lower-cased RefNumber.

``ix_qb_links_document``: a document's QuickBooks links by (source kind, Cin7 id), read for
each document mapped; the unique constraint starts with the entry kind, which that read does
not give, so it scanned every link of the tenant.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_entries_ref_number",
        "entries",
        ["tenant_id", "entry_kind", sa.text("lower(ref_number)")],
    )
    op.create_index(
        "ix_qb_links_ref_number",
        "qb_links",
        ["tenant_id", "entry_kind", sa.text("lower(ref_number)")],
    )

    op.create_index("ix_qb_links_document", "qb_links", ["tenant_id", "source_kind", "cin7_id"])


def downgrade() -> None:
    op.drop_index("ix_qb_links_document", table_name="qb_links")
    op.drop_index("ix_qb_links_ref_number", table_name="qb_links")
    op.drop_index("ix_entries_ref_number", table_name="entries")
