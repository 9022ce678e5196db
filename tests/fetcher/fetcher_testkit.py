"""The fetcher against real parts: the Cin7 simulator over HTTP, RabbitMQ and a migrated DB."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aio_pika
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_fetcher.cin7_client import RetryPolicy
from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_fetcher.repository import TenantAccess, tenant_access
from omni2qbd_fetcher.tenant_sync import TenantSyncer
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.messaging import Publisher, Topology, connect, declare_topology
from omni2qbd_sims.cin7 import Cin7Store, SimConfig, create_app, generate
from omni2qbd_sims.cin7.server import SimAdmin, serve_in_thread

SECRET = "test-secret-key-that-is-long-enough-0123456789"
ACME = "AcmeOutdoorAPI"
BLUEBIRD = "BluebirdHomeAPI"


@dataclass
class Sim:
    base_url: str
    store: Cin7Store
    admin: SimAdmin

    def key(self, username: str = ACME) -> str:
        return self.store.tenants[username].connections[0].api_key


@pytest.fixture
def cin7() -> Iterator[Sim]:
    store = generate(21, 0.05)
    with serve_in_thread(create_app(store, SimConfig(rate_limits_enabled=False))) as url:
        admin = SimAdmin(url)
        try:
            yield Sim(url, store, admin)
        finally:
            admin.close()


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """The fetcher's tests run on SQLite unless BOTH_DATABASES parametrizes them."""
    engine = getattr(request, "param", "sqlite")
    url: str = request.getfixturevalue(f"{engine}_database_url")
    return url


BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


@dataclass
class Stack:
    sessions: async_sessionmaker[AsyncSession]
    topology: Topology
    publisher: Publisher
    connection: aio_pika.abc.AbstractRobustConnection
    sim: Sim
    syncers: list[TenantSyncer] = field(default_factory=list)

    def options(self, **overrides: Any) -> FetcherOptions:
        values: dict[str, Any] = {
            "rows": 10,
            "overlap": timedelta(minutes=5),
            "cin7_limits": None,
            "retry": RetryPolicy(attempts=3, base_delay=0.02, max_delay=0.1),
            "poll_interval": 3600.0,
            "workers": 2,
            "pages_per_turn": 3,
            "request_timeout": 5.0,
            "cin7_allowed_hosts": ("127.0.0.1",),  # the simulator
        }
        values.update(overrides)
        return FetcherOptions(**values)

    def syncer(self, **overrides: Any) -> TenantSyncer:
        syncer = TenantSyncer(
            sessions=self.sessions, publisher=self.publisher, options=self.options(**overrides)
        )
        self.syncers.append(syncer)
        return syncer

    async def tenant(self, username: str = ACME, *, api_key: str | None = None) -> TenantAccess:
        async with unit_of_work(self.sessions) as session:
            created = await create_tenant(
                session,
                name=f"{username} Inc",
                secret_key=SECRET,
                actor="test",
                cin7_username=username,
                cin7_api_key=api_key or self.sim.key(username),
                cin7_base_url=self.sim.base_url,
            )
        async with unit_of_work(self.sessions) as session:
            access = await tenant_access(session, created.tenant_id, SECRET)
        assert access is not None
        return access

    async def drain(self) -> list[dict[str, Any]]:
        """Every message waiting in the mapper's queue, as (routing key, body) dicts."""
        channel = await self.connection.channel()
        try:
            queue = await channel.get_queue(
                self.topology.queue("mapper.cin7-documents").name, ensure=False
            )
            found = []
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                found.append({"routing_key": message.routing_key, **json.loads(message.body)})
            return found
        finally:
            await channel.close()


@pytest.fixture
async def stack(
    database_url: str, topology: Topology, amqp_url: str, cin7: Sim
) -> AsyncIterator[Stack]:
    engine = create_engine(database_url)
    connection = await connect(amqp_url)
    channel = await connection.channel()
    await declare_topology(channel, topology)
    await channel.close()
    publisher = await Publisher.open(connection, topology)
    built = Stack(session_factory(engine), topology, publisher, connection, cin7)
    try:
        yield built
    finally:
        for syncer in built.syncers:
            await syncer.aclose()
        await publisher.close()
        await connection.close()
        await engine.dispose()
