"""What sits in the dead-letter queues, by name and with the reason, and putting it back.

A dead-lettered message stays in its queue's DLQ (``<queue>.dlq``) until an operator replays
it (it goes back to the queue it came from) or discards it. Reading the DLQs does not take
anything out of them: messages are read unacknowledged and requeued in their order when the
channel closes.

``list_dead_letters(settings, tenant_id)`` is what ``omni2qbd status``, ``omni2qbd dlq list``
and the workflow API show.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.fairness import HIGH_PRIORITY
from omni2qbd_shared.messaging import (
    DEAD_LETTERED_AT_HEADER,
    ORIGIN_QUEUE_HEADER,
    REASON_HEADER,
    RETRIES_HEADER,
    Topology,
    connect,
    reason_of,
)

REPLAYED_HEADER = "x-omni2qbd-replayed"
# Reading stops here per queue: enough for an operator, bounded for the broker.
MAX_PER_QUEUE = 5000


@dataclass(frozen=True)
class DeadLetter:
    message_id: str  # stable while the message sits in the DLQ: queue + digest of its body
    queue: str  # the work queue it came from, without the namespace
    reason: str
    tenant_id: str | None
    what: str  # the document or entry, by name
    dead_lettered_at: str | None
    body: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "queue": self.queue,
            "tenant_id": self.tenant_id,
            "what": self.what,
            "reason": self.reason,
            "dead_lettered_at": self.dead_lettered_at,
        }


def _describe(body: bytes) -> tuple[str | None, str]:
    """The tenant and a name a person recognises: "purchase_order 5120 (PO-5120)"."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, f"an unreadable message of {len(body)} bytes"
    if not isinstance(data, dict):
        return None, "a message that is not a JSON object"
    tenant = data.get("tenant_id") if isinstance(data.get("tenant_id"), str) else None
    if "cin7_id" in data:
        found = data.get("payload")
        payload: dict[str, Any] = found if isinstance(found, dict) else {}
        reference = payload.get("reference") or payload.get("invoiceNumber")
        named = f" ({reference})" if reference else ""
        return tenant, f"Cin7 {data.get('kind', 'document')} {data['cin7_id']}{named}"
    if "entry_id" in data:
        kind = data.get("entry_kind") or data.get("outcome") or "entry"
        return tenant, f"{kind} {data['entry_id']}"
    if "event" in data:
        return tenant, f"tenant event {data['event']}"
    if "list_type" in data or "changes" in data:
        return tenant, f"QuickBooks list changes ({data.get('list_type', 'lists')})"
    return tenant, "a message of an unknown shape"


def _dead_letter(queue: str, incoming: AbstractIncomingMessage) -> DeadLetter:
    headers = dict(incoming.headers or {})
    tenant, what = _describe(incoming.body)
    at = headers.get(DEAD_LETTERED_AT_HEADER)
    digest = hashlib.sha256(incoming.body).hexdigest()[:12]
    return DeadLetter(
        message_id=f"{queue}:{digest}",
        queue=queue,
        reason=reason_of(headers) or "(no reason recorded: rejected by the broker)",
        tenant_id=tenant,
        what=what,
        dead_lettered_at=at.decode() if isinstance(at, bytes) else (str(at) if at else None),
        body=incoming.body,
    )


Visit = Callable[[DeadLetter, AbstractIncomingMessage], Awaitable[None]]


async def _visit(connection: AbstractRobustConnection, topology: Topology, visit: Visit) -> None:
    """Every dead letter in turn; those ``visit`` does not ack are put back in order."""
    for spec in topology.all_queues():
        short = spec.name.removeprefix(topology.namespace)
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(spec.dead_letter_queue, durable=True)
            for _ in range(MAX_PER_QUEUE):
                incoming = await queue.get(no_ack=False, fail=False)
                if incoming is None:
                    break
                await visit(_dead_letter(short, incoming), incoming)
        finally:
            await channel.close()  # unacknowledged messages return to the DLQ


def _topology(settings: AppSettings, topology: Topology | None) -> Topology:
    return topology or Topology(namespace=settings.amqp_namespace)


async def list_dead_letters(
    settings: AppSettings, tenant_id: str | None = None, *, topology: Topology | None = None
) -> list[DeadLetter]:
    """Dead letters of one tenant (or all, with those whose tenant cannot be read)."""
    found: list[DeadLetter] = []

    async def keep(dead: DeadLetter, _incoming: AbstractIncomingMessage) -> None:
        if tenant_id is None or dead.tenant_id == tenant_id:
            found.append(dead)

    connection = await connect(settings.amqp_url)
    try:
        await _visit(connection, _topology(settings, topology), keep)
    finally:
        await connection.close()
    return found


async def settle(
    settings: AppSettings,
    message_ids: set[str] | None,
    *,
    replay: bool,
    tenant_id: str | None = None,
    topology: Topology | None = None,
) -> list[DeadLetter]:
    """Replay (back to its queue, retries reset) or discard the chosen dead letters.

    ``message_ids`` None means every dead letter (of ``tenant_id`` when given).
    """
    topo = _topology(settings, topology)
    done: list[DeadLetter] = []
    connection = await connect(settings.amqp_url)
    try:
        publish_channel = await connection.channel(publisher_confirms=True)

        async def act(dead: DeadLetter, incoming: AbstractIncomingMessage) -> None:
            chosen = message_ids is None or dead.message_id in message_ids
            if not chosen or (tenant_id is not None and dead.tenant_id != tenant_id):
                return
            if replay:
                headers = {
                    key: value
                    for key, value in dict(incoming.headers or {}).items()
                    if key not in (REASON_HEADER, RETRIES_HEADER, ORIGIN_QUEUE_HEADER)
                    and key != DEAD_LETTERED_AT_HEADER
                }
                headers[REPLAYED_HEADER] = int(str(headers.get(REPLAYED_HEADER, 0))) + 1
                await publish_channel.default_exchange.publish(
                    aio_pika.Message(
                        body=incoming.body,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        headers=headers,
                        # A person asked for it: ahead of any tenant's flood (``fairness``).
                        priority=HIGH_PRIORITY,
                    ),
                    routing_key=topo.namespace + dead.queue,
                    mandatory=True,
                )
            await incoming.ack()
            done.append(dead)

        await _visit(connection, topo, act)
        await publish_channel.close()
    finally:
        await connection.close()
    return done


async def dead_letter_lines(settings: AppSettings, tenant_id: str) -> list[str]:
    """One line per dead letter of the tenant, for ``omni2qbd status``; a broker that cannot
    be reached is said, not raised (the status of the database side is still useful)."""
    try:
        found = await list_dead_letters(settings, tenant_id)
    except Exception as exc:
        return [f"  (dead-letter queues not read: RabbitMQ unreachable, {type(exc).__name__})"]
    return [f"  {dead.what}: {dead.reason}  [{dead.message_id}]" for dead in found]
