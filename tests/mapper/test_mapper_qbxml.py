"""Every rendered request validates against Intuit's XSD, for every entry kind and option."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from lxml import etree

from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.preview import preview_request_id
from omni2qbd_mapper.result import PostedEntry
from omni2qbd_mapper.rules.cogs import map_cogs_month
from omni2qbd_shared.entries import Entry, EntryKind
from omni2qbd_shared.qb_lists import QbLists
from omni2qbd_shared.qbxml.message_set import message_set, with_request_id
from omni2qbd_shared.qbxml.render import (
    RenderError,
    clean_text,
    render_add,
    render_mod,
    request_name,
)
from omni2qbd_shared.qbxml.schema import validation_errors
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import load_doc, settings_with

VERSIONS = ("13.0", "16.0")
DOCUMENTS = {
    "so_tax_exclusive": None,
    "so_tax_inclusive": None,
    "so_tax_exempt": None,
    "so_discounts": None,
    "so_freight_surcharge_taxable": None,
    "so_many_lines_rounding": None,
    "so_partial_dispatch": None,
    "so_foreign_currency": None,
    "cn_credit_memo": None,
    "po_bill": None,
    "po_supplier_credit": "supplier_credit_note",
    "adj_stock_adjustment": "stock_adjustment",
    "inventory_value": "stock_value",
}
OPTIONS = list(
    itertools.product(
        ("item", "account"),  # sales line mode
        ("sales_tax_item", "tax_line"),
        ("perpetual", "periodic"),
        ("monthly", "per_document"),
        ("account", "item"),  # purchase line mode
    )
)


def option_settings(
    sales_mode: str, tax: str, method: str, cogs: str, buy_mode: str
) -> TenantSettings:
    return settings_with(
        sales={"line_mode": sales_mode},
        tax={"mode": tax},
        inventory_method=method,
        cogs={"granularity": cogs},
        purchases={"line_mode": buy_mode},
        multi_currency=True,
        classes={"branch_class_map": {"3": "Warehouse:Main"}},
    )


def assert_valid(entries: list[Entry], version: str) -> None:
    """The Add and the Mod sets as the gateway builds them (the builder checks the XSD too)."""
    adds = [with_request_id(render_add(e, version), preview_request_id(e)) for e in entries]
    document = message_set(version, adds, new_message_set_id="ms-1")
    assert validation_errors(document, version) == [], document
    mods = [
        with_request_id(
            render_mod(e, "80000001-1417118624", "1417118624", version), preview_request_id(e)
        )
        for e in entries
    ]
    document = message_set(version, mods)
    assert validation_errors(document, version) == [], document


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_kind_and_option_renders_valid_qbxml(name: str, version: str) -> None:
    kinds_seen: set[EntryKind] = set()
    for options in OPTIONS:
        result = map_document(DOCUMENTS[name], load_doc(name), option_settings(*options))
        if name == "adj_stock_adjustment" and options[2] == "periodic":
            assert result.entries == []  # periodic inventory posts no stock adjustments
            continue
        assert result.entries, (name, options, result.findings)
        kinds_seen |= {e.kind for e in result.entries}
        assert_valid(result.entries, version)
        for entry in result.entries:
            assert entry.is_balanced(), (name, options, entry.key)
            # The gateway reads keys (and depends_on) as entry kind : source kind : Cin7 id.
            assert entry.key == f"{entry.kind.value}:{entry.source.kind}:{entry.source.cin7_id}"
            assert all(dep in {e.key for e in result.entries} for dep in entry.depends_on)
    assert kinds_seen


def test_the_matrix_covers_every_entry_kind() -> None:
    kinds: set[EntryKind] = set()
    for name, kind in DOCUMENTS.items():
        for options in OPTIONS:
            kinds |= {
                e.kind
                for e in map_document(kind, load_doc(name), option_settings(*options)).entries
            }
    assert kinds == set(EntryKind)


@pytest.mark.parametrize("version", VERSIONS)
def test_reversal_and_monthly_cogs_journals_render_valid(version: str) -> None:
    settings = settings_with(cogs={"granularity": "per_document"})
    posted = map_document(None, load_doc("so_tax_exclusive"), settings)
    voided = {**load_doc("so_tax_exclusive"), "isVoid": True, "status": "VOID"}
    result = map_document(
        None,
        voided,
        settings,
        posted=[PostedEntry(entry=e, is_draft=False) for e in posted.entries],
    )
    assert {e.subkind for e in result.entries} == {"reversal"}
    assert_valid(result.entries, version)
    month = map_cogs_month("2022-09", posted.cogs or [], settings, QbLists.empty())
    so = map_document(None, load_doc("so_tax_exclusive"), TenantSettings())
    cn = map_document(None, load_doc("cn_credit_memo"), TenantSettings())
    month = map_cogs_month("2022-09", [*so.cogs, *cn.cogs], TenantSettings(), QbLists.empty())
    assert_valid(month.entries, version)


def test_elements_follow_schema_order_for_a_bill_in_16_only_with_header_class() -> None:
    settings = settings_with(classes={"branch_class_map": {"3": "Main"}})
    bill = next(
        e
        for e in map_document(None, load_doc("po_bill"), settings).entries
        if e.kind is EntryKind.BILL
    )
    add13 = render_add(bill, "13.0").find("BillAdd")
    add16 = render_add(bill, "16.0").find("BillAdd")
    assert add13 is not None and add16 is not None
    assert add13.find("ClassRef") is None
    assert [c.tag for c in add16][:6] == [
        "VendorRef",
        "TxnDate",
        "RefNumber",
        "ClassRef",
        "Memo",
        "ExternalGUID",
    ]


def test_mod_replaces_lines_and_clears_the_missing_line_type() -> None:
    bill = next(
        e
        for e in map_document(None, load_doc("po_bill"), TenantSettings()).entries
        if e.kind is EntryKind.BILL
    )
    mod = render_mod(bill, "1-2", "99").find("BillMod")
    assert mod is not None
    assert [c.tag for c in mod][:2] == ["TxnID", "EditSequence"]
    assert mod.find("ClearItemLines") is not None and mod.find("ClearExpenseLines") is None
    assert {line.findtext("TxnLineID") for line in mod.iter("ExpenseLineMod")} == {"-1"}
    assert mod.find("ExternalGUID") is None  # not allowed on Mod


def test_text_is_escaped_cleaned_and_cut_to_schema_lengths() -> None:
    doc = load_doc("so_tax_exclusive")
    doc["lineItems"][0]["name"] = 'Widget <b>"A&B"</b>\x07'
    doc["reference"] = "SO-2221"
    doc["customerOrderNo"] = "P" * 40
    doc["billingAddress1"] = "A" * 60
    result = map_document(None, doc, TenantSettings())
    requests = [with_request_id(render_add(e), preview_request_id(e)) for e in result.entries]
    text = message_set("13.0", requests)
    assert validation_errors(text, "13.0") == []
    assert "&lt;b&gt;" in text and "&amp;B" in text and "\x07" not in text
    invoice = etree.fromstring(text[text.index("<QBXML>") :].encode()).find(".//InvoiceAdd")
    assert invoice is not None
    assert invoice.findtext("PONumber") == "P" * 25
    assert invoice.findtext("BillAddress/Addr2") == "A" * 41
    assert "po_number_shortened" in {f.code for f in result.all_findings()}


def test_message_set_attributes_and_limits() -> None:
    entry = map_document(None, load_doc("so_tax_exclusive"), TenantSettings()).entries[1]
    requests = [with_request_id(render_add(entry, "16.0"), "r1")]
    text = message_set("16.0", requests, on_error="stopOnError", new_message_set_id="abc-123")
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?><?qbxml version="16.0"?><QBXML>')
    root = etree.fromstring(text[text.index("<QBXML>") :].encode())
    msgs = root.find("QBXMLMsgsRq")
    assert msgs is not None
    assert msgs.get("onError") == "stopOnError" and msgs.get("newMessageSetID") == "abc-123"
    assert msgs[0].tag == request_name(entry) == "InvoiceAddRq" and msgs[0].get("requestID") == "r1"
    with pytest.raises(ValueError, match="requestID"):
        with_request_id(render_add(entry), "x" * 51)
    with pytest.raises(ValueError, match="newMessageSetID"):
        message_set("13.0", [with_request_id(render_add(entry), "r")], new_message_set_id="x" * 24)
    with pytest.raises(ValueError, match="onError"):
        message_set("13.0", [], on_error="sometimes")
    with pytest.raises(ValueError, match="is not supported"):
        render_add(entry, "12.0")


def test_held_journal_without_lines_cannot_be_rendered() -> None:
    month = map_cogs_month(
        "2022-09", [], TenantSettings(), QbLists.empty(), posted_total=Decimal("10")
    )
    (journal,) = month.entries
    assert journal.held
    with pytest.raises(RenderError):
        render_add(journal)


def test_clean_text_drops_control_characters_and_cuts() -> None:
    assert clean_text("a\x00b\x1fc  d", 3) == "abc"
