"""Two gateway processes on one PostgreSQL share one Web Connector session: a round-robin
proxy sends each call of the session to the other replica. Every entry is posted exactly once
(counted in the QuickBooks simulator's company file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni2qbd_sims.quickbooks.serving import running_server
from tests.faults.flow_stack import flow_stack
from tests.faults.round_robin import RoundRobin

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(300)]


async def test_two_gateway_replicas_alternating_calls_post_every_entry_once(
    tmp_path: Path, postgres_database_url: str
) -> None:
    # Small sets: a session is many sendRequestXML/receiveResponseXML pairs to alternate.
    env = {"OMNI2QBD_GATEWAY_BATCH_MAX_REQUESTS": "3", "OMNI2QBD_GATEWAY_SET_MAX_REQUESTS": "3"}
    async with flow_stack(tmp_path, postgres_database_url, env=env) as stack:
        stack.start_services(["gateway-2"], service="gateway")
        balancer = RoundRobin([stack.urls["gateway"], stack.urls["gateway-2"]])
        with running_server(balancer.app) as url:
            statuses = await stack.post_everything(url)
        result = await stack.account_for_every_document()
    assert all(status.startswith("Done") for status in statuses), statuses
    replicas = list(balancer.calls.values())
    assert len(replicas) == 2 and min(replicas) >= 5, balancer.calls  # both served the session
    assert result.posted > 0 and result.dead_lettered == {}
