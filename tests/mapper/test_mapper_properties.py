"""Property tests over generated Cin7 documents (hypothesis).

Documents are generated the way Cin7 computes them (line amount = qty x price - discount,
tax on the taxable total), then mapped under random settings. Whatever the mix, an
importable entry must total Cin7's amount to the cent, balance, and render requests that
Intuit's XSD accepts in both 13.0 and 16.0.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.preview import preview_request_id
from omni2qbd_mapper.result import DocumentStatus
from omni2qbd_shared.entries import EntryKind
from omni2qbd_shared.qbxml.message_set import message_set, with_request_id
from omni2qbd_shared.qbxml.render import render_add, render_mod
from omni2qbd_shared.qbxml.schema import validation_errors
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import settings_with

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


cents = st.integers(min_value=0, max_value=99_999).map(lambda c: Decimal(c) / 100)
quantities = st.integers(min_value=1, max_value=5_000).map(lambda q: Decimal(q) / 100)
# Literal-typed: the decorated st.characters passes no literal context to a bare "Cs".
SURROGATES: Literal["Cs"] = "Cs"
texts = st.text(
    alphabet=st.characters(exclude_categories=(SURROGATES,), exclude_characters="\x00"),
    min_size=0,
    max_size=60,
)


@st.composite
def cin7_lines(draw: Any, credit: bool = False) -> list[dict[str, Any]]:
    lines = []
    for number in range(draw(st.integers(min_value=1, max_value=12))):
        qty = draw(quantities)
        price = draw(cents)
        discount = draw(st.sampled_from([Decimal(0), Decimal(0), money(qty * price / 10)]))
        shipped = draw(st.sampled_from([qty, qty, Decimal(0), money(qty / 2)]))
        lines.append(
            {
                "id": 7000 + number,
                "code": draw(st.sampled_from(["SKU-1", "SKU-2", "B" * 40, None])),
                "name": draw(texts),
                "option1": draw(st.one_of(st.none(), texts)),
                "qty": float(-qty if credit else qty),
                "unitPrice": float(price),
                "unitCost": float(draw(cents)),
                "discount": float(discount),
                "qtyShipped": float(-shipped if credit else shipped),
                "accountCode": draw(st.sampled_from([None, "4000", "4100"])),
            }
        )
    return lines


@st.composite
def sales_documents(draw: Any, credit: bool = False) -> dict[str, Any]:
    lines = draw(cin7_lines(credit))
    status = draw(st.sampled_from(["Excl", "Incl", "Exempt"]))
    rate = Decimal(0) if status == "Exempt" else draw(st.sampled_from(["0", "5", "8.25", "10"]))
    rate = Decimal(rate)
    freight = draw(st.sampled_from([Decimal(0), Decimal("9.95")]))
    surcharge = draw(st.sampled_from([Decimal(0), Decimal("2.50")]))
    product_total = sum(
        (
            money(
                abs(Decimal(str(line["qty"]))) * Decimal(str(line["unitPrice"]))
                - Decimal(str(line["discount"]))
            )
            for line in lines
        ),
        Decimal(0),
    )
    discount = draw(st.sampled_from([Decimal(0), money(product_total / 20)]))
    # Defaults: freight and surcharge not taxable, discount taxable.
    tax = money((product_total - discount) * rate / 100) if status == "Excl" else Decimal(0)
    if status == "Excl" and draw(st.booleans()):
        # Some accounts round the tax of every line on its own.
        per_line = [
            money(abs(Decimal(str(line["qty"]))) * Decimal(str(line["unitPrice"])))
            - Decimal(str(line["discount"]))
            for line in lines
        ]
        tax = sum((money(amount * rate / 100) for amount in per_line), Decimal(0)) - money(
            discount * rate / 100
        )
    total = product_total + freight + surcharge - discount + tax
    sign = -1 if credit else 1
    doc: dict[str, Any] = {
        "id": draw(st.integers(min_value=1, max_value=10**6)),
        "reference": draw(st.sampled_from(["SO-1", "SO-2026-000123", "X&<Y>"])),
        "memberId": 41,
        "company": draw(st.sampled_from(["Example Ltd", "O'Brien & Sons <Wholesale>", "Café Zoë"])),
        "memberEmail": "buyer@example.com",
        "billingAddress1": draw(texts),
        "billingCity": draw(texts),
        "branchId": draw(st.sampled_from([1, 3])),
        "status": "APPROVED",
        "isApproved": True,
        "taxStatus": status,
        "taxRate": float(rate),
        "productTotal": float(sign * product_total),
        "freightTotal": float(sign * freight),
        "surcharge": float(sign * surcharge),
        "discountTotal": float(discount),
        "total": float(sign * total),
        "customerOrderNo": draw(st.one_of(st.none(), texts)),
        "invoiceDate": "2026-05-31T23:30:00Z",
        "dispatchedDate": draw(st.sampled_from([None, "2026-05-31T23:30:00Z"])),
        "invoiceNumber": 1001,
        "lineItems": lines,
    }
    if credit:
        doc.update(
            {
                "creditNoteNumber": 77,
                "completedDate": "2026-05-30T10:00:00Z",
                "salesReference": "SO-1",
            }
        )
    return doc


@st.composite
def tenant_settings(draw: Any) -> TenantSettings:
    return settings_with(
        sales={"line_mode": draw(st.sampled_from(["item", "account"]))},
        purchases={"line_mode": draw(st.sampled_from(["item", "account"]))},
        tax={"mode": draw(st.sampled_from(["sales_tax_item", "tax_line"]))},
        inventory_method=draw(st.sampled_from(["perpetual", "periodic"])),
        cogs={"granularity": draw(st.sampled_from(["monthly", "per_document"]))},
        accounts={"account_map": {"4100": "Income:Wholesale"}},
        time_zone=draw(st.sampled_from(["America/New_York", "Pacific/Auckland", "UTC"])),
    )


def check_rendering(entries: list[Any]) -> None:
    for version in ("13.0", "16.0"):
        sent = [e for e in entries if e.lines or e.is_list_add]
        adds = [with_request_id(render_add(e, version), preview_request_id(e)) for e in sent]
        text = message_set(version, adds)
        assert validation_errors(text, version) == [], text
        mods = [
            with_request_id(render_mod(e, "1-1", "1", version), preview_request_id(e)) for e in sent
        ]
        text = message_set(version, mods)
        assert validation_errors(text, version) == [], text


PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROFILE
@given(doc=sales_documents(), tenant=tenant_settings())
def test_invoices_total_cin7_to_the_cent_and_render_valid(
    doc: dict[str, Any], tenant: TenantSettings
) -> None:
    result = map_document("sales_order", doc, tenant)
    codes = {f.code for f in result.all_findings()}
    assert not codes & {"totals_do_not_reconcile", "tax_mismatch", "lines_do_not_add_up"}, (
        result.all_findings()
    )
    invoice = next(e for e in result.entries if e.kind is EntryKind.INVOICE)
    assert invoice.total == money(Decimal(str(doc["total"])))
    assert result.status in (DocumentStatus.READY, DocumentStatus.HELD)
    for entry in result.entries:
        assert entry.is_balanced()
    check_rendering(result.entries)


@PROFILE
@given(doc=sales_documents(credit=True), tenant=tenant_settings())
def test_credit_memos_total_cin7_and_render_valid(
    doc: dict[str, Any], tenant: TenantSettings
) -> None:
    result = map_document("credit_note", doc, tenant)
    memo = next(e for e in result.entries if e.kind is EntryKind.CREDIT_MEMO)
    assert memo.total == money(abs(Decimal(str(doc["total"]))))
    assert all(c.amount <= 0 for c in result.cogs)
    for entry in result.entries:
        assert entry.is_balanced()
    check_rendering(result.entries)


@PROFILE
@given(doc=sales_documents(), tenant=tenant_settings(), negative=st.booleans())
def test_bills_and_vendor_credits_total_cin7(
    doc: dict[str, Any], tenant: TenantSettings, negative: bool
) -> None:
    po = {
        **doc,
        "reference": "PO-9",
        "supplierInvoiceReference": "INV-" + "9" * 25,
        "taxStatus": "Excl",
        "taxRate": 0.0,
    }
    product_total = Decimal(str(doc["productTotal"]))
    total = (
        product_total
        + Decimal(str(doc["freightTotal"]))
        + Decimal(str(doc["surcharge"]))
        - Decimal(str(doc["discountTotal"]))
    )
    if negative:
        po["lineItems"] = [{**line, "qty": -line["qty"]} for line in doc["lineItems"]]
        total = -total
    po["total"] = float(total)
    result = map_document("purchase_order", po, tenant)
    entry = next(e for e in result.entries if not e.is_list_add)
    assert entry.kind is (EntryKind.VENDOR_CREDIT if total < 0 else EntryKind.BILL)
    assert entry.total == money(abs(total))
    assert len(entry.ref_number or "") <= 20
    assert entry.is_balanced()
    check_rendering(result.entries)
