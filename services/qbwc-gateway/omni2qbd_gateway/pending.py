"""Results and list changes leave through a transactional outbox.

A Web Connector call records what happened (outbox state, links, list mirror) and the
messages announcing it in one database transaction; the messages are published after the
commit and deleted once the broker confirmed them. If the broker is down they wait in
``gateway_pending_messages`` and a background loop publishes them later: delayed, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Sequence

import structlog
from sqlalchemy import Text, cast, insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import GatewayPendingMessage, utcnow
from omni2qbd_shared.messaging import Publisher

log = structlog.get_logger(__name__)

# Set in a session's info when it staged a message: only then is the publisher woken.
STAGED = "omni2qbd_staged_messages"

_KINDS: dict[str, type[m.Message]] = {
    "result": m.ResultMessage,
    "list_changes": m.ListChangesMessage,
    "tenant_event": m.TenantEventMessage,  # e.g. a match a person confirmed (api-workflow)
}


# Staged through the ORM and not flushed yet: ``stage_many`` flushes them first (order kept).
_UNFLUSHED = "omni2qbd_staged_unflushed"

Staged = m.ResultMessage | m.ListChangesMessage | m.TenantEventMessage


def _kind(message: Staged) -> str:
    return next(name for name, model in _KINDS.items() if isinstance(message, model))


def stage(session: AsyncSession, message: Staged) -> None:
    """Add ``message`` to the current transaction; it is published after the commit."""
    session.info[STAGED] = True
    session.info[_UNFLUSHED] = True
    session.add(
        GatewayPendingMessage(
            tenant_id=message.tenant_id, kind=_kind(message), body=message.model_dump(mode="json")
        )
    )


_PENDING = GatewayPendingMessage.__table__  # type: ignore[attr-defined]


async def stage_many(session: AsyncSession, messages: Sequence[Staged]) -> None:
    """``stage`` for a set's messages: the same rows, in the same order, in one statement."""
    if not messages:
        return
    if session.info.pop(_UNFLUSHED, False):
        await session.flush()  # messages staged before these keep their place (their ids)
    session.info[STAGED] = True
    now = utcnow()
    await session.exec(
        insert(_PENDING),
        params=[
            {
                "tenant_id": message.tenant_id,
                "kind": _kind(message),
                "body": message.model_dump(mode="json"),
                "created_at": now,
            }
            for message in messages
        ],
    )


async def flush_pending(
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher | None,
    *,
    limit: int = 500,
) -> int:
    """Publish what is waiting, oldest first; returns how many were confirmed."""
    if publisher is None:
        return 0
    async with sessions() as session:
        rows = (
            await session.exec(
                select(
                    GatewayPendingMessage.id,
                    GatewayPendingMessage.kind,
                    cast(col(GatewayPendingMessage.body), Text),
                )
                .order_by(col(GatewayPendingMessage.id))
                .limit(limit)
            )
        ).all()
    if not rows:
        return 0
    batch = [_message(kind, text) for _id, kind, text in rows]
    await publisher.publish_many(batch)
    ids = [row_id for row_id, _kind, _text in rows]
    async with unit_of_work(sessions) as session:
        await session.exec(
            delete(GatewayPendingMessage).where(col(GatewayPendingMessage.id).in_(ids))
        )
    return len(rows)


def _message(kind: str, text: str) -> m.Message:
    """A stored message from its JSON text. Results (nearly every row: one per posted entry)
    are read by pydantic from the text itself; the rest as the JSON column would decode it."""
    if kind == "result":
        return m.ResultMessage.model_validate_json(text)
    return _KINDS[kind].model_validate(json.loads(text))


class PendingPublisher:
    """Publishes right after each call (``poke``) and retries in the background."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publisher: Callable[[], Publisher | None],
        interval_seconds: float = 2.0,
        coalesce_seconds: float = 0.2,
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._interval = interval_seconds
        self._coalesce = coalesce_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-pending-publisher")

    def poke(self) -> None:
        self._wake.set()

    async def flush(self) -> int:
        async with self._lock:
            total = 0
            while True:
                published = await flush_pending(self._sessions, self._publisher())
                total += published
                if published == 0:
                    return total

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
                # Gather what the next few calls commit into one publish (one delete).
                await asyncio.sleep(self._coalesce)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # broker or database away: keep the rows, try again later
                log.warning("pending_publish_failed", error=f"{type(exc).__name__}: {exc}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()
