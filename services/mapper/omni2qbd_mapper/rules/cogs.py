"""Cost of goods sold: per-document contributions and the journals built from them.

COGS = sum(qtyShipped x unitCost) over dispatched, invoiced sales orders, minus the restocked
cost of credit notes. Perpetual inventory only: Dr COGS, Cr Inventory Asset. Monthly journals
(the default) gather every contribution of a month in the tenant's time zone; a month stays
open for ``cogs.months_open`` months, and a late cost change re-opens it showing the difference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from omni2qbd_mapper.context import MappingContext, fmt
from omni2qbd_mapper.result import CogsContribution, DocumentStatus, MappingResult
from omni2qbd_mapper.rules.lists_gate import hold_until_lists_read
from omni2qbd_shared.entries import (
    ZERO,
    Entry,
    EntryKind,
    EntryLine,
    Finding,
    JournalSubkind,
    LineRole,
    Side,
    SourceRef,
    external_guid_for,
    money,
)
from omni2qbd_shared.kinds import TRANSACTION_KIND
from omni2qbd_shared.qb_lists import QbListsView
from omni2qbd_shared.tenant_settings import (
    REF_NUMBER_LIMITS,
    CreditNoteRestock,
    InventoryMethod,
    TenantSettings,
)


def _period(txn_date: date | None) -> str:
    return (txn_date or date.today()).strftime("%Y-%m")


def sales_order_cogs(
    ctx: MappingContext, txn_date: date | None
) -> tuple[list[CogsContribution], list[Finding]]:
    if ctx.settings.inventory_method is InventoryMethod.PERIODIC:
        return [], []
    doc = ctx.doc
    lines = doc.lines()
    shipped_any = any(line.dec("qtyShipped") != 0 for line in lines)
    if doc.when("dispatchedDate") is None and not shipped_any:
        return [], []
    total = ZERO
    findings = []
    for number, line in enumerate(lines, start=1):
        shipped = line.dec("qtyShipped") if line.has("qtyShipped") else line.dec("qty")
        cost = line.dec("unitCost")
        if shipped and not cost:
            findings.append(
                ctx.finding(
                    "zero_cogs",
                    f"{ctx.label}, line {number} ({line.text('code') or '?'}): dispatched with no "
                    f"unit cost (field lineItems[{number - 1}].unitCost), so it adds nothing to "
                    "COGS.",
                    field=f"lineItems[{number - 1}].unitCost",
                    blocking=False,
                )
            )
        total += shipped * cost
    return _contribution(ctx, txn_date, money(total), findings)


def credit_note_cogs(
    ctx: MappingContext, txn_date: date | None
) -> tuple[list[CogsContribution], list[Finding]]:
    """Only the cost of what went back into stock comes out of COGS (a negative
    contribution). Cin7 credit note lines carry ``qtyShipped`` beside ``qty``: the quantity
    moved back into stock (see docs/mapper.md for the evidence). A return line without it
    holds the credit note, unless ``cogs.credit_note_restock`` says what to assume."""
    settings = ctx.settings
    if settings.inventory_method is InventoryMethod.PERIODIC:
        return [], []
    mode = settings.cogs.credit_note_restock
    if mode is CreditNoteRestock.NONE:
        return [], []
    total = ZERO
    findings: list[Finding] = []
    for number, line in enumerate(ctx.doc.lines(), start=1):
        qty = line.dec("qty")
        if qty >= 0:
            continue  # a restocking fee or other charge: nothing came back
        if mode is CreditNoteRestock.ALL:
            restocked = abs(qty)
        elif line.has("qtyShipped"):
            restocked = min(abs(line.dec("qtyShipped")), abs(qty))
        else:
            findings.append(
                ctx.finding(
                    "restock_unknown",
                    f"{ctx.label}, line {number} ({line.text('code') or '?'}): Cin7 does not say "
                    f"how much of it went back into stock (field lineItems[{number - 1}]."
                    "qtyShipped is missing), so its cost cannot be taken out of COGS. Complete "
                    "the return in Cin7, or set cogs.credit_note_restock to all or none.",
                    field=f"lineItems[{number - 1}].qtyShipped",
                )
            )
            continue
        total += restocked * abs(line.dec("unitCost"))
    if findings:
        return [], findings
    if total == 0:
        return [], []
    return _contribution(ctx, txn_date, -money(total), [])


def _contribution(
    ctx: MappingContext, txn_date: date | None, amount: Decimal, findings: list[Finding]
) -> tuple[list[CogsContribution], list[Finding]]:
    if amount == 0:
        findings = [
            *findings,
            ctx.finding(
                "zero_cogs",
                f"{ctx.label} was dispatched but its COGS is zero (fields lineItems[].unitCost, "
                "qtyShipped); no COGS journal is posted for it. Check the product costs in Cin7.",
                field="lineItems[].unitCost",
                blocking=False,
            ),
        ]
        return [], findings
    contribution = CogsContribution(
        period=_period(txn_date),
        source=ctx.source(),
        document=ctx.label,
        amount=amount,
        class_name=ctx.class_name(),
    )
    return [contribution], findings


def journal_lines(
    settings: TenantSettings, amount: Decimal, class_name: str | None, memo: str
) -> list[EntryLine]:
    """Dr COGS / Cr Inventory Asset for a positive amount; the reverse for returns."""
    value = money(abs(amount))
    cogs_side, asset_side = (Side.DEBIT, Side.CREDIT) if amount > 0 else (Side.CREDIT, Side.DEBIT)
    return [
        EntryLine(
            role=LineRole.JOURNAL,
            account=settings.accounts.cogs,
            side=cogs_side,
            amount=value,
            description=memo,
            **{"class": class_name},
        ),
        EntryLine(
            role=LineRole.JOURNAL,
            account=settings.accounts.inventory_asset,
            side=asset_side,
            amount=value,
            description=memo,
            **{"class": class_name},
        ),
    ]


def document_journal(
    ctx: MappingContext, contribution: CogsContribution, txn_date: date | None
) -> Entry:
    """Per-document granularity: one COGS journal per sales order or credit note."""
    settings = ctx.settings
    key = f"journal:{ctx.kind.value}:{ctx.cin7_id}"
    tokens = {
        "reference": ctx.doc.text("reference") or "",
        "id": ctx.doc.id,
        "invoiceNumber": ctx.doc.text("invoiceNumber") or "",
        "creditNoteNumber": ctx.doc.text("creditNoteNumber") or "",
    }
    ref, findings = ctx.ref_number(
        settings.cogs.document_ref_pattern, tokens, "journal", "cogs.document_ref_pattern"
    )
    memo = f"COGS of {ctx.label}"
    entry = ctx.new_entry(EntryKind.JOURNAL, key)
    entry.subkind = JournalSubkind.COGS
    # COGS follows the revenue: the journal waits for the invoice / credit memo.
    revenue = TRANSACTION_KIND[ctx.kind]
    entry.depends_on = [f"{revenue}:{ctx.kind.value}:{ctx.cin7_id}"]
    entry.header.memo = memo
    entry.lines = journal_lines(settings, contribution.amount, contribution.class_name, memo)
    entry.ref_number = ref
    entry.txn_date = txn_date
    entry.total = money(abs(contribution.amount))
    entry.currency = settings.home_currency
    entry.findings = [
        *findings,
        *ctx.check_account(settings.accounts.cogs, "accounts.cogs", "COGS"),
        *ctx.check_account(settings.accounts.inventory_asset, "accounts.inventory_asset", "COGS"),
    ]
    return entry


def _month_label(period: str) -> str:
    return date.fromisoformat(f"{period}-01").strftime("%B %Y")


def _months_between(earlier: str, later: str) -> int:
    ey, em = (int(p) for p in earlier.split("-"))
    ly, lm = (int(p) for p in later.split("-"))
    return (ly - ey) * 12 + (lm - em)


def contribution_hash(contribution: CogsContribution) -> int:
    """A contribution's share of its month's digest (summed mod 2**256, so order-free)."""
    text = (
        f"{contribution.source.kind}:{contribution.source.cin7_id}:"
        f"{money(contribution.amount):.2f}:{contribution.class_name}"
    )
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


DIGEST_MODULUS = 2**256


@dataclass
class CogsMonthSums:
    """What a month's COGS journal is built from: the counted contributions, summed."""

    by_class: dict[str | None, Decimal] = field(default_factory=dict)
    documents: int = 0
    pending_amount: Decimal = ZERO
    pending_documents: int = 0
    digest: int = 0

    def add(self, contribution: CogsContribution, sign: int = 1) -> None:
        name = contribution.class_name
        self.by_class[name] = self.by_class.get(name, ZERO) + sign * contribution.amount
        self.documents += sign
        if contribution.pending:
            self.pending_amount += sign * contribution.amount
            self.pending_documents += sign
        self.digest = (self.digest + sign * contribution_hash(contribution)) % DIGEST_MODULUS

    @classmethod
    def of(cls, contributions: Sequence[CogsContribution]) -> CogsMonthSums:
        sums = cls()
        for contribution in contributions:
            sums.add(contribution)
        return sums


def map_cogs_month(
    period: str,
    contributions: Sequence[CogsContribution],
    settings: TenantSettings,
    lists: QbListsView,
    *,
    tenant_id: str = "local",
    posted_total: Decimal | None = None,
    today: date | None = None,
) -> MappingResult:
    """The COGS journal of one month (``YYYY-MM``) from every document's contribution."""
    return map_cogs_sums(
        period,
        CogsMonthSums.of(contributions),
        settings,
        lists,
        tenant_id=tenant_id,
        posted_total=posted_total,
        today=today,
    )


def map_cogs_sums(
    period: str,
    sums: CogsMonthSums,
    settings: TenantSettings,
    lists: QbListsView,
    *,
    tenant_id: str = "local",
    posted_total: Decimal | None = None,
    today: date | None = None,
) -> MappingResult:
    """The COGS journal of one month from its summed contributions (the mapper keeps these
    sums running, so a month costs the same however many documents it holds).

    ``posted_total`` is the total of the journal already in QuickBooks for that month, if any;
    a change against it is shown, and held when the month is no longer open.
    """
    label = f"COGS for {_month_label(period)}"
    if settings.inventory_method is InventoryMethod.PERIODIC:
        return MappingResult(kind="cogs_month", document=label, status=DocumentStatus.IGNORED)
    by_class = sums.by_class
    net = money(sum(by_class.values(), ZERO))
    digest = f"{sums.digest:064x}"
    key = f"journal:cogs_month:{period}"
    nothing = sums.documents == 0 or all(money(v) == 0 for v in by_class.values())
    if nothing and (posted_total is None or posted_total == 0):
        return MappingResult(kind="cogs_month", document=label, status=DocumentStatus.IGNORED)
    memo = f"Cost of goods sold for {_month_label(period)} ({sums.documents} Cin7 documents)"
    lines = _month_lines(settings, by_class, memo)
    findings = _month_findings(
        label, period, sums, settings, net=net, posted_total=posted_total, today=today
    )
    if not lines:
        findings.append(
            _finding(
                label,
                "cogs_month_now_zero",
                f"{label} is now zero but a journal of {fmt(money(posted_total or ZERO))} was "
                "posted; delete or void that journal in QuickBooks.",
            )
        )
    entry = Entry(
        kind=EntryKind.JOURNAL,
        subkind=JournalSubkind.COGS,
        source=SourceRef(kind="cogs_month", cin7_id=period, revision=digest, reference=period),
        key=key,
        tenant_id=tenant_id,
        external_guid=external_guid_for(tenant_id, key, digest),
        lines=lines,
        ref_number=_month_ref(settings, period),
        txn_date=_month_end(period),
        total=money(sum((line.amount for line in lines if line.side is Side.DEBIT), ZERO)),
        currency=settings.home_currency,
        findings=findings,
    )
    entry.header.memo = memo
    entry.findings += _unknown_accounts(label, settings, lists)
    status = DocumentStatus.HELD if entry.held else DocumentStatus.READY
    result = MappingResult(kind="cogs_month", document=label, status=status, entries=[entry])
    return hold_until_lists_read(result, lists)


def _month_findings(
    label: str,
    period: str,
    sums: CogsMonthSums,
    settings: TenantSettings,
    *,
    net: Decimal,
    posted_total: Decimal | None,
    today: date | None,
) -> list[Finding]:
    """A change against the journal already posted, and pending drafts the month counts."""
    findings: list[Finding] = []
    if posted_total is not None and money(posted_total) != net:
        age = _months_between(period, (today or date.today()).strftime("%Y-%m"))
        findings += _changed_since_posted(label, net, money(posted_total), age, settings)
    if sums.pending_documents:
        findings.append(_includes_pending(label, sums))
    return findings


def _changed_since_posted(
    label: str, net: Decimal, posted: Decimal, age: int, settings: TenantSettings
) -> list[Finding]:
    """The month's journal differs from the one in QuickBooks: shown, and held once the month
    is older than ``cogs.months_open``."""
    change = net - posted
    findings = [
        _finding(
            label,
            "cogs_month_reopened",
            f"{label} changes from {fmt(posted)} to {fmt(net)} "
            f"({'+' if change > 0 else ''}{fmt(change)}) since it was posted, because costs "
            "changed in Cin7 (modifiedCOGSDate); re-posting replaces the month's journal.",
            blocking=False,
        )
    ]
    if age > settings.cogs.months_open:
        findings.append(
            _finding(
                label,
                "cogs_month_closed",
                f"{label} changed by {fmt(change)} after the month closed (cogs.months_open = "
                f"{settings.cogs.months_open}). Post the difference by hand in an open month, "
                "or raise cogs.months_open to re-post it.",
            )
        )
    return findings


def _includes_pending(label: str, sums: CogsMonthSums) -> Finding:
    return _finding(
        label,
        "cogs_includes_pending",
        f"{label} includes the cost of {sums.pending_documents} document(s) whose "
        "invoice or credit memo is still a pending draft in QuickBooks "
        f"({fmt(money(sums.pending_amount))}). They count because "
        "they are in QuickBooks; mark them final there, or delete them and mark the "
        "Cin7 documents do not import.",
        blocking=False,
    )


def _month_lines(
    settings: TenantSettings, by_class: Mapping[str | None, Decimal], memo: str
) -> list[EntryLine]:
    """The journal's lines, class by class in name order (no class first); zero classes none."""
    lines: list[EntryLine] = []
    for class_name, amount in sorted(by_class.items(), key=lambda kv: kv[0] or ""):
        if money(amount) != 0:
            lines += journal_lines(settings, amount, class_name, memo)
    return lines


def _month_ref(settings: TenantSettings, period: str) -> str:
    """The journal number from ``cogs.monthly_ref_pattern``, its last characters if too long."""
    ref = settings.cogs.monthly_ref_pattern.format_map({"period": period.replace("-", "")})
    return ref[-REF_NUMBER_LIMITS["journal"] :]


def _month_end(period: str) -> date:
    """The last day of month ``YYYY-MM``."""
    year, month = (int(p) for p in period.split("-"))
    return date.fromordinal(date(year + (month == 12), month % 12 + 1, 1).toordinal() - 1)


def _unknown_accounts(label: str, settings: TenantSettings, lists: QbListsView) -> list[Finding]:
    """The COGS and inventory asset accounts the mirrored account list does not have."""
    if not lists.is_mirrored("account"):
        return []
    return [
        _finding(
            label,
            "unmapped_account",
            f"{label}: QuickBooks has no account {name!r} (setting {setting}).",
            field=setting,
        )
        for name, setting in (
            (settings.accounts.cogs, "accounts.cogs"),
            (settings.accounts.inventory_asset, "accounts.inventory_asset"),
        )
        if lists.find("account", name) is None
    ]


def _finding(
    document: str, code: str, message: str, *, blocking: bool = True, field: str | None = None
) -> Finding:
    return Finding(code=code, blocking=blocking, message=message, document=document, field=field)
