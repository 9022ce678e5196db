"""Stock adjustments and the inventory value reconciliation, both as journals (docs/design.md §5).

QuickBooks' XSD forbids value-only InventoryAdjustment (reference qbwc-qbxml.md §3.7), and the
bridge's items carry no quantities anyway, so value changes go through journal entries.
"""

from __future__ import annotations

from decimal import Decimal

from omni2qbd_mapper.cin7doc import Cin7Doc
from omni2qbd_mapper.context import MappingContext, fmt
from omni2qbd_mapper.result import DocumentStatus, MappingResult
from omni2qbd_mapper.rules.common import finish, not_ready
from omni2qbd_shared.entries import (
    ZERO,
    EntryKind,
    EntryLine,
    Finding,
    JournalSubkind,
    LineRole,
    Side,
    money,
)
from omni2qbd_shared.tenant_settings import InventoryMethod, TenantSettings


def _ignored(ctx: MappingContext, code: str, message: str, field: str) -> MappingResult:
    ctx.note(code, message, field=field, blocking=False)
    return MappingResult(
        kind=ctx.kind.value,
        document=ctx.label,
        status=DocumentStatus.IGNORED,
        findings=list(ctx.findings),
    )


def _pair(
    inventory: str, offset: str, amount: Decimal, memo: str, class_name: str | None
) -> list[EntryLine]:
    """Dr Inventory / Cr offset for an increase in value, the reverse for a decrease."""
    value = money(abs(amount))
    inv_side, off_side = (Side.DEBIT, Side.CREDIT) if amount > 0 else (Side.CREDIT, Side.DEBIT)
    return [
        EntryLine(
            role=LineRole.JOURNAL,
            account=inventory,
            side=inv_side,
            amount=value,
            description=memo,
            **{"class": class_name},
        ),
        EntryLine(
            role=LineRole.JOURNAL,
            account=offset,
            side=off_side,
            amount=value,
            description=memo,
            **{"class": class_name},
        ),
    ]


def map_adjustment(ctx: MappingContext) -> MappingResult:
    doc = ctx.doc
    settings = ctx.settings
    not_importable = _adjustment_not_importable(ctx)
    if not_importable is not None:
        return not_importable
    when = doc.when("adjustInAccountingSystem") or doc.when("completedDate")
    if when is None:
        return not_ready(
            ctx,
            "not_completed",
            f"{ctx.label} has no accounting date (fields adjustInAccountingSystem, completedDate); "
            "it is imported once completed.",
            "completedDate",
        )
    findings: list[Finding] = []
    by_account = _value_by_offset_account(ctx, findings)
    if all(money(v) == 0 for v in by_account.values()):
        return _ignored(
            ctx,
            "zero_adjustment",
            f"{ctx.label} changes no value (fields lineItems[].qty, unitCost); nothing is posted.",
            "lineItems",
        )
    memo = f"Cin7 stock adjustment {ctx.reference}" + (
        f": {doc.text('adjustmentReason')}" if doc.text("adjustmentReason") else ""
    )
    lines: list[EntryLine] = []
    for offset, amount in sorted(by_account.items()):
        if money(amount) != 0:
            lines += _pair(
                settings.accounts.inventory_asset, offset, money(amount), memo, ctx.class_name()
            )
            findings += ctx.check_account(offset, "accounts.stock_adjustments", "the adjustment")
    findings += ctx.check_account(
        settings.accounts.inventory_asset, "accounts.inventory_asset", "the adjustment"
    )
    key = f"journal:stock_adjustment:{ctx.cin7_id}"
    ref, ref_findings = ctx.ref_number(
        settings.adjustments.ref_pattern,
        {"reference": doc.text("reference") or "", "id": doc.id},
        "journal",
        "adjustments.ref_pattern",
    )
    entry = ctx.new_entry(EntryKind.JOURNAL, key)
    entry.subkind = JournalSubkind.STOCK_ADJUSTMENT
    entry.header.memo = memo[:4095]
    entry.lines = lines
    entry.ref_number = ref
    entry.txn_date = ctx.local_date(when)
    entry.total = money(sum((line.amount for line in lines if line.side is Side.DEBIT), ZERO))
    entry.currency = settings.home_currency
    entry.findings = [*findings, *ref_findings]
    return finish(ctx, entry)


def _adjustment_not_importable(ctx: MappingContext) -> MappingResult | None:
    """Not posted under periodic inventory; not yet while unapproved (if the settings say so)."""
    doc = ctx.doc
    settings = ctx.settings
    if settings.inventory_method is InventoryMethod.PERIODIC:
        return _ignored(
            ctx,
            "periodic_no_adjustments",
            f"{ctx.label}: stock adjustments are not posted under the periodic inventory method; "
            "the period-end inventory value journal covers them.",
            "inventory_method",
        )
    if (
        settings.adjustments.require_approved
        and doc.has("isApproved")
        and not doc.flag("isApproved")
    ):
        return not_ready(
            ctx, "not_approved", f"{ctx.label} is not approved (field isApproved).", "isApproved"
        )
    return None


def _value_by_offset_account(ctx: MappingContext, findings: list[Finding]) -> dict[str, Decimal]:
    """The adjusted value per offset account (a line's Cin7 account code, mapped, or the
    default adjustment account); unmapped codes are noted in ``findings``."""
    doc = ctx.doc
    settings = ctx.settings
    account_map = settings.accounts.account_map
    default_offset = settings.accounts.stock_adjustments
    header_code = doc.text("alternativeAccountCode")
    by_account: dict[str, Decimal] = {}
    for number, line in enumerate(doc.lines(), start=1):
        qty = line.dec("qtyAdjusted") if line.has("qtyAdjusted") else line.dec("qty")
        value = qty * line.dec("unitCost")
        if value == 0:
            continue
        code = line.text("account") or header_code
        if code and code not in account_map:
            findings.append(
                ctx.finding(
                    "unmapped_account",
                    f"{ctx.label}, line {number}: Cin7 account code {code!r} (field "
                    f"lineItems[{number - 1}].account) is not in accounts.account_map, so the "
                    f"default adjustment account {default_offset!r} is used.",
                    field=f"lineItems[{number - 1}].account",
                    blocking=False,
                )
            )
        offset = account_map.get(code or "", default_offset)
        by_account[offset] = by_account.get(offset, ZERO) + value
    return by_account


def map_inventory_value(ctx: MappingContext) -> MappingResult:
    """Cin7 stock value against QuickBooks' Inventory Asset balance for a period end.

    The document is ``{"period": "YYYY-MM", "asOfDate": ..., "stockValue": n}`` or with
    ``"stock": [{"code", "stockOnHand", "unitCost"}]`` instead of ``stockValue``, plus
    ``"qbInventoryBalance"`` (the gateway reads it from QuickBooks).
    """
    doc = ctx.doc
    settings = ctx.settings
    period = doc.text("period") or doc.id
    when = doc.when("asOfDate")
    stock_value = _stock_value(doc)
    if not doc.has("qbInventoryBalance"):
        return not_ready(
            ctx,
            "no_quickbooks_balance",
            f"{ctx.label}: the QuickBooks Inventory Asset balance is not known yet (field "
            "qbInventoryBalance); it is read at the next Web Connector run.",
            "qbInventoryBalance",
        )
    balance = money(doc.dec("qbInventoryBalance"))
    difference = stock_value - balance
    if difference == 0:
        return _ignored(
            ctx,
            "inventory_reconciled",
            f"{ctx.label}: Cin7 stock value {fmt(stock_value)} equals the QuickBooks Inventory "
            "Asset balance; nothing to adjust.",
            "stockValue",
        )
    offset = _inventory_value_offset(settings)
    memo = (
        f"Inventory value {period}: Cin7 {fmt(stock_value)}, QuickBooks {fmt(balance)}, "
        f"difference {fmt(difference)}"
    )
    key = f"journal:{ctx.kind.value}:{ctx.cin7_id}"
    ref, ref_findings = _inventory_value_ref(ctx, period)
    entry = ctx.new_entry(EntryKind.JOURNAL, key)
    entry.subkind = JournalSubkind.INVENTORY_VALUE
    entry.header.memo = memo
    entry.header.is_adjustment = True
    entry.lines = _pair(settings.accounts.inventory_asset, offset, difference, memo, None)
    entry.ref_number = ref
    entry.txn_date = ctx.local_date(when) if when else None
    entry.total = money(abs(difference))
    entry.currency = settings.home_currency
    entry.findings = [
        ctx.finding(
            "inventory_value_difference",
            f"{memo}. Import this journal to bring QuickBooks to Cin7's value.",
            field="stockValue",
            blocking=False,
        ),
        *ref_findings,
        *_reconciliation_accounts(ctx, offset),
    ]
    return finish(ctx, entry)


def _inventory_value_ref(
    ctx: MappingContext, period: str | None
) -> tuple[str | None, list[Finding]]:
    return ctx.ref_number(
        ctx.settings.adjustments.inventory_value_ref_pattern,
        {"period": (period or "").replace("-", "")},
        "journal",
        "adjustments.inventory_value_ref_pattern",
    )


def _inventory_value_offset(settings: TenantSettings) -> str:
    """Periodic inventory: the difference is cost of goods sold; perpetual: an adjustment."""
    if settings.inventory_method is InventoryMethod.PERIODIC:
        return settings.accounts.cogs
    return settings.accounts.inventory_value_adjustments


def _stock_value(doc: Cin7Doc) -> Decimal:
    """Cin7's stock value: as stated, else the sum of stock on hand x unit cost."""
    if doc.has("stockValue"):
        return money(doc.dec("stockValue"))
    return money(
        sum(
            (line.dec("stockOnHand") * line.dec("unitCost") for line in doc.lines("stock")),
            ZERO,
        )
    )


def _reconciliation_accounts(ctx: MappingContext, offset: str) -> list[Finding]:
    """The offset and inventory asset accounts, checked against QuickBooks' account list."""
    return [
        *ctx.check_account(offset, "accounts.inventory_value_adjustments", "the reconciliation"),
        *ctx.check_account(
            ctx.settings.accounts.inventory_asset,
            "accounts.inventory_asset",
            "the reconciliation",
        ),
    ]
