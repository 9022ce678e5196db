"""The review queue as the console shows it: the workflow's own functions (the same the JSON
API calls), with their answers put into a bookkeeper's sentences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.console.access import TenantPage
from omni2qbd_gateway.console.run_progress import RunProgress, run_progress
from omni2qbd_gateway.workflow import approval
from omni2qbd_gateway.workflow import entries as workflow_entries
from omni2qbd_gateway.workflow import reimport as workflow_reimport
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_gateway.workflow.states import API_STATES, ApiState
from omni2qbd_gateway.workflow.views import EntryDetail, EntryPage


@dataclass(frozen=True)
class Filters:
    state: str
    kind: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    contact: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class Outcome:
    message: str
    kind: str = "ok"


@dataclass(frozen=True)
class TenantLink:
    path: str
    label: str
    section: str


def tenant_links() -> list[TenantLink]:
    """Pages added to the tenant's navigation beside Review and Transactions."""
    return [
        TenantLink("matching", "Matching", "matching"),
        TenantLink("cogs", "COGS", "cogs"),
        TenantLink("reconciliation", "Reconciliation", "reconciliation"),
        TenantLink("settings", "Settings", "settings"),
        TenantLink("audit", "Audit log", "audit"),
    ]


def page_context(page: TenantPage, section: str, **extra: Any) -> dict[str, Any]:
    """What every tenant page's template needs: who, which tenant, the navigation."""
    return {
        "viewer": page.viewer,
        "tenant": page.tenant,
        "section": section,
        "may_change": page.may_change,
        "tenant_links": tenant_links(),
        **extra,
    }


def value_of(item: Any, name: str) -> Any:
    """A value of an API-shaped item, whether a mapping or an object."""
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


def scope_of(page: TenantPage) -> TenantScope:
    return TenantScope(page.tenant.id, page.viewer.person.email)


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


async def counts(db: AsyncSession, page: TenantPage) -> dict[str, int]:
    return (await workflow_entries.summary(db, scope_of(page))).by_state


async def entries(
    db: AsyncSession, page: TenantPage, filters: Filters, limit: int, cursor: str | None
) -> EntryPage:
    wanted = workflow_entries.EntryFilter(
        state=_api_state(filters.state),
        kind=filters.kind,
        date_from=_date(filters.date_from),
        date_to=_date(filters.date_to),
        contact=filters.contact,
        q=filters.q,
    )
    try:
        return await workflow_entries.list_entries(
            db, scope_of(page), wanted, limit=limit, cursor=cursor
        )
    except workflow_entries.BadRequest:
        # A stale or hand-made cursor: show the first page rather than an error.
        return await workflow_entries.list_entries(db, scope_of(page), wanted, limit=limit)


def _api_state(state: str) -> ApiState | None:
    for known in API_STATES:
        if known == state:
            return known
    return None


async def detail(db: AsyncSession, page: TenantPage, entry_id: str) -> EntryDetail | None:
    try:
        return await workflow_entries.entry_detail(db, scope_of(page), entry_id)
    except workflow_entries.EntryNotFound:
        return None


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


async def approve(
    db: AsyncSession, page: TenantPage, entry_ids: list[str], *, all_ready: bool
) -> Outcome:
    result = await approval.approve(
        db,
        scope_of(page),
        entry_ids=None if all_ready else entry_ids,
        all_ready=all_ready,
    )
    parts: list[str] = []
    if result.approved:
        parts.append(
            f"{_plural(len(result.approved), 'entry', 'entries')} will be sent to QuickBooks "
            "at the next Web Connector run."
        )
    if result.dependencies:
        names = ", ".join(d.label for d in result.dependencies)
        parts.append(f"Approved with them, because they need it: {names}.")
    for refused in result.refused:
        parts.append(f"Not imported: {refused.reason}.")
    if not parts:
        return Outcome("There was nothing ready to import.", "warn")
    kind = "ok" if result.approved and not result.refused else "warn"
    return Outcome(" ".join(parts), kind)


async def retry(db: AsyncSession, page: TenantPage, entry_ids: list[str]) -> Outcome:
    done: list[str] = []
    refused: list[str] = []
    for entry_id in entry_ids:
        try:
            row = await approval.retry(db, scope_of(page), entry_id)
        except (approval.ActionRefused, workflow_entries.EntryNotFound) as exc:
            refused.append(str(exc))
        else:
            done.append(approval.label(row))
    parts = []
    if done:
        parts.append(f"Sent again at the next Web Connector run: {', '.join(done)}.")
    parts += [f"Not retried: {reason}." for reason in refused]
    if not parts:
        return Outcome("Select at least one entry to retry.", "error")
    return Outcome(" ".join(parts), "ok" if not refused else "warn")


async def unapprove(db: AsyncSession, page: TenantPage, entry_id: str) -> Outcome:
    try:
        row = await approval.unapprove(db, scope_of(page), entry_id)
    except (approval.ActionRefused, workflow_entries.EntryNotFound) as exc:
        return Outcome(f"Not taken back: {exc}.", "error")
    return Outcome(f"The approval of the {approval.label(row)} was taken back; it is ready again.")


async def reimport(db: AsyncSession, page: TenantPage, entry_id: str) -> dict[str, Any] | None:
    """What changed in Cin7 since the version in QuickBooks, or None for a first import."""
    try:
        return await workflow_reimport.reimport_of(db, scope_of(page), entry_id)
    except workflow_reimport.NotReimported:
        return None


async def progress(db: AsyncSession, page: TenantPage) -> RunProgress:
    return await run_progress(db, page.tenant.id)
