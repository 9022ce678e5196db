"""Consumers that handle several waiting messages of one tenant per transaction.

It is the shared ``Consumer`` (ack after commit, dead-letter and retry rules, transient
waits) with one change: deliveries of the same tenant that are waiting together are handled
as one batch by a batch handler, and every message of the batch is acknowledged after that
commit. If the batch fails for any reason, its messages are handled one by one as before, so
a poison message still reaches the dead-letter queue alone and the others still succeed.

Used by the mapper (``omni2qbd_mapper.batching``: documents, ``qb.results`` and ``qb.lists``)
and by the gateway (``qb.entries``, ``omni2qbd_gateway.outbox.upsert_entries``); a subclass
names its ``message_type``.

Fairness: each tenant has its own batch, batches of different tenants run side by side, and
the broker's per-tenant priorities (``fairness``) decide what is delivered; a batch never
holds more than ``max_batch`` messages, so a flooding tenant cannot hold a batch open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import structlog
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.planner_statistics import PlannerStatistics
from omni2qbd_shared.logging import bind_tenant
from omni2qbd_shared.messaging import Consumer
from omni2qbd_shared.transient import is_transient

log = structlog.get_logger(__name__)

TenantMessage = TypeVar(
    "TenantMessage",
    m.Cin7DocumentMessage,
    m.ResultMessage,
    m.ListChangesMessage,
    m.EntryMessage,
)
BatchHandler = Callable[[Sequence[TenantMessage], AsyncSession], Awaitable[Sequence[m.Message]]]


@dataclass
class _Waiting(Generic[TenantMessage]):
    incoming: AbstractIncomingMessage
    message: TenantMessage
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class TenantBatchingConsumer(Consumer, Generic[TenantMessage]):
    """Gathers a tenant's waiting deliveries of ``message_type`` into batches."""

    message_type: ClassVar[type[Any]]

    def __init__(
        self,
        *,
        batch_handler: BatchHandler[TenantMessage],
        max_batch: int,
        statistics: PlannerStatistics | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._batch_handler: BatchHandler[TenantMessage] = batch_handler
        self._max_batch = max(1, max_batch)
        # The tables its batches fill, analysed as they grow (``planner_statistics``).
        self._statistics = statistics
        self._waiting: dict[str, list[_Waiting[TenantMessage]]] = {}
        self.batches = 0  # batches of more than one message committed together

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        with self._handling():
            try:
                message: TenantMessage = self.message_type.model_validate_json(incoming.body)
            except (ValidationError, ValueError):
                await self._process(incoming)  # dead-letters it, as the shared consumer does
                return
            queue = self._waiting.get(message.tenant_id)
            waiting = _Waiting[TenantMessage](incoming, message)
            if queue is not None:  # a batch of this tenant is being gathered or handled
                queue.append(waiting)
                await waiting.done
                return
            self._waiting[message.tenant_id] = queue = [waiting]
            try:
                await self._lead(message.tenant_id, queue)
            finally:
                del self._waiting[message.tenant_id]

    async def _lead(self, tenant_id: str, queue: list[_Waiting[TenantMessage]]) -> None:
        """Handle the tenant's waiting deliveries, a batch at a time, until none are left."""
        bind_tenant(tenant_id)
        await asyncio.sleep(0)  # let deliveries already received join the first batch
        while queue:
            batch = queue[: self._max_batch]
            del queue[: len(batch)]
            try:
                await self._handle_batch(batch)
            finally:
                for waiting in batch:
                    if not waiting.done.done():
                        waiting.done.set_result(None)

    async def _handle_batch(self, batch: list[_Waiting[TenantMessage]]) -> None:
        assert self._publisher is not None
        if len(batch) == 1:
            await self._process(batch[0].incoming)
            return
        try:
            async with unit_of_work(self._sessions) as session:
                outgoing = await self._batch_handler([w.message for w in batch], session)
            if outgoing:
                await self._publisher.publish_many(outgoing)
        except Exception as exc:
            # One by one instead: each message then meets the usual retry / DLQ rules alone.
            log.info(
                "batch_handled_one_by_one",
                queue=self.spec.name,
                size=len(batch),
                reason=f"{type(exc).__name__}: {exc}"[:300],
                transient=is_transient(exc),
            )
            for waiting in batch:
                await self._process(waiting.incoming)
            return
        self.batches += 1
        for waiting in batch:
            try:
                await waiting.incoming.ack()
            except Exception as exc:
                # Committed already: the broker redelivers, and the handler is idempotent.
                log.warning("message_ack_lost", reason=f"{type(exc).__name__}: {exc}"[:300])
                continue
            self.processed += 1
        if self._statistics is not None:
            await self._statistics.added(len(batch))
