"""API test fixtures: the real gateway under uvicorn on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from omni2qbd_shared.messaging import Topology
from tests.gateway.gateway_helpers import Gateway, running_gateway


@pytest.fixture
async def gateway(database_url: str, amqp_url: str, topology: Topology) -> AsyncIterator[Gateway]:
    async with running_gateway(database_url, amqp_url, topology.namespace) as running:
        yield running
