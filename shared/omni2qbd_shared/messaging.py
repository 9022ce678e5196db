"""RabbitMQ: the topology of docs/design.md §2, a confirmed publisher, an ack-after-commit
consumer.

Rules every consumer follows (after FastStream's and aio-pika's semantics):

* a message is acknowledged only after the handler's database transaction committed and the
  messages it produced were confirmed by the broker;
* a message that can never succeed (unparseable, unknown tenant, ``PoisonMessage``) is copied
  to the queue's dead-letter queue with the reason in its headers, then acknowledged;
* a transient error (database or broker unreachable, failover, deadlock, serialization
  failure; see ``transient``) is waited out: the handler runs again with growing pauses while
  the message stays unacknowledged, and it never counts towards the dead-letter queue;
* any other error sends it through the queue's delay queue for a later retry, and after
  ``max_retries`` to the dead-letter queue;
* the consumer and its queue are declared on aio-pika's robust channel, so after a broker
  outage they are declared and consuming again by themselves;
* every work queue is a priority queue and publishers lower a tenant's priority step by step
  as its recent share grows (``fairness``), so the broker serves tenants in rounds: one
  tenant's flood cannot hold back the others, nor can N tenants' backlogs be served in the
  order they were fetched;
* a consumer that dies before acking leaves the message unacked, so the broker redelivers it;
  handlers are idempotent by natural keys, so a redelivery changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.fairness import MAX_PRIORITY, TenantShare
from omni2qbd_shared.logging import bind_tenant
from omni2qbd_shared.transient import is_transient

log = structlog.get_logger(__name__)

MESSAGES_IN_FLIGHT = Gauge(
    "omni2qbd_messages_in_flight",
    "Deliveries being handled: received, not yet acknowledged, retried or dead-lettered",
    ["queue"],
)
DELIVERIES_HANDLED = Counter(
    "omni2qbd_deliveries_handled", "Deliveries whose handling ended, by queue", ["queue"]
)

REASON_HEADER = "x-omni2qbd-reason"
RETRIES_HEADER = "x-omni2qbd-retries"
ORIGIN_QUEUE_HEADER = "x-omni2qbd-queue"
DEAD_LETTERED_AT_HEADER = "x-omni2qbd-dead-lettered-at"

MessageT = TypeVar("MessageT", bound=m.Message)


class PoisonMessage(Exception):
    """Raised by a handler for a message that can never succeed; it goes to the DLQ."""


@dataclass(frozen=True)
class QueueSpec:
    name: str
    exchange: str
    binding_keys: tuple[str, ...] = ("#",)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"

    @property
    def retry_queue(self) -> str:
        return f"{self.name}.retry"


@dataclass(frozen=True)
class Topology:
    """Exchanges and queues. ``namespace`` prefixes every name (tests use one per run)."""

    namespace: str = ""
    retry_delay_ms: int = 5000

    exchanges: tuple[str, ...] = (
        m.EXCHANGE_CIN7_DOCUMENTS,
        m.EXCHANGE_QB_ENTRIES,
        m.EXCHANGE_QB_RESULTS,
        m.EXCHANGE_QB_LISTS,
        m.EXCHANGE_TENANT_EVENTS,
    )
    queues: tuple[QueueSpec, ...] = field(
        default_factory=lambda: (
            QueueSpec("mapper.cin7-documents", m.EXCHANGE_CIN7_DOCUMENTS),
            QueueSpec("mapper.qb-results", m.EXCHANGE_QB_RESULTS),
            QueueSpec("mapper.qb-lists", m.EXCHANGE_QB_LISTS),
            QueueSpec("mapper.tenant-events", m.EXCHANGE_TENANT_EVENTS),
            QueueSpec("gateway.qb-entries", m.EXCHANGE_QB_ENTRIES),
            QueueSpec("fetcher.tenant-events", m.EXCHANGE_TENANT_EVENTS),
        )
    )

    def exchange_name(self, exchange: str) -> str:
        return f"{self.namespace}{exchange}"

    def queue(self, name: str) -> QueueSpec:
        for spec in self.queues:
            if spec.name == name:
                return QueueSpec(
                    f"{self.namespace}{spec.name}",
                    self.exchange_name(spec.exchange),
                    spec.binding_keys,
                )
        raise KeyError(f"no queue named {name!r} in the topology")

    def all_queues(self) -> list[QueueSpec]:
        return [self.queue(spec.name) for spec in self.queues]


async def connect(amqp_url: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(amqp_url, client_properties={"product": "omni2qbd"})


def work_queue_arguments(spec: QueueSpec) -> dict[str, Any]:
    return {
        # A message rejected without requeue (or one we could not handle) is kept.
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": spec.dead_letter_queue,
        "x-max-priority": MAX_PRIORITY,
    }


async def declare_topology(channel: AbstractChannel, topology: Topology) -> None:
    """Declare everything; idempotent, so every service does it at start-up."""
    for exchange in topology.exchanges:
        await channel.declare_exchange(
            topology.exchange_name(exchange), aio_pika.ExchangeType.TOPIC, durable=True
        )
    for spec in topology.all_queues():
        await channel.declare_queue(spec.dead_letter_queue, durable=True)
        # Delay queue: each message carries its own expiration (so the delay can change
        # without redeclaring the queue), then dead-letters back to the work queue.
        await channel.declare_queue(
            spec.retry_queue,
            durable=True,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": spec.name},
        )
        queue = await channel.declare_queue(
            spec.name, durable=True, arguments=work_queue_arguments(spec)
        )
        for key in spec.binding_keys:
            await queue.bind(spec.exchange, routing_key=key)


async def delete_topology(amqp_url: str, topology: Topology) -> None:
    """Remove a topology's queues (with their retry and dead-letter queues) and exchanges
    from the broker: for a bench's or a test's names, which are theirs alone; left behind,
    they pile up in a shared broker with whatever was never consumed."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for spec in topology.all_queues():
            for name in (spec.name, spec.retry_queue, spec.dead_letter_queue):
                await channel.queue_delete(name)
        for exchange in topology.exchanges:
            await channel.exchange_delete(topology.exchange_name(exchange))
    finally:
        await connection.close()


async def ensure_topology(connection: AbstractRobustConnection, topology: Topology) -> None:
    """Declare the topology at start-up, tolerating queues an older version declared with
    other arguments: the broker refuses to change them (PRECONDITION_FAILED), so they are
    used as they are, with a warning saying how to apply the new ones."""
    channel = await connection.channel()
    try:
        await declare_topology(channel, topology)
        return
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        log.warning(
            "queue_arguments_differ",
            detail=str(exc)[:300],
            hint="an existing queue keeps its old arguments; delete it while the services "
            "are stopped to have it declared anew",
        )
    finally:
        if not channel.is_closed:
            await channel.close()
    # Declare what can be declared; a queue that exists with other arguments is bound as is.
    for exchange in topology.exchanges:
        channel = await connection.channel()
        await channel.declare_exchange(
            topology.exchange_name(exchange), aio_pika.ExchangeType.TOPIC, durable=True
        )
        await channel.close()
    for spec in topology.all_queues():
        for name, arguments in (
            (spec.dead_letter_queue, None),
            (
                spec.retry_queue,
                {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": spec.name},
            ),
            (spec.name, work_queue_arguments(spec)),
        ):
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(name, durable=True, arguments=arguments)
            except aiormq.exceptions.ChannelPreconditionFailed:
                channel = await connection.channel()
                queue = await channel.declare_queue(name, passive=True)
            if name == spec.name:
                for key in spec.binding_keys:
                    await queue.bind(spec.exchange, routing_key=key)
            await channel.close()


def encode(message: m.Message, priority: int | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        body=message.model_dump_json().encode("utf-8"),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers={"schema_version": message.schema_version},
        priority=priority,
    )


class Publisher:
    """Publishes persistent messages with publisher confirms and mandatory routing.

    ``publish`` returns only after the broker confirmed; an unroutable message raises
    instead of vanishing.
    """

    def __init__(
        self, channel: AbstractChannel, topology: Topology, share: TenantShare | None = None
    ) -> None:
        self._channel = channel
        self._topology = topology
        self._exchanges: dict[str, AbstractExchange] = {}
        self.share = share or TenantShare()

    @classmethod
    async def open(cls, connection: AbstractRobustConnection, topology: Topology) -> Publisher:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        return cls(channel, topology)

    async def _exchange(self, name: str) -> AbstractExchange:
        if name not in self._exchanges:
            self._exchanges[name] = await self._channel.get_exchange(
                self._topology.exchange_name(name), ensure=False
            )
        return self._exchanges[name]

    async def publish(self, message: m.Message) -> None:
        exchange = await self._exchange(message.exchange)
        priority = self.share.priority(getattr(message, "tenant_id", None))
        await exchange.publish(
            encode(message, priority), routing_key=message.routing_key(), mandatory=True
        )

    async def publish_many(self, batch: Sequence[m.Message]) -> None:
        # Confirms are awaited together: the broker pipelines them, one round trip per batch.
        await asyncio.gather(*(self.publish(message) for message in batch))

    async def publish_raw(
        self,
        routing_key: str,
        body: bytes,
        headers: dict[str, Any] | None = None,
        *,
        expiration_ms: int | None = None,
        priority: int | None = None,
    ) -> None:
        """Publish to the default exchange (a queue by name): used for DLQ and retry."""
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                body=body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=headers or {},
                expiration=expiration_ms / 1000 if expiration_ms is not None else None,
                priority=priority,
            ),
            routing_key=routing_key,
            mandatory=True,
        )

    async def close(self) -> None:
        await self._channel.close()


Handler = Callable[[MessageT, AsyncSession], Awaitable[Sequence[m.Message]]]


class Consumer:
    """Consumes one work queue with an explicit prefetch; see the module docstring for acks.

    The handler runs inside one database transaction and returns the messages to publish
    once that transaction committed. On redelivery it must return them again (they are
    idempotent downstream), so a crash between commit and ack cannot lose them.
    """

    def __init__(
        self,
        *,
        connection: AbstractRobustConnection,
        topology: Topology,
        queue_name: str,
        model: type[MessageT],
        handler: Handler[MessageT],
        sessions: async_sessionmaker[AsyncSession],
        prefetch: int,
        max_retries: int = 5,
        transient_retry_max_seconds: float = 3600.0,
        transient_first_delay: float = 0.5,
    ) -> None:
        self.spec = topology.queue(queue_name)
        self._connection = connection
        self._topology = topology
        self._model = model
        self._handler: Handler[Any] = handler
        self._sessions = sessions
        self._prefetch = prefetch
        self._max_retries = max_retries
        self._transient_max = transient_retry_max_seconds
        self._transient_first_delay = transient_first_delay
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._publisher: Publisher | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.processed = 0
        self.dead_lettered = 0
        self.transient_retries = 0

    async def start(self) -> None:
        await ensure_topology(self._connection, self._topology)
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self._prefetch)
        self._publisher = await Publisher.open(self._connection, self._topology)
        # A passive declare (not get_queue) registers the queue with the robust channel, which
        # is what makes aio-pika declare it and consume from it again after a reconnect.
        self._queue = await self._channel.declare_queue(self.spec.name, passive=True)
        self._consumer_tag = await self._queue.consume(self._on_message, no_ack=False)

    @property
    def consuming(self) -> str | None:
        """None while messages can arrive; otherwise why not, for ``/readyz``."""
        if self._consumer_tag is None or self._channel is None:
            return f"not consuming {self.spec.name}"
        connected = getattr(self._connection, "connected", None)
        if self._connection.is_closed or (connected is not None and not connected.is_set()):
            return f"lost the broker connection; not consuming {self.spec.name}"
        if self._channel.is_closed:
            return f"channel closed; not consuming {self.spec.name}"
        return None

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop taking new messages, let in-flight ones finish, then close.

        Anything still unfinished after the grace period is left unacked and is requeued by
        the broker when the channel closes.
        """
        if self._queue is not None and self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)
            self._consumer_tag = None
        if self._in_flight:
            _done, pending = await asyncio.wait(self._in_flight, timeout=grace_seconds)
            # Unfinished handlers are cancelled before their commit, so the requeued message
            # is the only copy of that work.
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._publisher is not None:
            await self._publisher.close()
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    @contextlib.contextmanager
    def _handling(self) -> Iterator[None]:
        """One delivery being handled: waited for by ``stop`` and counted in ``/metrics``
        (in flight now, handled so far), which is how an operator, or the demo, sees work
        a queue's message count leaves out (delivered, not yet acknowledged)."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        in_flight = MESSAGES_IN_FLIGHT.labels(self.spec.name)
        in_flight.inc()
        try:
            yield
        finally:
            in_flight.dec()
            DELIVERIES_HANDLED.labels(self.spec.name).inc()
            if task is not None:
                self._in_flight.discard(task)

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        with self._handling():
            await self._process(incoming)

    async def _process(self, incoming: AbstractIncomingMessage) -> None:
        assert self._publisher is not None
        try:
            message = self._model.model_validate_json(incoming.body)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(incoming, f"unreadable {self._model.__name__}: {exc}")
            return
        # Each delivery runs in its own task, so the tenant bound here marks only its log lines.
        bind_tenant(getattr(message, "tenant_id", None))
        bound = log.bind(queue=self.spec.name)
        try:
            outgoing = await self._handle(message, bound)
            if outgoing:
                await self._publisher.publish_many(outgoing)
        except PoisonMessage as exc:
            await self._dead_letter(incoming, str(exc))
            return
        except Exception as exc:
            if is_transient(exc):
                # The broker went away while publishing (or the database never came back
                # in time): hand the message back; it is redelivered once things are up.
                bound.warning("message_requeued", reason=f"{type(exc).__name__}: {exc}"[:300])
                with contextlib.suppress(Exception):
                    await incoming.nack(requeue=True)
                return
            await self._retry_or_dead_letter(incoming, exc, bound)
            return
        try:
            await incoming.ack()
        except Exception as exc:
            # The channel died after the commit: the broker redelivers, the handler is idempotent.
            bound.warning("message_ack_lost", reason=f"{type(exc).__name__}: {exc}"[:300])
            return
        self.processed += 1

    async def _handle(
        self, message: m.Message, bound: structlog.typing.FilteringBoundLogger
    ) -> Sequence[m.Message]:
        """Run the handler in one transaction, waiting out database outages with backoff."""
        delay, waited = self._transient_first_delay, 0.0
        while True:
            try:
                async with unit_of_work(self._sessions) as session:
                    return await self._handler(message, session)
            except PoisonMessage:
                raise
            except Exception as exc:
                if not is_transient(exc) or waited >= self._transient_max:
                    raise
                self.transient_retries += 1
                bound.warning(
                    "message_waiting_for_database",
                    retry_in=delay,
                    reason=f"{type(exc).__name__}: {exc}"[:300],
                )
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 30.0)

    async def _retry_or_dead_letter(
        self,
        incoming: AbstractIncomingMessage,
        exc: Exception,
        bound: structlog.typing.FilteringBoundLogger,
    ) -> None:
        assert self._publisher is not None
        retries = int(str((incoming.headers or {}).get(RETRIES_HEADER, 0))) + 1
        reason = f"{type(exc).__name__}: {exc}"
        if retries > self._max_retries:
            await self._dead_letter(
                incoming, f"gave up after {self._max_retries} retries: {reason}"
            )
            return
        bound.warning("message_retry", retries=retries, reason=reason)
        headers = dict(incoming.headers or {})
        headers[RETRIES_HEADER] = retries
        headers[REASON_HEADER] = reason[:1000]
        await self._publisher.publish_raw(
            self.spec.retry_queue,
            incoming.body,
            headers,
            expiration_ms=self._topology.retry_delay_ms,
            priority=incoming.priority,
        )
        await incoming.ack()

    async def _dead_letter(self, incoming: AbstractIncomingMessage, reason: str) -> None:
        assert self._publisher is not None
        log.error("message_dead_lettered", queue=self.spec.name, reason=reason[:500])
        headers = dict(incoming.headers or {})
        headers[REASON_HEADER] = reason[:1000]
        headers[ORIGIN_QUEUE_HEADER] = self.spec.name
        headers[DEAD_LETTERED_AT_HEADER] = datetime.now(UTC).isoformat(timespec="seconds")
        await self._publisher.publish_raw(self.spec.dead_letter_queue, incoming.body, headers)
        await incoming.ack()
        self.dead_lettered += 1


def reason_of(headers: dict[str, Any] | None) -> str | None:
    value = (headers or {}).get(REASON_HEADER)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)
