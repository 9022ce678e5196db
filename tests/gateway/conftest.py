"""Gateway test fixtures (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from omni2qbd_shared.messaging import Topology
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from tests.gateway.gateway_helpers import (
    Gateway,
    GatewayTenant,
    company_for,
    new_tenant,
    running_gateway,
    tenant_row,
)


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    """Settings the `gw` fixture's gateway runs with; a test module overrides this fixture."""
    return {}


@pytest.fixture
async def gw(
    sqlite_database_url: str, amqp_url: str, topology: Topology, gateway_settings: dict[str, Any]
) -> AsyncIterator[Gateway]:
    """The real gateway on a migrated SQLite database, for the test's duration."""
    async with running_gateway(
        sqlite_database_url, amqp_url, topology.namespace, **gateway_settings
    ) as gateway:
        yield gateway


@pytest.fixture
async def gateway_tenant(gw: Gateway) -> GatewayTenant:
    """A running gateway, one tenant, and the QuickBooks company file of that tenant."""
    tenant = await new_tenant(gw.sessions)
    qb = QuickBooksSimulator()
    path = company_for(qb, await tenant_row(gw.sessions, tenant.tenant_id))
    return GatewayTenant(gw, tenant, qb, path)
