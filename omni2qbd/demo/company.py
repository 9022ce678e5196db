"""The demo's QuickBooks company file and the demo tenant's settings, made to fit each other.

The chart of accounts and items are exactly the names the default settings refer to, so
the demo shows what a tenant sees once its accounts are mapped. A few customers and
vendors already exist, one of them with a name a Cin7 customer also uses, as happens in
real company files.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from omni2qbd_shared.tenant_settings import TenantSettings
from omni2qbd_sims.quickbooks.company_file import CompanyFile

ACCOUNTS = (
    ("Checking", "Bank"),
    ("Accounts Receivable", "AccountsReceivable"),
    ("Accounts Payable", "AccountsPayable"),
    ("Inventory Asset", "OtherCurrentAsset"),
    ("Sales Tax Payable", "OtherCurrentLiability"),
    ("Sales", "Income"),
    ("Freight Income", "Income"),
    ("Surcharge Income", "Income"),
    ("Discounts Given", "Income"),
    ("Cost of Goods Sold", "CostOfGoodsSold"),
    ("Purchases", "CostOfGoodsSold"),
    ("Inventory Adjustments", "CostOfGoodsSold"),
    ("Freight In", "CostOfGoodsSold"),
    ("Rounding", "Expense"),
)


# Already a vendor in the demo company file, and the name of a Cin7 customer too.
COLLIDING_NAME = "Northwind Traders"


def seed_company(company: CompanyFile, *, tax_rate: Decimal) -> None:
    """Fill an empty company file; a company that already has lists is left as it is."""
    if company.list_records():
        return
    for name, account_type in ACCOUNTS:
        company.add_account(name, account_type)
    company.add_sales_tax_code("Tax", True)
    company.add_sales_tax_code("Non", False)
    company.add_sales_tax_item("Sales Tax", tax_rate)
    company.add_terms("Net 30", 30)
    for name, item_type, account, code in (
        ("Cin7 Product", "ItemNonInventory", "Sales", "Tax"),
        ("Cin7 Sales", "ItemNonInventory", "Sales", "Tax"),
        # This Cin7 account charges sales tax on freight and surcharges too.
        ("Freight", "ItemOtherCharge", "Freight Income", "Tax"),
        ("Surcharge", "ItemOtherCharge", "Surcharge Income", "Tax"),
        ("Rounding", "ItemOtherCharge", "Rounding", "Non"),
        ("Sales Tax Line", "ItemOtherCharge", "Sales Tax Payable", "Non"),
    ):
        company.add_item(name, item_type=item_type, account=account, sales_tax_code=code)
    company.add_item("Discount", item_type="ItemDiscount", account="Discounts Given")
    company.add_customer("Walk-in Customer")
    company.add_vendor("Office Supplies Co")
    # QuickBooks names are unique across customers, vendors, employees and other names, so
    # the Cin7 customer of the same name cannot be added: its orders are held, with why.
    company.add_vendor(COLLIDING_NAME)


def demo_settings(tax_rate: Decimal) -> dict[str, Any]:
    settings = TenantSettings()
    settings.tax.tax_item_map = {}
    body: dict[str, Any] = settings.model_dump(mode="json")
    body["tax"]["default_tax_item"] = "Sales Tax"
    body["tax"]["freight_taxable"] = True
    body["tax"]["surcharge_taxable"] = True
    body["tax"]["tax_item_map"] = {str(tax_rate): {"item": "Sales Tax", "rate": str(tax_rate)}}
    TenantSettings.model_validate(body)
    return body
