"""The company file's public face: qbXML processing, seeding, the actions a person would
take in QuickBooks, and inspection for tests.

Control actions raise ``ValueError`` (bad request) or ``KeyError`` (unknown object) with a
plain message; inspection returns frozen dataclasses with ``Decimal`` amounts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from lxml import etree

from omni2qbd_sims.quickbooks import statuses
from omni2qbd_sims.quickbooks.company import CompanyState
from omni2qbd_sims.quickbooks.indexes import GUID, REF
from omni2qbd_sims.quickbooks.model import (
    INVENTORY_KINDS,
    ITEM_KINDS,
    PAYMENT_TYPES,
    TXN_TYPES,
    LineSnapshot,
    Link,
    LinkSnapshot,
    ListRecord,
    ListSnapshot,
    Txn,
    TxnSnapshot,
    TypeTotals,
)
from omni2qbd_sims.quickbooks.processor import process_request
from omni2qbd_sims.quickbooks.qbtext import money, parse_decimal, sub
from omni2qbd_sims.quickbooks.txn_ops import LINE_TAGS, ZERO, totals

SEED_KINDS = {
    "account": "Account",
    "customer": "Customer",
    "vendor": "Vendor",
    "employee": "Employee",
    "other_name": "OtherName",
    "class": "Class",
    "terms": "StandardTerms",
    "sales_tax_item": "ItemSalesTax",
    "sales_tax_code": "SalesTaxCode",
    "item": "ItemService",
}


# The demo company (``CompanyFile.seed_demo``): a small US company with everything the
# bridge's default settings refer to.
_DEMO_ACCOUNTS = (
    ("Checking", "Bank"),
    ("Accounts Receivable", "AccountsReceivable"),
    ("Inventory Asset", "OtherCurrentAsset"),
    ("Undeposited Funds", "OtherCurrentAsset"),
    ("Accounts Payable", "AccountsPayable"),
    ("Sales Tax Payable", "OtherCurrentLiability"),
    ("Sales", "Income"),
    ("Freight Income", "Income"),
    ("Discounts Given", "Income"),
    ("Cost of Goods Sold", "CostOfGoodsSold"),
    ("Freight and Delivery", "Expense"),
    ("Inventory Adjustments", "CostOfGoodsSold"),
    ("Rounding", "Expense"),
)
_DEMO_TAX_CODES = (("Tax", True), ("Non", False))
_DEMO_TAX_ITEMS = (("State Sales Tax", "8.25"), ("Out of State", "0"))
_DEMO_TERMS = (("Net 30", 30), ("Due on receipt", 0))
_DEMO_CLASSES = ("Main Warehouse", "Online Store")
# name, item type, price, cost, income account, sales tax code
_DEMO_ITEMS: tuple[tuple[str, str, str | None, str | None, str, str], ...] = (
    ("Widget", "ItemNonInventory", "25.00", "10.00", "Sales", "Tax"),
    ("Gadget", "ItemNonInventory", "40.00", "18.50", "Sales", "Tax"),
    ("Consulting", "ItemService", "150.00", None, "Sales", "Non"),
    ("Freight", "ItemOtherCharge", None, None, "Freight Income", "Non"),
    ("Discount", "ItemDiscount", None, None, "Discounts Given", "Non"),
    # The items Omni2QBD's default settings name for Cin7's tax amount (tax-line mode) and
    # for rounding differences.
    ("Sales Tax Line", "ItemOtherCharge", None, None, "Sales Tax Payable", "Non"),
    ("Rounding", "ItemOtherCharge", None, None, "Rounding", "Non"),
    ("Cin7 Item", "ItemNonInventory", None, None, "Sales", "Tax"),
)
# name, company name, email, sales tax code, sales tax item
_DEMO_CUSTOMERS: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("Acme Corp", "Acme Corp", "ap@acme.example", "Tax", "State Sales Tax"),
    ("Globex", "Globex LLC", None, "Non", "Out of State"),
)
_DEMO_VENDORS: tuple[tuple[str, str | None], ...] = (
    ("Widget Supply Co", "Widget Supply Co"),
    ("Freight Partners", None),
)


class CompanyFile(CompanyState):
    # ---- qbXML ----------------------------------------------------------------------
    def process_request(self, qbxml: str) -> str:
        return process_request(self, qbxml)

    # ---- seeding lists --------------------------------------------------------------
    def add_account(
        self, name: str, account_type: str, *, number: str | None = None, parent: str | None = None
    ) -> ListSnapshot:
        parent_id = self.require_list(("Account",), parent).list_id if parent else None
        record = self.add_list(
            "Account", name, parent_id=parent_id, account_type=account_type, account_number=number
        )
        return self.list_snapshot(record)

    def add_customer(
        self,
        name: str,
        *,
        company_name: str | None = None,
        email: str | None = None,
        sales_tax_code: str | None = None,
        sales_tax_item: str | None = None,
        parent: str | None = None,
    ) -> ListSnapshot:
        return self._add_name(
            "Customer",
            name,
            company_name=company_name,
            email=email,
            sales_tax_code=sales_tax_code,
            sales_tax_item=sales_tax_item,
            parent=parent,
        )

    def add_vendor(
        self, name: str, *, company_name: str | None = None, email: str | None = None
    ) -> ListSnapshot:
        return self._add_name("Vendor", name, company_name=company_name, email=email)

    def add_employee(self, name: str) -> ListSnapshot:
        return self._add_name("Employee", name)

    def add_other_name(self, name: str) -> ListSnapshot:
        return self._add_name("OtherName", name)

    def _add_name(
        self,
        kind: str,
        name: str,
        *,
        company_name: str | None = None,
        email: str | None = None,
        sales_tax_code: str | None = None,
        sales_tax_item: str | None = None,
        parent: str | None = None,
    ) -> ListSnapshot:
        with self.lock:
            extra = etree.Element("Extra")
            if company_name:
                sub(extra, "CompanyName", company_name)
            if email:
                sub(extra, "Email", email)
            code = self.require_list(("SalesTaxCode",), sales_tax_code) if sales_tax_code else None
            tax_item = (
                self.require_list(("ItemSalesTax",), sales_tax_item) if sales_tax_item else None
            )
            parent_id = self.require_list((kind,), parent).list_id if parent else None
            record = self._seed(
                kind,
                name,
                parent_id=parent_id,
                sales_tax_code_id=code.list_id if code else None,
                item_sales_tax_id=tax_item.list_id if tax_item else None,
                extra=extra,
            )
            return self.list_snapshot(record)

    def add_item(
        self,
        name: str,
        *,
        item_type: str = "ItemService",
        price: Decimal | str | None = None,
        cost: Decimal | str | None = None,
        account: str | None = None,
        sales_tax_code: str | None = None,
    ) -> ListSnapshot:
        if item_type not in ITEM_KINDS:
            raise ValueError(f"item_type must be one of {ITEM_KINDS}, not {item_type!r}")
        with self.lock:
            account_id = self.require_list(("Account",), account).list_id if account else None
            code = self.require_list(("SalesTaxCode",), sales_tax_code) if sales_tax_code else None
            record = self._seed(
                item_type,
                name,
                price=Decimal(price) if price is not None else None,
                cost=Decimal(cost) if cost is not None else None,
                account_id=account_id,
                sales_tax_code_id=code.list_id if code else None,
            )
            return self.list_snapshot(record)

    def add_class(self, name: str, *, parent: str | None = None) -> ListSnapshot:
        parent_id = self.require_list(("Class",), parent).list_id if parent else None
        return self.list_snapshot(self._seed("Class", name, parent_id=parent_id))

    def add_terms(self, name: str, due_days: int = 0) -> ListSnapshot:
        return self.list_snapshot(self._seed("StandardTerms", name, due_days=due_days))

    def add_sales_tax_item(self, name: str, rate: Decimal | str) -> ListSnapshot:
        return self.list_snapshot(self._seed("ItemSalesTax", name, tax_rate=Decimal(rate)))

    def add_sales_tax_code(self, name: str, taxable: bool) -> ListSnapshot:
        return self.list_snapshot(self._seed("SalesTaxCode", name, is_taxable=taxable))

    def _seed(self, kind: str, name: str, **attrs: object) -> ListRecord:
        try:
            return self.add_list(kind, name, **attrs)  # type: ignore[arg-type]
        except statuses.RequestFailed as failure:
            raise ValueError(failure.status.message) from failure

    def seed(self, kind: str, name: str, **fields: object) -> ListSnapshot:
        """Generic seeding used by the HTTP control API (kind in ``SEED_KINDS``)."""
        if kind not in SEED_KINDS:
            raise ValueError(f"kind must be one of {sorted(SEED_KINDS)}, not {kind!r}")
        if kind == "account":
            return self.add_account(name, str(fields.pop("account_type", "Expense")), **fields)  # type: ignore[arg-type]
        if kind == "customer":
            return self.add_customer(name, **fields)  # type: ignore[arg-type]
        if kind == "vendor":
            return self.add_vendor(name, **fields)  # type: ignore[arg-type]
        if kind == "employee":
            return self.add_employee(name)
        if kind == "other_name":
            return self.add_other_name(name)
        if kind == "class":
            return self.add_class(name, **fields)  # type: ignore[arg-type]
        if kind == "terms":
            return self.add_terms(name, int(str(fields.get("due_days", 0))))
        if kind == "sales_tax_item":
            return self.add_sales_tax_item(name, str(fields["rate"]))
        if kind == "sales_tax_code":
            return self.add_sales_tax_code(name, bool(fields.get("taxable", False)))
        return self.add_item(name, **fields)  # type: ignore[arg-type]

    def seed_demo(self) -> None:
        """A small US company with everything the bridge's defaults refer to."""
        with self.lock:
            if self.lists:
                return
            # Created in table order: list IDs follow it, and later rows name earlier ones.
            for name, account_type in _DEMO_ACCOUNTS:
                self.add_account(name, account_type)
            for name, taxable in _DEMO_TAX_CODES:
                self.add_sales_tax_code(name, taxable)
            for name, rate in _DEMO_TAX_ITEMS:
                self.add_sales_tax_item(name, rate)
            for name, due_days in _DEMO_TERMS:
                self.add_terms(name, due_days)
            for name in _DEMO_CLASSES:
                self.add_class(name)
            for name, item_type, price, cost, account, tax_code in _DEMO_ITEMS:
                self.add_item(
                    name,
                    item_type=item_type,
                    price=price,
                    cost=cost,
                    account=account,
                    sales_tax_code=tax_code,
                )
            for name, company_name, email, tax_code, tax_item in _DEMO_CUSTOMERS:
                self.add_customer(
                    name,
                    company_name=company_name,
                    email=email,
                    sales_tax_code=tax_code,
                    sales_tax_item=tax_item,
                )
            for name, vendor_company in _DEMO_VENDORS:
                self.add_vendor(name, company_name=vendor_company)
            self.add_employee("Pat Jones")

    # ---- what a person does in QuickBooks --------------------------------------------
    def mark_final(self, txn_id: str) -> TxnSnapshot:
        """Mark a pending invoice or credit memo final (IsPending false)."""
        with self.lock:
            txn = self.require_txn(txn_id)
            if txn.txn_type not in ("Invoice", "CreditMemo"):
                raise ValueError(f"{txn.txn_type} {txn_id} has no pending state")
            if txn.body.findtext("IsPending") != "true":
                raise ValueError(f"{txn.txn_type} {txn_id} is not pending")
            _replace(txn.body, "IsPending", "false")
            self.touch_txn(txn)
            return self.snapshot(txn)

    def edit_transaction(self, txn_id: str, *, memo: str | None = None) -> TxnSnapshot:
        """Edit a transaction by hand (changes the Memo and the EditSequence)."""
        with self.lock:
            txn = self.require_txn(txn_id)
            old = txn.body.findtext("Memo") or ""
            _replace(txn.body, "Memo", memo if memo is not None else f"{old} (edited)".strip())
            self.touch_txn(txn)
            return self.snapshot(txn)

    def apply_payment(
        self, txn_id: str, amount: Decimal | str | None = None, *, txn_date: date | None = None
    ) -> TxnSnapshot:
        """Receive a payment against an invoice (or pay a bill); returns the payment."""
        with self.lock:
            txn = self.require_txn(txn_id)
            if txn.txn_type == "Invoice":
                payment_type, entity_tag = "ReceivePayment", "CustomerRef"
                if txn.body.findtext("IsPending") == "true":
                    raise ValueError(f"Invoice {txn_id} is pending; payments need a final invoice")
            elif txn.txn_type == "Bill":
                payment_type, entity_tag = "BillPaymentCheck", "VendorRef"
            else:
                raise ValueError(f"payments apply to invoices and bills, not {txn.txn_type}")
            balance = totals(self, txn).balance
            paid = money(Decimal(amount)) if amount is not None else balance
            if paid <= ZERO or paid > balance:
                raise ValueError(
                    f"payment {paid} must be positive and at most the balance {balance}"
                )
            when = txn_date or self.now().date()
            body = etree.Element(f"{payment_type}Ret")
            entity = txn.body.find(entity_tag)
            if entity is not None:
                body.append(copy.deepcopy(entity))
            sub(body, "TxnDate", when.isoformat())
            sub(body, "TotalAmount", str(paid))
            now = self.now()
            payment = Txn(
                txn_type=payment_type,
                txn_id=self.new_txn_id(),
                txn_number=self.new_txn_number(),
                edit_sequence=self.new_edit_sequence(),
                time_created=now,
                time_modified=now,
                body=body,
            )
            ref_number = txn.body.findtext("RefNumber")
            txn_when = date.fromisoformat(txn.body.findtext("TxnDate") or when.isoformat())
            payment.links.append(Link(txn.txn_id, txn.txn_type, txn_when, ref_number, paid))
            txn.links.append(Link(payment.txn_id, payment_type, when, None, paid))
            self.store_txn(payment)
            self.touch_txn(txn)
            return self.snapshot(payment)

    def delete_transaction(self, txn_id: str) -> TxnSnapshot:
        with self.lock:
            txn = self.require_txn(txn_id)
            txn.time_deleted = self.now()
            self.reindex_txn(txn)
            return self.snapshot(txn)

    def rename_customer(self, name_or_id: str, new_name: str) -> ListSnapshot:
        return self.rename(("Customer",), name_or_id, new_name)

    def rename(self, kinds: Iterable[str], name_or_id: str, new_name: str) -> ListSnapshot:
        with self.lock:
            record = self.require_list(tuple(kinds), name_or_id)
            clash = self.find_name(
                "Name" if record.kind in ("Customer", "Vendor") else record.kind, new_name
            )
            if clash is not None and clash is not record:
                raise ValueError(statuses.name_in_use(new_name).status.message)
            record.name = new_name
            self.names_changed()
            self.touch_list(record)
            return self.list_snapshot(record)

    # ---- inspection -----------------------------------------------------------------
    def snapshot(self, txn: Txn) -> TxnSnapshot:
        body = txn.body
        t = totals(self, txn)
        entity_tag = next(
            (tag for tag in ("CustomerRef", "VendorRef") if body.find(tag) is not None), None
        )
        entity_id = body.findtext(f"{entity_tag}/ListID") if entity_tag else None
        entity = self.lists.get(entity_id) if entity_id else None
        txn_date = body.findtext("TxnDate")
        pending = body.findtext("IsPending")
        return TxnSnapshot(
            txn_type=txn.txn_type,
            txn_id=txn.txn_id,
            txn_number=txn.txn_number,
            edit_sequence=txn.edit_sequence,
            ref_number=body.findtext("RefNumber"),
            txn_date=date.fromisoformat(txn_date) if txn_date else None,
            entity=self.full_name(entity) if entity else None,
            entity_list_id=entity_id,
            external_guid=body.findtext("ExternalGUID"),
            memo=body.findtext("Memo"),
            is_pending=None if pending is None else pending == "true",
            subtotal=t.subtotal if txn.txn_type in TXN_TYPES else money(t.total),
            sales_tax_total=t.sales_tax_total,
            total=money(t.total)
            if txn.txn_type in TXN_TYPES
            else money(parse_decimal(body.findtext("TotalAmount")) or ZERO),
            applied_amount=t.applied,
            balance_remaining=t.balance,
            is_paid=t.is_paid,
            lines=tuple(self._line_snapshot(line) for line in body if str(line.tag) in LINE_TAGS),
            linked_txns=tuple(
                LinkSnapshot(x.txn_id, x.txn_type, x.txn_date, x.ref_number, x.amount)
                for x in txn.links
            ),
            time_created=txn.time_created,
            time_modified=txn.time_modified,
            deleted=txn.deleted,
        )

    def _line_snapshot(self, line: etree._Element) -> LineSnapshot:
        tag = str(line.tag)
        kind = {
            "JournalDebitLine": "debit",
            "JournalCreditLine": "credit",
            "ExpenseLineRet": "expense",
        }.get(tag, "item")

        def name_of(ref_tag: str) -> str | None:
            list_id = line.findtext(f"{ref_tag}/ListID")
            return self.full_name(self.lists[list_id]) if list_id in self.lists else None

        return LineSnapshot(
            line_id=line.findtext("TxnLineID") or "",
            kind=kind,
            item=name_of("ItemRef"),
            account=name_of("AccountRef") or name_of("OverrideItemAccountRef"),
            desc=line.findtext("Desc"),
            quantity=parse_decimal(line.findtext("Quantity")),
            rate=parse_decimal(line.findtext("Rate") or line.findtext("Cost")),
            amount=parse_decimal(line.findtext("Amount")) or ZERO,
            memo=line.findtext("Memo"),
            entity=name_of("EntityRef") or name_of("CustomerRef"),
            sales_tax_code=name_of("SalesTaxCodeRef"),
        )

    def list_snapshot(self, record: ListRecord) -> ListSnapshot:
        return ListSnapshot(
            kind=record.kind,
            list_id=record.list_id,
            name=record.name,
            full_name=self.full_name(record),
            is_active=record.is_active,
            edit_sequence=record.edit_sequence,
            time_modified=record.time_modified,
            account_type=record.account_type,
            tax_rate=record.tax_rate,
            is_taxable=record.is_taxable,
            price=record.price,
            external_guid=record.external_guid,
        )

    def transactions(
        self, txn_type: str | None = None, *, include_deleted: bool = False
    ) -> list[TxnSnapshot]:
        with self.lock:
            return [
                self.snapshot(t)
                for t in self.txns.values()
                if (txn_type is None or t.txn_type == txn_type)
                and (include_deleted or not t.deleted)
            ]

    def transaction(self, txn_id: str) -> TxnSnapshot:
        with self.lock:
            if txn_id not in self.txns:
                raise KeyError(f"no transaction with TxnID {txn_id!r}")
            return self.snapshot(self.txns[txn_id])

    def count_by_ref_number(self, ref_number: str, txn_type: str | None = None) -> int:
        with self.lock:
            return sum(
                1
                for t in self.txns_by(REF, ref_number)
                if txn_type is None or t.txn_type == txn_type
            )

    def find_by_external_guid(self, external_guid: str) -> list[TxnSnapshot]:
        wanted = external_guid.strip().upper()
        with self.lock:
            return [self.snapshot(t) for t in self.txns_by(GUID, wanted)]

    def totals_by_type(self) -> dict[str, TypeTotals]:
        with self.lock:
            result: dict[str, TypeTotals] = {}
            for txn_type in (*TXN_TYPES, *PAYMENT_TYPES):
                snaps = self.transactions(txn_type)
                if snaps:
                    result[txn_type] = TypeTotals(
                        txn_type, len(snaps), sum((s.total for s in snaps), ZERO)
                    )
            return result

    def inventory_cogs(self) -> Decimal:
        """The cost of goods sold QuickBooks posts by itself: every final (not pending)
        invoice line on an Inventory Part or Assembly moves quantity x the item's cost from
        Inventory Asset to COGS, and a credit memo line moves it back. A bridge that also
        posts COGS journals for those lines books the cost twice; this shows it."""
        with self.lock:
            total = ZERO
            for txn in self.txns.values():
                if txn.deleted or txn.txn_type not in ("Invoice", "CreditMemo"):
                    continue
                if txn.body.findtext("IsPending") == "true":
                    continue  # pending sales post nothing (reference §3.8)
                sign = 1 if txn.txn_type == "Invoice" else -1
                for line in txn.body:
                    if str(line.tag) not in LINE_TAGS:
                        continue
                    item = self.lists.get(line.findtext("ItemRef/ListID") or "")
                    if item is None or item.kind not in INVENTORY_KINDS:
                        continue
                    quantity = parse_decimal(line.findtext("Quantity")) or Decimal(1)
                    total += sign * quantity * (item.cost or ZERO)
            return money(total)

    def list_records(self, kind: str | None = None) -> list[ListSnapshot]:
        with self.lock:
            kinds = [kind] if kind else sorted({r.kind for r in self.lists.values()})
            return [self.list_snapshot(r) for r in self.records(kinds)]


def _replace(body: etree._Element, tag: str, text: str) -> None:
    found = body.find(tag)
    if found is None:
        found = sub(body, tag)
    found.text = text
