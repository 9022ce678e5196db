"""A small idempotent handler used to exercise the real Consumer against the real broker."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.db.models import AuditLog, ProcessedMessage
from omni2qbd_shared.messages import Message, TenantEventMessage
from omni2qbd_shared.messaging import Consumer, PoisonMessage, Topology, connect

QUEUE = "mapper.tenant-events"


async def record_event(message: TenantEventMessage, session: AsyncSession) -> Sequence[Message]:
    """Records each event once, keyed by (tenant, detail['key'])."""
    if message.detail.get("poison"):
        raise PoisonMessage(f"tenant {message.tenant_id} does not exist")
    if message.detail.get("block"):
        await asyncio.sleep(3600)  # stands for a handler that is still working when killed
    key = str(message.detail["key"])
    # The primary key of ProcessedMessage is the natural key: two concurrent deliveries of
    # the same message cannot both commit, and the loser's retry finds it done.
    if await session.get(ProcessedMessage, ("test", key)) is None:
        session.add(ProcessedMessage(consumer="test", message_id=key))
        session.add(
            AuditLog(tenant_id=message.tenant_id, actor="test", action="event", subject=key)
        )
    return []


async def _serve(amqp_url: str, database_url: str, namespace: str) -> None:
    engine = create_engine(database_url)
    connection = await connect(amqp_url)
    consumer = Consumer(
        connection=connection,
        topology=Topology(namespace=namespace, retry_delay_ms=300),
        queue_name=QUEUE,
        model=TenantEventMessage,
        handler=record_event,
        sessions=session_factory(engine),
        prefetch=1,
    )
    await consumer.start()
    print("consuming", flush=True)  # noqa: T201 - tells the parent process it is ready
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1], sys.argv[2], sys.argv[3]))
