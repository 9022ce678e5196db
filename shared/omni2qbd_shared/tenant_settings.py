"""A tenant's accounting settings: how Cin7 documents become QuickBooks entries.

Every rule of docs/design.md §5 and §6 is a setting here with a default that works for a typical US
QuickBooks Desktop company. The gateway stores versions of this model (who changed what, when);
the mapper and ``omni2qbd preview`` read it. ``settings_problems`` explains every problem in a
settings file in plain words, naming the setting to fix.
"""

from __future__ import annotations

import json
import string
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SETTINGS_SCHEMA_VERSION = 1

# QuickBooks limits (qbXML XSD): RefNumber lengths per transaction, name lengths per list.
REF_NUMBER_LIMITS = {
    "invoice": 11,
    "credit_memo": 11,
    "journal": 11,
    "bill": 20,
    "vendor_credit": 20,
}
ACCOUNT_NAME_MAX = 31  # each segment of an account's full name
ITEM_NAME_MAX = 31  # each segment of an item's full name
CLASS_NAME_MAX = 31
FULL_NAME_MAX = 159


class InventoryMethod(StrEnum):
    PERPETUAL = "perpetual"
    PERIODIC = "periodic"


class LineMode(StrEnum):
    ITEM = "item"  # one QuickBooks item per Cin7 product code
    ACCOUNT = "account"  # one line per income/expense account


class TaxMode(StrEnum):
    SALES_TAX_ITEM = "sales_tax_item"  # QuickBooks computes tax from a sales tax item
    TAX_LINE = "tax_line"  # Cin7's tax amount posted as an explicit line


class CreditNoteRestock(StrEnum):
    QTY_SHIPPED = "qty_shipped"
    ALL = "all"
    NONE = "none"


class CogsGranularity(StrEnum):
    MONTHLY = "monthly"
    PER_DOCUMENT = "per_document"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Accounts(_Section):
    """QuickBooks account full names (e.g. ``Inventory Asset`` or ``Income:Sales``)."""

    accounts_receivable: str | None = Field(
        default=None,
        description="A/R account for invoices and credit memos; empty = QuickBooks default",
    )
    accounts_payable: str | None = Field(
        default=None,
        description="A/P account for bills and vendor credits; empty = QuickBooks default",
    )
    income: str = Field(default="Sales", description="Income for product lines in account mode")
    inventory_asset: str = "Inventory Asset"
    cogs: str = Field(default="Cost of Goods Sold", description="Debited by COGS journals")
    purchases: str = Field(
        default="Purchases", description="Periodic method: purchases are expensed here"
    )
    freight_income: str = "Freight Income"
    freight_expense: str = Field(
        default="Freight In", description="Freight on bills (set to Inventory Asset to capitalise)"
    )
    surcharge_income: str = "Surcharge Income"
    discounts_given: str = "Discounts Given"
    rounding: str = Field(default="Rounding", description="Absorbs per-line rounding differences")
    stock_adjustments: str = Field(default="Inventory Adjustments")
    inventory_value_adjustments: str = Field(
        default="Inventory Adjustments",
        description="Offset of the inventory value reconciliation journal (perpetual method)",
    )
    sales_tax_payable: str = "Sales Tax Payable"
    account_map: dict[str, str] = Field(
        default_factory=dict,
        description="Cin7 GL account code (line accountCode, adjustment account) -> "
        "QuickBooks account",
    )


class Items(_Section):
    """QuickBooks items (non-inventory or service items: the bridge never moves quantities)."""

    default_item: str | None = Field(
        default="Cin7 Product", description="Used for a Cin7 code with no QuickBooks item"
    )
    account_mode_item: str = Field(
        default="Cin7 Sales",
        description="Item carrying account-mode lines (its account overridden)",
    )
    freight_item: str = "Freight"
    surcharge_item: str = "Surcharge"
    discount_item: str = "Discount"
    rounding_item: str = "Rounding"
    tax_line_item: str = Field(
        default="Sales Tax Line", description="Tax-line mode: item carrying Cin7's tax amount"
    )
    item_map: dict[str, str] = Field(
        default_factory=dict, description="Cin7 product code -> QuickBooks item full name"
    )


class Sales(_Section):
    line_mode: LineMode = LineMode.ITEM
    is_pending: bool = Field(
        default=True, description="Create invoices/credit memos as pending drafts"
    )
    invoice_ref_pattern: str = Field(
        default="{reference}",
        description="Invoice RefNumber; tokens {reference} {invoiceNumber} {id} {customerOrderNo}",
    )
    credit_memo_ref_pattern: str = Field(
        default="{reference}",
        description="Credit memo RefNumber; tokens {reference} {creditNoteNumber} {id}",
    )
    memo_pattern: str = Field(
        default="Cin7 {reference}", description="Memo on invoices/credit memos"
    )
    require_approved: bool = True
    importable_stages: list[str] = Field(
        default_factory=list,
        description="Sales order stages that may be imported, e.g. ['Dispatched']; empty = any",
    )
    require_dispatched: bool = Field(
        default=False, description="Import sales orders only when fully dispatched"
    )
    require_completed_credit_notes: bool = Field(
        default=True, description="Import credit notes only once completed (completedDate set)"
    )


class Purchases(_Section):
    line_mode: LineMode = Field(
        default=LineMode.ACCOUNT,
        description="account: expense lines to Inventory Asset/Purchases; item: item lines",
    )
    bill_ref_pattern: str = Field(
        default="{supplierInvoiceReference}",
        description="Bill RefNumber; tokens {supplierInvoiceReference} {reference} {id}",
    )
    vendor_credit_ref_pattern: str = "{supplierInvoiceReference}"
    memo_pattern: str = "Cin7 {reference}"
    require_approved: bool = True
    importable_stages: list[str] = Field(
        default_factory=list, description="Purchase order stages that may be imported; empty = any"
    )
    require_fully_received: bool = False
    negative_purchase_orders_are_credits: bool = Field(
        default=True,
        description="A purchase order whose total is negative becomes a vendor credit "
        "(Cin7 Omni's API has no supplier-credit-note endpoint)",
    )


class TaxItem(_Section):
    item: str
    rate: Decimal | None = Field(
        default=None, description="Percent, e.g. 8.25; checked against Cin7"
    )


class Tax(_Section):
    mode: TaxMode = TaxMode.SALES_TAX_ITEM
    taxable_code: str = "Tax"
    non_taxable_code: str = "Non"
    default_tax_item: str | None = Field(
        default="Sales Tax", description="Sales tax item when no entry of tax_item_map matches"
    )
    tax_item_map: dict[str, TaxItem] = Field(
        default_factory=dict,
        description="Cin7 alternativeTaxRate name or taxRate (e.g. '8.25') -> "
        "QuickBooks sales tax item",
    )
    freight_taxable: bool = False
    surcharge_taxable: bool = False
    discount_taxable: bool = True
    tolerance: Decimal = Field(
        default=Decimal("0.02"), ge=0, description="Allowed difference between Cin7 tax and ours"
    )


class Classes(_Section):
    branch_class_map: dict[str, str] = Field(
        default_factory=dict, description="Cin7 branchId -> QuickBooks class"
    )
    default_class: str | None = None


class Contacts(_Section):
    create_unmatched: bool = Field(
        default=True,
        description="Create a QuickBooks customer/vendor for an unmatched Cin7 contact on import",
    )
    customer_map: dict[str, str] = Field(
        default_factory=dict, description="Cin7 memberId -> QuickBooks customer full name"
    )
    vendor_map: dict[str, str] = Field(
        default_factory=dict, description="Cin7 memberId -> QuickBooks vendor full name"
    )


class Cogs(_Section):
    granularity: CogsGranularity = CogsGranularity.MONTHLY
    months_open: int = Field(
        default=1,
        ge=0,
        le=24,
        description="Months before the current one that may still be re-posted",
    )
    monthly_ref_pattern: str = Field(default="COGS{period}", description="Tokens {period} (YYYYMM)")
    document_ref_pattern: str = Field(
        default="CG{id}", description="Per-document COGS; tokens {reference} {id} {invoiceNumber}"
    )
    credit_note_restock: CreditNoteRestock = Field(
        default=CreditNoteRestock.QTY_SHIPPED,
        description="What a credit note returned to stock (its COGS reversal): qty_shipped = "
        "the lines' qtyShipped (a line without it holds the credit note); all = every "
        "returned quantity; none = never reverse COGS",
    )


class Adjustments(_Section):
    ref_pattern: str = Field(default="{reference}", description="Tokens {reference} {id}")
    require_approved: bool = True
    inventory_value_ref_pattern: str = Field(default="IV{period}", description="Tokens {period}")


class Rounding(_Section):
    tolerance: Decimal = Field(
        default=Decimal("0.05"),
        ge=0,
        description="Largest rounding line allowed; a bigger difference holds the entry",
    )


class Currency(_Section):
    max_rate_change_percent: Decimal = Field(
        default=Decimal("10"),
        ge=0,
        description="A document's exchange rate moving more than this percentage from the "
        "tenant's previous rate for that currency is a finding to check",
    )


class TenantSettings(BaseModel):
    """Everything the mapper needs to know about one tenant's books."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    schema_version: int = SETTINGS_SCHEMA_VERSION
    time_zone: str = Field(default="America/New_York", description="IANA zone for accounting dates")
    home_currency: str = "USD"
    multi_currency: bool = Field(
        default=False, description="QuickBooks multi-currency enabled; otherwise non-USD is held"
    )
    qbxml_version: str = Field(default="13.0", description="For preview; the gateway negotiates")
    inventory_method: InventoryMethod = InventoryMethod.PERPETUAL
    accounts: Accounts = Field(default_factory=Accounts)
    items: Items = Field(default_factory=Items)
    sales: Sales = Field(default_factory=Sales)
    purchases: Purchases = Field(default_factory=Purchases)
    tax: Tax = Field(default_factory=Tax)
    classes: Classes = Field(default_factory=Classes)
    contacts: Contacts = Field(default_factory=Contacts)
    cogs: Cogs = Field(default_factory=Cogs)
    adjustments: Adjustments = Field(default_factory=Adjustments)
    rounding: Rounding = Field(default_factory=Rounding)
    # accounting (issue 12): exchange-rate plausibility
    currency: Currency = Field(default_factory=Currency)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


# Tokens each RefNumber/memo pattern may use, and the RefNumber limit it must respect.
PATTERN_TOKENS: dict[tuple[str, str], tuple[frozenset[str], int | None]] = {
    ("sales", "invoice_ref_pattern"): (
        frozenset({"reference", "invoiceNumber", "id", "customerOrderNo"}),
        REF_NUMBER_LIMITS["invoice"],
    ),
    ("sales", "credit_memo_ref_pattern"): (
        frozenset({"reference", "creditNoteNumber", "id"}),
        REF_NUMBER_LIMITS["credit_memo"],
    ),
    ("sales", "memo_pattern"): (
        frozenset({"reference", "invoiceNumber", "id", "customerOrderNo", "creditNoteNumber"}),
        None,
    ),
    ("purchases", "bill_ref_pattern"): (
        frozenset({"supplierInvoiceReference", "reference", "id"}),
        REF_NUMBER_LIMITS["bill"],
    ),
    ("purchases", "vendor_credit_ref_pattern"): (
        frozenset({"supplierInvoiceReference", "reference", "id"}),
        REF_NUMBER_LIMITS["vendor_credit"],
    ),
    ("purchases", "memo_pattern"): (
        frozenset({"reference", "supplierInvoiceReference", "id"}),
        None,
    ),
    ("cogs", "monthly_ref_pattern"): (frozenset({"period"}), REF_NUMBER_LIMITS["journal"]),
    ("cogs", "document_ref_pattern"): (
        frozenset({"reference", "id", "invoiceNumber", "creditNoteNumber"}),
        REF_NUMBER_LIMITS["journal"],
    ),
    ("adjustments", "ref_pattern"): (frozenset({"reference", "id"}), REF_NUMBER_LIMITS["journal"]),
    ("adjustments", "inventory_value_ref_pattern"): (
        frozenset({"period"}),
        REF_NUMBER_LIMITS["journal"],
    ),
}


def pattern_tokens(pattern: str) -> list[str]:
    """Token names used by a ``{token}`` pattern; raises ValueError on a malformed pattern."""
    return [name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None]


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        where = _loc(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            problems.append(
                f"{where}: unknown setting (check the spelling; see `settings example`)"
            )
        elif kind == "enum":
            allowed = error.get("ctx", {}).get("expected", "")
            problems.append(f"{where}: {error['input']!r} is not one of {allowed}")
        elif kind == "missing":
            problems.append(f"{where}: required but missing")
        else:
            problems.append(f"{where}: {error['msg']} (got {error['input']!r})")
    return problems


def _name_problems(where: str, name: str | None, limit: int) -> list[str]:
    if name is None:
        return []
    if not name.strip():
        return [f"{where}: must not be empty"]
    problems = []
    if len(name) > FULL_NAME_MAX:
        problems.append(f"{where}: {name!r} is longer than QuickBooks' {FULL_NAME_MAX} characters")
    for segment in name.split(":"):
        if not segment.strip():
            problems.append(f"{where}: {name!r} has an empty part between ':' separators")
        elif len(segment) > limit:
            problems.append(
                f"{where}: {segment!r} is {len(segment)} characters; QuickBooks allows {limit} "
                "per name (each part of a full name separated by ':')"
            )
    return problems


def _basic_problems(settings: TenantSettings) -> list[str]:
    """Time zone, home currency and qbXML version."""
    problems: list[str] = []
    try:
        settings.zone()
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            f"time_zone: {settings.time_zone!r} is not an IANA time zone (e.g. America/Chicago)"
        )
    if len(settings.home_currency) != 3 or not settings.home_currency.isalpha():
        problems.append(f"home_currency: {settings.home_currency!r} is not an ISO-4217 code")
    if settings.qbxml_version not in ("13.0", "16.0"):
        problems.append(f"qbxml_version: {settings.qbxml_version!r} is not 13.0 or 16.0")
    return problems


def _list_name_problems(settings: TenantSettings) -> list[str]:
    """Account, item and class names within QuickBooks' lengths."""
    problems: list[str] = []
    for field_name in Accounts.model_fields:
        if field_name == "account_map":
            continue
        value = getattr(settings.accounts, field_name)
        problems += _name_problems(f"accounts.{field_name}", value, ACCOUNT_NAME_MAX)
    for code, account in settings.accounts.account_map.items():
        problems += _name_problems(f"accounts.account_map[{code!r}]", account, ACCOUNT_NAME_MAX)
    for field_name in Items.model_fields:
        if field_name == "item_map":
            continue
        problems += _name_problems(
            f"items.{field_name}", getattr(settings.items, field_name), ITEM_NAME_MAX
        )
    for code, item in settings.items.item_map.items():
        problems += _name_problems(f"items.item_map[{code!r}]", item, ITEM_NAME_MAX)
    for branch, class_name in settings.classes.branch_class_map.items():
        problems += _name_problems(
            f"classes.branch_class_map[{branch!r}]", class_name, CLASS_NAME_MAX
        )
    problems += _name_problems(
        "classes.default_class", settings.classes.default_class, CLASS_NAME_MAX
    )
    return problems


def _contact_problems(settings: TenantSettings) -> list[str]:
    """Mapped customer and vendor names within QuickBooks' 209 characters."""
    problems: list[str] = []
    for member, name in [
        *settings.contacts.customer_map.items(),
        *settings.contacts.vendor_map.items(),
    ]:
        if not name.strip() or len(name) > 209:
            problems.append(
                f"contacts: the QuickBooks name for Cin7 contact {member!r} must be 1-209 "
                "characters"
            )
    return problems


def _pattern_problems(settings: TenantSettings) -> list[str]:
    """RefNumber patterns: known tokens, not constant, not all fixed text."""
    problems: list[str] = []
    for (section, field_name), (allowed, limit) in PATTERN_TOKENS.items():
        pattern = getattr(getattr(settings, section), field_name)
        where = f"{section}.{field_name}"
        try:
            used = pattern_tokens(pattern)
        except ValueError as exc:
            problems.append(f"{where}: {pattern!r} is not a valid pattern ({exc})")
            continue
        unknown = sorted(set(used) - allowed)
        if unknown:
            problems.append(
                f"{where}: unknown token(s) {', '.join('{' + u + '}' for u in unknown)}; "
                f"allowed: {', '.join('{' + a + '}' for a in sorted(allowed))}"
            )
        if limit is not None and not used and len(pattern) > 0:
            problems.append(
                f"{where}: {pattern!r} has no token, so every document would get the same RefNumber"
            )
        literal = "".join(text for text, *_ in string.Formatter().parse(pattern))
        if limit is not None and len(literal) >= limit:
            problems.append(
                f"{where}: the fixed text {literal!r} alone fills QuickBooks' {limit}-character "
                "RefNumber; shorten it"
            )
    return problems


def _tax_problems(settings: TenantSettings) -> list[str]:
    """Sales tax items, rates and codes."""
    problems: list[str] = []
    if settings.tax.mode is TaxMode.SALES_TAX_ITEM and not (
        settings.tax.default_tax_item or settings.tax.tax_item_map
    ):
        problems.append(
            "tax.default_tax_item: sales_tax_item mode needs a default sales tax item or a "
            "tax_item_map entry"
        )
    for key, tax_item in settings.tax.tax_item_map.items():
        problems += _name_problems(f"tax.tax_item_map[{key!r}].item", tax_item.item, ITEM_NAME_MAX)
        if tax_item.rate is not None and not (0 <= tax_item.rate < 100):
            problems.append(f"tax.tax_item_map[{key!r}].rate: {tax_item.rate} is not a percentage")
    if settings.tax.taxable_code == settings.tax.non_taxable_code:
        problems.append("tax.non_taxable_code: must differ from tax.taxable_code")
    for where, code in (
        ("tax.taxable_code", settings.tax.taxable_code),
        ("tax.non_taxable_code", settings.tax.non_taxable_code),
    ):
        if not code.strip() or len(code) > 3:
            problems.append(f"{where}: {code!r} must be 1-3 characters (QuickBooks sales tax code)")
    return problems


def _semantic_problems(settings: TenantSettings) -> list[str]:
    return [
        *_basic_problems(settings),
        *_list_name_problems(settings),
        *_contact_problems(settings),
        *_pattern_problems(settings),
        *_tax_problems(settings),
    ]


def settings_problems(data: Any) -> list[str]:
    """Every problem in a settings document (a parsed JSON object), in plain words."""
    if not isinstance(data, dict):
        return ["the settings file must contain a JSON object ({...})"]
    try:
        settings = TenantSettings.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc)
        # Check the rest too: sections with type errors fall back to their defaults so the
        # semantic checks still run on everything else, and every problem is reported at once.
        broken = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        remainder = {k: v for k, v in data.items() if k not in broken}
        try:
            settings = TenantSettings.model_validate(remainder)
        except ValidationError:
            return problems
        return problems + [
            p for p in _semantic_problems(settings) if p.split(".")[0].split(":")[0] not in broken
        ]
    return _semantic_problems(settings)


class SettingsError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def load_settings_text(text: str) -> TenantSettings:
    """Parse and validate a settings JSON document; SettingsError lists every problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            [f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        ) from exc
    problems = settings_problems(data)
    if problems:
        raise SettingsError(problems)
    return TenantSettings.model_validate(data)


def example_settings_json() -> str:
    """A complete settings file with every default, as ``omni2qbd settings example`` prints it."""
    return json.dumps(TenantSettings().model_dump(mode="json"), indent=2)
