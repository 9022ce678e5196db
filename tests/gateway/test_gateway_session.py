"""A full Web Connector session through the WC and QuickBooks simulators over real HTTP."""

from __future__ import annotations

from omni2qbd_shared.messaging import Topology
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from tests.gateway.gateway_helpers import (
    add_entries,
    company_for,
    customer_add,
    invoice,
    new_tenant,
    outbox_states,
    running_gateway,
    tenant_row,
    web_connector,
)


async def test_full_session_posts_approved_entries_once(
    database_url: str, amqp_url: str, topology: Topology
) -> None:
    async with running_gateway(database_url, amqp_url, topology.namespace) as gw:
        tenant = await new_tenant(gw.sessions)
        row = await tenant_row(gw.sessions, tenant.tenant_id)
        qb = QuickBooksSimulator()
        path = company_for(qb, row)
        entries = [
            customer_add(tenant.tenant_id, "c-77", "Initech"),
            invoice(
                tenant.tenant_id, 1001, customer="Initech", depends_on=["customer_add:contact:c-77"]
            ),
            invoice(tenant.tenant_id, 1002),
        ]
        ids = await add_entries(gw.sessions, tenant.tenant_id, entries)
        report = await web_connector(gw, tenant, qb, path).run_session()
        assert report.completed, report.summary()
        states = await outbox_states(gw.sessions, tenant.tenant_id)
        assert {states[i].state for i in ids} == {"posted"}, [
            (s.state, s.last_status_message) for s in states.values()
        ]
        company = qb.company(path)
        assert company.count_by_ref_number("INV1001", "Invoice") == 1
        assert company.count_by_ref_number("INV1002", "Invoice") == 1
        print(report.summary())
