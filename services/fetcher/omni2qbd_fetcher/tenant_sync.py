"""One turn of syncing one tenant: every kind, each by its date fields, within a page budget."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher import leases
from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.cin7_client import (
    Cin7AuthError,
    Cin7Client,
    Cin7Error,
    Cin7UnavailableError,
)
from omni2qbd_fetcher.kinds import KINDS, MODIFIED, MODIFIED_COGS, KindSpec
from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_fetcher.publishing import PublishError
from omni2qbd_fetcher.rate_limit import KeyRateLimiter, RateLimiterRegistry, RateLimitWait
from omni2qbd_fetcher.repository import TenantAccess
from omni2qbd_fetcher.sync import UNCONFIRMED_GRACE, KindSync, Position, SyncResult
from omni2qbd_shared.cin7_address import Cin7AddressRefused, refuse_unlisted
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import utcnow
from omni2qbd_shared.messaging import Publisher

log = structlog.get_logger(__name__)
UNLIMITED: tuple[tuple[int, float], ...] = ((1_000_000_000, 1.0),)
RECOVERY_INTERVAL = 600.0
LONG_TURN_SECONDS = 1800.0
LEASE_MARGIN_SECONDS = 60.0
# However long Cin7 asks to wait (Retry-After), a tenant is tried again within a day.
MAX_PAUSE_SECONDS = 86400.0


class TenantSyncError(Exception):
    """A turn ended with errors (already recorded in sync_status); ``retry_in`` if known."""

    def __init__(self, message: str, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


@dataclass
class TurnResult:
    finished: bool = True
    seen: int = 0
    published: int = 0
    pages: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _KindPass:
    """One kind read by one of its date fields for one tenant: a pass of its own cursor."""

    tenant: TenantAccess
    spec: KindSpec
    date_field: str
    client: Cin7Client

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.tenant.tenant_id, self.spec.kind, self.date_field)


class TenantSyncer:
    """Holds one Cin7 client per tenant and where each unfinished pass stopped."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        options: FetcherOptions,
        kinds: tuple[KindSpec, ...] = KINDS,
    ) -> None:
        self.sessions = sessions
        self.publisher = publisher
        self.options = options
        self.kinds = kinds
        self.limiters = RateLimiterRegistry(options.cin7_limits or UNLIMITED)
        # The next page is requested while one is stored (``KindSync``), except on SQLite:
        # its one write lock is shared by the services, and no Cin7 request may be under way
        # while the fetcher holds it (issue 13, point 7).
        bind = sessions.kw.get("bind")
        self.read_ahead = getattr(getattr(bind, "dialect", None), "name", "sqlite") != "sqlite"
        self._http = httpx.AsyncClient(
            timeout=options.request_timeout,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self.holder = leases.holder_name()
        self._clients: dict[str, tuple[str, Cin7Client]] = {}
        self._positions: dict[tuple[str, str, str], Position] = {}
        self._recovered_at: dict[tuple[str, str, str], float] = {}
        # Pages read by each unfinished pass, across turns, for ``max_pages_per_sync``.
        self._pass_pages: dict[tuple[str, str, str], int] = {}

    def _recovery_due(self, key: tuple[str, str, str]) -> bool:
        """Unconfirmed revisions only come from a process that died or a failed publish, so
        look for them at start, after a failure here, and every few minutes (other replicas)."""
        now = time.monotonic()
        if now - self._recovered_at.get(key, -RECOVERY_INTERVAL) >= RECOVERY_INTERVAL:
            self._recovered_at[key] = now
            return True
        return False

    async def aclose(self) -> None:
        await self._http.aclose()

    def client_for(self, tenant: TenantAccess) -> Cin7Client:
        access = tenant.access
        fingerprint = hashlib.sha256(
            f"{access.base_url}\0{access.username}\0{access.api_key}".encode()
        ).hexdigest()
        cached = self._clients.get(tenant.tenant_id)
        if cached and cached[0] == fingerprint:
            return cached[1]
        limiter: KeyRateLimiter = self.limiters.for_key(access.api_key)
        client = Cin7Client(
            tenant=tenant.name,
            username=access.username,
            api_key=access.api_key,
            base_url=access.base_url,
            limiter=limiter,
            retry=self.options.retry,
            http=self._http,
            limits=self.options.response_limits,
        )
        self._clients[tenant.tenant_id] = (fingerprint, client)
        return client

    async def turn(
        self,
        tenant: TenantAccess,
        *,
        max_pages: int | None = None,
        max_seconds: float | None = None,
    ) -> TurnResult:
        """Sync every kind once. ``max_pages`` bounds the pages per kind and date field and
        ``max_seconds`` the whole turn; an unfinished turn resumes where it stopped."""
        # A turn without a time bound (``omni2qbd fetch``) holds the lease for long enough
        # to read a large account; it is released as soon as the turn ends.
        lease_for = timedelta(seconds=(max_seconds or LONG_TURN_SECONDS) + LEASE_MARGIN_SECONDS)
        busy = await leases.claim(self.sessions, tenant.tenant_id, self.holder, lease_for)
        if busy is not None:
            retry_in = max(5.0, (busy.until - utcnow()).total_seconds())
            raise TenantSyncError(busy.describe(), retry_in=retry_in)
        try:
            await self._refuse_unlisted_address(tenant)
            if max_seconds is None:
                return await self._turn(tenant, max_pages=max_pages, max_seconds=None)
            # The deadline is checked between pages; this bounds the turn as a whole, so a
            # Cin7 that answers slowly on every retry cannot hold a worker for long.
            limit = max_seconds + 2 * self.options.response_limits.total_seconds
            try:
                async with asyncio.timeout(limit):
                    return await self._turn(tenant, max_pages=max_pages, max_seconds=max_seconds)
            except TimeoutError as exc:
                text = (
                    f"one sync turn took longer than {limit:.0f} seconds (Cin7 Omni or the "
                    "database answered slowly); it was stopped and continues where it stopped "
                    "at the next turn"
                )
                await self._record_error(tenant, self.kinds[0], text)
                raise TenantSyncError(text) from exc
        finally:
            await leases.release(self.sessions, tenant.tenant_id, self.holder)

    async def _refuse_unlisted_address(self, tenant: TenantAccess) -> None:
        """Never call a Cin7 address that is not on the allow-list, whenever it was stored.

        Addresses are checked where they are saved, but one saved before the allow-list
        existed (or before the operator narrowed it) is only caught here, before any request.
        Every kind's sync status says why, and the tenant is tried again after the longest
        back-off (a corrected address is picked up at once by the scheduler's reload).
        """
        try:
            refuse_unlisted(tenant.access.base_url, self.options.cin7_allowed_hosts)
        except Cin7AddressRefused as exc:
            text = f"Not synced: {exc}"
            log.warning("cin7_address_refused", tenant_id=tenant.tenant_id, error=text)
            async with unit_of_work(self.sessions) as session:
                for spec in self.kinds:
                    await repo.record_error(session, tenant.tenant_id, spec.kind, text)
            raise TenantSyncError(text, retry_in=self.options.error_backoff_max) from exc

    async def _turn(
        self, tenant: TenantAccess, *, max_pages: int | None, max_seconds: float | None
    ) -> TurnResult:
        deadline = time.monotonic() + max_seconds if max_seconds is not None else None
        result = TurnResult()
        client = self.client_for(tenant)
        await self.prepare(tenant)
        for spec in self.kinds:
            kind_finished = True
            for date_field in spec.date_fields:
                kind_pass = _KindPass(tenant, spec, date_field, client)
                if not await self._sync_pass(
                    kind_pass, result, max_pages=max_pages, deadline=deadline
                ):
                    kind_finished = False
            if kind_finished and not any(spec.resource in error for error in result.errors):
                async with unit_of_work(self.sessions) as session:
                    await repo.record_success(
                        session, tenant.tenant_id, spec.kind, seen=0, published=0, finished=True
                    )
        if result.errors:
            raise TenantSyncError("; ".join(result.errors))
        return result

    async def _sync_pass(
        self,
        kind_pass: _KindPass,
        result: TurnResult,
        *,
        max_pages: int | None,
        deadline: float | None,
    ) -> bool:
        """Read one kind by one date field into ``result``; False if it stopped short of the end.

        A failure that ends the turn raises ``TenantSyncError``; any other is recorded in
        ``result.errors`` (which keeps the kind from counting as finished) and the turn goes on.
        """
        spec, key = kind_pass.spec, kind_pass.key
        sync = KindSync(
            tenant_id=kind_pass.tenant.tenant_id,
            spec=spec,
            date_field=kind_pass.date_field,
            client=kind_pass.client,
            sessions=self.sessions,
            publisher=self.publisher,
            overlap=self.options.overlap,
            rows=self.options.rows,
            read_ahead=self.read_ahead,
        )
        try:
            outcome = await sync.run(
                max_pages=max_pages,
                resume=self._positions.get(key),
                deadline=deadline,
                recover=self._recovery_due(key),
            )
        except (PublishError, Cin7AuthError, RateLimitWait, Cin7UnavailableError) as exc:
            raise await self._turn_ending_error(kind_pass, exc) from exc
        except (Cin7Error, OSError, TimeoutError) as exc:
            text = f"{spec.resource} by {kind_pass.date_field}: {exc}"
            await self._record_error(kind_pass.tenant, spec, text)
            result.errors.append(text)
            return True
        return await self._count_pass(kind_pass, outcome, result)

    async def _turn_ending_error(
        self,
        kind_pass: _KindPass,
        exc: PublishError | Cin7AuthError | RateLimitWait | Cin7UnavailableError,
    ) -> TenantSyncError:
        """Record why the turn ends against the kind that met it; the error to raise."""
        retry_in: float | None = None
        if isinstance(exc, PublishError):
            # they become recoverable once older than the grace: look again then
            self._recovered_at[kind_pass.key] = (
                time.monotonic() - RECOVERY_INTERVAL + UNCONFIRMED_GRACE.total_seconds() + 1
            )
            text = str(exc)
        elif isinstance(exc, Cin7AuthError):
            text = str(exc)
        elif isinstance(exc, RateLimitWait):
            text = (
                f"Cin7 daily request limit of this API key is used up; syncing "
                f"resumes in about {exc.seconds / 60:.0f} minutes"
            )
            retry_in = exc.seconds
        else:
            # Cin7 is not answering this tenant: the other kinds would wait just the
            # same, so end the turn and let the scheduler back off.
            text = f"{kind_pass.spec.resource} by {kind_pass.date_field}: {exc}"
            retry_in = min(exc.retry_in, MAX_PAUSE_SECONDS) if exc.retry_in else None
        await self._record_error(kind_pass.tenant, kind_pass.spec, text)
        return TenantSyncError(text, retry_in=retry_in)

    async def _count_pass(
        self, kind_pass: _KindPass, outcome: SyncResult, result: TurnResult
    ) -> bool:
        """Add a pass's counts and keep where an unfinished one stopped, unless it never ends."""
        key = kind_pass.key
        result.seen += outcome.seen
        result.published += outcome.published
        result.pages += outcome.pages
        if outcome.finished:
            self._positions.pop(key, None)
            self._pass_pages.pop(key, None)
            return True
        if self._too_many_pages(key, outcome.pages):
            text = self._endless_paging(kind_pass.spec, kind_pass.date_field)
            self._positions.pop(key, None)
            await self._record_error(kind_pass.tenant, kind_pass.spec, text)
            raise TenantSyncError(text, retry_in=self.options.error_backoff_max)
        result.finished = False
        if outcome.position is not None:
            self._positions[key] = outcome.position
        return False

    def _too_many_pages(self, key: tuple[str, str, str], pages: int) -> bool:
        self._pass_pages[key] = self._pass_pages.get(key, 0) + pages
        if self._pass_pages[key] < self.options.max_pages_per_sync:
            return False
        self._pass_pages.pop(key, None)
        return True

    def _endless_paging(self, spec: KindSpec, date_field: str) -> str:
        pages = self.options.max_pages_per_sync
        return (
            f"Cin7 Omni kept sending full pages of {spec.resource} by {date_field}: {pages} "
            f"pages (about {pages * self.options.rows} documents) in one sync without reaching "
            f"the end. Syncing pauses for {self.options.error_backoff_max / 60:.0f} minutes so "
            "this account cannot flood the others; if it really has that many changes, raise "
            "OMNI2QBD_FETCHER_MAX_PAGES_PER_SYNC."
        )

    async def prepare(self, tenant: TenantAccess) -> None:
        """Before a kind's very first pass, pin its COGS cursor to now.

        A first pass by modifiedDate reads every document as it is now, so only COGS changes
        from its start onward need the COGS pass; pinning the cursor before the pass starts
        (and before a crash could happen) keeps the first sync from reading everything twice.
        """
        async with unit_of_work(self.sessions) as session:
            for spec in self.kinds:
                if MODIFIED_COGS not in spec.date_fields:
                    continue
                main = await repo.get_cursor(session, tenant.tenant_id, spec.kind, MODIFIED)
                cogs = await repo.get_cursor(session, tenant.tenant_id, spec.kind, MODIFIED_COGS)
                if main is None and cogs is None:
                    await repo.set_cursor(
                        session, tenant.tenant_id, spec.kind, MODIFIED_COGS, utcnow()
                    )

    async def _record_error(self, tenant: TenantAccess, spec: KindSpec, text: str) -> None:
        log.warning("sync_failed", tenant_id=tenant.tenant_id, kind=spec.kind, error=text)
        async with unit_of_work(self.sessions) as session:
            await repo.record_error(session, tenant.tenant_id, spec.kind, text)
