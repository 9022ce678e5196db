"""Fair polling of every tenant.

Tenants wait in one FIFO queue; a pool of workers takes turns from it. A turn reads at most
``pages_per_turn`` pages per kind and lasts about ``turn_seconds`` at most; then the tenant goes
to the back of the queue if it has more. So a tenant with a large backlog, slow answers or
errors holds one worker for one bounded turn at a time and never starves the others. A failing
tenant is retried with growing delays, and tenants whose last turn failed (a slow, stalled or
broken Cin7) may hold at most half of the workers, so healthy tenants always have the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher import repository as repo
from omni2qbd_fetcher.metrics import SYNC_FAILURES, TENANTS
from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_fetcher.repository import TenantAccess
from omni2qbd_fetcher.tenant_sync import TenantSyncer, TenantSyncError
from omni2qbd_shared.db.engine import unit_of_work

log = structlog.get_logger(__name__)


@dataclass
class TenantState:
    access: TenantAccess
    due: float = 0.0
    failures: int = 0
    queued: bool = False
    running: bool = False
    again: bool = False
    turns: int = 0
    last_error: str | None = None


class FetchScheduler:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        syncer: TenantSyncer,
        secret_key: str,
        options: FetcherOptions,
    ) -> None:
        self.sessions = sessions
        self.syncer = syncer
        self.secret_key = secret_key
        self.options = options
        self.tenants: dict[str, TenantState] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._loaded_at = -1e9
        self._wake = asyncio.Event()
        self._failing_running = 0

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._ticker(), name="fetcher-ticker"))
        for index in range(self.options.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"fetcher-worker-{index}"))

    async def stop(self) -> None:
        """Cancel the loop; a page being published still finishes (see ``KindSync``)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def reload(self) -> None:
        async with unit_of_work(self.sessions) as session:
            current = await repo.tenants_to_sync(session, self.secret_key)
        seen = set()
        for access in current:
            seen.add(access.tenant_id)
            state = self.tenants.get(access.tenant_id)
            if state is None:
                self.tenants[access.tenant_id] = TenantState(access)
            elif state.access != access:
                # New credentials or a corrected address: try at once, not after the back-off.
                state.access, state.due, state.failures = access, 0.0, 0
            else:
                state.access = access
        for tenant_id in list(self.tenants):
            if tenant_id not in seen and not self.tenants[tenant_id].running:
                del self.tenants[tenant_id]
        TENANTS.set(len(self.tenants))
        self._loaded_at = time.monotonic()

    async def refresh(self, tenant_id: str) -> bool:
        """Sync this tenant as soon as a worker is free; False if it cannot be synced."""
        async with unit_of_work(self.sessions) as session:
            access = await repo.tenant_access(session, tenant_id, self.secret_key)
        if access is None:
            return False
        state = self.tenants.setdefault(tenant_id, TenantState(access))
        state.access, state.due, state.failures = access, 0.0, 0
        if state.running:
            state.again = True
        else:
            self._enqueue(state)
        return True

    def _enqueue(self, state: TenantState) -> None:
        if not state.queued and not state.running:
            state.queued = True
            self._queue.put_nowait(state.access.tenant_id)

    async def _ticker(self) -> None:
        while True:
            try:
                if time.monotonic() - self._loaded_at >= self.options.tenant_reload_seconds:
                    await self.reload()
                now = time.monotonic()
                for state in self.tenants.values():
                    if state.due <= now:
                        self._enqueue(state)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fetcher_ticker_failed")
                self._loaded_at = time.monotonic()  # try again at the next reload, not at once
            await asyncio.sleep(0.25)

    async def _worker(self) -> None:
        while True:
            tenant_id = await self._queue.get()
            state = self.tenants.get(tenant_id)
            if state is None:
                continue
            failing = state.failures > 0
            if failing and self._failing_running >= max(1, self.options.workers // 2):
                state.queued, state.due = False, time.monotonic() + 1.0  # the ticker requeues it
                continue
            state.queued, state.running = False, True
            self._failing_running += failing
            try:
                await self._turn(state)
            finally:
                self._failing_running -= failing
                state.running = False
                if state.again:
                    state.again, state.due = False, 0.0
                    self._enqueue(state)

    async def _turn(self, state: TenantState) -> None:
        now = time.monotonic
        state.turns += 1
        try:
            result = await self.syncer.turn(
                state.access,
                max_pages=self.options.pages_per_turn,
                max_seconds=self.options.turn_seconds,
            )
        except asyncio.CancelledError:
            raise
        except TenantSyncError as exc:
            SYNC_FAILURES.inc()
            state.failures += 1
            state.last_error = str(exc)
            delay = exc.retry_in or min(
                self.options.error_backoff_max, 5.0 * 2 ** (state.failures - 1)
            )
            state.due = now() + delay
            log.warning(
                "tenant_sync_failed",
                tenant_id=state.access.tenant_id,
                retry_in=round(delay, 1),
                error=state.last_error,  # the words the sync status shows: no secrets
            )
            return
        except Exception as exc:
            SYNC_FAILURES.inc()
            state.failures += 1
            state.last_error = f"{type(exc).__name__}: {exc}"
            state.due = now() + min(self.options.error_backoff_max, 5.0 * 2**state.failures)
            log.exception("tenant_sync_crashed", tenant_id=state.access.tenant_id)
            return
        state.failures, state.last_error = 0, None
        if result.finished:
            state.due = now() + self.options.poll_interval
        else:
            state.again = True  # more to read: straight to the back of the queue

    def snapshot(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [
            {
                "tenant_id": tenant_id,
                "name": state.access.name,
                "running": state.running,
                "queued": state.queued,
                "next_poll_in_seconds": max(0.0, round(state.due - now, 1)),
                "consecutive_failures": state.failures,
                "last_error": state.last_error,
            }
            for tenant_id, state in self.tenants.items()
        ]
