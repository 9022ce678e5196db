"""Supplier credit notes from a CSV export (Cin7 Omni's API has none; reference §11).

Two ways in, both published as kind ``supplier_credit_note``:

1. A purchase order with a negative total (negative quantities) is one, found by the
   normal purchase-order sync (``kinds.is_supplier_credit``).
2. A CSV file exported from Cin7 Omni's supplier credit notes list, one row per line, uploaded
   with ``omni2qbd fetch TENANT --supplier-credits FILE`` or
   ``POST /tenants/{tenant_id}/supplier-credit-notes`` on the fetcher.

The exact column names of Cin7's export are not documented, so headers are matched without
regard to case, spaces or punctuation against the aliases below; a file missing a required
column is refused with the column's name. Each credit note becomes a purchase-order-shaped
payload (``source: "csv-import"``) with negative quantities and total, so the mapper turns both
kinds of input into a Vendor Credit the same way. Uploading the same file twice publishes
nothing new: the revision is the hash of the payload.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.publishing import Revision, RevisionPublisher
from omni2qbd_shared.cin7_dates import format_cin7_datetime, parse_cin7_datetime
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.kinds import Cin7Kind
from omni2qbd_shared.messaging import Publisher
from omni2qbd_shared.revision import revision_of

MAX_CSV_BYTES = 5 * 1024 * 1024

COLUMNS: dict[str, tuple[str, ...]] = {
    "reference": (
        "reference",
        "creditnotereference",
        "creditnoteref",
        "creditnote",
        "orderref",
        "ref",
    ),
    "supplier": ("supplier", "company", "suppliername", "suppliercompany", "member"),
    "supplier_reference": (
        "suppliercreditinvoicenumber",
        "suppliercreditnumber",
        "supplierinvoicereference",
        "supplierinvno",
        "supplierinvoice",
        "suppliercreditreference",
        "supplierref",
    ),
    "date": ("invoicedate", "creditdate", "creditnotedate", "date", "completeddate"),
    "code": ("code", "productcode", "sku", "itemcode", "optioncode"),
    "name": ("name", "productname", "product", "description", "itemname"),
    "qty": ("qty", "quantity", "qtycredited"),
    "unit_price": ("unitprice", "price", "unitcost", "cost"),
    "currency": ("currency", "currencycode"),
    "branch": ("branch", "branchname"),
    "tax": ("tax", "taxtotal", "linetax"),
}
REQUIRED = ("reference", "supplier", "date", "code", "qty", "unit_price")


class SupplierCreditCsvError(ValueError):
    """The file cannot be read; the message names the row and column to fix."""


def _normal(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _columns(headers: Sequence[str]) -> dict[str, str]:
    by_normal = {_normal(h): h for h in headers if h}
    found: dict[str, str] = {}
    for field, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in by_normal:
                found[field] = by_normal[alias]
                break
    missing = [field for field in REQUIRED if field not in found]
    if missing:
        wanted = "; ".join(f"{f} (e.g. {COLUMNS[f][0]!r})" for f in missing)
        raise SupplierCreditCsvError(
            f"the CSV has no column for: {wanted}. Its columns are: {', '.join(headers)}"
        )
    return found


def _decimal(row: Mapping[str, str], column: str, line: int) -> Decimal:
    text = (row.get(column) or "").strip().replace(",", "").replace("$", "")
    try:
        return Decimal(text or "0")
    except InvalidOperation as exc:
        raise SupplierCreditCsvError(
            f"row {line}, column {column!r}: {text!r} is not a number"
        ) from exc


def _number(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.0001")))


def _cell(row: dict[str, Any], columns: dict[str, str], name: str) -> str | None:
    """The stripped text of an optional column; None when the file has no such column."""
    if name not in columns:
        return None
    return (row.get(columns[name]) or "").strip()


def _csv_text(data: bytes | str) -> str:
    if isinstance(data, bytes):
        if len(data) > MAX_CSV_BYTES:
            raise SupplierCreditCsvError(f"the file is larger than {MAX_CSV_BYTES // 1024} KiB")
        return data.decode("utf-8-sig", errors="replace")
    return data


def _row_date(row: dict[str, Any], columns: dict[str, str], line: int) -> datetime | None:
    raw_date = (row.get(columns["date"]) or "").strip()
    try:
        return parse_cin7_datetime(raw_date)
    except ValueError as exc:
        raise SupplierCreditCsvError(
            f"row {line}, column {columns['date']!r}: {raw_date!r} is not a date (use yyyy-mm-dd)"
        ) from exc


def _new_note(
    row: dict[str, Any], columns: dict[str, str], reference: str, date: datetime | None
) -> dict[str, Any]:
    """The payload a credit note's first row opens, shaped like the API's document."""
    stamp = format_cin7_datetime(date) if date else None
    return {
        "id": None,
        "source": "csv-import",
        "reference": reference,
        "company": (row.get(columns["supplier"]) or "").strip(),
        "memberId": None,
        "supplierInvoiceReference": _cell(row, columns, "supplier_reference") or None,
        "invoiceDate": stamp,
        "modifiedDate": stamp,
        "currencyCode": (_cell(row, columns, "currency") or "").upper() or "USD",
        "branchName": _cell(row, columns, "branch") or None,
        "isVoid": False,
        "status": "APPROVED",
        "lineItems": [],
        "_tax": Decimal(0),
    }


def _add_line(
    note: dict[str, Any], row: dict[str, Any], columns: dict[str, str], line: int
) -> None:
    qty = -abs(_decimal(row, columns["qty"], line))  # a credit: quantities go back out
    price = abs(_decimal(row, columns["unit_price"], line))
    tax = -abs(_decimal(row, columns["tax"], line)) if "tax" in columns else Decimal(0)
    note["_tax"] += tax
    note["lineItems"].append(
        {
            "sort": len(note["lineItems"]) + 1,
            "code": (row.get(columns["code"]) or "").strip(),
            "name": _cell(row, columns, "name"),
            "qty": _number(qty),
            "unitPrice": _number(price),
            "discount": 0.0,
        }
    )


def _with_totals(note: dict[str, Any]) -> dict[str, Any]:
    product_total = Decimal(0)
    for line in note["lineItems"]:
        product_total += Decimal(str(line["qty"])) * Decimal(str(line["unitPrice"]))
    tax_total = note.pop("_tax")
    note["productTotal"] = _number(product_total)
    note["total"] = _number(product_total + tax_total)
    return note


def parse_supplier_credit_csv(data: bytes | str) -> list[dict[str, Any]]:
    """One payload per credit note reference, lines in file order."""
    reader = csv.DictReader(io.StringIO(_csv_text(data)))
    columns = _columns(reader.fieldnames or [])
    notes: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(reader, start=2):
        reference = (row.get(columns["reference"]) or "").strip()
        if not reference:
            raise SupplierCreditCsvError(f"row {line}, column {columns['reference']!r} is empty")
        date = _row_date(row, columns, line)
        if reference not in notes:
            notes[reference] = _new_note(row, columns, reference, date)
        _add_line(notes[reference], row, columns, line)
    payloads = [_with_totals(note) for note in notes.values()]
    if not payloads:
        raise SupplierCreditCsvError("the CSV has a header but no credit note lines")
    return payloads


def revisions_from_csv(data: bytes | str) -> list[Revision]:
    revisions = []
    for payload in parse_supplier_credit_csv(data):
        date = parse_cin7_datetime(payload["modifiedDate"])
        revisions.append(
            Revision(
                cin7_id=f"csv-{payload['reference']}"[:64],
                revision=revision_of(payload),
                modified=date,
                position=date,
                kind=Cin7Kind.SUPPLIER_CREDIT_NOTE,
                payload=payload,
            )
        )
    return revisions


async def import_supplier_credits(
    *,
    tenant_id: str,
    data: bytes | str,
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher,
) -> tuple[int, int]:
    """Publish the file's credit notes; returns (credit notes read, new revisions published)."""
    revisions = revisions_from_csv(data)
    publishing = RevisionPublisher(
        tenant_id=tenant_id,
        sessions=sessions,
        publisher=publisher,
        lookup_kinds=(Cin7Kind.SUPPLIER_CREDIT_NOTE,),
    )
    published = await publishing.publish_new(revisions)
    async with unit_of_work(sessions) as session:
        await repo.record_success(
            session,
            tenant_id,
            Cin7Kind.SUPPLIER_CREDIT_NOTE,
            seen=len(revisions),
            published=published,
            finished=True,
        )
    return len(revisions), published
