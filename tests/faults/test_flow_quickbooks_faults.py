"""QuickBooks faults in the whole flow, then recovery: QuickBooks not running, another company
file open, the company file locked by a user; then two Web Connectors at once for one tenant
(the second is told busy) and a response lost on the way back. Each ends by counting every
Cin7 document in the QuickBooks simulator's company file: exactly once, or held with why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from omni2qbd.demo.progress import snapshot
from tests.faults.flow_stack import flow_stack, small_sets

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(300)]


async def test_quickbooks_not_running_wrong_file_and_locked_then_recovery(
    tmp_path: Path, postgres_database_url: str
) -> None:
    async with flow_stack(tmp_path, postgres_database_url) as stack:
        await stack.approve()
        before = len(stack.company.transactions())

        closed = await stack.session(quickbooks_not_running=True)
        assert not closed.completed and "Could not start QuickBooks" in closed.status
        other = stack.quickbooks.company("C:\\Companies\\Someone Else.qbw")
        wrong = await stack.session(wrong_company_open=other.path)
        assert not wrong.completed, wrong.summary()
        assert other.transactions() == [] and len(stack.company.transactions()) == before

        stack.company.inject_lock(3170, count=3)  # someone is editing in QuickBooks
        locked = await stack.session()
        assert locked.completed, locked.summary()
        snap = await snapshot(stack.sessions_or_fail, stack.tenant.id)
        assert stack.company.pending_locks == [] and snap.outbox.get("posted", 0) > 0

        await stack.post_everything()
        result = await stack.account_for_every_document()
    assert other.transactions() == []
    assert result.dead_lettered == {}


async def test_two_web_connectors_at_once_and_a_lost_response(
    tmp_path: Path, postgres_database_url: str
) -> None:
    # After the lost link the same Web Connector (same address) comes back at once and takes
    # its session over; a real one would come back at its next scheduled run.
    env = small_sets(3, takeover_after_seconds=0)
    async with flow_stack(tmp_path, postgres_database_url, env=env) as stack:
        await stack.approve()
        written = len(stack.company.list_records())
        # A session starts by reading the lists (one set at this size); the link drops after
        # QuickBooks processed the first set of writes: its answer never reaches the gateway.
        lost = await stack.connector(drop_connection_after_set=2).run_session()
        assert lost.dropped, lost.summary()
        assert "AddRq" in lost.request_sets[-1], lost.request_sets[-1][:500]
        assert len(stack.company.list_records()) + len(stack.company.transactions()) > written
        # A second machine (another address) starts while the first one's session is live.
        first = stack.connector(quickbooks_delay_seconds=0.3)
        second = stack.connector(local_address="127.0.0.2")
        in_qb = len(stack.company.transactions())
        one = asyncio.create_task(first.run_session())
        while not one.done() and len(stack.company.transactions()) == in_qb:
            await asyncio.sleep(0.02)
        assert not one.done(), (await one).summary()
        busy = await second.run_session()
        done = await one
        assert busy.auth_status == "busy" and busy.requests_processed == 0, busy.summary()
        assert done.completed, done.summary()
        await stack.post_everything()
        result = await stack.account_for_every_document()
    assert result.dead_lettered == {}
