"""Supplier credit notes from a Cin7 CSV export: parsing, refusal messages, publishing once."""

from __future__ import annotations

import pytest

from omni2qbd_fetcher.supplier_credits import (
    SupplierCreditCsvError,
    import_supplier_credits,
    parse_supplier_credit_csv,
)
from tests.fetcher.fetcher_testkit import Stack

HEADER = (
    "Credit Note Ref,Supplier,Supplier Credit Invoice Number,Invoice Date,Product Code,"
    "Product Name,Quantity,Unit Price,Currency,Tax\n"
)
EXPORT = (
    HEADER
    + """\
SCN-0001,Alpine Harbor Supply Co,VC-7781,2025-10-02,TEN-100-RED,Alpine Tent,2,45.50,USD,0
SCN-0001,Alpine Harbor Supply Co,VC-7781,2025-10-02,MUG-159-GRE,Maple Mug,10,"1,002.25",USD,3.10
SCN-0002,O'Brien & Sons <Wholesale>,,2025-10-05 14:30:00,ROP-109-BLA,Rope,-4,7,cad,
"""
)


def test_rows_are_grouped_into_negative_credit_notes() -> None:
    first, second = parse_supplier_credit_csv(EXPORT.encode())
    assert first["reference"] == "SCN-0001" and first["company"] == "Alpine Harbor Supply Co"
    assert first["supplierInvoiceReference"] == "VC-7781"
    assert first["invoiceDate"] == "2025-10-02T00:00:00Z"
    assert [(line["code"], line["qty"], line["unitPrice"]) for line in first["lineItems"]] == [
        ("TEN-100-RED", -2.0, 45.5),
        ("MUG-159-GRE", -10.0, 1002.25),
    ]
    assert first["productTotal"] == -(2 * 45.5 + 10 * 1002.25)
    assert first["total"] == pytest.approx(first["productTotal"] - 3.10)
    assert second["company"] == "O'Brien & Sons <Wholesale>"
    assert second["supplierInvoiceReference"] is None and second["currencyCode"] == "CAD"
    assert second["lineItems"][0]["qty"] == -4.0  # already negative stays negative
    assert second["invoiceDate"] == "2025-10-05T14:30:00Z"
    assert all(p["source"] == "csv-import" for p in (first, second))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Reference,Supplier,Date,Code,Qty\nA,B,2025-01-01,X,1\n", "unit_price"),
        ("Reference,Supplier,Date,Code,Qty,Price\nA,B,2025-01-01,X,one,2\n", "row 2, column 'Qty'"),
        ("Reference,Supplier,Date,Code,Qty,Price\nA,B,01/02/2025,X,1,2\n", "row 2, column 'Date'"),
        (
            "Reference,Supplier,Date,Code,Qty,Price\n,B,2025-01-01,X,1,2\n",
            "row 2, column 'Reference'",
        ),
        ("Reference,Supplier,Date,Code,Qty,Price\n", "no credit note lines"),
    ],
)
def test_bad_files_are_refused_naming_what_to_fix(text: str, named: str) -> None:
    with pytest.raises(SupplierCreditCsvError) as caught:
        parse_supplier_credit_csv(text)
    assert named in str(caught.value)


async def test_import_publishes_each_revision_once(stack: Stack) -> None:
    tenant = await stack.tenant()
    read, published = await import_supplier_credits(
        tenant_id=tenant.tenant_id, data=EXPORT, sessions=stack.sessions, publisher=stack.publisher
    )
    assert (read, published) == (2, 2)
    messages = await stack.drain()
    assert {m["routing_key"] for m in messages} == {f"{tenant.tenant_id}.supplier_credit_note"}
    assert sorted(m["cin7_id"] for m in messages) == ["csv-SCN-0001", "csv-SCN-0002"]
    again = await import_supplier_credits(
        tenant_id=tenant.tenant_id, data=EXPORT, sessions=stack.sessions, publisher=stack.publisher
    )
    assert again == (2, 0) and await stack.drain() == []
    corrected = EXPORT.replace("45.50", "44.00")
    assert await import_supplier_credits(
        tenant_id=tenant.tenant_id,
        data=corrected,
        sessions=stack.sessions,
        publisher=stack.publisher,
    ) == (2, 1)
    [message] = await stack.drain()
    assert message["cin7_id"] == "csv-SCN-0001"
    assert message["payload"]["lineItems"][0]["unitPrice"] == 44.0
