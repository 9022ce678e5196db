"""Gateway test fixtures (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from omni2qbd_shared.messaging import Topology
from tests.gateway.gateway_helpers import Gateway, GatewayTenant, open_tenant, running_gateway


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    """Settings the `gw` fixture's gateway runs with; a test module overrides this fixture."""
    return {}


@pytest.fixture
def gateway_database_url(request: pytest.FixtureRequest) -> str:
    """The `gw` fixture's migrated database: SQLite, or each engine in turn for a test marked
    with ``BOTH_DATABASES`` (gateway_helpers)."""
    engine = getattr(request, "param", "sqlite")
    url: str = request.getfixturevalue(f"{engine}_database_url")
    return url


@pytest.fixture
async def gw(
    gateway_database_url: str, amqp_url: str, topology: Topology, gateway_settings: dict[str, Any]
) -> AsyncIterator[Gateway]:
    """The real gateway on a migrated database, for the test's duration."""
    async with running_gateway(
        gateway_database_url, amqp_url, topology.namespace, **gateway_settings
    ) as gateway:
        yield gateway


@pytest.fixture
async def gateway_tenant(gw: Gateway) -> GatewayTenant:
    """A running gateway, one tenant, and the QuickBooks company file of that tenant."""
    return await open_tenant(gw)
