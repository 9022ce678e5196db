"""Dead-lettered documents in the workflow API by name, with the reason (issue 13, point 2):
`GET /api/v1/tenants/{tenant_id}/dead-letters`, scoped like every tenant route, and the
operator's replay and discard. A real RabbitMQ, with this test's own namespace."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aio_pika
import pytest
from sqlmodel import select

from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import AuditLog
from omni2qbd_shared.messaging import (
    DEAD_LETTERED_AT_HEADER,
    ORIGIN_QUEUE_HEADER,
    REASON_HEADER,
    Publisher,
    Topology,
    connect,
    ensure_topology,
)
from tests.api.api_helpers import new_person, signed_in
from tests.conftest import closed_port
from tests.gateway.gateway_helpers import Gateway, new_tenant, running_gateway

pytestmark = [pytest.mark.rabbitmq, pytest.mark.timeout(120)]

DOCUMENTS = "mapper.cin7-documents"
REASON = "purchase_order 70001 cannot be read: field total: 'abc' is not a number"


def _document(tenant_id: str, number: int) -> bytes:
    message = m.Cin7DocumentMessage(
        tenant_id=tenant_id,
        kind="purchase_order",
        cin7_id=str(70000 + number),
        revision="r1",
        fetched_at=datetime.now(UTC),
        payload={"id": 70000 + number, "reference": f"PO-{70000 + number}", "total": "abc"},
    )
    return message.model_dump_json().encode()


async def _dead_letter(amqp_url: str, topology: Topology, body: bytes, reason: str) -> None:
    """A message as the mapper's consumer dead-letters it (``Consumer._dead_letter``)."""
    connection = await connect(amqp_url)
    try:
        await ensure_topology(connection, topology)
        publisher = await Publisher.open(connection, topology)
        spec = topology.queue(DOCUMENTS)
        await publisher.publish_raw(
            spec.dead_letter_queue,
            body,
            {
                REASON_HEADER: reason,
                ORIGIN_QUEUE_HEADER: spec.name,
                DEAD_LETTERED_AT_HEADER: "2026-11-30T12:00:00+00:00",
            },
        )
        await publisher.close()
    finally:
        await connection.close()


async def _work_queue_bodies(amqp_url: str, topology: Topology) -> list[bytes]:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(topology.queue(DOCUMENTS).name, ensure=True)
        bodies = []
        while (incoming := await queue.get(no_ack=True, fail=False)) is not None:
            bodies.append(incoming.body)
        return bodies
    finally:
        await connection.close()


async def test_dead_letters_by_name_scoped_to_the_tenant_and_settled_by_an_operator(
    gateway: Gateway, amqp_url: str, topology: Topology
) -> None:
    acme = await new_tenant(gateway.sessions, "Acme Trading")
    other = await new_tenant(gateway.sessions, "Other Co")
    acme_document = _document(acme.tenant_id, 1)
    await _dead_letter(amqp_url, topology, acme_document, REASON)
    await _dead_letter(amqp_url, topology, _document(other.tenant_id, 2), "tenant Other Co said no")
    acme_keeper = await new_person(gateway.sessions, "bookkeeper", [acme.tenant_id])
    other_keeper = await new_person(gateway.sessions, "bookkeeper", [other.tenant_id])
    operator = await new_person(gateway.sessions, "operator")
    url = f"/tenants/{acme.tenant_id}/dead-letters"

    async with signed_in(gateway, acme_keeper) as client:
        listed = await client.get(url)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert body["tenant_id"] == acme.tenant_id
        [dead] = body["dead_letters"]
        assert dead["what"] == "Cin7 purchase_order 70001 (PO-70001)"
        assert dead["reason"] == REASON
        assert dead["queue"] == DOCUMENTS
        assert dead["dead_lettered_at"] == "2026-11-30T12:00:00+00:00"
        assert "70002" not in listed.text and other.tenant_id not in listed.text
        # Reading takes nothing out of the queue.
        again = await client.get(url)
        assert again.json()["dead_letters"] == body["dead_letters"]
        # A bookkeeper may read them; putting them back is an operator's.
        refused = await client.post(f"{url}/replay", json={"message_ids": [dead["message_id"]]})
        assert refused.status_code == 403

    # Another tenant's bookkeeper gets what every tenant route answers them: no such tenant.
    async with signed_in(gateway, other_keeper) as client:
        tenant_route = await client.get(f"/tenants/{acme.tenant_id}")
        across = await client.get(url)
        assert across.status_code == tenant_route.status_code == 404
        assert across.json() == tenant_route.json() == {"detail": "no such tenant"}
        own = await client.get(f"/tenants/{other.tenant_id}/dead-letters")
        [theirs] = own.json()["dead_letters"]
        assert theirs["what"] == "Cin7 purchase_order 70002 (PO-70002)"

    async with signed_in(gateway, operator) as client:
        # The other tenant's dead letter is not settled through Acme's address.
        wrong = await client.post(f"{url}/discard", json={"message_ids": [theirs["message_id"]]})
        assert wrong.status_code == 200, wrong.text
        assert wrong.json() == {"done": [], "not_found": [theirs["message_id"]]}
        replayed = await client.post(f"{url}/replay", json={"message_ids": [dead["message_id"]]})
        assert replayed.status_code == 200, replayed.text
        assert [d["what"] for d in replayed.json()["done"]] == [dead["what"]]
        assert (await client.get(url)).json()["dead_letters"] == []
        other_url = f"/tenants/{other.tenant_id}/dead-letters"
        discarded = await client.post(
            f"{other_url}/discard", json={"message_ids": [theirs["message_id"]]}
        )
        assert [d["message_id"] for d in discarded.json()["done"]] == [theirs["message_id"]]
        assert (await client.get(other_url)).json()["dead_letters"] == []

    # The replayed document is back on the queue it came from; both are in the audit log.
    assert await _work_queue_bodies(amqp_url, topology) == [acme_document]
    async with gateway.sessions() as db:
        rows = (await db.exec(select(AuditLog))).all()
    actions = {(row.tenant_id, row.action, row.subject) for row in rows}
    assert (acme.tenant_id, "dlq_replayed", dead["message_id"]) in actions
    assert (other.tenant_id, "dlq_discarded", theirs["message_id"]) in actions


async def test_dead_letters_answer_503_in_a_sentence_when_rabbitmq_is_unreachable(
    sqlite_database_url: str,
) -> None:
    unreachable = f"amqp://guest:guest@127.0.0.1:{closed_port()}/"
    async with running_gateway(sqlite_database_url, unreachable, "dlqdown.") as gateway:
        tenant = await new_tenant(gateway.sessions, "Acme Trading")
        keeper = await new_person(gateway.sessions, "bookkeeper", [tenant.tenant_id])
        async with signed_in(gateway, keeper) as client:
            answer = await asyncio.wait_for(
                client.get(f"/tenants/{tenant.tenant_id}/dead-letters"), 60
            )
    assert answer.status_code == 503
    assert answer.json() == {
        "detail": "the dead-letter queues cannot be read: RabbitMQ cannot be reached; "
        "try again later"
    }
