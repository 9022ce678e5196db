"""Connection health: the Web Connector's last run, what QuickBooks said about itself, the
queue, the error rate and the last Cin7 sync; ``stale`` when the Web Connector has not run
for longer than the tenant expects.

What QuickBooks reports about itself (product, version, country) is read from the newest
session's ``plan["host"]`` (keys ``product``, ``version``, ``country``), which the Web
Connector session code fills from ``authenticate``/``sendRequestXML``; until it does, those
fields are null.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.workflow.entries import summary
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.models import OutboxItem, QbwcSession, SyncStatus, Tenant, aware, utcnow
from omni2qbd_shared.db.tenant_options import TenantOptions

LIVE = ("authenticated", "working")
DONE_STATES = ("posted", "failed", "locked")


class LastRun(BaseModel):
    started_at: datetime
    ended_at: datetime | None
    outcome: str = Field(description="running, finished, failed or expired")
    error: str | None


class QuickBooksInfo(BaseModel):
    product: str | None = None
    version: str | None = None
    country: str | None = None
    company_file: str | None = None
    qbxml_version: str | None = None


class Cin7Sync(BaseModel):
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None


class TenantHealth(BaseModel):
    tenant_id: str
    name: str
    active: bool
    stale: bool
    stale_reason: str | None
    expected_run_minutes: int
    last_run: LastRun | None
    quickbooks: QuickBooksInfo
    queue: dict[str, int] = Field(description="Entries by state")
    error_rate_24h: float | None = Field(
        description="Share of entries QuickBooks answered in the last 24 hours that failed"
    )
    results_24h: int
    cin7: Cin7Sync


class OperatorHealth(BaseModel):
    tenants: list[TenantHealth]


def _outcome(row: QbwcSession) -> str:
    if row.state in LIVE:
        return "running"
    return {"closed": "finished"}.get(row.state, row.state)


async def tenant_health(
    db: AsyncSession, tenant: Tenant, now: datetime | None = None
) -> TenantHealth:
    now = now or utcnow()
    scope = TenantScope(tenant.id, "health")
    options = await db.get(TenantOptions, tenant.id)
    expected = options.expected_run_minutes if options is not None else 60
    newest = (
        await db.exec(
            scope.select(QbwcSession).order_by(col(QbwcSession.created_at).desc()).limit(1)
        )
    ).first()
    stale_reason = _stale_reason(tenant, newest, expected, now)
    done = await _answered_24h(db, scope, now)
    results = sum(done.values())
    cin7 = await _cin7_sync(db, scope)
    return TenantHealth(
        tenant_id=tenant.id,
        name=tenant.name,
        active=tenant.active,
        stale=stale_reason is not None,
        stale_reason=stale_reason,
        expected_run_minutes=expected,
        last_run=_last_run(newest),
        quickbooks=_quickbooks_info(tenant, newest),
        queue=(await summary(db, scope)).by_state,
        error_rate_24h=round(done.get("failed", 0) / results, 4) if results else None,
        results_24h=results,
        cin7=cin7,
    )


def _last_run(newest: QbwcSession | None) -> LastRun | None:
    if newest is None:
        return None
    return LastRun(
        started_at=aware(newest.created_at),
        ended_at=aware(newest.ended_at),
        outcome=_outcome(newest),
        error=newest.last_error,
    )


def _quickbooks_info(tenant: Tenant, newest: QbwcSession | None) -> QuickBooksInfo:
    """What the newest session learnt about QuickBooks; the tenant's own record before any."""
    if newest is None:
        return QuickBooksInfo(
            qbxml_version=tenant.qbxml_version, company_file=tenant.qb_company_path
        )
    host = newest.plan.get("host") if isinstance(newest.plan, dict) else None
    host = host if isinstance(host, dict) else {}
    return QuickBooksInfo(
        product=host.get("product"),
        version=host.get("version"),
        country=host.get("country"),
        company_file=newest.company_path or tenant.qb_company_path,
        qbxml_version=newest.qbxml_version or tenant.qbxml_version,
    )


def _stale_reason(
    tenant: Tenant, newest: QbwcSession | None, expected: int, now: datetime
) -> str | None:
    if not tenant.active:
        return "the tenant is disabled"
    if newest is None:
        return "the Web Connector has never connected"
    last_seen = aware(newest.last_seen_at)
    if last_seen < now - timedelta(minutes=expected):
        return (
            f"the Web Connector has not run for more than {expected} minutes "
            f"(last seen {last_seen.isoformat(timespec='minutes')})"
        )
    return None


async def _answered_24h(db: AsyncSession, scope: TenantScope, now: datetime) -> dict[str, int]:
    """Entries QuickBooks answered in the last 24 hours, by how it ended."""
    since = now - timedelta(hours=24)
    answered = await db.exec(
        scope.columns(OutboxItem, col(OutboxItem.state), func.count())
        .where(col(OutboxItem.state).in_(DONE_STATES), col(OutboxItem.updated_at) >= since)
        .group_by(col(OutboxItem.state))
    )
    return {state: int(count) for state, count in answered.all()}


async def _cin7_sync(db: AsyncSession, scope: TenantScope) -> Cin7Sync:
    """The last Cin7 success and the last error over all of the tenant's feeds."""
    statuses = (await db.exec(scope.select(SyncStatus))).all()
    successes = [aware(s.last_success_at) for s in statuses if s.last_success_at]
    errors = sorted(
        ((aware(s.last_error_at), s.last_error) for s in statuses if s.last_error_at),
        key=lambda pair: pair[0],
    )
    last_success = max(successes) if successes else None
    last_error_at, last_error = errors[-1] if errors else (None, None)
    if last_error_at is not None and last_success is not None and last_success > last_error_at:
        last_error_at, last_error = None, None  # recovered since
    return Cin7Sync(
        last_success_at=last_success, last_error_at=last_error_at, last_error=last_error
    )


async def all_tenants(db: AsyncSession) -> OperatorHealth:
    """Every tenant's health, stale ones first, then by name."""
    tenants = (await db.exec(select(Tenant))).all()
    rows = [await tenant_health(db, tenant) for tenant in tenants]
    rows.sort(key=lambda r: (not r.stale, r.name.casefold(), r.tenant_id))
    return OperatorHealth(tenants=rows)
