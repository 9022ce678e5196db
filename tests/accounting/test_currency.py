"""Issue 12, point 6: ExchangeRate in QuickBooks' "home units per foreign unit", and a rate
far from the tenant's previous one for the currency is a finding."""

from __future__ import annotations

from decimal import Decimal

from omni2qbd_mapper import handlers
from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.result import MappingResult
from omni2qbd_shared import messages as m
from omni2qbd_shared.entries import EntryKind
from omni2qbd_shared.qb_lists import QbLists
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import load_doc, settings_with
from tests.mapper.test_mapper_store import Sessions, deliver, doc_message, make_tenant, rows


def invoice_rate(result: MappingResult) -> Decimal | None:
    return next(e for e in result.entries if e.kind is EntryKind.INVOICE).header.exchange_rate


def test_exchange_rate_is_home_units_per_foreign_unit() -> None:
    doc = {**load_doc("so_tax_exclusive"), "currencyCode": "EUR", "currencyRate": 0.8}
    result = map_document("sales_order", doc, settings_with(multi_currency=True))
    # Cin7: 1 USD = 0.8 EUR, so QuickBooks gets 1.25 USD per EUR
    assert invoice_rate(result) == Decimal("1.25")


def test_a_rate_far_from_the_previous_one_is_a_finding() -> None:
    lists = QbLists()
    lists.exchange_rates = {"EUR": Decimal("1.25")}
    inverted = {**load_doc("so_tax_exclusive"), "currencyCode": "EUR", "currencyRate": 1.25}
    result = map_document("sales_order", inverted, settings_with(multi_currency=True), lists)
    (finding,) = [f for f in result.all_findings() if f.code == "exchange_rate_moved"]
    assert finding.blocking and "currency.max_rate_change_percent" in finding.message
    close = {**inverted, "currencyRate": 0.81}
    result = map_document("sales_order", close, settings_with(multi_currency=True), lists)
    assert "exchange_rate_moved" not in {f.code for f in result.all_findings()}


async def test_the_previous_rate_comes_from_the_tenants_entries_in_quickbooks(
    sessions: Sessions,
) -> None:
    settings = TenantSettings(multi_currency=True).model_dump(mode="json")
    tenant = await make_tenant(sessions, settings)
    first = {**load_doc("so_tax_exclusive"), "currencyCode": "EUR", "currencyRate": 0.8}
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", first))
    (invoice,) = await rows(sessions, tenant, entry_kind="invoice")
    result = m.ResultMessage(entry_id=invoice.id, tenant_id=tenant, outcome="posted")
    await deliver(sessions, handlers.handle_result, result)
    inverted = {**first, "id": 4001, "reference": "SO-4001", "currencyRate": 1.25}
    await deliver(sessions, handlers.handle_document, doc_message(tenant, "sales_order", inverted))
    second = next(
        r for r in await rows(sessions, tenant, entry_kind="invoice") if r.cin7_id == "4001"
    )
    assert second.state == "needs_attention"
    assert "exchange_rate_moved" in {f["code"] for f in second.findings}
