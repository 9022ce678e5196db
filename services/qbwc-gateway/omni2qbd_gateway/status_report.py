"""``omni2qbd status``: a tenant's entries summarised by state and kind, and every entry that
needs a person (what it is, for whom, when, how much, and every reason), from the workflow
layer the API uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.workflow import entries
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_gateway.workflow.states import API_STATES, NEEDS_ATTENTION, ApiState
from omni2qbd_gateway.workflow.views import EntryItem, Summary

NEEDS_A_PERSON: tuple[ApiState, ...] = (NEEDS_ATTENTION, "failed", "locked")
HINTS: dict[str, str] = {
    NEEDS_ATTENTION: "fix what the reasons say (in Cin7 or the settings); it is re-checked",
    "ready": "approve with `omni2qbd approve TENANT --all` (or by entry id)",
    "approved": "the next Web Connector run sends these",
    "failed": "fix the cause, then `omni2qbd approve` it again (or retry in the console)",
    "locked": "changed in QuickBooks after posting: update both systems by hand",
    "in_doubt": "checked with QuickBooks at the start of the next Web Connector run",
}
LIST_LIMIT = 200


@dataclass
class StatusReport:
    tenant_id: str
    name: str
    summary: Summary
    needing: list[EntryItem] = field(default_factory=list)
    more: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "by_state": self.summary.by_state,
            "by_kind": self.summary.by_kind,
            "counts": [c.model_dump(mode="json") for c in self.summary.counts],
            "needs_a_person": [item.model_dump(mode="json") for item in self.needing],
            "more_needing_a_person": self.more,
        }

    def render(self) -> list[str]:
        lines = [f"{self.name} (tenant {self.tenant_id})", ""]
        total = sum(self.summary.by_state.values())
        if total == 0:
            return [*lines, "No entries yet: the fetcher and mapper have not produced any."]
        kinds: dict[str, list[str]] = {}
        for row in self.summary.counts:
            kinds.setdefault(row.state, []).append(f"{row.kind.replace('_', ' ')} {row.count}")
        for state in API_STATES:
            count = self.summary.by_state.get(state, 0)
            if not count:
                continue
            label = state.replace("_", " ")
            lines.append(f"  {label:<16} {count:>6}   {', '.join(kinds.get(state, []))}")
            if state in HINTS:
                lines.append(f"  {'':<16} {'':>6}   → {HINTS[state]}")
        lines.append("")
        if not self.needing:
            lines.append("Nothing needs a person.")
            return lines
        lines.append(f"Needs a person ({len(self.needing) + self.more}):")
        for item in self.needing:
            lines.extend(_item_lines(item))
        if self.more:
            lines.append(f"  ... and {self.more} more (`omni2qbd status TENANT --all` lists all)")
        return lines


def _item_lines(item: EntryItem) -> list[str]:
    ref = item.document.reference or f"{item.document.kind.replace('_', ' ')} {item.document.id}"
    amount = f"{item.total} {item.currency}" if item.total is not None else "-"
    head = (
        f"  [{item.state.replace('_', ' ')}] {item.kind.replace('_', ' ')} for Cin7 {ref}"
        f" · {item.contact or '(no contact)'} · {item.txn_date or 'no date'} · {amount}"
        f"  (entry {item.id})"
    )
    # Every reason that holds it, each once (the notes that hold nothing are in --all/API).
    blocking = [f for f in item.findings if f.blocking] or item.findings
    reasons = list(
        dict.fromkeys(
            f"      - {f.message}" + (f" (Cin7 field {f.field})" if f.field else "")
            for f in blocking
        )
    )
    if item.status_message and item.state != NEEDS_ATTENTION:
        reasons.insert(0, f"      - {item.status_message}")
    return [head, *(reasons or ["      - (no reason recorded)"])]


async def status_report(db: AsyncSession, tenant_id: str, name: str) -> StatusReport:
    scope = TenantScope(tenant_id, "cli")
    report = StatusReport(tenant_id, name, await entries.summary(db, scope))
    for state in NEEDS_A_PERSON:
        cursor = None
        while True:
            page = await entries.list_entries(
                db, scope, entries.EntryFilter(state=state), limit=200, cursor=cursor
            )
            for item in page.items:
                if len(report.needing) < LIST_LIMIT:
                    report.needing.append(item)
                else:
                    report.more += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    return report
