"""WebConnectorSession driven in process (issue 16 points 1 and 8): the closing message says
what this run did; write sets are sized by how QuickBooks answers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypedDict, Unpack

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.session import SetSizing
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.qbxml.schema import validation_errors
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from tests.gateway.gateway_helpers import (
    add_entries,
    company_for,
    invoice,
    new_tenant,
    outbox_states,
    tenant_row,
)
from tests.gateway.in_process import InProcessConnector, InProcessRun, service_for


@pytest.fixture
async def sessions(sqlite_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(sqlite_database_url)
    yield session_factory(engine)
    await engine.dispose()


class ServiceOptions(TypedDict, total=False):
    """The keyword options of ``service_for`` a test sets."""

    sqlite: bool
    sizing: SetSizing | None
    max_bytes: int


async def _connector(
    sessions: async_sessionmaker[AsyncSession],
    count: int,
    **service_options: Unpack[ServiceOptions],
) -> tuple[InProcessConnector, str, list[str]]:
    tenant = await new_tenant(sessions)
    qb = QuickBooksSimulator()
    path = company_for(qb, await tenant_row(sessions, tenant.tenant_id), minimal=True)
    ids = await add_entries(
        sessions, tenant.tenant_id, [invoice(tenant.tenant_id, n) for n in range(1, count + 1)]
    )
    service = service_for(sessions, **service_options)
    connector = InProcessConnector(service, tenant.qbwc_username, tenant.qbwc_password, qb, path)
    return connector, tenant.tenant_id, ids


def _write_sizes(request_sets: list[str]) -> list[int]:
    return [s.count("<InvoiceAddRq") for s in request_sets if "<InvoiceAddRq" in s]


async def test_closing_message_tells_what_this_run_did(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connector, tenant_id, _ids = await _connector(sessions, 2)
    first = await connector.run()
    assert first.closing == "Done. This run: 2 posted.", first.closing
    await add_entries(sessions, tenant_id, [invoice(tenant_id, 99)])
    second = await connector.run()
    assert second.closing == "Done. This run: 1 posted.", second.closing


async def test_thousand_invoices_in_at_most_25_round_trips(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connector, tenant_id, ids = await _connector(sessions, 1000)
    run = await connector.run()
    assert run.round_trips <= 25, (run.round_trips, _write_sizes(run.request_sets))
    sizes = _write_sizes(run.request_sets)
    assert sum(sizes) == 1000 and max(sizes) <= SetSizing().cap
    assert sizes[:4] == [50, 100, 200, 400]  # grows while QuickBooks answers fast
    states = await outbox_states(sessions, tenant_id)
    assert {states[i].state for i in ids} == {"posted"}
    company = connector.quickbooks.company(connector.company_path)
    assert len(company.transactions("Invoice")) == 1000
    biggest = max((s for s in run.request_sets if "<InvoiceAddRq" in s), key=len)
    assert validation_errors(biggest) == []


async def test_sets_shrink_after_slow_answers(sessions: async_sessionmaker[AsyncSession]) -> None:
    # Every answer is "slower" than a target of one microsecond: each set halves.
    sizing = SetSizing(initial=8, cap=64, target=timedelta(microseconds=1))
    connector, _tenant_id, _ids = await _connector(sessions, 20, sizing=sizing)
    run = await connector.run()
    assert _write_sizes(run.request_sets) == [8, 4, 2, 1, 1, 1, 1, 1, 1]


async def test_sets_stay_within_the_byte_cap(sessions: async_sessionmaker[AsyncSession]) -> None:
    connector, _tenant_id, _ids = await _connector(sessions, 120, max_bytes=16 * 1024)
    run = await connector.run()
    writes = [s for s in run.request_sets if "<InvoiceAddRq" in s]
    assert sum(_write_sizes(writes)) == 120
    # The cap bounds the requests (plus the envelope and declarations).
    assert all(len(re.sub(r"^.*?<QBXMLMsgsRq[^>]*>", "", s)) <= 16 * 1024 for s in writes)


def test_sizing_rule() -> None:
    sizing = SetSizing(initial=50, cap=400, target=timedelta(seconds=60))
    fast, slow = timedelta(seconds=2), timedelta(seconds=61)
    assert sizing.next_size(50, full=True, elapsed=fast) == 100
    assert sizing.next_size(400, full=True, elapsed=fast) == 400  # the cap
    assert sizing.next_size(50, full=False, elapsed=fast) == 50  # a partial set says little
    assert sizing.next_size(200, full=True, elapsed=timedelta(seconds=20)) == 200
    assert sizing.next_size(200, full=True, elapsed=slow) == 100
    assert sizing.next_size(200, full=True, elapsed=None) == 100  # no answer at all
    assert sizing.next_size(1, full=True, elapsed=slow) == 1


async def test_planning_window_is_read_once_per_call(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Issue 15 point 4: the next approved entries (with their JSON bodies) are read at most
    once per sendRequestXML or receiveResponseXML, not 2-3 times."""

    connector, _tenant_id, _ids = await _connector(sessions, 120)
    engine = connector.service.sessions_factory.kw["bind"]
    window_reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM outbox" in statement and "ORDER BY CASE" in statement:
            window_reads.append(statement)

    counting = CountingConnector(
        connector.service,
        connector.username,
        connector.password,
        connector.quickbooks,
        connector.company_path,
        reads=window_reads,
    )
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        run = await counting.run()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert sum(_write_sizes(run.request_sets)) == 120
    assert counting.per_call and max(n for _op, n in counting.per_call) <= 1, counting.per_call


@dataclass
class CountingConnector(InProcessConnector):
    """Records how many of ``reads`` each call added."""

    reads: list[str] = field(default_factory=list)
    per_call: list[tuple[str, int]] = field(default_factory=list)

    async def call(
        self, run: InProcessRun, operation: str, **args: str | int
    ) -> str | int | list[str]:
        before = len(self.reads)
        result = await super().call(run, operation, **args)
        self.per_call.append((operation, len(self.reads) - before))
        return result
