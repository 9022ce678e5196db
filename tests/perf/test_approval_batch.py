"""Issue 15: approving every ready entry reads the entries' dependencies together, not a
query or two per entry, and decides as before; and an approval takes its turn with a batch of
arriving entries of the same tenant (the two ran into a PostgreSQL deadlock when a bookkeeper
approved while the mapper's entries were arriving)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.outbox import upsert_entries
from omni2qbd_gateway.workflow import approval
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.models import QbLink
from tests.api.api_helpers import blocked
from tests.gateway.gateway_helpers import customer_add, invoice, new_tenant
from tests.perf.test_batch_reads import _counting
from tests.perf.test_gateway_entry_batches import _message

Sessions = async_sessionmaker[AsyncSession]


async def _tenant_with_customers(sessions: Sessions, invoices: int) -> str:
    """Per group of four invoices: one needs a new customer that is ready, one a customer
    already in QuickBooks, one a customer that needs attention, one a customer never
    prepared."""
    tenant = (await new_tenant(sessions)).tenant_id
    messages = []
    async with unit_of_work(sessions) as db:
        for n in range(invoices):
            contact = str(1000 + n)
            kind = n % 4
            if kind == 0:
                messages.append(
                    _message(tenant, f"c{n}", customer_add(tenant, contact, f"New {n}"))
                )
            elif kind == 1:
                db.add(
                    QbLink(
                        tenant_id=tenant,
                        entry_kind="customer_add",
                        source_kind="contact",
                        cin7_id=contact,
                        entry_id=str(uuid.uuid4()),
                        qb_txn_type="Customer",
                        txn_id=f"8000{n}-1",
                        edit_sequence="1",
                    )
                )
            elif kind == 2:
                held = blocked(customer_add(tenant, contact, f"Held {n}"), "name too long")
                messages.append(_message(tenant, f"c{n}", held, state="held"))
            depends = [f"customer_add:contact:{contact}"]
            messages.append(_message(tenant, f"i{n}", invoice(tenant, n, depends_on=depends)))
    async with unit_of_work(sessions) as db:
        await upsert_entries(messages, db)
    return tenant


async def _approve_all(sessions: Sessions, tenant: str) -> approval.ApprovalResult:
    async with unit_of_work(sessions) as db:
        return await approval.approve(db, TenantScope(tenant, "bookkeeper"), all_ready=True)


async def test_approving_all_reads_dependencies_together(sessions: Sessions) -> None:
    small, large = (
        await _tenant_with_customers(sessions, 8),
        await _tenant_with_customers(sessions, 40),
    )
    with _counting(sessions) as statements:
        result = await _approve_all(sessions, small)
    small_reads = [s for s in statements if s.lstrip().startswith("SELECT")]
    with _counting(sessions) as statements:
        await _approve_all(sessions, large)
    large_reads = [s for s in statements if s.lstrip().startswith("SELECT")]

    # The tenant lock, the ready entries, their dependencies' links and versions; the
    # settings version for the audit row: as many reads for 40 invoices as for 8.
    assert len(large_reads) == len(small_reads), (small_reads, large_reads)

    invoices = [a for a in result.approved if a.kind == "invoice"]
    customers = [a for a in [*result.approved, *result.dependencies] if a.kind == "customer_add"]
    refused = {r.reason for r in result.refused}
    assert len(invoices) == 4  # the invoices whose customer is ready or in QuickBooks
    assert len(customers) == 2  # the ready new customers, each once
    assert len(result.refused) == 4
    assert any("needs attention" in reason for reason in refused), refused
    assert any("has not been prepared yet" in reason for reason in refused), refused


async def test_approving_all_decides_as_approving_one_by_one(sessions: Sessions) -> None:
    together, alone = (
        await _tenant_with_customers(sessions, 12),
        await _tenant_with_customers(sessions, 12),
    )
    result = await _approve_all(sessions, together)
    async with sessions() as db:
        ready = await approval._ready_rows(db, TenantScope(alone, "x"), None, None)
        ids = [row.entry_id for row in ready]
    decided: list[tuple[str, str]] = []
    for entry_id in ids:
        async with unit_of_work(sessions) as db:
            one = await approval.approve(db, TenantScope(alone, "bookkeeper"), entry_ids=[entry_id])
        decided += [(a.label, "approved") for a in one.approved]
        decided += [(d.label, "dependency") for d in one.dependencies]
        decided += [("refused", r.reason.replace(alone, "T")) for r in one.refused]
    together_decided = [(a.label, "approved") for a in result.approved]
    together_decided += [(d.label, "dependency") for d in result.dependencies]
    together_decided += [("refused", r.reason.replace(together, "T")) for r in result.refused]
    # One by one, a customer approved with the first invoice is no longer ready when the
    # second asks: both ways approve the same entries and refuse for the same reasons.
    assert _labels(together_decided) == _labels(decided)


def _labels(decided: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((label, how) for label, how in decided if "already approved" not in how)


async def _waiting_on_lock(sessions: Sessions, pid: int) -> str | None:
    """What the backend ``pid`` runs while it waits for a lock (None when it does not)."""
    async with sessions() as db:
        row = (
            await db.execute(
                text(
                    "SELECT query FROM pg_stat_activity"
                    " WHERE pid = :pid AND wait_event_type = 'Lock'"
                ),
                {"pid": pid},
            )
        ).first()
    return None if row is None else str(row[0])


@pytest.mark.postgres
async def test_an_approval_waits_for_a_batch_of_arriving_entries(
    postgres_database_url: str,
) -> None:
    engine = create_engine(postgres_database_url)
    sessions = session_factory(engine)
    try:
        tenant = await _tenant_with_customers(sessions, 4)
        arriving = [_message(tenant, "late", invoice(tenant, 99, amount="55.00"))]
        async with unit_of_work(sessions) as intake:
            await upsert_entries(arriving, intake)  # the batch holds the tenant until commit
            backend: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            approving = asyncio.create_task(_approve_all_telling(sessions, tenant, backend))
            pid = await backend
            deadline = asyncio.get_running_loop().time() + 30
            while (query := await _waiting_on_lock(sessions, pid)) is None:
                assert not approving.done(), "the approval did not wait for the arriving batch"
                assert asyncio.get_running_loop().time() < deadline, "the approval never waited"
                await asyncio.sleep(0.05)
            assert "FROM tenants" in query and "FOR NO KEY UPDATE" in query, query
        result = await approving
        # Its turn came after the batch's commit: it saw the arrived invoice too.
        assert "invoice INV99" in " ".join(a.label for a in result.approved)
    finally:
        await engine.dispose()


async def _approve_all_telling(
    sessions: Sessions, tenant: str, backend: asyncio.Future[int]
) -> approval.ApprovalResult:
    """``_approve_all``, telling the test its PostgreSQL backend's pid first."""
    async with unit_of_work(sessions) as db:
        backend.set_result((await db.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        return await approval.approve(db, TenantScope(tenant, "bookkeeper"), all_ready=True)
