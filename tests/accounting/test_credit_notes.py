"""Issue 12, point 7: a restocking fee reduces the credit; COGS comes back only for what
went back into stock, and an unknown restock holds instead of guessing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from omni2qbd_mapper.mapping import map_document
from omni2qbd_shared.entries import EntryKind
from tests.accounting.helpers import company, mirror, post_result, qb_total
from tests.mapper.conftest import load_doc, settings_with


def with_fee(doc: dict[str, Any], fee: float = 5.0) -> dict[str, Any]:
    """The corpus credit note (-34.00 + 8.25% tax) plus a restocking fee line."""
    fee_line = {
        "id": 9001,
        "code": "RESTOCK",
        "name": "Restocking fee",
        "qty": 1.0,
        "unitPrice": fee,
        "unitCost": 0.0,
        "discount": 0.0,
        "qtyShipped": 0.0,
    }
    product_total = Decimal(str(doc["productTotal"])) + Decimal(str(fee))
    total = (product_total * Decimal("1.0825")).quantize(Decimal("0.01"))
    return {
        **doc,
        "lineItems": [*doc["lineItems"], fee_line],
        "productTotal": float(product_total),
        "total": float(total),
    }


def test_a_restocking_fee_reduces_the_credit() -> None:
    books = company()
    doc = with_fee(load_doc("cn_credit_memo"))
    result = map_document("credit_note", doc, settings_with(), mirror(books))
    assert not result.held, [f.message for f in result.all_findings() if f.blocking]
    memo = next(e for e in result.entries if e.kind is EntryKind.CREDIT_MEMO)
    fee = next(line for line in memo.lines if "Restocking" in line.description)
    assert fee.amount == Decimal("-5.00")
    expected = abs(Decimal(str(doc["total"]))).quantize(Decimal("0.01"))
    assert memo.total == expected
    answers = post_result(books, result)
    assert qb_total(books, answers, memo) == expected


def test_cogs_comes_back_only_for_what_was_restocked() -> None:
    doc = load_doc("cn_credit_memo")
    # first line: 1 returned but nothing went back into stock (written off)
    doc["lineItems"][0]["qtyShipped"] = 0.0
    result = map_document("credit_note", doc, settings_with())
    (contribution,) = result.cogs
    second = doc["lineItems"][1]
    assert contribution.amount == -abs(
        Decimal(str(second["qtyShipped"])) * Decimal(str(second["unitCost"]))
    )


def test_an_unknown_restock_holds_rather_than_guessing() -> None:
    doc = load_doc("cn_credit_memo")
    del doc["lineItems"][0]["qtyShipped"]
    result = map_document("credit_note", doc, settings_with())
    assert result.held and result.cogs == []
    (finding,) = [f for f in result.all_findings() if f.code == "restock_unknown"]
    assert finding.field == "lineItems[0].qtyShipped"
    # the tenant can say what to assume instead
    assumed = map_document("credit_note", doc, settings_with(cogs={"credit_note_restock": "all"}))
    assert not assumed.held and assumed.cogs
