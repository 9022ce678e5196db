"""Sales order -> Invoice and credit note -> Credit Memo (docs/design.md §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from omni2qbd_mapper.cin7doc import Cin7Doc
from omni2qbd_mapper.context import ItemRole, MappingContext, fmt
from omni2qbd_mapper.result import MappingResult
from omni2qbd_mapper.rules import cogs as cogs_rules
from omni2qbd_mapper.rules.amounts import (
    Component,
    expected_tax,
    product_components,
    rounding_allowance,
    tax_status,
    to_net,
    unit_rate,
)
from omni2qbd_mapper.rules.common import (
    finish,
    finish_transaction,
    not_ready,
    stage_problem,
    void_result,
)
from omni2qbd_mapper.rules.contacts import PartyResolution, document_addresses, resolve_party
from omni2qbd_mapper.rules.items import resolve_item
from omni2qbd_shared.entries import (
    ZERO,
    Entry,
    EntryKind,
    EntryLine,
    Finding,
    LineRole,
    Ref,
    money,
)
from omni2qbd_shared.tenant_settings import LineMode, TaxMode


def map_sales_order(ctx: MappingContext) -> MappingResult:
    doc = ctx.doc
    if doc.flag("isVoid") or doc.status() == "VOID":
        return void_result(ctx)
    if ctx.settings.sales.require_approved and doc.status() == "DRAFT":
        return not_ready(
            ctx,
            "not_approved",
            f"{ctx.label} is still a draft in Cin7 (field status); it is imported once approved.",
            "status",
        )
    stage = stage_problem(ctx, ctx.settings.sales.importable_stages)
    if stage is not None:
        return stage
    invoiced = doc.when("invoiceDate")
    if invoiced is None:
        return not_ready(
            ctx,
            "no_invoice_date",
            f"{ctx.label} has no invoice date (field invoiceDate); it is imported once it is "
            "invoiced in Cin7.",
            "invoiceDate",
        )
    if ctx.settings.sales.require_dispatched and doc.when("dispatchedDate") is None:
        return not_ready(
            ctx,
            "not_dispatched",
            f"{ctx.label} is invoiced but not fully dispatched (field dispatchedDate), and "
            "setting sales.require_dispatched waits for dispatch.",
            "dispatchedDate",
        )
    dispatch_findings = _dispatch_differences(ctx)
    entry = _sales_entry(ctx, EntryKind.INVOICE, ctx.local_date(invoiced))
    entry.findings[:0] = dispatch_findings
    contributions, cogs_findings = cogs_rules.sales_order_cogs(ctx, entry.txn_date)
    return finish(ctx, entry, contributions, cogs_findings)


def map_credit_note(ctx: MappingContext) -> MappingResult:
    doc = ctx.doc
    if doc.flag("isVoid") or doc.status() == "VOID":
        return void_result(ctx)
    if ctx.settings.sales.require_approved and (
        doc.status() == "DRAFT" or (doc.has("isApproved") and not doc.flag("isApproved"))
    ):
        return not_ready(
            ctx,
            "not_approved",
            f"{ctx.label} is not approved in Cin7 (fields status, isApproved); it is imported "
            "once approved.",
            "isApproved",
        )
    completed = doc.when("completedDate")
    if ctx.settings.sales.require_completed_credit_notes and completed is None:
        return not_ready(
            ctx,
            "not_completed",
            f"{ctx.label} is not completed in Cin7 (field completedDate); it is imported once "
            "completed.",
            "completedDate",
        )
    when = doc.when("creditNoteDate") or completed or doc.when("createdDate")
    if when is None:
        return not_ready(
            ctx,
            "no_credit_note_date",
            f"{ctx.label} has no date (fields creditNoteDate, completedDate).",
            "creditNoteDate",
        )
    entry = _sales_entry(ctx, EntryKind.CREDIT_MEMO, ctx.local_date(when))
    contributions, cogs_findings = cogs_rules.credit_note_cogs(ctx, entry.txn_date)
    return finish(ctx, entry, contributions, cogs_findings)


def _dispatch_differences(ctx: MappingContext) -> list[Finding]:
    doc = ctx.doc
    lines = doc.lines()
    dispatched = doc.when("dispatchedDate") is not None or any(
        line.dec("qtyShipped") != 0 for line in lines
    )
    if not dispatched:
        return []
    findings = []
    for number, line in enumerate(lines, start=1):
        if not line.has("qtyShipped") and doc.when("dispatchedDate") is not None:
            continue
        ordered, shipped = line.dec("qty"), line.dec("qtyShipped")
        if ordered != shipped:
            findings.append(
                ctx.finding(
                    "dispatch_differs",
                    f"{ctx.label}, line {number} ({_line_label(line)}): "
                    f"{ordered.normalize():f} ordered but {shipped.normalize():f} dispatched "
                    f"(field lineItems[{number - 1}].qtyShipped). The invoice bills the ordered "
                    "quantity; COGS uses the dispatched quantity.",
                    field=f"lineItems[{number - 1}].qtyShipped",
                    blocking=False,
                )
            )
    return findings


def _line_label(line: Cin7Doc) -> str:
    return line.text("code") or line.text("name") or "?"


def _tax_rate(ctx: MappingContext) -> Decimal:
    return ctx.doc.dec("taxRate") if ctx.doc.has("taxRate") else ZERO


def _tax_item_name(ctx: MappingContext, rate: Decimal) -> tuple[str | None, Decimal | None, str]:
    """The sales tax item, its mapped rate, and the setting that named it."""
    tax = ctx.settings.tax
    alternative = ctx.doc.text("alternativeTaxRate")
    for key in (alternative, f"{rate.normalize():f}" if rate else None):
        if key and key in tax.tax_item_map:
            mapped = tax.tax_item_map[key]
            return mapped.item, mapped.rate, f"tax.tax_item_map[{key!r}]"
    return tax.default_tax_item, None, "tax.default_tax_item"


def _charge_components(
    ctx: MappingContext, freight: Decimal, surcharge: Decimal, discount: Decimal, taxable_doc: bool
) -> list[Component]:
    """Freight, surcharge and discount as lines of their own, each taxable as set."""
    settings = ctx.settings
    doc = ctx.doc
    extra: list[Component] = []
    if freight:
        extra.append(
            Component(
                LineRole.FREIGHT,
                money(freight),
                taxable_doc and settings.tax.freight_taxable,
                doc.text("freightDescription") or "Freight",
            )
        )
    if surcharge:
        extra.append(
            Component(
                LineRole.SURCHARGE,
                money(surcharge),
                taxable_doc and settings.tax.surcharge_taxable,
                doc.text("surchargeDescription") or "Surcharge",
            )
        )
    if discount:
        extra.append(
            Component(
                LineRole.DISCOUNT,
                -money(discount),
                taxable_doc and settings.tax.discount_taxable,
                doc.text("discountDescription") or "Discount",
            )
        )
    return extra


def _tax_mismatch(
    ctx: MappingContext,
    components: list[Component],
    extra: list[Component],
    status: str,
    rate: Decimal,
    cin7_tax: Decimal,
    tax_wanted: Decimal,
) -> Finding:
    """Why Cin7's tax differs from the rate's: a taxability setting, or the document itself."""
    settings = ctx.settings
    blocking = settings.tax.mode is TaxMode.SALES_TAX_ITEM
    explained = _taxability_setting_differs(ctx, components, extra, status, rate, cin7_tax)
    if explained is not None:
        return ctx.finding(
            "tax_mismatch",
            f"{ctx.label}: the tax in Cin7's total is {fmt(cin7_tax)} (fields total, "
            f"taxRate), which is {rate.normalize():f}% of the products "
            f"{explained[1]}; but setting {explained[0]} says otherwise. Change "
            f"{explained[0]} in the tenant settings if that is how your state taxes "
            "it, or correct the document in Cin7."
            + (
                " QuickBooks would compute a different total, so the entry is held."
                if blocking
                else " Cin7's tax amount is posted as it is."
            ),
            field=explained[0],
            blocking=blocking,
        )
    else:
        expectation = (
            "an exempt document has no tax"
            if status == "exempt"
            else f"{rate.normalize():f}% of the taxable amount is {fmt(tax_wanted)}"
        )
        return ctx.finding(
            "tax_mismatch",
            f"{ctx.label}: the tax in Cin7's total is {fmt(cin7_tax)} but "
            f"{expectation} "
            f"(fields total, taxRate, taxStatus)."
            + (
                " QuickBooks would compute a different total, so the entry is held."
                if blocking
                else " Cin7's tax amount is posted as it is."
            ),
            field="total",
            blocking=blocking,
        )


def _reconcile_total(
    ctx: MappingContext,
    lines: list[EntryLine],
    findings: list[Finding],
    total: Decimal,
    computed_tax: Decimal,
    allowance: Decimal,
    component_count: int,
) -> Decimal:
    """The entry's subtotal, with a rounding line when it is within the allowance of Cin7's
    total; a blocking finding when it is further off."""
    settings = ctx.settings
    subtotal = sum((line.amount for line in lines), ZERO)
    difference = money(total - (subtotal + computed_tax))
    if difference:
        if abs(difference) > allowance:
            findings.append(
                ctx.finding(
                    "totals_do_not_reconcile",
                    f"{ctx.label}: the entry adds up to {fmt(subtotal + computed_tax)} but Cin7's "
                    f"total is {fmt(total)} (field total), a difference of {fmt(difference)}, more "
                    f"than the rounding allowance of {fmt(allowance)}. Check the "
                    "lines, freight, discount and tax on the document.",
                    field="total",
                )
            )
        else:
            findings += ctx.rounding_note(difference, component_count)
            lines.append(
                EntryLine(
                    role=LineRole.ROUNDING,
                    account=settings.accounts.rounding,
                    override_account=True,
                    item=ctx.item_ref(settings.items.rounding_item),
                    tax_code=settings.tax.non_taxable_code,
                    amount=difference,
                    description="Rounding to Cin7 total",
                )
            )
            findings += ctx.check_item(
                settings.items.rounding_item, "items.rounding_item", "rounding"
            )
            findings += ctx.check_account(
                settings.accounts.rounding, "accounts.rounding", "rounding"
            )
            subtotal += difference
    return subtotal


@dataclass
class _SalesAmounts:
    """A sales document's amounts as Cin7 states them, beside what its lines add up to."""

    status: str  # ``tax_status``: incl, excl or exempt
    rate: Decimal
    taxable_doc: bool
    products: list[Component]
    extra: list[Component]  # freight, surcharge, discount
    components: list[Component]
    total: Decimal
    product_gross: Decimal
    product_total: Decimal
    tax_wanted: Decimal
    cin7_tax: Decimal
    allowance: Decimal  # how far the lines may round away from Cin7's totals


def _sales_entry(ctx: MappingContext, kind: EntryKind, txn_date: date) -> Entry:
    settings = ctx.settings
    amounts = _sales_amounts(ctx, credit=kind is EntryKind.CREDIT_MEMO)
    findings = _amount_findings(ctx, amounts)
    lines = _product_lines(ctx, amounts.products, amounts.status, amounts.rate, findings)
    lines += [_extra_line(ctx, c, findings) for c in amounts.extra]
    tax_item, computed_tax = _sales_tax(ctx, amounts, lines, findings)
    subtotal = _reconcile_total(
        ctx,
        lines,
        findings,
        amounts.total,
        computed_tax,
        amounts.allowance,
        len(amounts.components),
    )

    party = resolve_party(ctx, "customer")
    customer_code = _customer_tax_code(ctx, amounts.taxable_doc)
    findings += _party_tax_code(ctx, party, customer_code)
    currency, exchange_rate, currency_findings = ctx.currency()
    billing, delivery = document_addresses(ctx.doc)
    key = f"{kind.value}:{ctx.kind.value}:{ctx.cin7_id}"
    ref, ref_findings = _sales_ref(ctx, kind)
    memo = settings.sales.memo_pattern.format_map(_Tokens(_tokens(ctx)))
    po_number = _po_number(ctx, findings)
    findings += _header_checks(ctx)

    entry = ctx.new_entry(kind, key)
    entry.header.party = party.ref
    entry.header.ar_ap_account = settings.accounts.accounts_receivable
    entry.header.class_name = ctx.class_name()
    entry.header.memo = memo
    entry.header.po_number = po_number if kind is EntryKind.INVOICE else None
    entry.header.is_pending = settings.sales.is_pending
    entry.header.sales_tax_item = tax_item
    entry.header.computed_tax = computed_tax
    entry.header.tax_account = settings.accounts.sales_tax_payable
    entry.header.customer_tax_code = customer_code
    entry.header.exchange_rate = exchange_rate
    entry.header.bill_address = billing
    entry.header.ship_address = delivery
    return finish_transaction(
        ctx,
        entry,
        party,
        lines=lines,
        ref=ref,
        txn_date=txn_date,
        total=money(subtotal + computed_tax),
        currency=currency,
        findings=[*findings, *ref_findings, *currency_findings],
    )


def _sales_amounts(ctx: MappingContext, *, credit: bool) -> _SalesAmounts:
    """The document's components (net of tax) and totals; a credit note's are made positive."""
    doc = ctx.doc
    status = tax_status(doc)
    rate = _tax_rate(ctx)

    products = product_components(doc, absolute=credit, taxable=status != "exempt" and rate > 0)
    freight = abs(doc.dec("freightTotal")) if credit else doc.dec("freightTotal")
    surcharge = abs(doc.dec("surcharge")) if credit else doc.dec("surcharge")
    discount = abs(doc.dec("discountTotal"))
    taxable_doc = status != "exempt" and rate > 0
    extra = _charge_components(ctx, freight, surcharge, discount, taxable_doc)
    components = products + extra
    to_net(components, status, rate)

    total = money(abs(doc.dec("total")) if credit else doc.dec("total"))
    product_gross = sum((c.gross for c in products), ZERO)
    product_total = (
        money(abs(doc.dec("productTotal")) if credit else doc.dec("productTotal"))
        if doc.has("productTotal")
        else product_gross
    )
    tax_wanted = expected_tax(components, status, rate)
    if status == "incl":
        cin7_tax = tax_wanted  # embedded in the prices; Cin7 does not report it separately
    else:
        cin7_tax = money(
            total - (product_total + money(freight) + money(surcharge) - money(discount))
        )
    return _SalesAmounts(
        status=status,
        rate=rate,
        taxable_doc=taxable_doc,
        products=products,
        extra=extra,
        components=components,
        total=total,
        product_gross=product_gross,
        product_total=product_total,
        tax_wanted=tax_wanted,
        cin7_tax=cin7_tax,
        allowance=rounding_allowance(ctx.settings.rounding.tolerance, len(components) + 1),
    )


def _amount_findings(ctx: MappingContext, amounts: _SalesAmounts) -> list[Finding]:
    """Cin7's tax or product total that the lines do not reproduce, and mixed tax rates."""
    findings: list[Finding] = []
    # Cin7 may round tax per line: allow half a cent per taxable amount beyond the tolerance.
    tax_allowance = rounding_allowance(
        ctx.settings.tax.tolerance, sum(1 for c in amounts.components if c.taxable)
    )
    if abs(amounts.cin7_tax - amounts.tax_wanted) > tax_allowance:
        findings.append(
            _tax_mismatch(
                ctx,
                amounts.components,
                amounts.extra,
                amounts.status,
                amounts.rate,
                amounts.cin7_tax,
                amounts.tax_wanted,
            )
        )
    findings += _mixed_tax_rates(ctx, amounts.rate)
    if abs(amounts.product_total - amounts.product_gross) > amounts.allowance:
        findings.append(
            ctx.finding(
                "lines_do_not_add_up",
                f"{ctx.label}: its lines add up to {fmt(amounts.product_gross)} but its product "
                f"total is {fmt(amounts.product_total)} (field productTotal).",
                field="productTotal",
            )
        )
    return findings


def _sales_tax(
    ctx: MappingContext, amounts: _SalesAmounts, lines: list[EntryLine], findings: list[Finding]
) -> tuple[Ref | None, Decimal]:
    """The sales tax item and the tax QuickBooks computes with it, or (other tax mode) a tax
    line appended to ``lines`` with no item and nothing computed."""
    if ctx.settings.tax.mode is TaxMode.SALES_TAX_ITEM:
        return _sales_tax_item(ctx, amounts, lines, findings)
    settings = ctx.settings
    tax_amount = amounts.cin7_tax if amounts.status != "incl" else amounts.tax_wanted
    if tax_amount:
        rate = amounts.rate
        lines.append(
            EntryLine(
                role=LineRole.TAX,
                account=settings.accounts.sales_tax_payable,
                override_account=True,
                item=ctx.item_ref(settings.items.tax_line_item),
                tax_code=settings.tax.non_taxable_code,
                amount=tax_amount,
                description=f"Sales tax {rate.normalize():f}%" if rate else "Sales tax",
            )
        )
        findings += ctx.check_item(settings.items.tax_line_item, "items.tax_line_item", "tax")
    return None, ZERO


def _sales_tax_item(
    ctx: MappingContext, amounts: _SalesAmounts, lines: list[EntryLine], findings: list[Finding]
) -> tuple[Ref | None, Decimal]:
    """The QuickBooks sales tax item for the document's rate, and the tax it computes."""
    rate, taxable_doc = amounts.rate, amounts.taxable_doc
    item_name, mapped_rate, tax_setting = _tax_item_name(ctx, rate)
    if not item_name:
        if taxable_doc:
            findings.append(
                ctx.finding(
                    "unmapped_tax_item",
                    f"{ctx.label}: no QuickBooks sales tax item for tax rate "
                    f"{rate.normalize():f}% (fields taxRate, alternativeTaxRate); add it to "
                    "tax.tax_item_map or set tax.default_tax_item.",
                    field="taxRate",
                )
            )
        return None, ZERO
    found = ctx.lists.find("sales_tax_item", item_name)
    tax_item = Ref(name=found.full_name, list_id=found.list_id) if found else Ref(name=item_name)
    qb_rate = _check_tax_item(ctx, item_name, tax_setting, mapped_rate, rate, taxable_doc, findings)
    taxable_code = ctx.settings.tax.taxable_code
    taxable_total = sum((line.amount for line in lines if line.tax_code == taxable_code), ZERO)
    computed_tax = money(taxable_total * qb_rate / Decimal(100)) if taxable_doc else ZERO
    return tax_item, computed_tax


def _party_tax_code(ctx: MappingContext, party: PartyResolution, code: str) -> list[Finding]:
    """A new customer gets the default code; an existing one is checked against ``code``."""
    if party.contact_entry is not None and party.contact_entry.header.contact is not None:
        # The customer's default code, the same whichever of its orders is mapped (a shared
        # CustomerAdd must not change between them); each transaction sends its own code.
        party.contact_entry.header.contact.sales_tax_code = _customer_tax_code(ctx, True)
        return []
    return _customer_code_differs(ctx, party.ref, code)


def _sales_ref(ctx: MappingContext, kind: EntryKind) -> tuple[str | None, list[Finding]]:
    """The invoice or credit memo number from its pattern setting."""
    entry_kind: Literal["invoice", "credit_memo"] = (
        "invoice" if kind is EntryKind.INVOICE else "credit_memo"
    )
    pattern_setting = (
        "invoice_ref_pattern" if kind is EntryKind.INVOICE else "credit_memo_ref_pattern"
    )
    return ctx.ref_number(
        getattr(ctx.settings.sales, pattern_setting),
        _tokens(ctx),
        entry_kind,
        f"sales.{pattern_setting}",
    )


def _po_number(ctx: MappingContext, findings: list[Finding]) -> str | None:
    """Cin7's customer order number, cut to QuickBooks' 25 characters (said in ``findings``)."""
    po_number = ctx.doc.text("customerOrderNo")
    if po_number and len(po_number) > 25:
        findings.append(
            ctx.finding(
                "po_number_shortened",
                f"{ctx.label}: customer order number {po_number!r} (field customerOrderNo) is "
                "longer than QuickBooks' 25 characters; the first 25 are used.",
                field="customerOrderNo",
                blocking=False,
            )
        )
        po_number = po_number[:25]
    return po_number


def _header_checks(ctx: MappingContext) -> list[Finding]:
    """The receivables account and the class the header names, checked against the lists."""
    findings: list[Finding] = []
    receivable = ctx.settings.accounts.accounts_receivable
    if receivable:
        findings += ctx.check_account(receivable, "accounts.accounts_receivable", "receivables")
    if ctx.class_name():
        findings += _check_class(ctx, ctx.class_name() or "")
    return findings


def _check_class(ctx: MappingContext, name: str) -> list[Finding]:
    if ctx.lists.is_mirrored("class") and ctx.lists.find("class", name) is None:
        branch = ctx.doc.text("branchId")
        setting = (
            f"classes.branch_class_map[{branch!r}]"
            if branch is not None and branch in ctx.settings.classes.branch_class_map
            else "classes.default_class"
        )
        return [
            ctx.finding(
                "unmapped_class",
                f"{ctx.label}: QuickBooks has no class {name!r} (for Cin7 branch {branch}, "
                f"setting {setting}). Create it in QuickBooks or change the setting.",
                field=setting,
            )
        ]
    return []


def _check_tax_item(
    ctx: MappingContext,
    item_name: str,
    setting: str,
    mapped_rate: Decimal | None,
    rate: Decimal,
    taxable_doc: bool,
    findings: list[Finding],
) -> Decimal:
    """The rate QuickBooks will charge for the item; a different rate from Cin7's holds."""
    found = ctx.lists.find("sales_tax_item", item_name)
    if ctx.lists.is_mirrored("sales_tax_item") and found is None:
        findings.append(
            ctx.finding(
                "unmapped_tax_item",
                f"{ctx.label}: QuickBooks has no sales tax item {item_name!r} (setting "
                f"{setting}). Create it in QuickBooks or change the setting.",
                field=setting,
            )
        )
    qb_rate = (found.tax_rate if found else None) or mapped_rate
    if qb_rate is None:
        return rate
    if taxable_doc and qb_rate != rate:
        findings.append(
            ctx.finding(
                "tax_rate_mismatch",
                f"{ctx.label} charges {rate.normalize():f}% tax (field taxRate) but QuickBooks "
                f"sales tax item {item_name!r} charges {qb_rate.normalize():f}%; map the rate to "
                "the right item in tax.tax_item_map.",
                field="taxRate",
            )
        )
    return qb_rate


def _tokens(ctx: MappingContext) -> dict[str, str]:
    doc = ctx.doc
    return {
        "reference": doc.text("reference") or "",
        "invoiceNumber": doc.text("invoiceNumber") or "",
        "creditNoteNumber": doc.text("creditNoteNumber") or "",
        "customerOrderNo": doc.text("customerOrderNo") or "",
        "id": doc.id,
    }


class _Tokens(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _tax_code(ctx: MappingContext, taxable: bool) -> str:
    tax = ctx.settings.tax
    if tax.mode is TaxMode.TAX_LINE:
        # Cin7's tax is its own line: a taxable code would let QuickBooks add its tax on top.
        return tax.non_taxable_code
    return tax.taxable_code if taxable else tax.non_taxable_code


def _product_lines(
    ctx: MappingContext,
    products: list[Component],
    status: str,
    rate: Decimal,
    findings: list[Finding],
) -> list[EntryLine]:
    if ctx.settings.sales.line_mode is LineMode.ACCOUNT:
        return _account_mode_lines(ctx, products, findings)
    return _item_mode_lines(ctx, products, status, rate, findings)


def _account_mode_lines(
    ctx: MappingContext, products: list[Component], findings: list[Finding]
) -> list[EntryLine]:
    """One line per income account and taxability, on the account-mode item."""
    settings = ctx.settings
    account_map = settings.accounts.account_map
    groups: dict[tuple[str, bool], list[Component]] = {}
    for component in products:
        account = account_map.get(component.account_code or "", settings.accounts.income)
        findings += ctx.unmapped_account_code(component.account_code, component.line_no, account)
        groups.setdefault((account, component.taxable), []).append(component)
    lines = []
    for (account, taxable), members in groups.items():
        codes = ", ".join(c.code or c.description for c in members)
        mapped_from = [c.account_code for c in members if c.account_code in account_map]
        findings += ctx.check_account(
            account,
            f"accounts.account_map[{mapped_from[0]!r}]" if mapped_from else "accounts.income",
            "sales",
        )
        lines.append(
            EntryLine(
                role=LineRole.PRODUCT,
                account=account,
                override_account=True,
                item=ctx.item_ref(settings.items.account_mode_item),
                tax_code=_tax_code(ctx, taxable),
                amount=sum((c.net for c in members), ZERO),
                description=f"{len(members)} line(s): {codes}"[:4095],
            )
        )
    if groups:
        findings += ctx.check_item(
            settings.items.account_mode_item,
            "items.account_mode_item",
            "account-mode lines",
            "product",
        )
    return lines


def _item_mode_lines(
    ctx: MappingContext,
    products: list[Component],
    status: str,
    rate: Decimal,
    findings: list[Finding],
) -> list[EntryLine]:
    """One item line per product line; the account Cin7 maps its code to overrides the item's."""
    settings = ctx.settings
    account_map = settings.accounts.account_map
    lines = []
    for component in products:
        item, item_findings = resolve_item(ctx, component)
        findings += item_findings
        override = component.account_code in account_map if component.account_code else False
        findings += ctx.unmapped_account_code(
            component.account_code, component.line_no, f"the account of item {item.label()}"
        )
        lines.append(
            EntryLine(
                role=LineRole.PRODUCT,
                account=account_map[component.account_code or ""]
                if override
                else settings.accounts.income,
                override_account=override,
                item=item,
                tax_code=_tax_code(ctx, component.taxable),
                amount=component.net,
                description=component.description,
                qty=component.qty,
                rate=unit_rate(component, status, rate),
                source_line_id=component.line_id,
            )
        )
    return lines


def _extra_line(ctx: MappingContext, component: Component, findings: list[Finding]) -> EntryLine:
    settings = ctx.settings
    account_mode = settings.sales.line_mode is LineMode.ACCOUNT
    item_name, account, what = {
        LineRole.FREIGHT: (
            settings.items.freight_item,
            settings.accounts.freight_income,
            "freight",
        ),
        LineRole.SURCHARGE: (
            settings.items.surcharge_item,
            settings.accounts.surcharge_income,
            "surcharge",
        ),
        LineRole.DISCOUNT: (
            settings.items.discount_item,
            settings.accounts.discounts_given,
            "discount",
        ),
    }[component.role]
    role: ItemRole = "discount" if component.role is LineRole.DISCOUNT else "charge"
    findings += ctx.check_item(item_name, f"items.{what}_item", what, role)
    if account_mode:
        account_setting = {
            LineRole.FREIGHT: "accounts.freight_income",
            LineRole.SURCHARGE: "accounts.surcharge_income",
            LineRole.DISCOUNT: "accounts.discounts_given",
        }[component.role]
        findings += ctx.check_account(account, account_setting, what)
    return EntryLine(
        role=component.role,
        account=account,
        override_account=account_mode,
        item=ctx.item_ref(item_name),
        tax_code=_tax_code(ctx, component.taxable),
        amount=component.net,
        description=component.description,
    )


def _customer_tax_code(ctx: MappingContext, taxable_doc: bool) -> str:
    """The customer tax code matching what Cin7 charged: taxable when QuickBooks computes
    Cin7's tax; non-taxable when the document has no tax or carries it as its own line."""
    tax = ctx.settings.tax
    if tax.mode is TaxMode.SALES_TAX_ITEM and taxable_doc:
        return tax.taxable_code
    return tax.non_taxable_code


def _customer_code_differs(ctx: MappingContext, customer: Ref, code: str) -> list[Finding]:
    """The transaction carries the right code anyway; say when QuickBooks' customer differs."""
    found = ctx.lists.find("customer", customer.name) if customer.name else None
    if found is None or not found.sales_tax_code:
        return []
    if found.sales_tax_code.casefold() == code.casefold():
        return []
    return [
        ctx.finding(
            "customer_tax_code_differs",
            f"{ctx.label}: QuickBooks customer {found.full_name!r} has sales tax code "
            f"{found.sales_tax_code!r} but Cin7 charged this document as {code!r} (fields "
            f"taxStatus, taxRate); the transaction is sent with {code!r} so Cin7's tax is kept. "
            "Check the customer's tax code in QuickBooks.",
            field="taxStatus",
            blocking=False,
        )
    ]


# The settings that say whether freight and surcharges are taxed, and their words.
_TAXABILITY_SETTINGS = {
    LineRole.FREIGHT: ("tax.freight_taxable", "freight"),
    LineRole.SURCHARGE: ("tax.surcharge_taxable", "surcharge"),
}


def _taxability_setting_differs(
    ctx: MappingContext,
    components: list[Component],
    extra: list[Component],
    status: str,
    rate: Decimal,
    cin7_tax: Decimal,
) -> tuple[str, str] | None:
    """When flipping the freight / surcharge taxability setting reproduces Cin7's tax, the
    document's own numbers show how they were taxed: name the setting that disagrees."""
    if status == "exempt" or not rate:
        return None
    candidates = [c for c in extra if c.role in _TAXABILITY_SETTINGS]
    flips = [[c] for c in candidates] + ([candidates] if len(candidates) == 2 else [])
    for flip in flips:
        trial = _with_taxability_flipped(components, flip)
        to_net(trial, status, rate)
        allowance = rounding_allowance(
            ctx.settings.tax.tolerance, sum(1 for c in trial if c.taxable)
        )
        if abs(expected_tax(trial, status, rate) - cin7_tax) <= allowance:
            return _name_flip(flip)
    return None


def _with_taxability_flipped(components: list[Component], flip: list[Component]) -> list[Component]:
    return [
        Component(c.role, c.gross, not c.taxable, c.description, c.net)
        if any(c is f for f in flip)
        else c
        for c in components
    ]


def _name_flip(flip: list[Component]) -> tuple[str, str]:
    """The settings to change, and how Cin7 taxed the document (``with the freight (9.50)``)."""
    taxed = "with" if not flip[0].taxable else "without"
    setting = " and ".join(_TAXABILITY_SETTINGS[c.role][0] for c in flip)
    words = " and ".join(f"{_TAXABILITY_SETTINGS[c.role][1]} ({fmt(c.gross)})" for c in flip)
    return setting, f"{taxed} the {words}"


def _mixed_tax_rates(ctx: MappingContext, rate: Decimal) -> list[Finding]:
    """QuickBooks applies one sales tax item per invoice: lines at another rate cannot be
    expressed (a zero rate is simply non-taxable)."""
    others = []
    for number, line in enumerate(ctx.doc.lines(), start=1):
        if line.has("taxRate"):
            line_rate = line.dec("taxRate")
            if line_rate and line_rate != rate:
                others.append(f"line {number} at {line_rate.normalize():f}%")
    if not others:
        return []
    blocking = ctx.settings.tax.mode is TaxMode.SALES_TAX_ITEM
    return [
        ctx.finding(
            "mixed_tax_rates",
            f"{ctx.label} has mixed tax rates: {', '.join(others)} against the document's "
            f"{rate.normalize():f}% (fields lineItems[].taxRate, taxRate). "
            + (
                "QuickBooks charges one sales tax item per invoice, so the entry is held; "
                "use a sales tax group item in tax.tax_item_map or tax.mode tax_line."
                if blocking
                else "Cin7's tax amount is posted as it is, on its own line."
            ),
            field="lineItems[].taxRate",
            blocking=blocking,
        )
    ]
