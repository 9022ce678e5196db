"""Endings every rule shares: not ready yet, voided, and assembling the final result."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from omni2qbd_mapper.context import MappingContext
from omni2qbd_mapper.result import CogsContribution, DocumentStatus, MappingResult
from omni2qbd_mapper.rules import cogs as cogs_rules
from omni2qbd_mapper.rules.contacts import PartyResolution
from omni2qbd_mapper.rules.limits import quickbooks_limits, shortened_text
from omni2qbd_shared.entries import (
    Entry,
    EntryKind,
    EntryLine,
    Finding,
    JournalSubkind,
    LineRole,
    Ref,
    Side,
    money,
)
from omni2qbd_shared.kinds import QB_TITLE
from omni2qbd_shared.tenant_settings import CogsGranularity


def not_ready(ctx: MappingContext, code: str, message: str, field: str) -> MappingResult:
    """Not importable yet: no entry, one blocking finding saying what Cin7 still needs."""
    ctx.note(code, message, field=field)
    return MappingResult(
        kind=ctx.kind.value,
        document=ctx.label,
        status=DocumentStatus.NOT_READY,
        findings=list(ctx.findings),
    )


def stage_problem(ctx: MappingContext, stages: list[str]) -> MappingResult | None:
    """Not ready when the settings name importable stages and the document is in another."""
    if not stages:
        return None
    stage = ctx.doc.text("stage") or ""
    if stage.casefold() in {s.casefold() for s in stages}:
        return None
    return not_ready(
        ctx,
        "stage_not_importable",
        f"{ctx.label} is at stage {stage or '(none)'!r} (field stage); only "
        f"{', '.join(stages)} may be imported (setting importable_stages).",
        "stage",
    )


def finish(
    ctx: MappingContext,
    entry: Entry,
    contributions: Sequence[CogsContribution] = (),
    extra_findings: Sequence[Finding] = (),
) -> MappingResult:
    """Dependencies first, then the entry, then a per-document COGS journal if configured."""
    entry.findings.extend(quickbooks_limits(ctx, entry))
    entry.findings.extend(shortened_text(ctx, entry))
    for dependency in ctx.dependencies:
        notes = shortened_text(ctx, dependency)
        dependency.findings.extend(n for n in notes if n not in dependency.findings)
    entries: list[Entry] = []
    seen: set[str] = set()
    for dependency in ctx.dependencies:
        if dependency.key not in seen:
            seen.add(dependency.key)
            entries.append(dependency)
    entries.append(entry)
    monthly: list[CogsContribution] = []
    for contribution in contributions:
        if ctx.settings.cogs.granularity is CogsGranularity.PER_DOCUMENT:
            entries.append(cogs_rules.document_journal(ctx, contribution, entry.txn_date))
        else:
            monthly.append(contribution)
    ctx.findings.extend(f for f in extra_findings if not f.blocking)
    # A blocking COGS finding (restock unknown) holds the transaction it belongs to.
    entry.findings.extend(f for f in extra_findings if f.blocking)
    held = any(e.held for e in entries)
    return MappingResult(
        kind=ctx.kind.value,
        document=ctx.label,
        status=DocumentStatus.HELD if held else DocumentStatus.READY,
        entries=entries,
        findings=list(ctx.findings),
        cogs=monthly,
    )


def void_result(ctx: MappingContext) -> MappingResult:
    """A voided document is never posted; if an earlier revision was, say how to undo it."""
    posted = [p for p in ctx.posted if not p.entry.is_list_add]
    if not posted:
        ctx.note(
            "voided",
            f"{ctx.label} is voided in Cin7 (fields isVoid, status); nothing is posted.",
            field="isVoid",
            blocking=False,
        )
        return MappingResult(
            kind=ctx.kind.value,
            document=ctx.label,
            status=DocumentStatus.VOID,
            findings=list(ctx.findings),
        )
    entries = [_reversal(ctx, p.entry, p.is_draft, p.txn_id) for p in posted]
    held = any(e.held for e in entries)
    return MappingResult(
        kind=ctx.kind.value,
        document=ctx.label,
        status=DocumentStatus.HELD if held else DocumentStatus.READY,
        entries=entries,
        findings=list(ctx.findings),
    )


def _reversal(ctx: MappingContext, original: Entry, is_draft: bool, txn_id: str | None) -> Entry:
    """A journal that undoes the posted entry's debit/credit effect, explained in words."""
    name = f"{QB_TITLE.get(original.kind, original.kind.value)} {original.ref_number or ''}".strip()
    pending = is_draft and original.kind in (EntryKind.INVOICE, EntryKind.CREDIT_MEMO)
    # Its own identity, so it never looks like a re-import of the document's other journals.
    cin7_id = f"{ctx.cin7_id}:void:{original.kind.value}"
    key = f"journal:{ctx.kind.value}:{cin7_id}"
    entry = ctx.new_entry(EntryKind.JOURNAL, key)
    entry.source = entry.source.model_copy(update={"cin7_id": cin7_id})
    entry.subkind = JournalSubkind.REVERSAL
    entry.txn_date = original.txn_date
    entry.ref_number = (f"RV{original.ref_number or ''}")[:11]
    entry.header.memo = f"Reverses {name} for voided {ctx.label}"
    receivable_or_payable = {
        original.header.ar_ap_account or "Accounts Receivable",
        "Accounts Payable",
    }
    lines = []
    for posting in original.debit_credit():
        side = Side.CREDIT if posting.debit else Side.DEBIT
        amount = posting.debit or posting.credit
        # QuickBooks wants the customer/vendor on A/R and A/P journal lines.
        entity: Ref | None = (
            original.header.party if posting.account in receivable_or_payable else None
        )
        lines.append(
            EntryLine(
                role=LineRole.JOURNAL,
                account=posting.account,
                side=side,
                amount=money(amount),
                description=f"Reverse: {posting.memo}"[:4095],
                entity=entity,
            )
        )
    entry.lines = lines
    entry.total = money(sum((line.amount for line in lines if line.side is Side.DEBIT), money(0)))
    entry.currency = original.currency
    if pending:
        entry.findings = [
            ctx.finding(
                "void_after_posting",
                f"{ctx.label} was voided in Cin7 after it was sent to QuickBooks as {name}, "
                "which is still a pending draft there. Void or delete the pending transaction in "
                "QuickBooks; it never touched the books, so this reversal is not to be imported.",
                field="isVoid",
            )
        ]
    else:
        entry.findings = [
            ctx.finding(
                "void_after_posting",
                f"{ctx.label} was voided in Cin7 after it was posted to QuickBooks as {name}. "
                "Import this journal to reverse it, or void that transaction in QuickBooks "
                "instead and skip this entry.",
                field="isVoid",
                blocking=False,
            )
        ]
    return entry


def finish_transaction(
    ctx: MappingContext,
    entry: Entry,
    party: PartyResolution,
    *,
    lines: list[EntryLine],
    ref: str | None,
    txn_date: date,
    total: Decimal,
    currency: str,
    findings: list[Finding],
) -> Entry:
    """The last steps every sales and purchase transaction shares: its lines and figures, all
    findings (the party's and its new contact's too) and the dependency on that contact."""
    entry.lines = lines
    entry.ref_number = ref
    entry.txn_date = txn_date
    entry.total = total
    entry.currency = currency
    entry.findings = [
        *findings,
        *party.findings,
        *(party.contact_entry.findings if party.contact_entry else []),
    ]
    if party.contact_entry is not None:
        entry.depends_on = [party.contact_entry.key]
        ctx.dependencies.append(party.contact_entry)
    return entry
