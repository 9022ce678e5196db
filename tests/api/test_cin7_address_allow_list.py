"""A tenant's Cin7 address is a host on OMNI2QBD_CIN7_ALLOWED_HOSTS or nothing (SSRF).

The "Cin7" here is a real HTTP server that records every request it gets: a refused address
must never be contacted, through the API (test, save, saved credentials) or the CLI
(tenant create, tenant set-cin7); the same address, once allowed, is contacted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from typer.testing import CliRunner

from omni2qbd.cli import app as cli
from omni2qbd_gateway.tenants import set_cin7_credentials
from omni2qbd_shared.config import PLACEHOLDER_SECRET_KEY
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.messaging import Topology
from tests.api.api_helpers import new_person, signed_in
from tests.counting_cin7 import Recorder
from tests.gateway.gateway_helpers import Gateway, new_tenant, running_gateway


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with Recorder.serving() as server:
        yield server


@pytest.fixture
async def default_gateway(
    database_url: str, amqp_url: str, topology: Topology
) -> AsyncIterator[Gateway]:
    # The production default: only the real Cin7 Omni API host.
    async with running_gateway(
        database_url, amqp_url, topology.namespace, cin7_allowed_hosts=["api.cin7.com"]
    ) as running:
        yield running


async def test_api_refuses_an_unlisted_cin7_address_without_contacting_it(
    default_gateway: Gateway, recorder: Recorder
) -> None:
    gateway = default_gateway
    tenant = await new_tenant(gateway.sessions)
    bookkeeper = await new_person(gateway.sessions, "bookkeeper", [tenant.tenant_id])
    url = f"/tenants/{tenant.tenant_id}/cin7/test"
    port = recorder.server_address[1]
    addresses = [
        recorder.url,
        f"http://localhost:{port}/api/",
        f"http://api.cin7.com@127.0.0.1:{port}/api/",  # a user name that looks like the host
        f"http://api.cin7.com.127.0.0.1.nip.io:{port}/api/",
    ]
    async with signed_in(gateway, bookkeeper) as client:
        for address in addresses:
            given = {"username": "u", "api_key": "k", "base_url": address}
            for save in (False, True):
                answer = await client.post(url, json={"credentials": given, "save": save})
                assert answer.status_code == 422, (address, answer.text)
                detail = answer.json()["detail"]
                assert "was refused" in detail and "not a Cin7 Omni API host" in detail
                assert "OMNI2QBD_CIN7_ALLOWED_HOSTS" in detail
        assert (await client.get(f"/tenants/{tenant.tenant_id}")).json()["cin7_base_url"] is None

        # An address stored before the allow-list existed is not called either.
        async with unit_of_work(gateway.sessions) as db:
            await set_cin7_credentials(
                db,
                tenant.tenant_id,
                secret_key=PLACEHOLDER_SECRET_KEY,
                username="u",
                api_key="k",
                base_url=recorder.url,
                actor="test",
            )
        saved = await client.post(url)
        assert saved.status_code == 422 and "was refused" in saved.json()["detail"]
    assert recorder.hits == []


async def test_an_allowed_address_is_contacted(
    database_url: str, amqp_url: str, topology: Topology, recorder: Recorder
) -> None:
    """The same server, allowed by host and port, gets the check: the recorder sees requests."""
    async with running_gateway(
        database_url,
        amqp_url,
        topology.namespace,
        cin7_allowed_hosts=["api.cin7.com", f"127.0.0.1:{recorder.server_address[1]}"],
    ) as gateway:
        tenant = await new_tenant(gateway.sessions)
        bookkeeper = await new_person(gateway.sessions, "bookkeeper", [tenant.tenant_id])
        given = {"username": "u", "api_key": "k", "base_url": recorder.url}
        async with signed_in(gateway, bookkeeper) as client:
            answer = await client.post(
                f"/tenants/{tenant.tenant_id}/cin7/test", json={"credentials": given}
            )
        assert answer.status_code == 200 and answer.json()["ok"] is True, answer.text
    assert [hit.split("?")[0] for hit in recorder.hits] == ["/api/v1/Contacts"]


def test_cli_refuses_an_unlisted_cin7_address_at_create_and_set(
    sqlite_database_url: str, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNI2QBD_DATABASE_URL", sqlite_database_url)
    monkeypatch.setenv("OMNI2QBD_SECRET_KEY", "a-test-secret-key-that-is-long-enough-0123456789")
    monkeypatch.delenv("OMNI2QBD_CIN7_ALLOWED_HOSTS", raising=False)
    runner = CliRunner()
    given = ["--cin7-base-url", recorder.url, "--cin7-username", "u", "--cin7-api-key-stdin"]
    for extra in ([], ["--skip-cin7-check"]):  # refused even unchecked: it would be stored
        created = runner.invoke(
            cli, ["tenant", "create", "--name", "Acme", *given, *extra], input="k\n"
        )
        assert created.exit_code == 2, created.output
        assert "was refused" in created.output and "nothing was saved" in created.output
    assert runner.invoke(cli, ["tenant", "list", "--json"]).output.strip() == "[]"
    assert runner.invoke(cli, ["tenant", "create", "--name", "Acme"]).exit_code == 0
    changed = runner.invoke(
        cli,
        ["tenant", "set-cin7", "Acme", "--username", "u", "--base-url", recorder.url],
        input="k\n",
    )
    assert changed.exit_code == 2 and "was refused" in changed.output
    assert recorder.hits == []

    # Allowed explicitly by the operator, the same address is called.
    monkeypatch.setenv("OMNI2QBD_CIN7_ALLOWED_HOSTS", "api.cin7.com, 127.0.0.1")
    changed = runner.invoke(
        cli,
        ["tenant", "set-cin7", "Acme", "--username", "u", "--base-url", recorder.url],
        input="k\n",
    )
    assert changed.exit_code == 0, changed.output
    assert len(recorder.hits) == 1
