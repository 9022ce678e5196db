"""``omni2qbd tenant create`` tests Cin7 credentials before saving them; ``tenant set-cin7``
reads the key from standard input and saves only what Cin7 accepts. Also: the demo's people,
and a disabled tenant skipped by the fetcher."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from omni2qbd.cli import app as cli
from omni2qbd.demo.people import demo_people
from omni2qbd_fetcher.repository import tenants_to_sync
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_gateway.workflow import tenant_admin
from omni2qbd_gateway.workflow.users import list_users
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from tests.api.conftest import Cin7Sim
from tests.conftest import run_blocking

SECRET = "a-test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture
def env(sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OMNI2QBD_DATABASE_URL", sqlite_database_url)
    monkeypatch.setenv("OMNI2QBD_SECRET_KEY", SECRET)
    monkeypatch.setenv("OMNI2QBD_CIN7_ALLOWED_HOSTS", "api.cin7.com,127.0.0.1")  # + the simulator
    return sqlite_database_url


def test_cin7_credentials_are_tested_at_create_and_set(env: str, cin7: Cin7Sim) -> None:
    runner = CliRunner()
    username, api_key = cin7.account()
    base = ["--cin7-base-url", cin7.base_url, "--cin7-username", username]
    wrong = runner.invoke(
        cli, ["tenant", "create", "--name", "Acme", *base, "--cin7-api-key-stdin"], input="nope\n"
    )
    assert wrong.exit_code == 2
    assert "refused the API user" in wrong.output and "nothing was saved" in wrong.output
    assert json.loads(runner.invoke(cli, ["tenant", "list", "--json"]).output) == []

    created = runner.invoke(
        cli,
        ["tenant", "create", "--name", "Acme", *base, "--cin7-api-key-stdin", "--json"],
        input=f"{api_key}\n",
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["tenant_id"]

    refused = runner.invoke(
        cli,
        ["tenant", "set-cin7", "Acme", "--username", username, "--base-url", cin7.base_url],
        input="wrong-key\n",
    )
    assert refused.exit_code == 2 and "were not saved" in refused.output
    accepted = runner.invoke(
        cli,
        ["tenant", "set-cin7", "Acme", "--username", username, "--base-url", cin7.base_url],
        input=f"{api_key}\n",
    )
    assert accepted.exit_code == 0, accepted.output
    assert "accepted the API user" in accepted.output and "saved" in accepted.output
    unknown = runner.invoke(cli, ["tenant", "set-cin7", "Nope", "--username", "u"], input="k\n")
    assert unknown.exit_code == 2 and "no tenant 'Nope'" in unknown.output


def test_demo_people_and_a_disabled_tenant_is_not_fetched(env: str, cin7: Cin7Sim) -> None:

    username, api_key = cin7.account()

    async def scenario() -> None:
        engine = create_engine(env)
        sessions = session_factory(engine)
        try:
            async with unit_of_work(sessions) as db:
                made = await create_tenant(
                    db,
                    name="Demo Co",
                    secret_key=SECRET,
                    actor="test",
                    cin7_username=username,
                    cin7_api_key=api_key,
                    cin7_base_url=cin7.base_url,
                )
            first = await demo_people(sessions, made.tenant_id)
            second = await demo_people(sessions, made.tenant_id)
            assert [p.role for p in second] == ["operator", "bookkeeper"]
            assert [p.password for p in first] != [p.password for p in second]
            async with unit_of_work(sessions) as db:
                people = {u.email: u for u in await list_users(db)}
                assert len(people) == 2
                bookkeeper = people[second[1].email]
                assert bookkeeper.tenants == {made.tenant_id: "bookkeeper"}
                assert [t.tenant_id for t in await tenants_to_sync(db, SECRET)] == [made.tenant_id]
                await tenant_admin.set_active(db, made.tenant_id, active=False, actor="test")
            async with unit_of_work(sessions) as db:
                assert await tenants_to_sync(db, SECRET) == []
        finally:
            await engine.dispose()

    run_blocking(scenario())
