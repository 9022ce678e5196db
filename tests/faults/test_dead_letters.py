"""Dead-lettered documents are visible by name with the reason, and can be replayed or
discarded (issue 13, point 2): `omni2qbd dlq list|replay|discard` and `omni2qbd status`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlmodel import select

from omni2qbd_mapper.app import create_app
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import AuditLog, Tenant
from omni2qbd_shared.messaging import Publisher, Topology, connect
from tests.conftest import AMQP_URL, REPO_ROOT
from tests.faults.test_outages import MapperUnderTest, document, until
from tests.mapper.test_mapper_store import make_tenant

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(240)]


async def omni2qbd(database_url: str, topology: Topology, *args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "OMNI2QBD_DATABASE_URL": database_url,
        "OMNI2QBD_AMQP_URL": AMQP_URL,
        "OMNI2QBD_AMQP_NAMESPACE": topology.namespace,
        "OMNI2QBD_ENVIRONMENT": "test",
        "OMNI2QBD_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "omni2qbd", *args,
        cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_dead_letters_listed_by_name_replayed_and_discarded(
    postgres_database_url: str, topology: Topology
) -> None:
    topology = Topology(namespace=topology.namespace, retry_delay_ms=300)
    app = create_app(
        AppSettings(database_url=postgres_database_url, amqp_url=AMQP_URL, log_json=False),
        topology=topology,
    )
    mapper = MapperUnderTest(app, postgres_database_url, topology)
    tenant = await make_tenant(mapper.sessions)
    late_tenant = str(uuid.uuid4())  # documents arrive before the tenant exists
    good = document(tenant, 1)
    broken = good.model_copy(update={"payload": {**good.payload, "total": "abc"}})
    connection = await connect(AMQP_URL)
    publisher = await Publisher.open(connection, topology)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.runtime.started.wait(), 30)
        await publisher.publish(broken)
        await publisher.publish(document(late_tenant, 2))
        await until(_dead_letters_reach(mapper, 2), "two dead letters")

        code, listed = await omni2qbd(postgres_database_url, topology, "dlq", "list", "--json")
        assert code == 0, listed
        by_tenant = {dead["tenant_id"]: dead for dead in json.loads(listed)}
        assert by_tenant[tenant]["what"].startswith("Cin7 purchase_order 70001")
        assert "purchase_order 70001 cannot be read" in by_tenant[tenant]["reason"]
        assert by_tenant[late_tenant]["what"].startswith("Cin7 purchase_order 70002")
        assert f"tenant {late_tenant} does not exist" in by_tenant[late_tenant]["reason"]
        assert by_tenant[tenant]["queue"] == "mapper.cin7-documents"

        code, status = await omni2qbd(postgres_database_url, topology, "status", tenant)
        assert code == 0, status
        assert "DEAD-LETTERED (1)" in status
        assert "Cin7 purchase_order 70001" in status
        assert "purchase_order 70001 cannot be read: field total: 'abc' is not a number" in status

        # The late tenant now exists: replaying its document maps it.
        async with unit_of_work(mapper.sessions) as session:
            session.add(
                Tenant(id=late_tenant, name="Late", qbwc_username="late", qbwc_password_hash="x")
            )
        replay_id = by_tenant[late_tenant]["message_id"]
        code, replayed = await omni2qbd(postgres_database_url, topology, "dlq", "replay", replay_id)
        assert code == 0 and f"replayed {replay_id}" in replayed, replayed
        await until(lambda: _has_bill(mapper, late_tenant), "the replayed document's bill")

        discard_id = by_tenant[tenant]["message_id"]
        code, discarded = await omni2qbd(
            postgres_database_url, topology, "dlq", "discard", discard_id
        )
        assert code == 0 and f"discarded {discard_id}" in discarded, discarded
        assert await mapper.dead_letters() == 0
        code, unknown = await omni2qbd(
            postgres_database_url, topology, "dlq", "discard", discard_id
        )
        assert code == 1 and f"no dead letter {discard_id}" in unknown
    async with mapper.sessions() as session:
        audit = (
            await session.exec(select(AuditLog).where(AuditLog.action == "dlq_discarded"))
        ).all()
    assert [row.detail["what"] for row in audit] == [by_tenant[tenant]["what"]]
    await publisher.close()
    await connection.close()
    await mapper.engine.dispose()


def _dead_letters_reach(mapper: MapperUnderTest, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await mapper.dead_letters() >= count

    return check


async def _has_bill(mapper: MapperUnderTest, tenant_id: str) -> bool:
    return await mapper.bills(tenant_id) == 1
