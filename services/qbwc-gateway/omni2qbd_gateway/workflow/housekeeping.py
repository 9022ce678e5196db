"""Hourly clean-up the API owns: audit rows past their retention, long-expired tokens and
sign-in counters of past windows. Any replica may run it; every step is idempotent."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from omni2qbd_gateway import login_throttle
from omni2qbd_gateway.api.deps import throttle_policy
from omni2qbd_gateway.workflow import audit, users
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.service import ServiceRuntime

log = structlog.get_logger(__name__)
EVERY_SECONDS = 3600.0


async def tidy_once(runtime: ServiceRuntime) -> int:
    """One pass; the number of audit rows deleted."""

    assert runtime.sessions is not None
    async with unit_of_work(runtime.sessions) as db:
        deleted = await audit.prune(db, runtime.settings.audit_retention_days)
        await users.prune_tokens(db)
        await login_throttle.sweep(db, throttle_policy(runtime.settings))
    return deleted


def install(runtime: ServiceRuntime) -> None:
    """Run ``tidy_once`` every hour while the service runs."""
    tasks: list[asyncio.Task[None]] = []

    async def loop() -> None:
        while True:
            try:
                deleted = await tidy_once(runtime)
                if deleted:
                    log.info("audit_rows_pruned", count=deleted)
            except Exception as exc:
                log.warning("housekeeping_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(EVERY_SECONDS)

    async def start(_rt: ServiceRuntime) -> None:
        tasks.append(asyncio.create_task(loop(), name="api-housekeeping"))

    async def stop(_rt: ServiceRuntime) -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    runtime.on_ready.append(start)
    runtime.on_stop.append(stop)
