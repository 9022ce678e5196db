"""Issue 12, point 6: ExchangeRate in QuickBooks' "home units per foreign unit", and a rate
far from the tenant's previous one for the currency is a finding."""

from __future__ import annotations

from decimal import Decimal

from omni2qbd_mapper.mapping import map_document
from omni2qbd_shared.entries import EntryKind
from omni2qbd_shared.qb_lists import QbLists
from tests.mapper.conftest import load_doc, settings_with


def invoice_rate(result):  # type: ignore[no-untyped-def]
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
