"""Sessions end when they should (issue 16 points 4, 5 and 9).

- a password rotation, a disabled tenant and ``omni2qbd tenant end-sessions`` end live
  sessions at once; a closed or expired ticket answers nothing of the tenant; tickets are
  stored as hashes; polling getLastError keeps nothing alive;
- login failures are refused past the limit (no sleep), per account at an address, and a
  correct password from elsewhere still gets in;
- after a crash, the same Web Connector logging in again takes its idle session over and its
  unanswered writes are resolved first; another Web Connector still gets ``busy``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from omni2qbd.cli import app as cli
from omni2qbd_gateway.protocol import EXPIRED_TICKET
from omni2qbd_gateway.repository import ticket_key
from omni2qbd_gateway.session import end_tenant_sessions
from omni2qbd_gateway.tenants import rotate_password
from omni2qbd_gateway.workflow.tenant_admin import set_active
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.migrate import upgrade
from omni2qbd_shared.db.models import QbwcSession
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.webconnector import soap as wc
from tests.conftest import run_blocking
from tests.gateway.gateway_helpers import (
    Gateway,
    GatewayTenant,
    add_entries,
    invoice,
    new_tenant,
    open_tenant,
    outbox_states,
    web_connector,
)

OTHER_MACHINE = "127.0.0.2"


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {"gateway_takeover_after_seconds": 0}


async def call(gw: Gateway, operation: str, *values: str | int, source: str | None = None) -> bytes:
    transport = httpx.AsyncHTTPTransport(local_address=source) if source else None
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await client.post(gw.soap_url, content=wc.build_envelope(operation, values))
    assert answer.status_code == 200, answer.text
    return answer.content


async def _open_session(gw: Gateway) -> tuple[str, str, str, QuickBooksSimulator, str]:
    """A tenant with an approved invoice and a live session that fetched its first set."""
    _gw, tenant, qb, path = await open_tenant(gw)
    await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 1)])
    auth = wc.read_strings(
        "authenticate", await call(gw, "authenticate", tenant.qbwc_username, tenant.qbwc_password)
    )
    assert auth[1] == "", auth
    hcp = qb.company(path).hcp_response()
    first = wc.read_string(
        "sendRequestXML", await call(gw, "sendRequestXML", auth[0], hcp, path, "US", 13, 0)
    )
    assert "CustomerQueryRq" in first
    return tenant.tenant_id, tenant.qbwc_username, auth[0], qb, path


async def _ended_ticket_answers_nothing(gw: Gateway, ticket: str, path: str) -> None:
    again = wc.read_string(
        "sendRequestXML", await call(gw, "sendRequestXML", ticket, "", path, "US", 13, 0)
    )
    assert again == ""
    assert wc.read_string("getLastError", await call(gw, "getLastError", ticket)) == (
        EXPIRED_TICKET
    )
    closing = wc.read_string("closeConnection", await call(gw, "closeConnection", ticket))
    assert "posted" not in closing and "Done" not in closing


async def test_password_rotation_ends_the_live_session_at_once(gw: Gateway) -> None:
    tenant_id, _user, ticket, _qb, path = await _open_session(gw)
    async with unit_of_work(gw.sessions) as db:
        await rotate_password(db, tenant_id, actor="test")
    await _ended_ticket_answers_nothing(gw, ticket, path)


async def test_ending_a_tenants_sessions_answers_nothing_on_the_old_ticket(gw: Gateway) -> None:
    tenant_id, _user, ticket, _qb, path = await _open_session(gw)
    async with unit_of_work(gw.sessions) as db:
        assert await end_tenant_sessions(db, tenant_id, "tenant disabled") == 1
    await _ended_ticket_answers_nothing(gw, ticket, path)


async def test_disabling_a_tenant_ends_its_live_session_at_once(gw: Gateway) -> None:
    # What the API's and the console's "disable" call: the open session must not go on
    # fetching sets after the tenant is disabled.
    tenant_id, _user, ticket, _qb, path = await _open_session(gw)
    async with unit_of_work(gw.sessions) as db:
        await set_active(db, tenant_id, active=False, actor="operator", reason="unpaid")
    await _ended_ticket_answers_nothing(gw, ticket, path)


async def test_tickets_are_stored_as_hashes(gw: Gateway) -> None:
    tenant_id, _user, ticket, _qb, _path = await _open_session(gw)
    async with gw.sessions() as db:
        stored = [row.ticket for row in (await db.exec(scoped(QbwcSession, tenant_id))).all()]
    assert len(stored) == 1 and stored[0] != ticket and ticket not in stored[0]


async def test_polling_get_last_error_keeps_no_session_alive(gw: Gateway) -> None:
    tenant_id, _user, ticket, _qb, _path = await _open_session(gw)
    async with gw.sessions() as db:
        before = (await db.exec(scoped(QbwcSession, tenant_id))).one().last_seen_at
    for _ in range(3):
        await call(gw, "getLastError", ticket)
    async with gw.sessions() as db:
        after = (await db.exec(scoped(QbwcSession, tenant_id))).one().last_seen_at
    assert after == before


def test_end_sessions_command(sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI2QBD_DATABASE_URL", sqlite_database_url)
    sessions = session_factory(create_engine(sqlite_database_url))

    async def live_session() -> str:
        tenant = await new_tenant(sessions)
        async with unit_of_work(sessions) as db:
            db.add(QbwcSession(ticket="f" * 64, tenant_id=tenant.tenant_id))
        return tenant.tenant_id

    tenant_id = run_blocking(live_session())
    runner = CliRunner()
    ended = runner.invoke(cli, ["tenant", "end-sessions", tenant_id, "--json"])
    assert ended.exit_code == 0, ended.output
    assert json.loads(ended.output) == {"tenant_id": tenant_id, "sessions_ended": 1}
    again = runner.invoke(cli, ["tenant", "end-sessions", tenant_id])
    assert again.exit_code == 0 and "ended 0" in again.output
    unknown = runner.invoke(cli, ["tenant", "end-sessions", "no-such-tenant"])
    assert unknown.exit_code == 2 and "no tenant" in unknown.output


async def test_login_failures_are_refused_not_slowed_and_spare_other_addresses(
    gw: Gateway,
) -> None:
    tenant = await new_tenant(gw.sessions)
    for _ in range(5):
        answer = wc.read_strings(
            "authenticate", await call(gw, "authenticate", tenant.qbwc_username, "wrong")
        )
        assert answer[1] == "nvu" and len(answer) == 4
    # Past the limit the attempt is refused before its password is checked, even a right one.
    refused = wc.read_strings(
        "authenticate", await call(gw, "authenticate", tenant.qbwc_username, tenant.qbwc_password)
    )
    assert refused[1] == "nvu"
    # The owner, from their own machine, is not locked out by someone else's guesses.
    owner = wc.read_strings(
        "authenticate",
        await call(
            gw, "authenticate", tenant.qbwc_username, tenant.qbwc_password, source=OTHER_MACHINE
        ),
    )
    assert owner[1] in ("", "none") and len(owner[0]) >= 32


async def test_same_web_connector_after_a_crash_takes_its_session_over(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    ids = await add_entries(
        gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, n) for n in (1, 2)]
    )
    # Set 1 is the lists, set 2 the writes: QuickBooks posts them, the answer never arrives.
    crashed = await web_connector(gw, tenant, qb, path, drop_connection_after_set=2).run_session()
    assert crashed.dropped

    # Another machine is refused while the session may still be live...
    other = await web_connector(gw, tenant, qb, path, local_address=OTHER_MACHINE).run_session()
    assert other.auth_status == "busy"
    # ...the same Web Connector takes it over, resolves the lost answer first, posts once.
    again = await web_connector(gw, tenant, qb, path).run_session()
    assert again.auth_status == "" and again.completed, again.summary()
    assert "oldMessageSetID" in again.request_sets[0]
    assert not any("InvoiceAddRq" in s for s in again.request_sets)
    company = qb.company(path)
    assert company.count_by_ref_number("INV1", "Invoice") == 1
    assert company.count_by_ref_number("INV2", "Invoice") == 1
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert {states[i].state for i in ids} == {"posted"}


def test_migration_0006_hashes_the_tickets_of_existing_sessions(sqlite_url: str) -> None:
    """A session live during the upgrade keeps working: its stored ticket becomes the hash
    the gateway looks up."""

    upgrade(sqlite_url, "0005")
    sessions = session_factory(create_engine(sqlite_url))
    clear = "a" * 64

    async def before() -> str:
        tenant = await new_tenant(sessions)
        async with unit_of_work(sessions) as db:
            await (await db.connection()).execute(
                text(
                    "INSERT INTO qbwc_sessions (ticket, tenant_id, state, expected_call, phase,"
                    " progress, plan, created_at, last_seen_at) VALUES (:t, :tenant,"
                    " 'authenticated', 'sendRequestXML', 'start', 0, '{}', CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP)"
                ).bindparams(t=clear, tenant=tenant.tenant_id)
            )
        return tenant.tenant_id

    tenant_id = run_blocking(before())
    upgrade(sqlite_url, "head")

    async def after() -> list[str]:
        async with sessions() as db:
            return [row.ticket for row in (await db.exec(scoped(QbwcSession, tenant_id))).all()]

    assert run_blocking(after()) == [ticket_key(clear)]
