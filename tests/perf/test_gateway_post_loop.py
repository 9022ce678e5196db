"""Issue 15, the gateway's post loop: a write set costs a few statements whatever its size
(outbox states, results and sent marks written per set, not per entry), and posting in sets of
many stores what posting one entry per set stores: the same states, status texts, attempts,
links and ``qb.results`` / ``qb.lists`` messages, also when the first candidates of a set are
refused (the set is then decided by reading further candidates)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import repository
from omni2qbd_gateway.session import SetSizing
from omni2qbd_gateway.soap import Call
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import GatewayPendingMessage, OutboxItem, QbLink, utcnow
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.entries import Entry
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from tests.gateway.gateway_helpers import (
    add_entries,
    company_for,
    customer_add,
    invoice,
    new_tenant,
    tenant_row,
)
from tests.gateway.in_process import InProcessConnector, service_for
from tests.perf.test_batch_reads import _counting

Sessions = async_sessionmaker[AsyncSession]
_LIST_ID = re.compile(r"\b([0-9A-F]{8})-[0-9]{9,10}\b")
INVOICES = 60


def _orphans(tenant_id: str) -> list[Entry]:
    """Approved, then their dependency went away: refused before sending."""
    return [invoice(tenant_id, n, depends_on=["customer_add:contact:gone"]) for n in range(12)]


async def _approve_orphans(sessions: Sessions, tenant_id: str) -> None:
    ids = await add_entries(sessions, tenant_id, _orphans(tenant_id), approved_by=None)
    async with unit_of_work(sessions) as db:
        for item in await repository.items_of(db, tenant_id, ids):
            # Approved before the rest: the first candidates of the first write set.
            item.state, item.approved_by = "approved", "Pat Reviewer"
            item.approved_at = utcnow() - timedelta(hours=1)
            db.add(item)


def _entries(tenant_id: str) -> list[Entry]:
    return [
        customer_add(tenant_id, "c1", "New Co 1"),
        customer_add(tenant_id, "c2", "Acme Corp"),  # the name exists: 3100, then linked
        invoice(tenant_id, 100, customer="New Co 1", depends_on=["customer_add:contact:c1"]),
        invoice(tenant_id, 101, item="No Such Item"),  # QuickBooks refuses it
        *(invoice(tenant_id, 200 + n, amount=f"{10 + n}.00") for n in range(INVOICES)),
    ]


async def _post(sessions: Sessions, set_size: int) -> tuple[list[str], list[tuple[str, int]], str]:
    """Post the entries with sets of ``set_size``; what is stored, the statements of each
    call, and the closing message."""
    tenant = await new_tenant(sessions)
    qb = QuickBooksSimulator()
    path = company_for(qb, await tenant_row(sessions, tenant.tenant_id))
    await _approve_orphans(sessions, tenant.tenant_id)
    await add_entries(sessions, tenant.tenant_id, _entries(tenant.tenant_id))
    sqlite = sessions.kw["bind"].url.get_backend_name() == "sqlite"
    service = service_for(sessions, sqlite=sqlite, sizing=SetSizing(set_size, set_size))
    per_call: list[tuple[str, int]] = []
    handle: Callable[[Call], Awaitable[str | int | list[str]]] = service.handle
    with _counting(sessions) as statements:

        async def counted(call: Call) -> str | int | list[str]:
            before = len(statements)
            answer = await handle(call)
            per_call.append((call.operation.name, len(statements) - before))
            return answer

        service.handle = counted  # type: ignore[method-assign]
        run = await InProcessConnector(
            service, tenant.qbwc_username, tenant.qbwc_password, qb, path
        ).run()
    return await _stored(sessions, tenant.tenant_id), per_call, run.closing


async def _stored(sessions: Sessions, tenant_id: str) -> list[str]:
    """Outbox rows, links and staged messages by document (not by entry id or time)."""
    async with sessions() as db:
        items = (await db.exec(scoped(OutboxItem, tenant_id))).all()
        links = (await db.exec(scoped(QbLink, tenant_id))).all()
        staged = (
            await db.exec(
                select(GatewayPendingMessage)
                .where(GatewayPendingMessage.tenant_id == tenant_id)
                .order_by(col(GatewayPendingMessage.id))
            )
        ).all()
    document = {i.entry_id: f"{i.entry_kind}:{i.cin7_id}" for i in items}
    rows: list[Any] = [
        [
            *("entry", document[i.entry_id], i.state, i.attempts, i.last_status_code),
            *(i.last_status_message, i.request_id is not None, i.message_set_id is not None),
        ]
        for i in items
    ]
    # TxnIDs, TxnNumbers and ExternalGUIDs differ between the two tenants (QuickBooks' order
    # of saving, the tenant id): compared by presence.
    rows += [
        [
            *("link", link.entry_kind, link.cin7_id, document[link.entry_id], link.qb_txn_type),
            *(bool(link.txn_id), link.ref_number, bool(link.external_guid), link.is_pending),
        ]
        for link in links
    ]
    for message in staged:
        body = dict(message.body)
        if "entry_id" in body:
            body["entry_id"] = document[body["entry_id"]]
        for name in ("edit_sequence", "txn_id", "txn_number"):
            body[name] = bool(body.get(name))
        rows.append(("message", message.kind, body))
    text = [json.dumps(row, sort_keys=True, default=str) for row in rows]
    # ListIDs end with the second the simulator's company file was made.
    return sorted(_LIST_ID.sub(r"\1-T", line.replace(tenant_id, "TENANT")) for line in text)


async def test_sets_store_what_one_entry_per_set_stores_in_few_statements(
    sessions: Sessions,
) -> None:
    batched, batched_calls, batched_closing = await _post(sessions, 50)
    single, single_calls, single_closing = await _post(sessions, 1)

    assert set(batched) ^ set(single) == set()
    assert batched == single
    # 63 posted (the 3100 contact linked by name), 12 refused before sending, 1 by QuickBooks.
    assert batched_closing == single_closing == "Done. This run: 63 posted, 13 failed."
    kinds = [line.split('"')[1] for line in batched]
    posted = sum(1 for line in batched if line.startswith('["entry"') and '"posted"' in line)
    results = [line for line in batched if line.startswith('["message", "result"')]
    assert (posted, kinds.count("link"), len(results)) == (63, 63, 76)
    assert sum('"outcome": "failed"' in line for line in results) == 13

    def statements(calls: list[tuple[str, int]], operation: str) -> list[int]:
        return [n for op, n in calls if op == operation]

    # Per set, not per entry: a set of 50 answered costs what a set of 1 costs, give or take
    # the contacts' list mirror and matches. (The first answer is the lists' in both.)
    receive_50 = statements(batched_calls, "receiveResponseXML")[1:]
    receive_1 = statements(single_calls, "receiveResponseXML")[1:]
    assert max(receive_50) <= sorted(receive_1)[len(receive_1) // 2] + 8, (receive_50, receive_1)
    send_50 = statements(batched_calls, "sendRequestXML")
    assert max(send_50) <= 24, send_50
    total_50 = sum(n for _, n in batched_calls)
    total_1 = sum(n for _, n in single_calls)
    assert total_50 * 10 < total_1, (total_50, total_1)
