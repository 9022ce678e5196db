"""The review queue as the console shows it: the workflow's own functions (the same the JSON
API calls), with their answers put into a bookkeeper's sentences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.console.access import TenantPage
from omni2qbd_gateway.console.run_progress import RunProgress, run_progress


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
    return []


def value_of(item: Any, name: str) -> Any:
    """A value of an API-shaped item, whether a mapping or an object."""
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


async def counts(db: AsyncSession, page: TenantPage) -> dict[str, int]:
    return {}


@dataclass(frozen=True)
class EntryPage:
    items: list[Any]
    next_cursor: str | None = None


async def entries(
    db: AsyncSession, page: TenantPage, filters: Filters, limit: int, cursor: str | None
) -> EntryPage:
    return EntryPage([])


async def detail(db: AsyncSession, page: TenantPage, entry_id: str) -> Any | None:
    return None


async def approve(
    db: AsyncSession, page: TenantPage, entry_ids: list[str], *, all_ready: bool
) -> Outcome:
    return Outcome("", "warn")


async def retry(db: AsyncSession, page: TenantPage, entry_ids: list[str]) -> Outcome:
    return Outcome("", "warn")


async def unapprove(db: AsyncSession, page: TenantPage, entry_id: str) -> Outcome:
    return Outcome("", "warn")


async def progress(db: AsyncSession, page: TenantPage) -> RunProgress:
    return await run_progress(db, page.tenant.id)
