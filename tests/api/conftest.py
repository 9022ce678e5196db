"""API test fixtures: the real gateway under uvicorn on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from omni2qbd_shared.messaging import Topology
from omni2qbd_sims.cin7 import Cin7Store, SimConfig, generate
from omni2qbd_sims.cin7 import create_app as create_cin7
from omni2qbd_sims.cin7.server import serve_in_thread
from tests.gateway.gateway_helpers import Gateway, running_gateway


@pytest.fixture
async def gateway(database_url: str, amqp_url: str, topology: Topology) -> AsyncIterator[Gateway]:
    # The Cin7 simulator serves on 127.0.0.1: allowed here explicitly, as an operator would.
    async with running_gateway(
        database_url, amqp_url, topology.namespace, cin7_allowed_hosts=["127.0.0.1"]
    ) as running:
        yield running


@dataclass
class Cin7Sim:
    base_url: str
    store: Cin7Store

    def account(self) -> tuple[str, str]:
        """An API user name and its full-access key."""
        username = next(iter(self.store.tenants))
        return username, self.store.tenants[username].connections[0].api_key


@pytest.fixture
def cin7() -> Iterator[Cin7Sim]:
    """The Cin7 Omni simulator over HTTP (a small generated data set)."""
    store = generate(7, 0.02)
    with serve_in_thread(create_cin7(store, SimConfig(rate_limits_enabled=False))) as url:
        yield Cin7Sim(url, store)
