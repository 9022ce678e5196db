"""Re-import while a draft (a Mod with the stored TxnID and EditSequence) and the refusal to
overwrite what people changed in QuickBooks after approval (docs/design.md §3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omni2qbd_sims.quickbooks import CompanyFile, QuickBooksSimulator
from tests.gateway.gateway_helpers import (
    BOTH_DATABASES,
    GatewayTenant,
    add_entries,
    bill,
    invoice,
    link_of,
    outbox_states,
    web_connector,
)


@BOTH_DATABASES
async def test_new_revision_of_a_pending_invoice_is_sent_as_a_mod(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    first = await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 7)])
    assert (await web_connector(gw, tenant, qb, path).run_session()).completed
    link = await link_of(gw.sessions, tenant.tenant_id, "invoice", "7")
    assert link is not None
    company = qb.company(path)
    assert company.transaction(link.txn_id).total == 100

    revised = invoice(tenant.tenant_id, 7, amount="250.00", revision="r2")
    second = await add_entries(gw.sessions, tenant.tenant_id, [revised])
    report = await web_connector(gw, tenant, qb, path).run_session()
    assert report.completed, report.summary()
    assert any("<InvoiceModRq" in s for s in report.request_sets)
    assert not any("<InvoiceAddRq" in s for s in report.request_sets)

    txn = company.transaction(link.txn_id)
    assert txn.total == 250 and txn.is_pending is True
    assert company.count_by_ref_number("INV7", "Invoice") == 1
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert states[second[0]].state == "posted"
    assert states[first[0]].state == "superseded"
    new_link = await link_of(gw.sessions, tenant.tenant_id, "invoice", "7")
    assert new_link is not None and new_link.txn_id == link.txn_id
    assert new_link.edit_sequence == txn.edit_sequence
    assert new_link.entry_id == second[0]


def _finalise(company: CompanyFile, txn_id: str) -> None:
    company.mark_final(txn_id)


def _edit(company: CompanyFile, txn_id: str) -> None:
    company.edit_transaction(txn_id, memo="changed by the bookkeeper")


def _pay(company: CompanyFile, txn_id: str) -> None:
    company.mark_final(txn_id)  # QuickBooks takes payments only on final invoices
    company.apply_payment(txn_id, "40.00")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_finalise, "marked final"),
        (_edit, "edited in QuickBooks"),
        (_pay, "linked transactions"),
    ],
)
async def test_changed_in_quickbooks_after_approval_becomes_locked(
    gateway_tenant: GatewayTenant,
    change: Callable[[CompanyFile, str], None],
    words: str,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    first = await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 8)])
    assert (await web_connector(gw, tenant, qb, path).run_session()).completed
    link = await link_of(gw.sessions, tenant.tenant_id, "invoice", "8")
    assert link is not None
    company = qb.company(path)
    change(company, link.txn_id)
    before = company.transaction(link.txn_id)

    second = await add_entries(
        gw.sessions,
        tenant.tenant_id,
        [invoice(tenant.tenant_id, 8, amount="999.00", revision="r2")],
    )
    report = await web_connector(gw, tenant, qb, path).run_session()
    assert report.completed, report.summary()
    assert not any("<InvoiceModRq" in s for s in report.request_sets)
    after = company.transaction(link.txn_id)
    assert after.total == before.total and after.edit_sequence == before.edit_sequence
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert states[second[0]].state == "locked"
    assert words in (states[second[0]].last_status_message or "")
    assert "update both systems by hand" in (states[second[0]].last_status_message or "")
    assert states[first[0]].state == "locked"


async def test_stale_edit_sequence_on_the_mod_itself_locks_the_entry(
    gateway_tenant: GatewayTenant,
) -> None:
    """Edited between the draft check and the Mod: QuickBooks answers 3200, nothing is
    overwritten."""
    gw, tenant, qb, path = gateway_tenant
    await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 9)])
    assert (await web_connector(gw, tenant, qb, path).run_session()).completed
    link = await link_of(gw.sessions, tenant.tenant_id, "invoice", "9")
    assert link is not None
    second = await add_entries(
        gw.sessions,
        tenant.tenant_id,
        [invoice(tenant.tenant_id, 9, amount="5.00", revision="r2")],
    )
    company = qb.company(path)
    txn_id = link.txn_id

    class EditsBetweenCheckAndMod(QuickBooksSimulator):
        def process_request(self, company_path: str, qbxml: str) -> str:
            if "<InvoiceModRq" in qbxml:
                company.edit_transaction(txn_id, memo="someone typed here")
            return super().process_request(company_path, qbxml)

    racing = EditsBetweenCheckAndMod()
    racing._companies = qb._companies  # the same company file, opened by another user
    report = await web_connector(gw, tenant, racing, path).run_session()
    assert report.completed, report.summary()
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert states[second[0]].state == "locked"
    assert states[second[0]].last_status_code == "3200"
    assert company.transaction(link.txn_id).total == 100


async def test_bill_is_re_imported_while_untouched_and_locked_once_paid(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    await add_entries(gw.sessions, tenant.tenant_id, [bill(tenant.tenant_id, 5)])
    assert (await web_connector(gw, tenant, qb, path).run_session()).completed
    link = await link_of(gw.sessions, tenant.tenant_id, "bill", "5")
    assert link is not None
    company = qb.company(path)

    revised = await add_entries(
        gw.sessions,
        tenant.tenant_id,
        [bill(tenant.tenant_id, 5, amount="95.00", revision="r2")],
    )
    report = await web_connector(gw, tenant, qb, path).run_session()
    assert report.completed, report.summary()
    assert any("<BillModRq" in s for s in report.request_sets)
    assert company.transaction(link.txn_id).total == 95
    assert company.count_by_ref_number("SUP-5", "Bill") == 1
    assert (await outbox_states(gw.sessions, tenant.tenant_id))[revised[0]].state == "posted"

    company.apply_payment(link.txn_id, "95.00")
    third = await add_entries(
        gw.sessions,
        tenant.tenant_id,
        [bill(tenant.tenant_id, 5, amount="99.00", revision="r3")],
    )
    report = await web_connector(gw, tenant, qb, path).run_session()
    assert report.completed, report.summary()
    assert company.transaction(link.txn_id).total == 95
    state = (await outbox_states(gw.sessions, tenant.tenant_id))[third[0]]
    assert state.state == "locked" and "linked transactions" in (state.last_status_message or "")
