"""Purchase order -> Bill, supplier credit -> Vendor Credit (docs/design.md §5).

US purchase tax is part of the cost: with tax-inclusive prices nothing is split out, and with
tax-exclusive ones the tax goes to the same account as the goods. Perpetual inventory debits
Inventory Asset; periodic debits Purchases. Cin7 Omni's API has no supplier-credit-note
endpoint, so a purchase order with a negative total (or a document sent with kind
``supplier_credit_note``) becomes a vendor credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from omni2qbd_mapper.cin7doc import Cin7Kind
from omni2qbd_mapper.context import MappingContext, fmt
from omni2qbd_mapper.result import MappingResult
from omni2qbd_mapper.rules.amounts import (
    Component,
    product_components,
    rounding_allowance,
    tax_status,
)
from omni2qbd_mapper.rules.common import (
    finish,
    finish_transaction,
    not_ready,
    stage_problem,
    void_result,
)
from omni2qbd_mapper.rules.contacts import resolve_party
from omni2qbd_mapper.rules.items import resolve_item
from omni2qbd_shared.entries import ZERO, Entry, EntryKind, EntryLine, Finding, LineRole, money
from omni2qbd_shared.tenant_settings import InventoryMethod, LineMode


def map_purchase_order(ctx: MappingContext) -> MappingResult:
    doc = ctx.doc
    settings = ctx.settings.purchases
    if doc.flag("isVoid") or doc.status() == "VOID":
        return void_result(ctx)
    if settings.require_approved and (
        doc.status() == "DRAFT" or (doc.has("isApproved") and not doc.flag("isApproved"))
    ):
        return not_ready(
            ctx,
            "not_approved",
            f"{ctx.label} is not approved in Cin7 (fields status, isApproved).",
            "isApproved",
        )
    stage = stage_problem(ctx, settings.importable_stages)
    if stage is not None:
        return stage
    invoiced = doc.when("invoiceDate")
    if invoiced is None:
        return not_ready(
            ctx,
            "no_invoice_date",
            f"{ctx.label} has no supplier invoice date (field invoiceDate); it is imported once "
            "the supplier's invoice is entered in Cin7.",
            "invoiceDate",
        )
    if not doc.text("supplierInvoiceReference"):
        return not_ready(
            ctx,
            "no_supplier_invoice_reference",
            f"{ctx.label} has no supplier invoice reference (field supplierInvoiceReference); "
            "enter the supplier's invoice number in Cin7.",
            "supplierInvoiceReference",
        )
    if settings.require_fully_received and doc.when("fullyReceivedDate") is None:
        return not_ready(
            ctx,
            "not_received",
            f"{ctx.label} is not fully received (field fullyReceivedDate), and setting "
            "purchases.require_fully_received waits for it.",
            "fullyReceivedDate",
        )
    credit = ctx.kind is Cin7Kind.SUPPLIER_CREDIT_NOTE or (
        settings.negative_purchase_orders_are_credits and doc.dec("total") < 0
    )
    kind = EntryKind.VENDOR_CREDIT if credit else EntryKind.BILL
    return finish(ctx, _purchase_entry(ctx, kind, ctx.local_date(invoiced)))


def _line_account(ctx: MappingContext) -> tuple[str, str]:
    accounts = ctx.settings.accounts
    if ctx.settings.inventory_method is InventoryMethod.PERIODIC:
        return accounts.purchases, "accounts.purchases"
    return accounts.inventory_asset, "accounts.inventory_asset"


@dataclass(frozen=True)
class _Charges:
    """The header's freight, surcharge and discount, positive on a supplier credit too."""

    freight: Decimal
    surcharge: Decimal
    discount: Decimal


def _purchase_entry(ctx: MappingContext, kind: EntryKind, txn_date: date) -> Entry:
    settings = ctx.settings
    doc = ctx.doc
    credit = kind is EntryKind.VENDOR_CREDIT
    findings: list[Finding] = []
    goods_account, goods_setting = _line_account(ctx)
    findings += ctx.check_account(goods_account, goods_setting, "purchased goods")

    products = product_components(doc, absolute=credit, taxable=False)
    for component in products:
        component.net = component.gross
    charges = _Charges(
        freight=money(abs(doc.dec("freightTotal")) if credit else doc.dec("freightTotal")),
        surcharge=money(abs(doc.dec("surcharge")) if credit else doc.dec("surcharge")),
        discount=money(abs(doc.dec("discountTotal"))),
    )
    total = money(abs(doc.dec("total")) if credit else doc.dec("total"))

    lines = _goods_lines(ctx, products, goods_account, findings)
    lines += _charge_lines(ctx, charges, goods_account, findings)
    lines += _tax_line(ctx, products, charges, total, goods_account, credit=credit)
    subtotal = _round_to_total(ctx, lines, total, findings)

    party = resolve_party(ctx, "vendor")
    currency, exchange_rate, currency_findings = ctx.currency()
    key = f"{kind.value}:{ctx.kind.value}:{ctx.cin7_id}"
    tokens = {
        "supplierInvoiceReference": doc.text("supplierInvoiceReference") or "",
        "reference": doc.text("reference") or "",
        "id": doc.id,
    }
    ref, ref_findings = _purchase_ref(ctx, tokens, credit=credit)
    if settings.accounts.accounts_payable:
        findings += ctx.check_account(
            settings.accounts.accounts_payable, "accounts.accounts_payable", "payables"
        )
    entry = ctx.new_entry(kind, key)
    entry.header.party = party.ref
    entry.header.ar_ap_account = settings.accounts.accounts_payable
    entry.header.class_name = ctx.class_name()
    entry.header.memo = settings.purchases.memo_pattern.format_map(_Tokens(tokens))
    entry.header.exchange_rate = exchange_rate
    return finish_transaction(
        ctx,
        entry,
        party,
        lines=lines,
        ref=ref,
        txn_date=txn_date,
        total=money(subtotal),
        currency=currency,
        findings=[*findings, *ref_findings, *currency_findings],
    )


def _purchase_ref(
    ctx: MappingContext, tokens: dict[str, str], *, credit: bool
) -> tuple[str | None, list[Finding]]:
    """The bill or vendor credit number from its pattern setting."""
    pattern_setting = "vendor_credit_ref_pattern" if credit else "bill_ref_pattern"
    return ctx.ref_number(
        getattr(ctx.settings.purchases, pattern_setting),
        tokens,
        "vendor_credit" if credit else "bill",
        f"purchases.{pattern_setting}",
    )


def _goods_lines(
    ctx: MappingContext, products: list[Component], goods_account: str, findings: list[Finding]
) -> list[EntryLine]:
    """The product lines: item lines, or expense lines on the goods account (periodic
    inventory: on the account Cin7's account code maps to)."""
    settings = ctx.settings
    if settings.purchases.line_mode is LineMode.ITEM:
        return _item_lines(ctx, products, goods_account, findings)
    lines: list[EntryLine] = []
    for component in products:
        account = goods_account
        if settings.inventory_method is InventoryMethod.PERIODIC:
            if component.account_code in settings.accounts.account_map:
                account = settings.accounts.account_map[component.account_code or ""]
            findings += ctx.unmapped_account_code(
                component.account_code, component.line_no, account
            )
        lines.append(
            EntryLine(
                role=LineRole.PRODUCT,
                account=account,
                amount=component.net,
                description=_expense_memo(component),
                source_line_id=component.line_id,
                **{"class": ctx.class_name()},
            )
        )
    return lines


def _charge_lines(
    ctx: MappingContext, charges: _Charges, goods_account: str, findings: list[Finding]
) -> list[EntryLine]:
    """Freight and surcharge on the freight expense account; the discount off the goods."""
    doc = ctx.doc
    freight_account = ctx.settings.accounts.freight_expense
    lines: list[EntryLine] = []
    if charges.freight:
        lines.append(
            EntryLine(
                role=LineRole.FREIGHT,
                account=freight_account,
                amount=charges.freight,
                description=doc.text("freightDescription") or "Freight",
                **{"class": ctx.class_name()},
            )
        )
        findings += ctx.check_account(freight_account, "accounts.freight_expense", "freight")
    if charges.surcharge:
        lines.append(
            EntryLine(
                role=LineRole.SURCHARGE,
                account=freight_account,
                amount=charges.surcharge,
                description=doc.text("surchargeDescription") or "Surcharge",
                **{"class": ctx.class_name()},
            )
        )
    if charges.discount:
        lines.append(
            EntryLine(
                role=LineRole.DISCOUNT,
                account=goods_account,
                amount=-charges.discount,
                description=doc.text("discountDescription") or "Supplier discount",
                **{"class": ctx.class_name()},
            )
        )
    return lines


def _tax_line(
    ctx: MappingContext,
    products: list[Component],
    charges: _Charges,
    total: Decimal,
    goods_account: str,
    *,
    credit: bool,
) -> list[EntryLine]:
    """A tax-exclusive document's tax, on the goods account: Cin7's total less what the
    header adds up to (none otherwise: inclusive prices carry it, an exempt one has none)."""
    doc = ctx.doc
    if tax_status(doc) != "excl":
        return []
    product_gross = sum((c.gross for c in products), ZERO)
    if doc.has("productTotal"):
        product_gross = money(abs(doc.dec("productTotal")) if credit else doc.dec("productTotal"))
    tax = money(total - (product_gross + charges.freight + charges.surcharge - charges.discount))
    if not tax:
        return []
    return [
        EntryLine(
            role=LineRole.TAX,
            account=goods_account,
            amount=tax,
            description=_tax_description(doc.dec("taxRate")),
            **{"class": ctx.class_name()},
        )
    ]


def _round_to_total(
    ctx: MappingContext, lines: list[EntryLine], total: Decimal, findings: list[Finding]
) -> Decimal:
    """The lines' sum, with a rounding line appended when within the allowance of Cin7's
    total; a larger difference is a finding."""
    settings = ctx.settings
    subtotal = sum((line.amount for line in lines), ZERO)
    difference = money(total - subtotal)
    if not difference:
        return subtotal
    allowance = rounding_allowance(settings.rounding.tolerance, len(lines))
    if abs(difference) > allowance:
        findings.append(
            ctx.finding(
                "totals_do_not_reconcile",
                f"{ctx.label}: the entry adds up to {fmt(subtotal)} but Cin7's total is "
                f"{fmt(total)} (field total), a difference of {fmt(difference)}, more than the "
                f"rounding allowance of {fmt(allowance)}.",
                field="total",
            )
        )
        return subtotal
    findings += ctx.rounding_note(difference, len(lines))
    lines.append(
        EntryLine(
            role=LineRole.ROUNDING,
            account=settings.accounts.rounding,
            amount=difference,
            description="Rounding to Cin7 total",
            **{"class": ctx.class_name()},
        )
    )
    findings += ctx.check_account(settings.accounts.rounding, "accounts.rounding", "rounding")
    return subtotal + difference


def _tax_description(rate: Decimal) -> str:
    return f"Purchase tax {rate.normalize():f}%" if rate else "Purchase tax"


class _Tokens(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _expense_memo(component: Component) -> str:
    if component.qty is not None and component.unit_price is not None:
        return (
            f"{component.description} - {component.qty.normalize():f} x {component.unit_price:.2f}"
        )
    return component.description


def _item_lines(
    ctx: MappingContext, products: list[Component], goods_account: str, findings: list[Finding]
) -> list[EntryLine]:
    lines = []
    for component in products:
        item, item_findings = resolve_item(ctx, component)
        findings += item_findings
        cost = component.unit_price
        if cost is not None and component.qty and money(cost * component.qty) != component.net:
            cost = None
        lines.append(
            EntryLine(
                role=LineRole.PRODUCT,
                account=goods_account,
                override_account=True,
                item=item,
                amount=component.net,
                description=component.description,
                qty=component.qty,
                rate=cost,
                source_line_id=component.line_id,
                **{"class": ctx.class_name()},
            )
        )
    return lines
