"""kill -9 of the fetcher mid-sync and of the gateway mid-session, in the whole flow (real
processes on PostgreSQL and RabbitMQ, the simulators), each restarted: every Cin7 document
ends in the QuickBooks simulator's company file exactly once, or held with its reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from omni2qbd.demo.progress import snapshot
from tests.faults.flow_stack import flow_stack, small_sets

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(300)]


async def test_fetcher_killed_mid_sync_then_restarted_loses_and_doubles_nothing(
    tmp_path: Path, postgres_database_url: str
) -> None:
    # Small, slow pages so the kill lands in the middle of the sync.
    env = {"OMNI2QBD_FETCHER_PAGE_ROWS": "3"}
    async with flow_stack(tmp_path, postgres_database_url, env=env, fetch=False) as stack:
        faults = f"{stack.urls['cin7-simulator']}/_sim/faults"
        slow = {"kind": "slow", "delay_seconds": 0.3, "times": None, "method": "GET"}
        async with httpx.AsyncClient() as http:
            (await http.post(faults, json=slow)).raise_for_status()
        await stack.refresh()
        for _ in range(600):
            snap = await snapshot(stack.sessions_or_fail, stack.tenant.id)
            if sum(snap.fetched.values()) >= 8:
                break
            await asyncio.sleep(0.05)
        stack.kill("fetcher")
        fetched_at_kill = sum(snap.fetched.values())
        async with httpx.AsyncClient() as http:
            (await http.delete(faults)).raise_for_status()
        # The restarted fetcher reads full pages: its keyset cursor does not depend on the
        # page size, and three-row pages under the fetcher's own Cin7 rate limit made the
        # rest of the sync take two minutes.
        stack.extra_env.pop("OMNI2QBD_FETCHER_PAGE_ROWS")
        stack.start_services(["fetcher"])
        await stack.fetch()
        await stack.post_everything()
        result = await stack.account_for_every_document()
    assert 0 < fetched_at_kill < result.in_cin7, "the kill did not land mid-sync"
    assert result.dead_lettered == {}


async def test_gateway_killed_mid_session_then_restarted_posts_nothing_twice(
    tmp_path: Path, postgres_database_url: str
) -> None:
    # Small sets, so the kill lands between round trips; the Web Connector comes back from
    # the same address and takes over its session.
    env = small_sets(2, takeover_after_seconds=1)
    async with flow_stack(tmp_path, postgres_database_url, env=env) as stack:
        await stack.approve()
        session = asyncio.create_task(stack.connector(quickbooks_delay_seconds=0.2).run_session())
        while len(stack.company.transactions()) < 4 and not session.done():
            await asyncio.sleep(0.02)
        stack.kill("gateway")
        in_qb_at_kill = len(stack.company.transactions())
        report = await session
        assert not report.completed, "the session ended before the kill"
        stack.start_services(["gateway"])
        await stack.post_everything()
        result = await stack.account_for_every_document()
    assert 0 < in_qb_at_kill < result.qb_transactions, "the kill did not land mid-session"
    assert result.dead_lettered == {}
