"""The fetcher's scheduler, its HTTP service and ``omni2qbd fetch`` against real parts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from omni2qbd_fetcher.app import create_app
from omni2qbd_fetcher.kinds import KINDS
from omni2qbd_fetcher.repository import TenantAccess, tenants_to_sync
from omni2qbd_fetcher.scheduler import FetchScheduler
from omni2qbd_fetcher.tenant_sync import TenantSyncer, TurnResult
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import SyncStatus
from omni2qbd_shared.messages import TenantEventMessage
from omni2qbd_sims.cin7.server import serve_in_thread
from tests.fetcher.fetcher_testkit import ACME, BLUEBIRD, SECRET, Stack

CASCADE = "CascadeToolsAPI"


def expected_total(stack: Stack, username: str) -> int:
    account = stack.sim.store.tenants[username]
    return sum(len(account.records[spec.resource]) for spec in KINDS)


async def statuses(stack: Stack, tenant_id: str) -> dict[str, SyncStatus]:
    async with unit_of_work(stack.sessions) as session:
        rows = await session.exec(select(SyncStatus).where(SyncStatus.tenant_id == tenant_id))
        return {row.kind: row for row in rows.all()}


class TurnRecordingSyncer(TenantSyncer):
    """A syncer that notes whose turn each turn is, in the order the scheduler gives them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.turns: list[str] = []

    async def turn(
        self,
        tenant: TenantAccess,
        *,
        max_pages: int | None = None,
        max_seconds: float | None = None,
    ) -> TurnResult:
        self.turns.append(tenant.tenant_id)
        return await super().turn(tenant, max_pages=max_pages, max_seconds=max_seconds)


def assert_never_starved(turns: list[str], healthy: str) -> None:
    """Until the healthy tenant's last turn, no other tenant took two turns while it waited:
    before its first turn and between any two of its turns, each other tenant had one at most.
    (Starving it would show as a failing tenant's retries coming round ahead of it.)"""
    assert healthy in turns, turns
    last = len(turns) - 1 - turns[::-1].index(healthy)
    gap: list[str] = []
    for tenant_id in turns[: last + 1]:
        if tenant_id == healthy:
            gap = []
            continue
        assert tenant_id not in gap, f"{tenant_id} had two turns while the healthy one waited"
        gap.append(tenant_id)


async def test_a_hung_or_misconfigured_tenant_does_not_starve_the_others(stack: Stack) -> None:
    hung = await stack.tenant(ACME)
    healthy = await stack.tenant(BLUEBIRD)
    wrong_key = await stack.tenant(CASCADE, api_key="wrong")
    # Cin7 never answers the hung tenant in time: every request of it outlasts the timeout.
    stack.sim.admin.add_fault("slow", delaySeconds=2.0, times=None, username=ACME)
    options = dict(workers=1, pages_per_turn=1, request_timeout=0.3)
    syncer = TurnRecordingSyncer(
        sessions=stack.sessions, publisher=stack.publisher, options=stack.options(**options)
    )
    stack.syncers.append(syncer)
    scheduler = FetchScheduler(
        sessions=stack.sessions, syncer=syncer, secret_key=SECRET, options=stack.options(**options)
    )
    scheduler.start()
    try:
        deadline = time.monotonic() + 60  # only stops the wait; the order below is the check
        while True:
            done = await statuses(stack, healthy.tenant_id)
            if len(done) == len(KINDS) and all(s.last_success_at for s in done.values()):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the healthy tenant never finished; turns: {syncer.turns}")
            await asyncio.sleep(0.1)
        # Read the schedule while it runs: after stop() and the drain below, a slow machine
        # may already have passed the wrong-key tenant's backoff.
        states = {s["tenant_id"]: s for s in scheduler.snapshot()}
        turns = list(syncer.turns)
    finally:
        await scheduler.stop()
    assert_never_starved(turns, healthy.tenant_id)
    published = await stack.drain()
    by_tenant = Counter(m["tenant_id"] for m in published)
    assert by_tenant[healthy.tenant_id] == expected_total(stack, BLUEBIRD)
    assert by_tenant[hung.tenant_id] == 0
    hung_status = await statuses(stack, hung.tenant_id)
    assert any("attempts" in (s.last_error or "") for s in hung_status.values())
    wrong = await statuses(stack, wrong_key.tenant_id)
    assert any(
        "401" in (s.last_error or "") and "API Key" in (s.last_error or "") for s in wrong.values()
    )
    assert states[hung.tenant_id]["consecutive_failures"] >= 1
    # Failing, so its next turn waits out a backoff; how much of it is left when this line
    # runs depends on the machine's load, so only the failure count is asserted.
    assert states[wrong_key.tenant_id]["consecutive_failures"] >= 1


def _settings(database_url: str, amqp_url: str) -> AppSettings:
    return AppSettings(
        environment="test",
        database_url=database_url,
        amqp_url=amqp_url,
        secret_key=SECRET,
        log_json=False,
        cin7_allowed_hosts=["127.0.0.1"],  # the simulator
    )


async def _wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("timed out waiting")


async def test_service_polls_and_refreshes_on_request(
    stack: Stack, database_url: str, amqp_url: str
) -> None:
    tenant = await stack.tenant(ACME)
    app = create_app(
        _settings(database_url, amqp_url),
        topology=stack.topology,
        options=stack.options(rows=50, poll_interval=3600.0),
    )
    with serve_in_thread(app, lifespan="on", suffix="") as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await _wait_for(ready)

            async def first_sync_done() -> dict[str, Any] | None:
                body = (await http.get(f"/tenants/{tenant.tenant_id}/status")).json()
                kinds = body["kinds"]
                finished = len(kinds) == len(KINDS) and all(k["last_success_at"] for k in kinds)
                return body if finished else None

            body = await _wait_for(first_sync_done)
            assert sum(k["revisions_published"] for k in body["kinds"]) == expected_total(
                stack, ACME
            )
            assert len(await stack.drain()) == expected_total(stack, ACME)
            metrics = (await http.get("/metrics")).text
            assert 'omni2qbd_fetcher_revisions_published_total{kind="sales_order"}' in metrics
            assert 'omni2qbd_fetcher_cin7_requests_total{outcome="ok"}' in metrics

            order = min(stack.sim.store.tenants[ACME].records["SalesOrders"])
            stack.sim.admin.change_document(ACME, "SalesOrders", order, stage="On Hold")
            response = await http.post(f"/tenants/{tenant.tenant_id}/refresh")
            assert response.status_code == 202

            async def new_revision() -> list[dict[str, Any]]:
                return await stack.drain()

            [message] = await _wait_for(new_revision)
            assert message["cin7_id"] == str(order) and message["payload"]["stage"] == "On Hold"
            # the console's "refresh now" arrives as a tenant event on the broker
            other = max(stack.sim.store.tenants[ACME].records["Contacts"])
            stack.sim.admin.change_document(ACME, "Contacts", other, notes="moved to Denver")
            await stack.publisher.publish(
                TenantEventMessage(tenant_id=tenant.tenant_id, event="refresh_requested")
            )
            [contact] = await _wait_for(new_revision)
            assert contact["kind"] == "contact" and contact["payload"]["notes"] == "moved to Denver"

            csv_text = (
                "Reference,Supplier,Invoice Date,Code,Qty,Unit Price\n"
                "SCN-9,Northwind Traders,2025-11-01,TEN-100-RED,3,12.5\n"
            )
            upload = await http.post(
                f"/tenants/{tenant.tenant_id}/supplier-credit-notes",
                content=csv_text,
                headers={"Content-Type": "text/csv"},
            )
            assert upload.json() == {
                "tenant_id": tenant.tenant_id,
                "credit_notes": 1,
                "published": 1,
            }
            [credit] = await _wait_for(new_revision)
            assert credit["kind"] == "supplier_credit_note" and credit["payload"]["total"] == -37.5
            refused = await http.post(
                f"/tenants/{tenant.tenant_id}/supplier-credit-notes", content="Name\nx\n"
            )
            assert refused.status_code == 422 and "Reference" not in refused.json()["detail"]
            assert "reference" in refused.json()["detail"]
            missing = await http.post("/tenants/no-such-tenant/refresh")
            assert missing.status_code == 404 and "no-such-tenant" in missing.json()["detail"]
    # leaving the block stopped the server: the lifespan stopped the polling loop cleanly


async def test_fetch_command_syncs_one_tenant(
    stack: Stack, database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    tenant = await stack.tenant(BLUEBIRD)
    env = {
        **os.environ,
        "OMNI2QBD_ENVIRONMENT": "test",
        "OMNI2QBD_DATABASE_URL": database_url,
        "OMNI2QBD_AMQP_URL": amqp_url,
        "OMNI2QBD_SECRET_KEY": SECRET,
        "OMNI2QBD_AMQP_NAMESPACE": stack.topology.namespace,
        "OMNI2QBD_FETCHER_CIN7_LIMITS": "off",
        "OMNI2QBD_CIN7_ALLOWED_HOSTS": "127.0.0.1",
        "OMNI2QBD_MESSAGE_RETRY_DELAY_MS": str(stack.topology.retry_delay_ms),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "omni2qbd", "fetch", tenant.name],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    total = expected_total(stack, BLUEBIRD)
    assert f"{total} new revisions published" in done.stdout
    assert len(await stack.drain()) == total
    unknown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "omni2qbd", "fetch", "nobody"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and "no tenant 'nobody'" in unknown.stderr
    export = tmp_path / "supplier-credits.csv"
    export.write_text(
        "Reference,Supplier,Supplier Inv No,Invoice Date,Code,Qty,Unit Price\n"
        "SCN-1,Northwind Traders,VC-1,2025-11-02,TEN-100-RED,2,10\n"
        "SCN-1,Northwind Traders,VC-1,2025-11-02,MUG-159-GRE,1,5\n"
    )
    imported = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "omni2qbd", "fetch", tenant.name, "--supplier-credits", str(export)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    assert (
        "1 supplier credit notes read" in imported.stdout and "1 new revisions" in imported.stdout
    )
    [credit] = await stack.drain()
    assert credit["kind"] == "supplier_credit_note" and credit["payload"]["total"] == -25.0


async def test_unreadable_credentials_skip_only_that_tenant(stack: Stack) -> None:
    good = await stack.tenant(ACME)
    async with unit_of_work(stack.sessions) as session:
        await create_tenant(
            session,
            name="Encrypted with another key",
            secret_key="another-secret-key-0123456789-0123456789",
            actor="test",
            cin7_username=BLUEBIRD,
            cin7_api_key=stack.sim.key(BLUEBIRD),
            cin7_base_url=stack.sim.base_url,
        )
    async with unit_of_work(stack.sessions) as session:
        found = await tenants_to_sync(session, SECRET)
    assert [t.tenant_id for t in found] == [good.tenant_id]
