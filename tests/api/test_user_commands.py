"""``omni2qbd user create|list|disable|reset-password`` against a migrated database."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from omni2qbd.cli import app as cli


@pytest.fixture
def env(sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:

    monkeypatch.setenv("OMNI2QBD_DATABASE_URL", sqlite_database_url)
    return sqlite_database_url


def test_user_commands(env: str) -> None:
    runner = CliRunner()
    tenant = json.loads(
        runner.invoke(cli, ["tenant", "create", "--name", "Acme Trading", "--json"]).output
    )
    created = runner.invoke(
        cli,
        ["user", "create", "--email", "Pat@Example.com", "--role", "bookkeeper",
         "--tenant", "Acme Trading", "--json"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    user = json.loads(created.output)
    assert set(user) == {"user_id", "email", "password"}
    assert user["email"] == "pat@example.com" and len(user["password"]) >= 16

    operator = runner.invoke(
        cli, ["user", "create", "--email", "ops@example.com", "--role", "operator"]
    )
    assert operator.exit_code == 0 and "password:" in operator.output

    duplicate = runner.invoke(
        cli, ["user", "create", "--email", "pat@example.com", "--role", "viewer", "--tenant",
              tenant["tenant_id"]],
    )  # fmt: skip
    assert duplicate.exit_code == 2 and "already exists" in duplicate.output
    no_tenant = runner.invoke(
        cli, ["user", "create", "--email", "v@example.com", "--role", "viewer"]
    )
    assert no_tenant.exit_code == 2 and "--tenant" in no_tenant.output
    unknown = runner.invoke(
        cli, ["user", "create", "--email", "v@example.com", "--role", "viewer", "--tenant", "Nope"]
    )
    assert unknown.exit_code == 2 and "no tenant 'Nope'" in unknown.output

    listed = json.loads(runner.invoke(cli, ["user", "list", "--json"]).output)
    assert [(u["email"], u["role"], u["disabled"]) for u in listed] == [
        ("ops@example.com", "operator", False),
        ("pat@example.com", "bookkeeper", False),
    ]
    assert listed[1]["tenants"] == {tenant["tenant_id"]: "bookkeeper"}

    reset = runner.invoke(cli, ["user", "reset-password", "pat@example.com", "--json"])
    assert reset.exit_code == 0
    assert json.loads(reset.output)["password"] != user["password"]

    assert runner.invoke(cli, ["user", "disable", user["user_id"]]).exit_code == 0
    listed = json.loads(runner.invoke(cli, ["user", "list", "--json"]).output)
    assert listed[1]["disabled"] is True
    missing = runner.invoke(cli, ["user", "disable", "nobody@example.com"])
    assert missing.exit_code == 2 and "no user" in missing.output
