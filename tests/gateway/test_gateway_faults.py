"""Every fault the simulators inject, end to end over real HTTP.

Web Connector: QuickBooks not running, the wrong company file open, a slow QuickBooks, the
connection dropped after QuickBooks processed a set. QuickBooks: lock errors (3170/3175/
3180), a name already in use (3100), and a set its parser refuses whole (0x80040400).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import func, select

from omni2qbd_gateway.app import options_from
from omni2qbd_gateway.protocol import QbwcService
from omni2qbd_shared.db.models import QbListItem
from omni2qbd_shared.messaging import Topology
from omni2qbd_sims.quickbooks import QbxmlSetError, QuickBooksSimulator
from tests.gateway.gateway_helpers import (
    BOTH_DATABASES,
    GatewayTenant,
    add_entries,
    company_for,
    customer_add,
    invoice,
    link_of,
    new_tenant,
    outbox_states,
    running_gateway,
    tenant_row,
    web_connector,
)


async def test_quickbooks_not_running_sends_nothing_then_next_run_posts(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    ids = await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 1)])

    down = await web_connector(gw, tenant, qb, path, quickbooks_not_running=True).run_session()
    assert [c.answer for c in down.connection_errors] == ["done"]
    assert "connectionError" in down.calls and "sendRequestXML" not in down.calls
    assert (await outbox_states(gw.sessions, tenant.tenant_id))[ids[0]].state == "approved"

    up = await web_connector(gw, tenant, qb, path).run_session()
    assert up.completed, up.summary()
    assert qb.company(path).count_by_ref_number("INV1", "Invoice") == 1


async def test_wrong_company_file_stops_with_the_expected_file_named(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    row = await tenant_row(gw.sessions, tenant.tenant_id)
    other = "C:\\Companies\\Someone Else.qbw"
    qb.company(other).seed_demo()
    await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 2)])

    report = await web_connector(gw, tenant, qb, path, wrong_company_open=other).run_session()
    assert report.request_sets == []  # nothing reached the wrong file
    message = report.last_errors[-1]
    assert "Wrong company file" in message and "Someone Else" in message
    assert row.qb_file_id in message and "Acme Trading" in message
    assert qb.company(other).count_by_ref_number("INV2") == 0


async def test_slow_quickbooks_still_completes(gateway_tenant: GatewayTenant) -> None:
    gw, tenant, qb, path = gateway_tenant
    await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 3)])
    report = await web_connector(gw, tenant, qb, path, quickbooks_delay_seconds=0.3).run_session()
    assert report.completed, report.summary()
    assert qb.company(path).count_by_ref_number("INV3", "Invoice") == 1


# Short enough to wait out, long enough that the next session's own calls on a loaded
# machine (several tests at once) never come a timeout apart.
SHORT_SESSIONS = {"gateway_session_timeout_seconds": 3, "gateway_batch_max_requests": 4}


@BOTH_DATABASES
@pytest.mark.parametrize("gateway_settings", [SHORT_SESSIONS], ids=["short-sessions"])
async def test_dropped_response_then_new_session_posts_everything_exactly_once(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    entries = [invoice(tenant.tenant_id, 100 + n) for n in range(10)]
    ids = await add_entries(gw.sessions, tenant.tenant_id, entries)

    # Set 1 is the list refresh, set 2 the first write batch: QuickBooks posts it, the
    # answer never reaches the gateway.
    dropped = await web_connector(gw, tenant, qb, path, drop_connection_after_set=2).run_session()
    assert dropped.dropped
    assert sum(qb.company(path).count_by_ref_number(f"INV{100 + n}") for n in range(10)) == 4
    await asyncio.sleep(3.2)  # the abandoned session expires
    # The gateway's sweeper (run here directly) marks the unanswered batch in doubt.
    service = QbwcService(gw.sessions, options_from(gw.settings))
    assert await service.expire_stale_sessions() == 1
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert sorted(s.state for s in states.values()).count("in_doubt") == 4

    again = await web_connector(gw, tenant, qb, path).run_session()
    assert again.completed, again.summary()
    assert "oldMessageSetID" in again.request_sets[0]  # recovery comes first
    for n in range(10):
        assert qb.company(path).count_by_ref_number(f"INV{100 + n}", "Invoice") == 1
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert {states[i].state for i in ids} == {"posted"}


async def test_lock_errors_wait_for_the_next_run(gateway_tenant: GatewayTenant) -> None:
    gw, tenant, qb, path = gateway_tenant
    ids = await add_entries(
        gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, n) for n in (11, 12, 13)]
    )
    company = qb.company(path)
    company.inject_lock(3170, count=1)
    company.inject_lock(3175, count=1)
    company.inject_lock(3180, count=1)

    first = await web_connector(gw, tenant, qb, path).run_session()
    assert first.completed, first.summary()
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert {states[i].state for i in ids} == {"queued"}
    assert {states[i].last_status_code for i in ids} == {"3170", "3175", "3180"}
    assert "next Web Connector run" in (states[ids[0]].last_status_message or "")

    second = await web_connector(gw, tenant, qb, path).run_session()
    assert second.completed, second.summary()
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert {states[i].state for i in ids} == {"posted"}
    assert all(company.count_by_ref_number(f"INV{n}", "Invoice") == 1 for n in (11, 12, 13))


async def test_contact_add_with_a_name_in_use_links_the_existing_customer(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    existing = qb.company(path).add_customer("Hooli")
    qb.company(path).add_vendor("Umbrella")
    ids = await add_entries(
        gw.sessions,
        tenant.tenant_id,
        [
            customer_add(tenant.tenant_id, "c-1", "Hooli"),
            customer_add(tenant.tenant_id, "c-2", "Umbrella"),
        ],
    )
    report = await web_connector(gw, tenant, qb, path).run_session()
    assert report.completed, report.summary()
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    linked, clash = states[ids[0]], states[ids[1]]
    assert linked.state == "posted" and "Hooli" in (linked.last_status_message or "")
    assert clash.state == "failed" and "Umbrella" in (clash.last_status_message or "")
    assert "Rename the contact in Cin7" in (clash.last_status_message or "")

    link = await link_of(gw.sessions, tenant.tenant_id, "customer_add", "c-1")
    assert link is not None and link.txn_id == existing.list_id


class StricterQuickBooks(QuickBooksSimulator):
    """QuickBooks whose parser refuses a set the XSD accepts (reference §3.3, qbxml #15):
    here, any set containing the memo text POISON."""

    def process_request(self, company_path: str, qbxml: str) -> str:
        if "POISON" in qbxml:
            raise QbxmlSetError(detail="stricter than the XSD")
        return super().process_request(company_path, qbxml)


async def test_set_failing_whole_is_split_until_the_bad_entry_is_isolated(
    sqlite_database_url: str, amqp_url: str, topology: Topology
) -> None:
    async with running_gateway(sqlite_database_url, amqp_url, topology.namespace) as gw:
        tenant = await new_tenant(gw.sessions)
        qb = StricterQuickBooks()
        path = company_for(qb, await tenant_row(gw.sessions, tenant.tenant_id))
        entries = [invoice(tenant.tenant_id, 200 + n) for n in range(8)]
        bad = entries[5].model_copy(
            update={"header": entries[5].header.model_copy(update={"memo": "POISON"})}
        )
        entries[5] = bad
        ids = await add_entries(gw.sessions, tenant.tenant_id, entries)
        report = await web_connector(gw, tenant, qb, path).run_session()
        assert report.completed, report.summary()
        assert report.set_failures  # QuickBooks did refuse sets whole
        states = await outbox_states(gw.sessions, tenant.tenant_id)
        assert states[ids[5]].state == "failed"
        assert states[ids[5]].last_status_code == "0x80040400"
        assert "INV205" in (states[ids[5]].last_status_message or "")
        good = [i for n, i in enumerate(ids) if n != 5]
        assert {states[i].state for i in good} == {"posted"}
        for n in range(8):
            expected = 0 if n == 5 else 1
            assert qb.company(path).count_by_ref_number(f"INV{200 + n}", "Invoice") == expected


class CrashesAfterPosting(QuickBooksSimulator):
    """QuickBooks applies the first write set, then the request processor fails
    (0x80040402 "unexpected error"): the gateway cannot know whether it was applied."""

    crashed = False

    def process_request(self, company_path: str, qbxml: str) -> str:
        answer = super().process_request(company_path, qbxml)
        if "newMessageSetID" in qbxml and not self.crashed:
            self.crashed = True
            raise QbxmlSetError(hresult="0x80040402", message="Unexpected error.")
        return answer


async def test_unanswered_write_set_is_verified_in_the_same_session(
    sqlite_database_url: str, amqp_url: str, topology: Topology
) -> None:
    async with running_gateway(sqlite_database_url, amqp_url, topology.namespace) as gw:
        tenant = await new_tenant(gw.sessions)
        qb = CrashesAfterPosting()
        path = company_for(qb, await tenant_row(gw.sessions, tenant.tenant_id))
        ids = await add_entries(
            gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 400 + n) for n in range(3)]
        )
        report = await web_connector(gw, tenant, qb, path).run_session()
        assert report.completed, report.summary()
        assert any("oldMessageSetID" in s for s in report.request_sets)
        for n in range(3):
            assert qb.company(path).count_by_ref_number(f"INV{400 + n}", "Invoice") == 1
        states = await outbox_states(gw.sessions, tenant.tenant_id)
        assert {states[i].state for i in ids} == {"posted"}
        assert all("verified" in (states[i].last_status_message or "") for i in ids)


async def test_list_mirror_pages_through_iterators(gateway_tenant: GatewayTenant) -> None:
    gw, tenant, qb, path = gateway_tenant
    for n in range(450):
        qb.company(path).add_customer(f"Customer {n:03d}")
    report = await web_connector(gw, tenant, qb, path).run_session()
    assert report.completed, report.summary()
    continues = [s for s in report.request_sets if 'iterator="Continue"' in s]
    assert len(continues) == 2  # 452 customers in pages of 200
    async with gw.sessions() as db:
        count = (
            await db.exec(
                select(func.count())
                .select_from(QbListItem)
                .where(QbListItem.tenant_id == tenant.tenant_id, QbListItem.list_type == "customer")
            )
        ).one()
    assert count == 452


async def test_an_old_web_connector_is_told_the_version_it_needs(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    report = await web_connector(gw, tenant, qb, path, client_version="1.1.0.0").run_session()
    assert report.client_version_answer == "O:2.1.0.30"
    assert "authenticate" not in report.calls
    assert "2.1.0.30" in report.status
