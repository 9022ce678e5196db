"""A realistic company file in the QuickBooks simulator, its mirror as the gateway reads it,
and posting a mapping result there the way the gateway would (dependencies first)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from omni2qbd_mapper.preview import preview_request_id
from omni2qbd_mapper.result import MappingResult
from omni2qbd_shared.entries import Entry
from omni2qbd_shared.qb_lists import REQUIRED_LISTS, ListName, QbListElement, QbLists
from omni2qbd_shared.qbxml.message_set import message_set, with_request_id
from omni2qbd_shared.qbxml.render import render_add
from omni2qbd_shared.qbxml.schema import schema_for
from omni2qbd_shared.xmlsafe import parse_xml
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.company_file import CompanyFile
from tests.xml_errors import schema_errors

ACCOUNTS = (
    ("Accounts Receivable", "AccountsReceivable"),
    ("Accounts Payable", "AccountsPayable"),
    ("Sales", "Income"),
    ("Freight Income", "Income"),
    ("Surcharge Income", "Income"),
    ("Discounts Given", "Income"),
    ("Inventory Asset", "OtherCurrentAsset"),
    ("Cost of Goods Sold", "CostOfGoodsSold"),
    ("Purchases", "CostOfGoodsSold"),
    ("Freight In", "CostOfGoodsSold"),
    ("Rounding", "Expense"),
    ("Inventory Adjustments", "CostOfGoodsSold"),
    ("Sales Tax Payable", "OtherCurrentLiability"),
)


def company(tax_rate: str = "8.25") -> CompanyFile:
    """Every account and item the default settings name, typed as a careful bookkeeper sets
    them up; product items coded taxable, as they are in real company files."""
    books = QuickBooksSimulator(edition="enterprise2021").company("Accounting")
    for name, kind in ACCOUNTS:
        books.add_account(name, kind)
    books.add_sales_tax_code("Tax", True)
    books.add_sales_tax_code("Non", False)
    books.add_sales_tax_item("Sales Tax", tax_rate)
    for name, item_type, account, code in (
        ("Cin7 Product", "ItemNonInventory", "Sales", "Tax"),
        ("Cin7 Sales", "ItemNonInventory", "Sales", "Tax"),
        ("Freight", "ItemOtherCharge", "Freight Income", "Non"),
        ("Surcharge", "ItemOtherCharge", "Surcharge Income", "Non"),
        ("Rounding", "ItemOtherCharge", "Rounding", "Non"),
        ("Sales Tax Line", "ItemOtherCharge", "Sales Tax Payable", "Non"),
        ("Discount", "ItemDiscount", "Discounts Given", "Non"),
    ):
        books.add_item(name, item_type=item_type, account=account, sales_tax_code=code)
    return books


def mirror(books: CompanyFile) -> QbLists:
    """The tenant view the mapper service builds from the gateway's mirror of ``books``."""
    lists = QbLists.for_tenant(REQUIRED_LISTS)
    kinds: dict[str, ListName] = {
        "Customer": "customer",
        "Vendor": "vendor",
        "Account": "account",
        "Class": "class",
    }
    for record in books.list_records():
        target: ListName | None
        if record.kind == "ItemSalesTax":
            target = "sales_tax_item"
        elif record.kind.startswith("Item"):
            target = "item"
        else:
            target = kinds.get(record.kind)
        if not target:
            continue
        stored = books.lists[record.list_id]
        code = books.lists.get(stored.sales_tax_code_id or "")
        element = QbListElement(
            record.list_id,
            record.full_name,
            tax_rate=record.tax_rate,
            item_type=record.kind if target == "item" else None,
            sales_tax_code=code.name if code is not None and target == "customer" else None,
        )
        lists.add(target, [element])
    return lists


@dataclass
class Answer:
    code: str
    severity: str
    message: str
    ident: str


def assert_valid(xml: str, version: str = "13.0") -> None:
    root = parse_xml(xml)
    schema = schema_for(version)
    assert schema.validate(root.getroottree()), schema_errors(schema)[:3]


def post_entries(
    books: CompanyFile, entries: list[Entry], version: str = "13.0"
) -> dict[str, Answer]:
    """Send the entries' Add requests in one message set (continueOnError), XSD-checked, built
    as the gateway builds it; the answers are by requestID (``preview_request_id``)."""
    requests = [with_request_id(render_add(e, version), preview_request_id(e)) for e in entries]
    xml = message_set(version, requests)
    assert_valid(xml, version)
    response = parse_xml(books.process_request(xml))
    messages = response.find("QBXMLMsgsRs")
    assert messages is not None
    answers = {}
    for rs in messages:
        ret = next(iter(rs), None)
        ident = "" if ret is None else ret.findtext("TxnID") or ret.findtext("ListID") or ""
        answers[rs.get("requestID") or ""] = Answer(
            rs.get("statusCode") or "",
            rs.get("statusSeverity") or "",
            rs.get("statusMessage") or "",
            ident,
        )
    return answers


def post_result(books: CompanyFile, result: MappingResult) -> dict[str, Answer]:
    lists = [e for e in result.entries if e.is_list_add]
    others = [e for e in result.entries if not e.is_list_add]
    return post_entries(books, lists + others)


def qb_total(books: CompanyFile, answers: dict[str, Answer], entry: Entry) -> Decimal:
    answer = answers[preview_request_id(entry)]
    assert answer.code == "0", answer.message
    return books.transaction(answer.ident).total
