"""gateway: outbox indexes and a search column for the console's pages (issue 11 §10)

Revision ID: 0017
Revises: 0012
Create Date: 2026-11-30

- ``ix_outbox_versions`` (replaces ``ix_outbox_document``, its prefix) holds a document's
  versions and entry ids, so "is there a newer version of this document?" (asked for every
  row of the review queue and the counts) is answered from the index alone.
- ``ix_outbox_state_kind`` (replaces ``ix_outbox_tenant_state``, its prefix) counts a
  tenant's entries by state and kind, and those QuickBooks answered in the last 24 hours
  (connection health), from the index alone.
- ``search_text``: the lower-cased reference number, contact name and Cin7 reference, one per
  line, computed by the database from the JSON body, so the queue's text search reads a short
  column instead of parsing every body. PostgreSQL stores it (the column is read from the
  row); SQLite cannot add a stored column to an existing table, so it is virtual there and
  ``ix_outbox_search`` keeps its value in an index the search reads instead of the rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One line per searchable field, so a search cannot match across two of them.
_PG_SEARCH = (
    "lower(coalesce(ref_number, '') || chr(10)"
    " || coalesce(body -> 'header' -> 'party' ->> 'name',"
    " body -> 'header' -> 'contact' ->> 'name', '') || chr(10)"
    " || coalesce(body -> 'source' ->> 'reference', ''))"
)
_SQLITE_SEARCH = (
    "lower(coalesce(ref_number, '') || char(10)"
    " || coalesce(json_extract(body, '$.header.party.name'),"
    " json_extract(body, '$.header.contact.name'), '') || char(10)"
    " || coalesce(json_extract(body, '$.source.reference'), ''))"
)


def upgrade() -> None:
    op.create_index(
        "ix_outbox_versions",
        "outbox",
        ["tenant_id", "entry_kind", "source_kind", "cin7_id", "version", "entry_id"],
    )
    op.drop_index("ix_outbox_document", table_name="outbox")
    op.create_index(
        "ix_outbox_state_kind", "outbox", ["tenant_id", "state", "entry_kind", "updated_at"]
    )
    op.drop_index("ix_outbox_tenant_state", table_name="outbox")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE outbox ADD COLUMN search_text TEXT GENERATED ALWAYS AS ({_PG_SEARCH}) "
            "STORED"
        )
    else:
        op.execute(
            "ALTER TABLE outbox ADD COLUMN search_text TEXT GENERATED ALWAYS AS "
            f"({_SQLITE_SEARCH}) VIRTUAL"
        )
        op.create_index("ix_outbox_search", "outbox", ["tenant_id", "state", "search_text"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index("ix_outbox_search", table_name="outbox")
    op.execute("ALTER TABLE outbox DROP COLUMN search_text")
    op.create_index("ix_outbox_tenant_state", "outbox", ["tenant_id", "state"])
    op.drop_index("ix_outbox_state_kind", table_name="outbox")
    op.create_index(
        "ix_outbox_document", "outbox", ["tenant_id", "entry_kind", "source_kind", "cin7_id"]
    )
    op.drop_index("ix_outbox_versions", table_name="outbox")
