"""A full Web Connector session through the WC and QuickBooks simulators over real HTTP."""

from __future__ import annotations

from omni2qbd_shared.entries import EntryKind
from omni2qbd_shared.qbxml.schema import validation_errors
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
async def test_full_session_posts_approved_entries_once(gateway_tenant: GatewayTenant) -> None:
    gw, tenant, qb, path = gateway_tenant
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
    for request_set in report.request_sets:
        assert validation_errors(request_set) == []
    writes = next(s for s in report.request_sets if "newMessageSetID" in s)
    assert writes.index("<CustomerAddRq") < writes.index("<InvoiceAddRq")  # dependency first
    assert writes.count("<InvoiceAddRq") == 2  # one round trip for all three
    initech = [t for t in company.transactions("Invoice") if t.ref_number == "INV1001"]
    assert initech[0].entity == "Initech"
    assert report.progress[-1] == 100 and all(1 <= p <= 99 for p in report.progress[:-1])


async def test_entry_quickbooks_would_refuse_is_failed_before_sending(
    gateway_tenant: GatewayTenant,
) -> None:
    """A credit memo without lines cannot be valid qbXML: it fails with the reason, unsent,
    and the rest of the batch goes through."""
    gw, tenant, qb, path = gateway_tenant
    good = invoice(tenant.tenant_id, 501)
    empty = invoice(tenant.tenant_id, 502).model_copy(
        update={"kind": EntryKind.CREDIT_MEMO, "lines": [], "key": "credit_memo:cn:502"}
    )
    ids = await add_entries(gw.sessions, tenant.tenant_id, [good, empty])
    report = await web_connector(gw, tenant, qb, path).run_session()
    assert report.completed, report.summary()
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert states[ids[0]].state == "posted"
    assert states[ids[1]].state == "failed"
    reason = states[ids[1]].last_status_message or ""
    assert "cannot be sent to QuickBooks" in reason and "INV502" in reason
    assert not any("CreditMemoAddRq" in s for s in report.request_sets)
