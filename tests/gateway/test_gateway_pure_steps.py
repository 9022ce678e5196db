"""The session's seams (issue 16 point 1, issue 15 point 4): ``results.py`` decides from the
sent entries and QuickBooks' answer alone, with no database; the planning window (the next
approved entries with their JSON bodies) is read at most once per Web Connector call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import argon2
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import results
from omni2qbd_gateway.qbxml_io import parse_response
from omni2qbd_gateway.soap import Call
from omni2qbd_gateway.states import EntryState, RequestState
from omni2qbd_gateway.tenants import NewTenant
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.db.models import OutboxItem
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from tests.gateway.gateway_helpers import (
    add_entries,
    company_for,
    invoice,
    new_tenant,
    tenant_row,
)
from tests.gateway.in_process import InProcessConnector, service_for


class MinimalTenant(NamedTuple):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tenant: NewTenant
    qb: QuickBooksSimulator
    path: str


@pytest.fixture
async def minimal_tenant(sqlite_database_url: str) -> AsyncIterator[MinimalTenant]:
    """A tenant with a minimal QuickBooks company file, for the in-process connector."""
    engine = create_engine(sqlite_database_url)
    sessions = session_factory(engine)
    try:
        tenant = await new_tenant(sessions)
        qb = QuickBooksSimulator()
        path = company_for(qb, await tenant_row(sessions, tenant.tenant_id), minimal=True)
        yield MinimalTenant(engine, sessions, tenant, qb, path)
    finally:
        await engine.dispose()


def _item(entry_id: str, ref: str) -> OutboxItem:
    return OutboxItem(
        entry_id=entry_id,
        tenant_id="t1",
        entry_kind="invoice",
        source_kind="sales_order",
        cin7_id=entry_id,
        revision="r1",
        ref_number=ref,
        state=EntryState.SENT.value,
        body={"external_guid": "{11111111-2222-3333-4444-555555555555}"},
    )


ANSWER = """<?xml version="1.0"?><QBXML><QBXMLMsgsRs>
<InvoiceAddRs requestID="e-1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
<InvoiceRet><TxnID>1A-1</TxnID><EditSequence>17</EditSequence><TxnNumber>5</TxnNumber>
<RefNumber>INV-1</RefNumber></InvoiceRet></InvoiceAddRs>
<InvoiceAddRs requestID="e-2" statusCode="3170" statusSeverity="Error"
 statusMessage="There was an error when saving. It could not be locked."/>
</QBXMLMsgsRs></QBXML>"""


def test_results_decide_from_the_answer_alone() -> None:
    # No database anywhere: the entries are plain objects, the answer a parsed text.
    items = [_item("1", "INV-1"), _item("2", "INV-2"), _item("3", "INV-3")]
    outcome = results.writes(items, parse_response(ANSWER, max_bytes=1 << 20))
    by_id = {d.entry_id: d for d in outcome.decisions}
    assert by_id["1"].state == EntryState.POSTED and by_id["1"].saved is not None
    assert (by_id["1"].saved.txn_id, by_id["1"].saved.edit_sequence) == ("1A-1", "17")
    assert by_id["2"].state == EntryState.QUEUED and by_id["2"].outcome == "retry_later"
    assert by_id["2"].retry_next_run
    # Not named in the answer: in doubt (resolved by a query), never sent again blind.
    assert by_id["3"].state == EntryState.IN_DOUBT and by_id["3"].outcome == "in_doubt"
    assert outcome.set_state == RequestState.IN_DOUBT
    # Deciding changed nothing on the entries themselves: the repository records it.
    assert [item.state for item in items] == ["sent"] * 3


async def test_the_planning_window_is_read_at_most_once_per_call(
    minimal_tenant: MinimalTenant,
) -> None:
    engine, sessions, tenant, qb, path = minimal_tenant
    await add_entries(
        sessions, tenant.tenant_id, [invoice(tenant.tenant_id, n) for n in range(1, 121)]
    )
    window_reads = 0

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal window_reads
        # The window: approved entries with their bodies, contacts first (ORDER BY CASE).
        if "FROM outbox" in statement and "ORDER BY CASE" in statement:
            window_reads += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    service = service_for(sessions)
    per_call: list[tuple[str, int]] = []
    handle: Callable[[Call], Awaitable[str | int | list[str]]] = service.handle

    async def counted(call: Call) -> str | int | list[str]:
        nonlocal window_reads
        window_reads = 0
        answer = await handle(call)
        per_call.append((call.operation.name, window_reads))
        return answer

    # Wraps this instance's handle to count the reads of each call (mypy forbids method assignment).
    service.handle = counted  # type: ignore[method-assign]
    connector = InProcessConnector(service, tenant.qbwc_username, tenant.qbwc_password, qb, path)
    run = await connector.run()
    assert run.closing == "Done. This run: 120 posted.", run.closing
    busy = [(op, n) for op, n in per_call if op in ("sendRequestXML", "receiveResponseXML")]
    assert any(n == 1 for _, n in busy)  # the count sees the window when it is read
    assert all(n <= 1 for _, n in busy), busy


async def test_argon2_runs_outside_any_transaction(
    minimal_tenant: MinimalTenant, monkeypatch: Any
) -> None:
    """issue 16 point 7: on SQLite every transaction holds the write lock (BEGIN IMMEDIATE),
    so a password hashed inside one would make every other call wait behind each login."""

    engine, sessions, tenant, qb, path = minimal_tenant
    await add_entries(sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 1)])
    open_transactions = 0
    seen: list[int] = []

    def began(_conn: Any) -> None:
        nonlocal open_transactions
        open_transactions += 1

    def ended(_conn: Any) -> None:
        nonlocal open_transactions
        open_transactions -= 1

    for name, listener in (("begin", began), ("commit", ended), ("rollback", ended)):
        event.listen(engine.sync_engine, name, listener)
    verify = argon2.PasswordHasher.verify

    def spied(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        seen.append(open_transactions)
        return verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spied)
    service = service_for(sessions)
    run = await InProcessConnector(
        service, tenant.qbwc_username, tenant.qbwc_password, qb, path
    ).run()
    assert run.closing == "Done. This run: 1 posted.", run.closing
    assert seen == [0]  # verified once, with no transaction open
