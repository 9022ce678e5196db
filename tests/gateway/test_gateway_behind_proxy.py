"""Behind the TLS proxy (Caddy in docker-compose.yml), each Web Connector keeps its own address.

Without a trusted proxy every login arrives from the proxy's address, so one stranger's failed
logins throttle every tenant's Web Connector. The gateway believes ``X-Forwarded-For`` only
from ``OMNI2QBD_GATEWAY_FORWARDED_ALLOW_IPS``; from anyone else the header changes nothing.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from omni2qbd_sims.webconnector import soap as wc
from tests.gateway.gateway_helpers import Gateway, new_tenant

PROXY = "127.0.0.2"  # the trusted proxy
STRANGER = "127.0.0.3"  # connects directly and forges the header
FAILURES = 51  # one past the per-address limit


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {"gateway_forwarded_allow_ips": PROXY}


async def _authenticate(
    gw: Gateway, user: str, password: str, *, via: str, forwarded_for: str
) -> str:
    """The second string of the answer: "" accepted, "nvu" refused, "none"/"busy" ..."""
    transport = httpx.AsyncHTTPTransport(local_address=via)
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await client.post(
            gw.soap_url,
            content=wc.build_envelope("authenticate", (user, password)),
            headers={"X-Forwarded-For": forwarded_for},
        )
    return wc.read_strings("authenticate", answer.content)[1]


async def test_failures_through_the_proxy_do_not_lock_out_another_web_connector(
    gw: Gateway,
) -> None:
    victim = await new_tenant(gw.sessions)
    for n in range(FAILURES):
        await _authenticate(gw, f"nobody{n}", "wrong", via=PROXY, forwarded_for="203.0.113.9")
    assert (
        await _authenticate(gw, "nobody0", "wrong", via=PROXY, forwarded_for="203.0.113.9") == "nvu"
    )
    answer = await _authenticate(
        gw, victim.qbwc_username, victim.qbwc_password, via=PROXY, forwarded_for="198.51.100.7"
    )
    assert answer != "nvu", "a correct password was refused because of another's failures"


async def test_a_forged_header_from_anyone_else_changes_nothing(gw: Gateway) -> None:
    victim = await new_tenant(gw.sessions)
    for n in range(FAILURES):
        # a new forged address each time: counted against the real one all the same
        await _authenticate(
            gw, f"nobody{n}", "wrong", via=STRANGER, forwarded_for=f"203.0.113.{n + 1}"
        )
    answer = await _authenticate(
        gw, victim.qbwc_username, victim.qbwc_password, via=STRANGER, forwarded_for="198.51.100.7"
    )
    assert answer == "nvu"
