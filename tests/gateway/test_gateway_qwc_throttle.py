"""The console's .qwc download signs in with HTTP Basic (the tenant's Web Connector user) and
is throttled like every password sign-in (issue 16, point 5; ``login_throttle``): past the
per-account-at-address limit the answer is 429 with Retry-After, a correct password from that
address included (the attempt is refused before any password is checked), while another
account from that address and the same account from another address are unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from omni2qbd_gateway.login_throttle import ThrottlePolicy
from omni2qbd_shared.messaging import Topology
from tests.gateway.gateway_helpers import Gateway, new_tenant, running_gateway

OTHER_ADDRESS = "127.0.0.2"
# The .qwc route reserves with the default policy (``login_throttle.reserve(db, attempt)``).
POLICY = ThrottlePolicy()


@pytest.fixture
async def gateway(database_url: str, amqp_url: str, topology: Topology) -> AsyncIterator[Gateway]:
    async with running_gateway(database_url, amqp_url, topology.namespace) as running:
        yield running


async def test_qwc_sign_in_is_throttled_per_account_at_an_address(gateway: Gateway) -> None:
    acme = await new_tenant(gateway.sessions, "Acme Trading")
    other = await new_tenant(gateway.sessions, "Other Co")
    acme_url = f"{gateway.url}/console/tenants/{acme.tenant_id}/qwc"
    other_url = f"{gateway.url}/console/tenants/{other.tenant_id}/qwc"
    async with httpx.AsyncClient(timeout=30) as here:
        for _ in range(POLICY.per_account_at_address):
            wrong = await here.get(acme_url, auth=(acme.qbwc_username, "wrong"))
            assert wrong.status_code == 401
            assert "Retry-After" not in wrong.headers
        throttled = await here.get(acme_url, auth=(acme.qbwc_username, "wrong"))
        assert throttled.status_code == 429
        retry_after = int(throttled.headers["Retry-After"])
        assert 0 < retry_after <= 2 * POLICY.window_seconds
        # Answered as the console's error page, with the throttle's sentence.
        assert "too many failed sign-ins for this account" in throttled.text
        # The right password from this address is refused too while the refusal lasts, and
        # gets no .qwc file.
        right = await here.get(acme_url, auth=(acme.qbwc_username, acme.qbwc_password))
        assert right.status_code == 429 and "Retry-After" in right.headers
        assert "QBWCXML" not in right.text
        # Another account from the same address is not affected.
        other_here = await here.get(other_url, auth=(other.qbwc_username, other.qbwc_password))
        assert other_here.status_code == 200
        assert other_here.headers["content-type"].startswith("application/x-qwc")
    # The same account from another address signs in (the owner is not locked out).
    elsewhere = httpx.AsyncHTTPTransport(local_address=OTHER_ADDRESS)
    async with httpx.AsyncClient(transport=elsewhere, timeout=30) as there:
        wrong_there = await there.get(acme_url, auth=(acme.qbwc_username, "wrong"))
        assert wrong_there.status_code == 401
        owner = await there.get(acme_url, auth=(acme.qbwc_username, acme.qbwc_password))
        assert owner.status_code == 200
        assert acme.qbwc_username in owner.text
