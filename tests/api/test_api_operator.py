"""Operators through HTTP: connection health (per tenant, every tenant stale first), tenant
disable/enable/delete, and Cin7 credentials tested against the Cin7 simulator."""

from __future__ import annotations

from sqlmodel import select

from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import OutboxItem, Tenant
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from tests.api.api_helpers import deliver, new_person, signed_in
from tests.api.conftest import Cin7Sim
from tests.gateway.gateway_helpers import (
    Gateway,
    company_for,
    invoice,
    new_tenant,
    tenant_row,
    web_connector,
)


async def test_health_disable_enable_and_delete(gateway: Gateway) -> None:
    acme = await new_tenant(gateway.sessions, "Acme Trading")
    quiet = await new_tenant(gateway.sessions, "Quiet Co")
    qb = QuickBooksSimulator()
    path = company_for(qb, await tenant_row(gateway.sessions, acme.tenant_id))
    await deliver(gateway.sessions, invoice(acme.tenant_id, 1))
    operator = await new_person(gateway.sessions, "operator")
    bookkeeper = await new_person(gateway.sessions, "bookkeeper", [acme.tenant_id])
    async with signed_in(gateway, operator) as client:
        approved = await client.post(
            f"/tenants/{acme.tenant_id}/entries/approve", json={"all_ready": True}
        )
        assert len(approved.json()["approved"]) == 1
        report = await web_connector(gateway, acme, qb, path).run_session()
        assert report.completed, report.summary()

        health = (await client.get(f"/tenants/{acme.tenant_id}/health")).json()
        assert health["stale"] is False and health["last_run"]["outcome"] == "finished"
        assert health["quickbooks"]["company_file"] == path
        # Product, version and country as QuickBooks reported them in its HostRet.
        edition = qb.company(path).edition
        assert health["quickbooks"]["product"] == edition.product_name
        assert health["quickbooks"]["version"].startswith(f"{edition.major_version}.")
        assert health["quickbooks"]["country"] == "US"
        assert health["queue"]["posted"] == 1
        assert health["error_rate_24h"] == 0.0 and health["results_24h"] == 1
        everyone = (await client.get("/health")).json()["tenants"]
        assert [t["name"] for t in everyone] == ["Quiet Co", "Acme Trading"]
        assert everyone[0]["stale_reason"] == "the Web Connector has never connected"

        disabled = await client.post(
            f"/tenants/{acme.tenant_id}/disable", json={"reason": "invoice unpaid"}
        )
        assert disabled.json()["active"] is False
        assert disabled.json()["disabled_reason"] == "invoice unpaid"
        refused = await web_connector(gateway, acme, qb, path).run_session()
        assert refused.auth_status == "nvu", refused.summary()
        enabled = await client.post(f"/tenants/{acme.tenant_id}/enable")
        assert enabled.json()["active"] is True
        again = await web_connector(gateway, acme, qb, path).run_session()
        assert again.auth_status == "none", again.summary()  # nothing left to send

        wrong = await client.delete(f"/tenants/{quiet.tenant_id}", params={"confirm": "quiet"})
        assert wrong.status_code == 409 and "'Quiet Co'" in wrong.json()["detail"]
        deleted = await client.delete(
            f"/tenants/{acme.tenant_id}", params={"confirm": "Acme Trading"}
        )
        assert deleted.status_code == 200 and deleted.json()["rows_deleted"] >= 3
        assert (await client.get(f"/tenants/{acme.tenant_id}")).status_code == 404
    async with unit_of_work(gateway.sessions) as db:
        assert await db.get(Tenant, acme.tenant_id) is None
        left = (
            await db.exec(select(OutboxItem).where(OutboxItem.tenant_id == acme.tenant_id))
        ).all()
        assert left == []
        assert await db.get(Tenant, quiet.tenant_id) is not None
    # The bookkeeper of the deleted tenant sees nothing, and may not manage tenants anyway.
    async with signed_in(gateway, bookkeeper) as client:
        assert (await client.get("/me")).json()["tenants"] == []
        assert (await client.post(f"/tenants/{quiet.tenant_id}/disable")).status_code == 404
        assert (await client.get("/health")).status_code == 403


async def test_cin7_credentials_are_tested_in_words(gateway: Gateway, cin7: Cin7Sim) -> None:
    tenant = await new_tenant(gateway.sessions)
    bookkeeper = await new_person(gateway.sessions, "bookkeeper", [tenant.tenant_id])
    username, api_key = cin7.account()
    url = f"/tenants/{tenant.tenant_id}/cin7/test"
    async with signed_in(gateway, bookkeeper) as client:
        nothing = (await client.post(url)).json()
        assert nothing["ok"] is False and "No Cin7 Omni credentials" in nothing["message"]
        bad = {"username": username, "api_key": "wrong-key", "base_url": cin7.base_url}
        refused = (await client.post(url, json={"credentials": bad, "save": True})).json()
        assert refused["ok"] is False and refused["status_code"] == 401
        for garbled in ("http://[::1", "http://localhost:99999"):
            given = {**bad, "base_url": garbled}
            unusable = await client.post(url, json={"credentials": given, "save": True})
            # refused in words before anything is called (the allow-list), never a 500
            assert unusable.status_code == 422, unusable.text
            assert "not a usable web address" in unusable.json()["detail"]
        assert "refused the API user" in refused["message"]
        assert (await client.get(f"/tenants/{tenant.tenant_id}")).json()["cin7_username"] is None
        good = {**bad, "api_key": api_key}
        saved = (await client.post(url, json={"credentials": good, "save": True})).json()
        assert saved == {
            "ok": True,
            "status_code": 200,
            "message": f"Cin7 Omni accepted the API user {username!r} and its key.",
        }
        view = (await client.get(f"/tenants/{tenant.tenant_id}")).json()
        assert view["cin7_username"] == username
        assert (await client.post(url)).json()["ok"] is True
        audit = (await client.get(f"/tenants/{tenant.tenant_id}/audit")).json()["items"]
        assert audit[0]["action"] == "tenant.cin7_credentials_set"


async def test_nul_characters_are_refused_in_words_on_every_route(gateway: Gateway) -> None:
    """PostgreSQL cannot store U+0000: refused at the door (422), never a server error."""
    acme = await new_tenant(gateway.sessions, "Acme Trading")
    operator = await new_person(gateway.sessions, "operator")
    async with signed_in(gateway, operator) as client:
        in_body = await client.post(
            f"/tenants/{acme.tenant_id}/disable", json={"reason": "unpaid\u0000"}
        )
        in_query = await client.get(f"/tenants/{acme.tenant_id}/entries", params={"q": "a\x00"})
        for refused in (in_body, in_query):
            assert refused.status_code == 422, refused.text
            assert "NUL character" in refused.json()["detail"]
        assert (await tenant_row(gateway.sessions, acme.tenant_id)).active is True
