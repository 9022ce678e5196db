"""The messaging rules of docs/design.md §2, proven against the real RabbitMQ."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.models import AuditLog
from omni2qbd_shared.messages import TenantEventMessage
from omni2qbd_shared.messaging import (
    REASON_HEADER,
    Consumer,
    Publisher,
    Topology,
    connect,
    declare_topology,
    reason_of,
)
from tests.conftest import REPO_ROOT
from tests.foundation.messaging_helpers import QUEUE, record_event


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    conn = await connect(amqp_url)
    yield conn
    await conn.close()


@pytest.fixture
async def publisher(
    connection: AbstractRobustConnection, topology: Topology
) -> AsyncIterator[Publisher]:
    channel = await connection.channel()
    await declare_topology(channel, topology)
    pub = await Publisher.open(connection, topology)
    yield pub
    await pub.close()


def event(key: str, **detail: Any) -> TenantEventMessage:
    return TenantEventMessage(
        tenant_id="tenant-a", event="settings_saved", detail={"key": key, **detail}
    )


async def count_events(sessions: async_sessionmaker[AsyncSession], key: str) -> int:
    async with sessions() as session:
        result = await session.exec(
            select(func.count()).select_from(AuditLog).where(AuditLog.subject == key)
        )
        return int(result.one())


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def make_consumer(
    connection: AbstractRobustConnection,
    topology: Topology,
    sessions: async_sessionmaker[AsyncSession],
    handler: Any = record_event,
) -> Consumer:
    return Consumer(
        connection=connection,
        topology=topology,
        queue_name=QUEUE,
        model=TenantEventMessage,
        handler=handler,
        sessions=sessions,
        prefetch=5,
        max_retries=2,
    )


async def get_one(connection: AbstractRobustConnection, queue: str) -> AbstractIncomingMessage:
    channel = await connection.channel()
    q = await channel.get_queue(queue)
    for _ in range(100):
        message = await q.get(fail=False)
        if message is not None:
            await message.ack()
            return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing arrived in {queue}")


async def test_topology_declares_durable_queues_with_dlq_and_retry(
    connection: AbstractRobustConnection, publisher: Publisher, topology: Topology
) -> None:
    channel = await connection.channel()
    for spec in topology.all_queues():
        for name in (spec.name, spec.retry_queue, spec.dead_letter_queue):
            # passive declare fails if the queue does not exist
            await channel.declare_queue(name, passive=True)
    # mandatory routing: a message no queue is bound for is refused, not silently dropped
    stray = Topology(namespace=topology.namespace + "stray.")
    await declare_topology(channel, stray)
    unbound = await Publisher.open(connection, stray)
    for spec in stray.all_queues():
        await channel.queue_delete(spec.name)
    with pytest.raises(aio_pika.exceptions.DeliveryError):
        await unbound.publish(event("x"))
    await unbound.close()
    for spec in stray.all_queues():
        await channel.queue_delete(spec.retry_queue)
        await channel.queue_delete(spec.dead_letter_queue)
    for exchange in stray.exchanges:
        await channel.exchange_delete(stray.exchange_name(exchange))


async def test_message_is_processed_once_and_redelivery_changes_nothing(
    connection: AbstractRobustConnection,
    publisher: Publisher,
    topology: Topology,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    consumer = make_consumer(connection, topology, sessions)
    await consumer.start()
    try:
        await publisher.publish(event("k1"))
        await publisher.publish(event("k1"))  # the same message delivered again
        await wait_for(lambda: asyncio.sleep(0, consumer.processed == 2))
        assert await count_events(sessions, "k1") == 1
    finally:
        await consumer.stop()


async def test_poison_message_lands_in_dlq_with_reason(
    connection: AbstractRobustConnection,
    publisher: Publisher,
    topology: Topology,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    consumer = make_consumer(connection, topology, sessions)
    await consumer.start()
    spec = topology.queue(QUEUE)
    try:
        await publisher.publish(event("p1", poison=True))
        dead = await get_one(connection, spec.dead_letter_queue)
        assert reason_of(dead.headers) == "tenant tenant-a does not exist"
        await publisher.publish_raw(spec.name, b"{not json")
        dead = await get_one(connection, spec.dead_letter_queue)
        assert dead.body == b"{not json"
        assert "unreadable TenantEventMessage" in str(reason_of(dead.headers))
        assert await count_events(sessions, "p1") == 0
    finally:
        await consumer.stop()


async def test_transient_failure_is_retried_through_the_delay_queue(
    connection: AbstractRobustConnection,
    publisher: Publisher,
    topology: Topology,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    attempts: list[int] = []

    async def flaky(message: TenantEventMessage, session: AsyncSession) -> list[Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("QuickBooks list mirror not ready")
        return list(await record_event(message, session))

    consumer = make_consumer(connection, topology, sessions, flaky)
    await consumer.start()
    try:
        await publisher.publish(event("r1"))
        await wait_for(lambda: asyncio.sleep(0, consumer.processed == 1))
        assert len(attempts) == 2
        assert await count_events(sessions, "r1") == 1
    finally:
        await consumer.stop()


async def test_retries_exhausted_go_to_dlq(
    connection: AbstractRobustConnection,
    publisher: Publisher,
    topology: Topology,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def always_fails(message: TenantEventMessage, session: AsyncSession) -> list[Any]:
        raise TimeoutError("database timed out")

    consumer = make_consumer(connection, topology, sessions, always_fails)
    await consumer.start()
    try:
        await publisher.publish(event("d1"))
        dead = await get_one(connection, topology.queue(QUEUE).dead_letter_queue)
        reason = str(reason_of(dead.headers))
        assert reason.startswith("gave up after 2 retries")
        assert "database timed out" in reason
        assert REASON_HEADER in (dead.headers or {})
    finally:
        await consumer.stop()


async def test_consumer_killed_before_ack_gets_the_message_redelivered(
    amqp_url: str,
    database_url: str,
    connection: AbstractRobustConnection,
    publisher: Publisher,
    topology: Topology,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.foundation.messaging_helpers",
            amqp_url,
            database_url,
            topology.namespace,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ},
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert line.strip() == b"consuming"
        await publisher.publish(event("kill1", block=True))
        channel = await connection.channel()
        queue = await channel.declare_queue(topology.queue(QUEUE).name, passive=True)

        async def taken() -> bool:
            declared = await channel.declare_queue(queue.name, passive=True)
            return declared.declaration_result.message_count == 0

        await wait_for(taken)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert await count_events(sessions, "kill1") == 0

    redelivered: list[bool] = []

    async def unblocked(message: TenantEventMessage, session: AsyncSession) -> list[Any]:
        redelivered.append(True)
        detail = {k: v for k, v in message.detail.items() if k != "block"}
        return list(await record_event(message.model_copy(update={"detail": detail}), session))

    consumer = make_consumer(connection, topology, sessions, unblocked)
    await consumer.start()
    try:
        await wait_for(lambda: asyncio.sleep(0, consumer.processed == 1))
        assert redelivered == [True]
        assert await count_events(sessions, "kill1") == 1
    finally:
        await consumer.stop()


async def test_stop_finishes_in_flight_work_or_leaves_it_for_redelivery(
    connection: AbstractRobustConnection,
    publisher: Publisher,
    topology: Topology,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(message: TenantEventMessage, session: AsyncSession) -> list[Any]:
        started.set()
        if message.detail["key"] == "stuck":
            await asyncio.sleep(3600)
        await release.wait()
        return list(await record_event(message, session))

    consumer = make_consumer(connection, topology, sessions, slow)
    await consumer.start()
    await publisher.publish(event("finishing"))
    await asyncio.wait_for(started.wait(), 10)
    asyncio.get_running_loop().call_later(0.3, release.set)
    await consumer.stop(grace_seconds=10)  # waits for the in-flight message
    assert await count_events(sessions, "finishing") == 1

    started.clear()
    consumer = make_consumer(connection, topology, sessions, slow)
    await consumer.start()
    await publisher.publish(event("stuck"))
    await asyncio.wait_for(started.wait(), 10)
    await consumer.stop(grace_seconds=0.2)  # gives up waiting: the message stays unacked
    assert await count_events(sessions, "stuck") == 0
    channel = await connection.channel()
    queue = await channel.get_queue(topology.queue(QUEUE).name)
    redelivered = await queue.get(timeout=5, fail=False)
    for _ in range(50):
        if redelivered is not None:
            break
        await asyncio.sleep(0.1)
        redelivered = await queue.get(fail=False)
    assert redelivered is not None and redelivered.redelivered
    await redelivered.ack()


async def test_queues_declared_by_an_older_version_do_not_stop_start_up(
    connection: AbstractRobustConnection,
    topology: Topology,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    spec = topology.queue(QUEUE)
    channel = await connection.channel()
    # an earlier release declared the delay queue with a queue-wide TTL
    await channel.declare_queue(
        spec.retry_queue,
        durable=True,
        arguments={
            "x-message-ttl": 300,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": spec.name,
        },
    )
    consumer = make_consumer(connection, topology, sessions)
    await consumer.start()  # would fail with PRECONDITION_FAILED without the fallback
    try:
        publisher = await Publisher.open(connection, topology)
        await publisher.publish(event("old-queues"))
        await publisher.close()
        await wait_for(lambda: asyncio.sleep(0, consumer.processed == 1))
        assert await count_events(sessions, "old-queues") == 1
    finally:
        await consumer.stop()
