"""The queue's counts and text search, which read indexes and a computed column (migration
0017), give what the plain rule says, on SQLite and PostgreSQL: each document counted once
in its newest version's state, and a search finding the reference number, the contact name
and the Cin7 reference in any case, never across two of them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_gateway.workflow import entries
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import OutboxItem


def _row(tenant_id: str, cin7_id: str, version: int, state: str, **body: Any) -> OutboxItem:
    return OutboxItem(
        entry_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        entry_kind="invoice",
        source_kind="sales_order",
        cin7_id=cin7_id,
        revision=f"r{version}",
        version=version,
        state=state,
        ref_number=body.pop("ref_number", None),
        txn_date="2026-03-01",
        body=body,
    )


async def test_counts_take_each_document_once_and_search_reads_every_field(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as db:
        tenant = (await create_tenant(db, name="Counts Co", secret_key="k", actor="t")).tenant_id
        other = (await create_tenant(db, name="Other Co", secret_key="k", actor="t")).tenant_id
        party = {"header": {"party": {"name": "Bolt & Nut Pty"}}}
        db.add(_row(tenant, "1", 1, "ready", ref_number="INV-1", **party))
        # Posted, then changed in Cin7: the newer version waits, the posted one is history.
        db.add(_row(tenant, "2", 1, "posted", ref_number="INV-2", **party))
        db.add(_row(tenant, "2", 2, "ready", ref_number="INV-2", **party))
        # Three versions, the first two replaced: only the newest counts.
        db.add(_row(tenant, "3", 1, "superseded", source={"reference": "SO-Zeta"}))
        db.add(_row(tenant, "3", 2, "superseded", source={"reference": "SO-Zeta"}))
        db.add(_row(tenant, "3", 3, "held", source={"reference": "SO-Zeta"}))
        # Two rows of one version (an adjustment approved twice): one counts.
        db.add(_row(tenant, "4", 1, "posted", header={"contact": {"name": "Ärger GmbH"}}))
        db.add(_row(tenant, "4", 1, "posted", header={"contact": {"name": "Ärger GmbH"}}))
        db.add(_row(other, "1", 1, "ready", ref_number="INV-1"))

    scope = TenantScope(tenant, "test")
    async with unit_of_work(sessions) as db:
        counted = await entries.summary(db, scope)
        assert counted.by_state["ready"] == 2
        assert counted.by_state["needs_attention"] == 1
        assert counted.by_state["posted"] == 1
        assert counted.by_state["withdrawn"] == 0
        assert sum(counted.by_state.values()) == 4  # four documents
        listed = await entries.list_entries(db, scope, entries.EntryFilter(), limit=50)
        assert len(listed.items) == 4

        async def found(q: str) -> set[str]:
            page = await entries.list_entries(db, scope, entries.EntryFilter(q=q), limit=50)
            return {item.document.id for item in page.items}

        assert await found("inv-") == {"1", "2"}  # reference number, any case
        assert await found("bolt & NUT") == {"1", "2"}  # contact (party)
        assert await found("RGER gmbh") == {"4"}  # contact (SQLite folds ASCII case only)
        assert await found("so-zeta") == {"3"}  # Cin7 reference
        assert await found("3") == {"3"}  # the Cin7 id itself
        assert await found("pty\nso") == set()  # never across two fields
        assert await found("100%") == set()  # % is a character, not a wildcard
