"""``omni2qbd approve``, ``omni2qbd status``, ``omni2qbd qwc`` and the console .qwc endpoint."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import pytest
from lxml import etree
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from omni2qbd.cli import app as cli
from omni2qbd_gateway.qwc import OWNER_ID
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.db.models import AuditLog
from omni2qbd_shared.messaging import Topology
from tests.conftest import run_blocking
from tests.gateway.gateway_helpers import (
    add_entries,
    invoice,
    new_tenant,
    outbox_states,
    running_gateway,
    tenant_row,
)


@pytest.fixture
def env(sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OMNI2QBD_DATABASE_URL", sqlite_database_url)
    monkeypatch.setenv("OMNI2QBD_GATEWAY_PUBLIC_URL", "https://bridge.example.com")
    return sqlite_database_url


def sessions_for(url: str) -> async_sessionmaker[AsyncSession]:
    return session_factory(create_engine(url))


def test_approve_status_and_qwc_commands(env: str) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["tenant", "create", "--name", "Cli Trading", "--json"])
    assert created.exit_code == 0, created.output
    tenant = json.loads(created.output)
    sessions = sessions_for(env)
    ids = run_blocking(
        add_entries(
            sessions,
            tenant["tenant_id"],
            [invoice(tenant["tenant_id"], n) for n in (1, 2, 3)],
            approved_by=None,
        )
    )

    neither = runner.invoke(cli, ["approve", tenant["tenant_id"]])
    assert neither.exit_code == 2 and "--all" in neither.output

    one = runner.invoke(cli, ["approve", "Cli Trading", ids[0], "--by", "Robin Reviewer"])
    assert one.exit_code == 0, one.output
    rest = runner.invoke(
        cli, ["approve", tenant["qbwc_username"], "--all", "--by", "Sam Lead", "--json"]
    )
    assert json.loads(rest.output)["approved"] == sorted(ids[1:])
    again = runner.invoke(cli, ["approve", "Cli Trading", ids[0], "--by", "Sam Lead"])
    assert again.exit_code == 1 and "only ready entries can be approved" in again.output

    states = run_blocking(outbox_states(sessions, tenant["tenant_id"]))
    assert states[ids[0]].approved_by == "Robin Reviewer"
    assert {states[i].approved_by for i in ids[1:]} == {"Sam Lead"}
    assert all(states[i].approved_at is not None for i in ids)

    async def audit() -> list[AuditLog]:
        async with sessions() as db:
            return list(
                (await db.exec(select(AuditLog).where(AuditLog.action == "entries.approved"))).all()
            )

    actors = sorted(row.actor for row in run_blocking(audit()))
    assert actors == ["Robin Reviewer", "Sam Lead"]

    status = runner.invoke(cli, ["status", "Cli Trading", "--all", "--json"])
    rows = json.loads(status.output)
    assert {r["state"] for r in rows} == {"approved"} and len(rows) == 3
    text = runner.invoke(cli, ["status", "Cli Trading", "--all"]).output
    assert "APPROVED (3)" in text and "INV1" in text
    summary = json.loads(runner.invoke(cli, ["status", "--json"]).output)
    assert summary["by_state"]["approved"] == 3 and summary["needs_a_person"] == []

    qwc = runner.invoke(cli, ["qwc", "Cli Trading"])
    assert qwc.exit_code == 0, qwc.output
    root = etree.fromstring(qwc.output.encode())
    row = run_blocking(tenant_row(sessions, tenant["tenant_id"]))
    assert root.tag == "QBWCXML"
    assert root.findtext("AppURL") == "https://bridge.example.com/qbwc"
    assert urlsplit(root.findtext("AppSupport") or "").hostname == "bridge.example.com"
    assert root.findtext("UserName") == tenant["qbwc_username"]
    assert root.findtext("OwnerID") == OWNER_ID
    assert root.findtext("FileID") == row.qb_file_id
    assert root.findtext("QBType") == "QBFS"
    assert root.findtext("AuthFlags") == "0xF"
    assert int(root.findtext("Scheduler/RunEveryNMinutes") or "0") >= 1
    assert root.findtext("AppName") and root.findtext("AppDescription")


def test_qwc_refuses_a_plain_http_public_url(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    created = json.loads(
        runner.invoke(cli, ["tenant", "create", "--name", "Http Co", "--json"]).output
    )
    monkeypatch.setenv("OMNI2QBD_GATEWAY_PUBLIC_URL", "http://bridge.example.com")
    result = runner.invoke(cli, ["qwc", created["tenant_id"]])
    assert result.exit_code == 2 and "https" in result.output


async def test_console_qwc_endpoint_serves_only_the_logged_in_tenant(
    sqlite_database_url: str, amqp_url: str, topology: Topology
) -> None:
    async with running_gateway(sqlite_database_url, amqp_url, topology.namespace) as gw:
        a = await new_tenant(gw.sessions, "Alpha")
        b = await new_tenant(gw.sessions, "Beta")
        async with httpx.AsyncClient() as client:
            url = f"{gw.url}/console/tenants/{a.tenant_id}/qwc"
            own = await client.get(url, auth=(a.qbwc_username, a.qbwc_password))
            assert own.status_code == 200
            assert own.headers["content-type"].startswith("application/x-qwc")
            root = etree.fromstring(own.content)
            assert root.findtext("UserName") == a.qbwc_username
            assert (
                root.findtext("FileID") == (await tenant_row(gw.sessions, a.tenant_id)).qb_file_id
            )
            other = await client.get(url, auth=(b.qbwc_username, b.qbwc_password))
            assert other.status_code == 404 and a.qbwc_username not in other.text
            assert (await client.get(url)).status_code == 401
            assert (await client.get(url, auth=(a.qbwc_username, "wrong"))).status_code == 401
