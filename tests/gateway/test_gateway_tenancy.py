"""Several Web Connectors at once: two for one tenant, and 50 tenants with no cross-over."""

from __future__ import annotations

import asyncio

import httpx

from omni2qbd_shared.messaging import Topology
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.webconnector import soap as wc_soap
from tests.gateway.gateway_helpers import (
    BOTH_DATABASES,
    GatewayTenant,
    add_entries,
    company_for,
    invoice,
    new_tenant,
    outbox_states,
    running_gateway,
    tenant_row,
    web_connector,
)


@BOTH_DATABASES
async def test_two_web_connectors_for_one_tenant_one_is_busy(gateway_tenant: GatewayTenant) -> None:
    gw, tenant, qb, path = gateway_tenant
    ids = await add_entries(
        gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 300 + n) for n in range(20)]
    )
    reports = await asyncio.gather(
        web_connector(gw, tenant, qb, path, quickbooks_delay_seconds=0.05).run_session(),
        web_connector(gw, tenant, qb, path, quickbooks_delay_seconds=0.05).run_session(),
    )
    statuses = sorted(r.auth_status or "" for r in reports)
    assert statuses == ["", "busy"], [r.summary() for r in reports]
    worker = next(r for r in reports if r.auth_status == "")
    assert worker.completed, worker.summary()
    for n in range(20):
        assert qb.company(path).count_by_ref_number(f"INV{300 + n}", "Invoice") == 1
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert {states[i].state for i in ids} == {"posted"}


async def test_fifty_tenants_at_once_see_only_their_own_entries(
    database_url: str, amqp_url: str, topology: Topology
) -> None:
    async with running_gateway(database_url, amqp_url, topology.namespace) as gw:
        qb = QuickBooksSimulator()
        tenants = [await new_tenant(gw.sessions, f"Tenant {n:02d}") for n in range(50)]
        paths = {}
        for n, tenant in enumerate(tenants):
            paths[tenant.tenant_id] = company_for(
                qb, await tenant_row(gw.sessions, tenant.tenant_id), minimal=True
            )
            # Every tenant has invoices with the same numbers: only ownership tells them apart.
            await add_entries(
                gw.sessions,
                tenant.tenant_id,
                [invoice(tenant.tenant_id, k, amount=f"{n + 1}.00") for k in (1, 2)],
            )
        reports = await asyncio.gather(
            *(web_connector(gw, t, qb, paths[t.tenant_id]).run_session() for t in tenants)
        )
        for n, (tenant, report) in enumerate(zip(tenants, reports, strict=True)):
            assert report.completed, report.summary()
            company = qb.company(paths[tenant.tenant_id])
            invoices = company.transactions("Invoice")
            assert sorted(t.ref_number or "" for t in invoices) == ["INV1", "INV2"]
            assert {t.total for t in invoices} == {n + 1}
            guids = {t.external_guid for t in invoices}
            expected = {invoice(tenant.tenant_id, k).external_guid for k in (1, 2)}
            assert guids == expected

        # Tenant A's ticket cannot fetch B's work: a live session of A only ever serves A.
        a, b = tenants[0], tenants[1]
        await add_entries(gw.sessions, b.tenant_id, [invoice(b.tenant_id, 99)])
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                gw.soap_url,
                content=wc_soap.build_envelope("authenticate", [a.qbwc_username, a.qbwc_password]),
            )
            ticket, status = wc_soap.read_strings("authenticate", answer.content)[:2]
            if status == "none":
                return  # A has nothing to do: nothing to fetch at all
            hcp = qb.company(paths[a.tenant_id]).hcp_response()
            seen = ""
            for _ in range(10):
                answer = await client.post(
                    gw.soap_url,
                    content=wc_soap.build_envelope(
                        "sendRequestXML", [ticket, hcp, "", "US", 13, 0]
                    ),
                )
                request = wc_soap.read_string("sendRequestXML", answer.content)
                hcp = ""
                if not request:
                    break
                seen += request
                response = qb.process_request(paths[a.tenant_id], request)
                answer = await client.post(
                    gw.soap_url,
                    content=wc_soap.build_envelope(
                        "receiveResponseXML", [ticket, response, "", ""]
                    ),
                )
                if wc_soap.read_int("receiveResponseXML", answer.content) >= 100:
                    break
        assert "INV99" not in seen
        assert qb.company(paths[b.tenant_id]).count_by_ref_number("INV99") == 0
