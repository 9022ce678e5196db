"""Issue 12, point 4: nothing is ready that QuickBooks refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.preview import preview_request_id, result_message_set
from omni2qbd_shared.entries import EntryKind
from omni2qbd_shared.xmlsafe import parse_xml
from tests.accounting.helpers import assert_valid, company, mirror, post_result
from tests.conftest import REPO_ROOT
from tests.mapper.conftest import load_doc, settings_with


def test_a_return_booked_as_a_sales_order_is_held_not_sent_negative() -> None:
    doc = load_doc("so_tax_exclusive")
    line = {**doc["lineItems"][0], "qty": -2.0, "qtyShipped": -2.0}
    negative = {
        **doc,
        "lineItems": [line],
        "productTotal": -200.0,
        "freightTotal": 0.0,
        "total": -216.5,
    }
    result = map_document("sales_order", negative, settings_with())
    assert result.held
    (finding,) = [f for f in result.all_findings() if f.code == "negative_invoice"]
    assert "must be positive" in finding.message
    # what it prevents: QuickBooks refuses it
    books = company()
    for entry in result.entries:
        entry.findings = []
    answers = post_result(books, result)
    invoice = next(e for e in result.entries if e.kind is EntryKind.INVOICE)

    assert answers[preview_request_id(invoice)].code != "0"


def test_quantities_beyond_qbxml_hold_at_mapping_time() -> None:
    doc = load_doc("so_tax_exclusive")
    doc["lineItems"][0].update(qty=12_000_000_000, qtyShipped=12_000_000_000, unitPrice=0.01)
    doc.update(productTotal=120_000_000.0, freightTotal=0.0, total=129_900_000.0)
    result = map_document("sales_order", doc, settings_with(), mirror(company()))
    assert result.held
    (finding,) = [f for f in result.all_findings() if f.code == "number_out_of_range"]
    assert "12000000000" in finding.message and "quantity" in finding.message


def test_journal_entries_carry_their_text_on_the_lines_not_the_header() -> None:
    result = map_document("stock_adjustment", load_doc("adj_stock_adjustment"), settings_with())
    xml = result_message_set(result, "13.0")
    assert_valid(xml)
    assert "<JournalEntryAdd><Memo>" not in xml and "<Memo>" in xml

    add = parse_xml(xml).find(".//JournalEntryAdd")
    assert add is not None and add.find("Memo") is None
    assert all(line.findtext("Memo") for line in add if str(line.tag).startswith("Journal"))


def test_nan_in_a_document_is_one_line_naming_the_field(tmp_path: Path) -> None:
    text = json.dumps(load_doc("so_tax_exclusive")).replace(
        '"unitPrice": 100.0', '"unitPrice": NaN'
    )
    document = tmp_path / "doc.json"
    document.write_text(text)
    settings = tmp_path / "settings.json"
    settings.write_text("{}")
    run = subprocess.run(
        [sys.executable, "-m", "omni2qbd", "preview", "--settings", str(settings), str(document)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "lineItems[0].unitPrice" in lines[0], run.stderr
