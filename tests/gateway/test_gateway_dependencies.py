"""An entry is never sent before what it depends on: a held CustomerAdd keeps its invoice back
(with the reason), instead of QuickBooks refusing the invoice with a 3140."""

from __future__ import annotations

from omni2qbd_gateway.workflow.approval import unapprove
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.engine import unit_of_work
from tests.gateway.gateway_helpers import (
    BOTH_DATABASES,
    GatewayTenant,
    add_entries,
    customer_add,
    invoice,
    outbox_states,
    web_connector,
)


@BOTH_DATABASES
async def test_invoice_whose_customer_add_is_not_approved_is_not_sent(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    # The invoice is approved (its CustomerAdd with it), then the CustomerAdd's approval
    # is taken back: the invoice waits on an unapproved CustomerAdd.
    (held_add,) = await add_entries(
        gw.sessions,
        tenant.tenant_id,
        [customer_add(tenant.tenant_id, "c-9", "Hooli")],
        approved_by=None,
    )
    (waiting, other) = await add_entries(
        gw.sessions,
        tenant.tenant_id,
        [
            invoice(
                tenant.tenant_id,
                9001,
                customer="Hooli",
                depends_on=["customer_add:contact:c-9"],
            ),
            invoice(tenant.tenant_id, 9002),
        ],
    )
    async with unit_of_work(gw.sessions) as db:
        await unapprove(db, TenantScope(tenant.tenant_id, "Pat Reviewer"), held_add)
    report = await web_connector(gw, tenant, qb, path).run_session()
    assert report.completed, report.summary()
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    company = qb.company(path)
    assert company.count_by_ref_number("INV9001", "Invoice") == 0  # never sent
    assert company.count_by_ref_number("INV9002", "Invoice") == 1  # the rest goes on
    assert states[other].state == "posted"
    assert states[waiting].state == "failed"
    assert states[waiting].last_status_code == "dependency"
    assert "customer add for Cin7 contact c-9" in (states[waiting].last_status_message or "")
    assert states[held_add].state == "ready"
    # The status code itself: the digits alone also occur in QuickBooks' ids and times.
    assert not any('statusCode="3140"' in response for response in report.responses)
