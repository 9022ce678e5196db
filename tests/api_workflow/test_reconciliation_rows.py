"""One month's reconciliation rows from given Cin7 documents and QuickBooks answers: the
measures, the differences and the documents each difference drills down to."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from omni2qbd_gateway.reconciliation_queries import ReconciliationAccounts
from omni2qbd_gateway.workflow.reconciliation import Cin7Document, month_rows
from omni2qbd_shared.db.models import Entry as EntryRow
from omni2qbd_shared.db.models import QbLink
from omni2qbd_shared.entries import Entry, EntryKind, EntryLine, SourceRef

ACCOUNTS = ReconciliationAccounts("Inventory Asset", "Cost of Goods Sold")
MONTH = "2026-11"


def _doc(
    kind: EntryKind, cin7_id: str, total: str, *, txn_id: str | None, state: str
) -> Cin7Document:
    source_kind = "sales_order" if kind is EntryKind.INVOICE else "purchase_order"
    entry = Entry(
        kind=kind,
        source=SourceRef(
            kind=source_kind, cin7_id=cin7_id, revision="r1", reference=f"R-{cin7_id}"
        ),
        key=f"{kind.value}:{source_kind}:{cin7_id}",
        lines=[
            EntryLine(
                account="Inventory Asset" if kind is EntryKind.BILL else "Sales",
                amount=Decimal(total),
            )
        ],
        ref_number=f"R-{cin7_id}",
        txn_date=date(2026, 11, 10),
        total=Decimal(total),
    )
    row = EntryRow(
        id=f"e-{cin7_id}",
        tenant_id="t",
        entry_kind=kind.value,
        source_kind=source_kind,
        cin7_id=cin7_id,
        revision="r1",
        state=state,
        txn_date="2026-11-10",
        total=Decimal(total),
        body=entry.model_dump(mode="json"),
    )
    link = (
        QbLink(
            tenant_id="t",
            entry_kind=kind.value,
            source_kind=source_kind,
            cin7_id=cin7_id,
            entry_id=row.id,
            qb_txn_type="Invoice",
            txn_id=txn_id,
            edit_sequence="1",
        )
        if txn_id
        else None
    )
    return Cin7Document(row, entry, link, state)


def _txn(txn_type: str, txn_id: str, amount: str, **more: Any) -> dict[str, Any]:
    return {
        "txn_type": txn_type,
        "txn_id": txn_id,
        "ref_number": txn_id,
        "txn_date": "2026-11-12",
        "amount": amount,
        "inventory_amount": "0.00",
        **more,
    }


def test_differences_drill_down_to_the_documents_behind_them() -> None:
    documents = [
        _doc(EntryKind.INVOICE, "1", "100.00", txn_id="T1", state="posted"),
        _doc(EntryKind.INVOICE, "2", "40.00", txn_id="T2", state="posted"),  # edited in QB
        _doc(EntryKind.INVOICE, "3", "25.00", txn_id=None, state="ready"),  # not sent yet
        _doc(EntryKind.BILL, "4", "300.00", txn_id="B1", state="posted"),
    ]
    figures = {
        "transactions": [
            _txn("Invoice", "T1", "100.00"),
            _txn("Invoice", "T2", "45.00"),
            _txn("Invoice", "HAND", "75.00"),
            _txn("Bill", "B1", "300.00", inventory_amount="300.00"),
        ],
        "inventory_balances": {MONTH: "290.00"},
    }
    rows = {r["measure"]: r for r in month_rows(MONTH, documents, [], None, figures, ACCOUNTS)}

    sales = rows["sales"]
    assert (sales["cin7"], sales["quickbooks"], sales["difference"]) == (
        "165.00",
        "220.00",
        "-55.00",
    )
    why = {d["document"]: (d["difference"], d["source"]) for d in sales["documents"]}
    assert why == {
        "Cin7 sales order R-2 (id 2)": ("-5.00", "cin7"),
        "Cin7 sales order R-3 (id 3)": ("25.00", "cin7"),
        "QuickBooks Invoice HAND": ("-75.00", "quickbooks"),
    }
    assert rows["purchases"]["difference"] == "0.00" and rows["purchases"]["documents"] == []
    inventory = rows["inventory"]
    assert (inventory["cin7"], inventory["quickbooks"], inventory["difference"]) == (
        "300.00",
        "290.00",
        "10.00",
    )
    assert inventory["basis"] == "cin7_documents"


def test_without_a_reading_quickbooks_is_unknown_and_stock_value_is_the_cin7_side() -> None:
    documents = [_doc(EntryKind.BILL, "4", "300.00", txn_id=None, state="ready")]
    rows = {
        r["measure"]: r for r in month_rows(MONTH, documents, [], Decimal("250.00"), None, ACCOUNTS)
    }
    assert (
        rows["inventory"]["cin7"] == "250.00" and rows["inventory"]["basis"] == "cin7_stock_value"
    )
    assert all(r["quickbooks"] is None and r["difference"] is None for r in rows.values())
