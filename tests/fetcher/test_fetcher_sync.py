"""End to end: Cin7 simulator -> fetcher -> RabbitMQ, with the database keeping cursors."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from omni2qbd_fetcher import publishing
from omni2qbd_fetcher import sync as sync_module
from omni2qbd_fetcher.cin7_client import Cin7Client
from omni2qbd_fetcher.kinds import KINDS
from omni2qbd_fetcher.rate_limit import KeyRateLimiter
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import FetchedDocument, SyncCursor, SyncStatus
from tests.fetcher.fetcher_testkit import ACME, BOTH_DATABASES, Stack

RESOURCE_OF = {spec.kind: spec.resource for spec in KINDS}
UNLIMITED = ((100_000, 1.0),)


def expected_counts(stack: Stack, username: str = ACME) -> Counter[str]:
    account = stack.sim.store.tenants[username]
    counts: Counter[str] = Counter()
    for spec in KINDS:
        for record in account.records[spec.resource].values():
            supplier_credit = spec.resource == "PurchaseOrders" and record["total"] < 0
            counts["supplier_credit_note" if supplier_credit else spec.kind] += 1
    return counts


def sha(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def sync_to_the_end(stack: Stack, tenant: Any, **options: Any) -> None:
    syncer = stack.syncer(**options)
    for _ in range(200):
        result = await syncer.turn(tenant, max_pages=options.get("pages_per_turn", 3))
        if result.finished:
            return
    raise AssertionError("the sync never finished")


@BOTH_DATABASES
async def test_n_documents_give_n_revisions_and_correct_cursors(stack: Stack) -> None:
    tenant = await stack.tenant()
    started = datetime.now(UTC).replace(microsecond=0)
    await sync_to_the_end(stack, tenant)
    messages = await stack.drain()
    expected = expected_counts(stack)
    assert Counter(m["kind"] for m in messages) == expected
    assert expected["supplier_credit_note"] > 0  # returns to suppliers are among them
    assert len({(m["kind"], m["cin7_id"]) for m in messages}) == len(messages)
    for message in messages:
        assert message["routing_key"] == f"{tenant.tenant_id}.{message['kind']}"
        assert message["tenant_id"] == tenant.tenant_id
        assert message["revision"] == sha(message["payload"])
        assert message["cin7_id"] == str(message["payload"]["id"])
    account = stack.sim.store.tenants[ACME]
    async with unit_of_work(stack.sessions) as session:
        cursors = {
            (c.kind, c.date_field): c.position
            for c in (await session.exec(select(SyncCursor))).all()
            if c.position is not None  # a missing cursor then fails the lookups below
        }
        statuses = {s.kind: s for s in (await session.exec(select(SyncStatus))).all()}
        stored = (await session.exec(select(FetchedDocument))).all()
    for spec in KINDS:
        newest = max(r["modifiedDate"] for r in account.records[spec.resource].values())
        assert cursors[(spec.kind, "modifiedDate")].replace(tzinfo=UTC) == newest
        assert statuses[spec.kind].last_success_at is not None
        assert statuses[spec.kind].last_error is None
        if "modifiedCOGSDate" in spec.date_fields:
            # pinned at the first pass: later cost changes are what the COGS pass looks for
            assert cursors[(spec.kind, "modifiedCOGSDate")].replace(tzinfo=UTC) >= started
    assert sum(s.revisions_published for s in statuses.values()) == len(messages)
    assert len(stored) == len(messages) and all(d.published_at for d in stored)

    # A second sync re-reads the overlap window and publishes nothing.
    await sync_to_the_end(stack, tenant)
    assert await stack.drain() == []


async def test_changes_and_late_cost_changes_give_one_new_revision_each(stack: Stack) -> None:
    tenant = await stack.tenant()
    await sync_to_the_end(stack, tenant)
    await stack.drain()
    account = stack.sim.store.tenants[ACME]
    orders = sorted(account.records["SalesOrders"].values(), key=lambda o: o["id"])
    edited, recosted = orders[3], next(o for o in orders[10:] if o["dispatchedDate"])
    stack.sim.admin.change_document(ACME, "SalesOrders", edited["id"], stage="On Hold")
    modified_before = recosted["modifiedDate"]
    old_costs = [line["unitCost"] for line in recosted["lineItems"]]
    stack.sim.admin.change_cost(ACME, "SalesOrders", recosted["id"], 1.25)
    assert account.records["SalesOrders"][recosted["id"]]["modifiedDate"] == modified_before
    await sync_to_the_end(stack, tenant)
    messages = await stack.drain()
    assert sorted(int(m["cin7_id"]) for m in messages) == sorted([edited["id"], recosted["id"]])
    by_id = {int(m["cin7_id"]): m["payload"] for m in messages}
    assert by_id[edited["id"]]["stage"] == "On Hold"
    new_costs = [line["unitCost"] for line in by_id[recosted["id"]]["lineItems"]]
    assert new_costs == [round(cost * 1.25, 4) for cost in old_costs]


async def count_recorded(stack: Stack) -> int:
    async with unit_of_work(stack.sessions) as session:
        return len((await session.exec(select(FetchedDocument))).all())


@BOTH_DATABASES
async def test_killed_mid_page_and_restarted_loses_nothing_and_repeats_nothing(
    stack: Stack,
) -> None:
    tenant = await stack.tenant()
    total = sum(expected_counts(stack).values())
    rng = random.Random(5)
    for threshold in (8, 20, 35, 50, 70):
        # a new syncer is a new process: nothing carried over but the database
        task = asyncio.create_task(stack.syncer(rows=5).turn(tenant))
        while await count_recorded(stack) < threshold and not task.done():
            await asyncio.sleep(0.002)
        await asyncio.sleep(rng.uniform(0, 0.01))  # somewhere inside the next page
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await publishing.drain()  # what the service's shutdown does
    assert 0 < await count_recorded(stack) < total  # the kills hit mid-sync
    await sync_to_the_end(stack, tenant, rows=5)
    messages = await stack.drain()
    keys = Counter((m["kind"], m["cin7_id"], m["revision"]) for m in messages)
    assert [key for key, count in keys.items() if count > 1] == []
    assert Counter(m["kind"] for m in messages) == expected_counts(stack)


async def test_unconfirmed_revisions_of_a_dead_process_are_published(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await stack.tenant()
    broken = stack.syncer()
    await stack.publisher.close()  # the broker link dies after the revisions were recorded
    with pytest.raises(Exception):  # noqa: B017, PT011 - any publish failure will do
        await broken.turn(tenant)
    async with unit_of_work(stack.sessions) as session:
        pending = (await session.exec(select(FetchedDocument))).all()
    assert pending and all(d.published_at is None for d in pending)
    stack.publisher = await type(stack.publisher).open(stack.connection, stack.topology)
    monkeypatch.setattr(sync_module, "UNCONFIRMED_GRACE", timedelta(0))
    await sync_to_the_end(stack, tenant)
    messages = await stack.drain()
    assert Counter(m["kind"] for m in messages) == expected_counts(stack)
    assert {(m["cin7_id"], m["revision"]) for m in messages} >= {
        (d.cin7_id, d.revision) for d in pending
    }


async def test_documents_changed_while_paging_are_picked_up(stack: Stack) -> None:
    tenant = await stack.tenant()
    # Every sales-order page read moves three of its records to "now", as an edit would.
    stack.sim.admin.add_fault("change_between_pages", resource="SalesOrders", count=3, times=6)
    await sync_to_the_end(stack, tenant, rows=10)
    messages = await stack.drain()
    async with Cin7Client(
        tenant="check",
        username=ACME,
        api_key=stack.sim.key(),
        base_url=stack.sim.base_url,
        limiter=KeyRateLimiter(UNLIMITED),
    ) as client:
        final = await read_all(client, "SalesOrders", order="id")
    published = Counter(
        (m["cin7_id"], m["revision"]) for m in messages if m["kind"] == "sales_order"
    )
    assert max(published.values()) == 1
    assert {(str(p["id"]), sha(p)) for p in final} <= set(published)


async def test_page_numbers_alone_would_miss_those_documents(stack: Stack) -> None:
    """Shows the fault is real: naive page-number paging skips records."""
    stack.sim.admin.add_fault("change_between_pages", resource="SalesOrders", count=3, times=6)
    async with Cin7Client(
        tenant="check",
        username=ACME,
        api_key=stack.sim.key(),
        base_url=stack.sim.base_url,
        limiter=KeyRateLimiter(UNLIMITED),
    ) as client:
        naive = await read_all(client, "SalesOrders", order="modifiedDate,id", rows=10)
    everything = stack.sim.store.tenants[ACME].records["SalesOrders"]
    assert len({r["id"] for r in naive}) < len(everything)


async def test_a_turn_out_of_time_reads_one_page_per_kind_and_resumes(stack: Stack) -> None:
    tenant = await stack.tenant()
    syncer = stack.syncer(rows=25)
    first = await syncer.turn(tenant, max_seconds=0)
    passes = sum(len(spec.date_fields) for spec in KINDS)
    assert not first.finished and first.pages == passes
    while not (await syncer.turn(tenant, max_seconds=0)).finished:
        pass
    messages = await stack.drain()
    assert Counter(m["kind"] for m in messages) == expected_counts(stack)
    assert len({(m["cin7_id"], m["revision"]) for m in messages}) == len(messages)


async def test_more_documents_on_one_date_than_a_page_are_walked_by_id(stack: Stack) -> None:
    account = stack.sim.store.tenants[ACME]
    orders = sorted(account.records["SalesOrders"].values(), key=lambda o: o["id"])
    bulk = datetime(2025, 12, 24, 9, 30, tzinfo=UTC)
    for order in orders[5:42] + orders[50:60]:  # 47 orders (ids not contiguous) on one second
        order["modifiedDate"] = bulk
    tenant = await stack.tenant()
    syncer = stack.syncer(rows=10)
    while not (await syncer.turn(tenant)).finished:
        pass
    messages = [m for m in await stack.drain() if m["kind"] == "sales_order"]
    assert sorted(int(m["cin7_id"]) for m in messages) == [o["id"] for o in orders]
    async with unit_of_work(stack.sessions) as session:
        cursor = await session.get(SyncCursor, (tenant.tenant_id, "sales_order", "modifiedDate"))
    newest = max(o["modifiedDate"] for o in orders)
    assert cursor is not None and cursor.position is not None
    assert cursor.position.replace(tzinfo=UTC) == newest
    # the tie is walked by id, not re-read page after page: close to the fewest requests
    fewest = sum(
        (len(account.records[spec.resource]) // 10 + 1) * len(spec.date_fields) for spec in KINDS
    )
    assert syncer.client_for(tenant).requests_sent <= fewest + 3


async def test_a_late_visible_document_inside_the_overlap_window_is_picked_up(
    stack: Stack,
) -> None:
    tenant = await stack.tenant()
    await sync_to_the_end(stack, tenant)
    await stack.drain()
    orders = stack.sim.store.tenants[ACME].records["SalesOrders"]
    newest = max(o["modifiedDate"] for o in orders.values())
    # Committed late by Cin7: its modifiedDate is older than what the cursor already passed.
    late = dict(next(iter(orders.values())), id=9_999_001, reference="SO-LATE")
    late["modifiedDate"] = newest - timedelta(minutes=2)
    too_late = dict(late, id=9_999_002, reference="SO-TOO-LATE")
    too_late["modifiedDate"] = newest - timedelta(minutes=10)
    orders[late["id"]], orders[too_late["id"]] = late, too_late
    await sync_to_the_end(stack, tenant)  # overlap: 5 minutes
    assert [m["payload"]["reference"] for m in await stack.drain()] == ["SO-LATE"]


async def read_all(
    client: Cin7Client, resource: str, *, rows: int = 250, **query: Any
) -> list[dict[str, Any]]:
    """Every record, page after page until a short one (a check beside the sync under test)."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        items = await client.list_page(resource, page=page, rows=rows, **query)
        found.extend(items)
        if len(items) < rows:
            return found
        page += 1
