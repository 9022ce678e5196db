"""What mapping one Cin7 document produces: entries, findings and COGS contributions."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from omni2qbd_shared.entries import Entry, Finding, Money, SourceRef


class DocumentStatus(StrEnum):
    READY = "ready"  # entries made, none held
    HELD = "held"  # at least one entry has a blocking finding
    NOT_READY = "not_ready"  # not importable yet (no invoice date, draft, not completed, ...)
    VOID = "void"  # voided and never posted: nothing to do
    IGNORED = "ignored"  # nothing to post (contacts, zero adjustments, periodic method, ...)


class CogsContribution(BaseModel):
    """One document's share of a month's COGS journal (positive: cost sold; negative: returned)."""

    period: str  # YYYY-MM in the tenant's time zone
    source: SourceRef
    document: str
    amount: Money
    class_name: str | None = None
    # Set when summed into a month: the document's invoice/credit memo is a pending draft in
    # QuickBooks (counted, and shown, because QuickBooks holds it; see docs/mapper.md).
    pending: bool = False


class PostedEntry(BaseModel):
    """An entry of an earlier revision that reached QuickBooks, as the consumer remembers it."""

    entry: Entry
    txn_id: str | None = None
    is_draft: bool = True


class MappingResult(BaseModel):
    kind: str
    document: str
    status: DocumentStatus
    entries: list[Entry] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    cogs: list[CogsContribution] = Field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.status is DocumentStatus.HELD

    @property
    def importable(self) -> bool:
        return self.status is DocumentStatus.READY

    def all_findings(self) -> list[Finding]:
        """Document findings first, then each entry's, without repeating the same finding."""
        seen: set[tuple[str, str]] = set()
        out: list[Finding] = []
        for finding in [*self.findings, *(f for e in self.entries for f in e.findings)]:
            key = (finding.code, finding.message)
            if key not in seen:
                seen.add(key)
                out.append(finding)
        return out
