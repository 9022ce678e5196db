"""The mapper's ``qb.results`` consumer handles several results of one tenant per transaction.

A bulk post returns one result per entry; handled one at a time, every invoice's result
rebuilt its COGS month as a new journal version (665 versions per 1,000 orders). Here the
results of a tenant that are waiting together go to ``handlers.handle_results`` as one batch
(states set, each touched month rebuilt once, one commit), and each message is acknowledged
after that commit. If the batch fails for any reason its messages are handled one by one by
the shared ``Consumer``, so a poison result is dead-lettered alone and the others succeed.

Kept apart from ``batching`` (the documents' consumer, whose fairness work goes on there);
the gathering is the same: one leader per tenant, at most ``max_batch`` messages a batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.logging import bind_tenant
from omni2qbd_shared.messaging import Consumer
from omni2qbd_shared.transient import is_transient

log = structlog.get_logger(__name__)

ResultsHandler = Callable[[Sequence[m.ResultMessage], AsyncSession], Awaitable[Sequence[m.Message]]]


@dataclass
class _Waiting:
    incoming: AbstractIncomingMessage
    message: m.ResultMessage
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class BatchingResultsConsumer(Consumer):
    def __init__(self, *, batch_handler: ResultsHandler, max_batch: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._batch_handler = batch_handler
        self._max_batch = max(1, max_batch)
        self._waiting: dict[str, list[_Waiting]] = {}
        self.batches = 0  # batches of more than one message committed together

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            try:
                message = m.ResultMessage.model_validate_json(incoming.body)
            except (ValidationError, ValueError):
                await self._process(incoming)  # dead-letters it, as the shared consumer does
                return
            queue = self._waiting.get(message.tenant_id)
            waiting = _Waiting(incoming, message)
            if queue is not None:  # this tenant's leader is gathering or handling a batch
                queue.append(waiting)
                await waiting.done
                return
            self._waiting[message.tenant_id] = queue = [waiting]
            try:
                await self._lead(message.tenant_id, queue)
            finally:
                del self._waiting[message.tenant_id]
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _lead(self, tenant_id: str, queue: list[_Waiting]) -> None:
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

    async def _handle_batch(self, batch: list[_Waiting]) -> None:
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
                "results_batch_handled_one_by_one",
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
