"""Typed views of the Cin7 Omni documents the bridge reads (reference §8).

Every model keeps fields it does not declare (``extra="allow"``): the API returns far more than
we use, and a new field must never break a sync. Keys are matched without regard to case,
because some nested objects are not camel-cased (§2). Dates accept every form in §5.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from omni2qbd_shared.cin7_dates import parse_cin7_datetime

Cin7DateTime = Annotated[datetime | None, BeforeValidator(parse_cin7_datetime)]


class Cin7Model(BaseModel):
    model_config = ConfigDict(
        extra="allow", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    @model_validator(mode="before")
    @classmethod
    def _match_keys_ignoring_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        aliases = _ALIAS_CACHE.get(cls)
        if aliases is None:
            aliases = {
                (info.alias or name).lower(): info.alias or name
                for name, info in cls.model_fields.items()
            }
            _ALIAS_CACHE[cls] = aliases
        return {aliases.get(str(key).lower(), key): value for key, value in data.items()}


_ALIAS_CACHE: dict[type[Cin7Model], dict[str, str]] = {}


class AccountingAttributes(Cin7Model):
    import_date: Cin7DateTime = None
    accounting_import_status: str | None = None


class OrderLine(Cin7Model):
    """A line of a sales order, purchase order or credit note (§8.2-8.4)."""

    id: int | None = None
    transaction_id: int | None = None
    parent_id: int | None = None
    product_id: int | None = None
    product_option_id: int | None = None
    sort: int | None = None
    code: str | None = None
    name: str | None = None
    option1: str | None = None
    option2: str | None = None
    option3: str | None = None
    qty: Decimal = Decimal(0)
    qty_shipped: Decimal | None = None
    unit_price: Decimal | None = None
    unit_cost: Decimal | None = None
    discount: Decimal | None = None
    account_code: str | None = None
    line_comments: str | None = None


class _TransactionHeader(Cin7Model):
    id: int
    created_date: Cin7DateTime = None
    modified_date: Cin7DateTime = None
    modified_cogs_date: Cin7DateTime = Field(None, alias="modifiedCOGSDate")
    reference: str | None = None
    is_approved: bool | None = None
    status: str | None = None
    member_id: int | None = None
    member_email: str | None = None
    company: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    branch_id: int | None = None
    currency_code: str | None = None
    currency_rate: Decimal | None = None
    tax_status: str | None = None
    tax_rate: Decimal | None = None
    product_total: Decimal | None = None
    freight_total: Decimal | None = None
    freight_description: str | None = None
    surcharge: Decimal | None = None
    surcharge_description: str | None = None
    discount_total: Decimal | None = None
    discount_description: str | None = None
    total: Decimal | None = None
    custom_fields: dict[str, Any] | None = None
    accounting_attributes: AccountingAttributes | None = None
    line_items: list[OrderLine] = Field(default_factory=list)


class SalesOrder(_TransactionHeader):
    stage: str | None = None
    is_void: bool | None = None
    invoice_date: Cin7DateTime = None
    invoice_number: int | None = None
    dispatched_date: Cin7DateTime = None
    cancellation_date: Cin7DateTime = None
    customer_order_no: str | None = None
    payment_terms: str | None = None
    cost_center: str | None = None
    alternative_tax_rate: str | None = None


class PurchaseOrder(_TransactionHeader):
    stage: str | None = None
    is_void: bool | None = None
    invoice_date: Cin7DateTime = None
    fully_received_date: Cin7DateTime = None
    supplier_invoice_reference: str | None = None
    payment_terms: str | None = None

    @property
    def is_supplier_credit(self) -> bool:
        """A purchase order whose total is negative records a return to the supplier."""
        return self.total is not None and self.total < 0


class CreditNote(_TransactionHeader):
    sales_reference: str | None = None
    credit_note_number: int | None = None
    credit_note_date: Cin7DateTime = None
    completed_date: Cin7DateTime = None
    customer_report: str | None = None
    alternative_account_code: str | None = None


class AdjustmentLine(Cin7Model):
    id: int | None = None
    product_id: int | None = None
    product_option_id: int | None = None
    code: str | None = None
    name: str | None = None
    qty: Decimal = Decimal(0)
    qty_adjusted: Decimal | None = None
    account: str | None = None
    unit_cost: Decimal | None = None


class Adjustment(Cin7Model):
    id: int
    created_date: Cin7DateTime = None
    modified_date: Cin7DateTime = None
    reference: str | None = None
    is_approved: bool | None = None
    branch_id: int | None = None
    completed_date: Cin7DateTime = None
    adjust_in_accounting_system: Cin7DateTime = None
    adjustment_reason: str | None = None
    alternative_account_code: str | None = None
    product_total: Decimal | None = None
    line_items: list[AdjustmentLine] = Field(default_factory=list)


class Contact(Cin7Model):
    id: int
    created_date: Cin7DateTime = None
    modified_date: Cin7DateTime = None
    is_active: bool | None = None
    type: str | None = None
    company: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    payment_terms: str | None = None
    tax_status: str | None = None
    tax_number: str | None = None


class ProductOption(Cin7Model):
    id: int
    created_date: Cin7DateTime = None
    modified_date: Cin7DateTime = None
    status: str | None = None
    product_id: int | None = None
    code: str | None = None
    product_option_code: str | None = None
    barcode: str | None = None
    option1: str | None = None
    retail_price: Decimal | None = None
    stock_on_hand: Decimal | None = None
    price_columns: dict[str, Any] | None = None


class Product(Cin7Model):
    id: int
    created_date: Cin7DateTime = None
    modified_date: Cin7DateTime = None
    status: str | None = None
    style_code: str | None = None
    name: str | None = None
    sales_account: str | None = None
    purchases_account: str | None = None
    product_options: list[ProductOption] = Field(default_factory=list)


class StockUnit(Cin7Model):
    product_id: int | None = None
    product_option_id: int | None = None
    branch_id: int | None = None
    modified_date: Cin7DateTime = None
    code: str | None = None
    stock_on_hand: Decimal | None = None
    available: Decimal | None = None


class Branch(Cin7Model):
    id: int
    modified_date: Cin7DateTime = None
    company: str | None = None
    is_active: bool | None = None


class Payment(Cin7Model):
    id: int
    created_date: Cin7DateTime = None
    modified_date: Cin7DateTime = None
    payment_date: Cin7DateTime = None
    amount: Decimal | None = None
    method: str | None = None
    order_id: int | None = None
    order_ref: str | None = None
    order_type: str | None = None


class UpsertResult(Cin7Model):
    """One element of the array a POST/PUT answers with (§2)."""

    index: int
    success: bool
    id: int | None = None
    code: str | None = None
    errors: list[str] = Field(default_factory=list)


MODEL_FOR: dict[str, type[Cin7Model]] = {
    "SalesOrders": SalesOrder,
    "PurchaseOrders": PurchaseOrder,
    "CreditNotes": CreditNote,
    "Adjustments": Adjustment,
    "Contacts": Contact,
    "Products": Product,
    "ProductOptions": ProductOption,
    "Stock": StockUnit,
    "Branches": Branch,
    "Payments": Payment,
}
