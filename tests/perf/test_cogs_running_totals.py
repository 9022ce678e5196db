"""Issue 15, point 1: COGS months are kept as running totals adjusted by each document's
difference, and they always agree with the full rebuild from every contribution.

A seeded random sequence of document changes (costs, months, classes, voids, credit notes),
postings, failures and "do not import" decisions runs through the real handlers; after every
step the running totals must equal the full recount, and every open month's journal must
carry the recounted sum.
"""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, delete

from omni2qbd_mapper import cogs_totals, handlers, store
from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.rules.cogs import CogsMonthSums, map_cogs_month, map_cogs_sums
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.cogs_totals import CogsCounted, CogsMonthTotal
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.entries import ZERO, Entry, Side
from omni2qbd_shared.qb_lists import QbLists
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import load_doc
from tests.mapper.test_mapper_store import Sessions, deliver, doc_message, make_tenant, rows

SETTINGS: dict[str, Any] = {"classes": {"branch_class_map": {"3": "East", "4": "West"}}}
MONTHS = ("2022-08", "2022-09", "2022-10")


def order_variant(rng: random.Random, number: int) -> dict[str, Any]:
    payload = copy.deepcopy(load_doc("so_tax_exclusive"))
    payload.update(id=5000 + number, reference=f"SO-{5000 + number}", invoiceNumber=5000 + number)
    month = rng.choice(MONTHS)
    for key in ("invoiceDate", "dispatchedDate"):
        payload[key] = f"{month}-16T09:00:00Z"
    payload["branchId"] = rng.choice([3, 4, 9])  # East, West, or the default (no) class
    for line in payload["lineItems"]:
        line["unitCost"] = float(rng.choice([0, 12.5, 42.5, 99.99]))
    if rng.random() < 0.15:
        payload.update(status="VOID", isVoid=True)
    return payload


def credit_variant(rng: random.Random, number: int) -> dict[str, Any]:
    payload = copy.deepcopy(load_doc("cn_credit_memo"))
    payload.update(id=7000 + number, reference=f"CR-{7000 + number}")
    month = rng.choice(MONTHS)
    for key in ("creditNoteDate", "completedDate", "createdDate", "modifiedDate"):
        if payload.get(key):
            payload[key] = f"{month}-20T09:00:00Z"
    for line in payload["lineItems"]:
        line["unitCost"] = float(rng.choice([5, 20, 42.5]))
    return payload


async def check_agreement(sessions: Sessions, tenant: str) -> None:
    """The running totals equal the full rebuild, and each month's newest journal carries,
    per class, the recounted COGS (debit COGS minus credit COGS)."""
    async with sessions() as session:
        assert await cogs_totals.differences(session, tenant) == []
        recounted = await cogs_totals.recount(session, tenant)
    cogs_account = TenantSettings.model_validate(SETTINGS).accounts.cogs
    journals = await rows(sessions, tenant, source_kind="cogs_month")
    for period in {period for period, _ in recounted}:
        expected = {
            class_key: value[0]
            for (month, class_key), value in recounted.items()
            if month == period and value[0] != 0
        }
        live = [r for r in journals if r.cin7_id == period and r.state != store.SUPERSEDED]
        if not live:
            assert expected == {}, period
            continue
        newest = Entry.model_validate(max(live, key=lambda r: r.version).body)
        carried: dict[str, Decimal] = {}
        for line in newest.lines:
            if line.account == cogs_account:
                sign = 1 if line.side is Side.DEBIT else -1
                key = line.class_name or ""
                carried[key] = carried.get(key, ZERO) + sign * line.amount
        assert carried == expected, period


@pytest.mark.parametrize("batched", [False, True], ids=["one_by_one", "results_batched"])
async def test_running_totals_agree_with_the_full_rebuild(
    sessions: Sessions, batched: bool
) -> None:
    """``results_batched``: the results arrive one to four at a time (an entry may be in a
    batch twice, posted and then failed or locked), each group in one ``handle_results``
    transaction, so a month's totals row is added to, taken from, deleted and made again
    within a batch (``cogs_totals.MonthTotals``)."""
    # Seed 17 batched empties a month and counts it again (the journal must come back).
    rng = random.Random(17 if batched else 15)
    tenant = await make_tenant(sessions, SETTINGS)
    documents: dict[tuple[str, int], dict[str, Any]] = {}
    for step in range(70):
        action = rng.random()
        if action < 0.4 or not documents:
            kind = "credit_note" if rng.random() < 0.25 else "sales_order"
            number = rng.randrange(8)
            payload = (
                credit_variant(rng, number) if kind == "credit_note" else order_variant(rng, number)
            )
            documents[(kind, number)] = payload
            await deliver(
                sessions,
                handlers.handle_document,
                doc_message(tenant, kind, payload, minute=step % 60),
            )
        else:
            revenue = [
                r
                for kind in store.REVENUE_KINDS
                for r in await rows(sessions, tenant, entry_kind=kind)
                if r.state in (*store.OPEN_STATES, store.POSTED)
            ]
            if not revenue:
                continue
            row = rng.choice(revenue)
            if action < 0.85 and batched:
                results = [
                    m.ResultMessage(
                        entry_id=rng.choice([row, *revenue]).id,
                        tenant_id=tenant,
                        outcome=rng.choice(["posted", "posted", "locked", "failed"]),
                    )
                    for _ in range(rng.randint(1, 4))
                ]
                async with unit_of_work(sessions) as session:
                    await handlers.handle_results(results, session)
            elif action < 0.85:
                outcome = rng.choice(["posted", "posted", "locked", "failed"])
                await deliver(
                    sessions,
                    handlers.handle_result,
                    m.ResultMessage(entry_id=row.id, tenant_id=tenant, outcome=outcome),
                )
            else:
                await deliver(
                    sessions,
                    handlers.handle_tenant_event,
                    m.TenantEventMessage(
                        tenant_id=tenant, event="do_not_import", detail={"entry_ids": [row.id]}
                    ),
                )
        await check_agreement(sessions, tenant)
    async with sessions() as session:
        kept = await cogs_totals.stored(session, tenant)
    # The sequence really exercised the totals: several months and classes counted.
    assert len({period for period, _ in kept}) >= 2
    assert len({class_key for _, class_key in kept}) >= 2


async def test_a_tenant_without_totals_is_filled_by_the_full_rebuild(sessions: Sessions) -> None:
    """As after migration 0012: contributions exist, totals do not; the first message fills
    them from the full rebuild."""
    tenant = await make_tenant(sessions, SETTINGS)
    payload = load_doc("so_tax_exclusive")
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", payload))
    (invoice,) = await rows(sessions, tenant, entry_kind="invoice")
    result = m.ResultMessage(entry_id=invoice.id, tenant_id=tenant, outcome="posted")
    await deliver(sessions, handlers.handle_result, result)
    async with unit_of_work(sessions) as session:
        before = await cogs_totals.stored(session, tenant)
        await session.exec(delete(CogsMonthTotal).where(col(CogsMonthTotal.tenant_id) == tenant))
        await session.exec(delete(CogsCounted).where(col(CogsCounted.tenant_id) == tenant))
    assert list(before) == [("2022-09", "East")]
    assert before[("2022-09", "East")][:2] == (Decimal("85.00"), 1)
    other = {**payload, "id": 2999, "reference": "SO-2999", "invoiceNumber": 2999}
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", other))
    async with sessions() as session:
        assert await cogs_totals.stored(session, tenant) == before
        assert await cogs_totals.differences(session, tenant) == []


def test_month_sums_build_the_same_journal_as_the_contributions() -> None:
    """``map_cogs_month`` (from contributions) and the running sums give one journal."""
    settings = TenantSettings()
    so = load_doc("so_tax_exclusive")

    contributions = []
    for number in range(3):
        payload = {**so, "id": 100 + number, "reference": f"SO-{100 + number}"}
        contributions += map_document("sales_order", payload, settings).cogs
    sums = CogsMonthSums()
    for contribution in contributions:
        sums.add(contribution)
    sums.add(contributions[1], -1)
    sums.add(contributions[1])
    whole = map_cogs_month("2022-09", contributions, settings, QbLists.empty())
    running = map_cogs_sums("2022-09", sums, settings, QbLists.empty())
    assert whole.model_dump() == running.model_dump()
