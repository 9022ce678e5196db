"""Sign-in through the HTTP API: tokens, /me, expiry, revocation, throttling, disabling."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from omni2qbd_gateway.workflow.users import disable_user, reset_password
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import utcnow
from omni2qbd_shared.db.people import ApiToken
from tests.api.api_helpers import api_client, new_person, sign_in
from tests.gateway.gateway_helpers import Gateway, new_tenant


async def test_sign_in_me_and_revoke(gateway: Gateway) -> None:
    acme = await new_tenant(gateway.sessions, "Acme Trading")
    await new_tenant(gateway.sessions, "Other Co")
    person = await new_person(gateway.sessions, "bookkeeper", [acme.tenant_id])
    async with api_client(gateway) as anonymous:
        response = await anonymous.post(
            "/auth/token", json={"email": person.email.upper(), "password": person.password}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == gateway.settings.api_token_ttl_seconds
        token = body["access_token"]
        assert (await anonymous.get("/me")).status_code == 401
    async with api_client(gateway, token) as client:
        me = (await client.get("/me")).json()
        assert me["email"] == person.email and me["is_operator"] is False
        assert [(t["tenant_id"], t["role"]) for t in me["tenants"]] == [
            (acme.tenant_id, "bookkeeper")
        ]
        assert (await client.post("/auth/revoke")).json() == {"revoked": True}
        refused = await client.get("/me")
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]


async def test_operator_sees_every_tenant(gateway: Gateway) -> None:
    names = {"Acme Trading", "Other Co"}
    for name in names:
        await new_tenant(gateway.sessions, name)
    operator = await new_person(gateway.sessions, "operator")
    async with api_client(gateway) as anonymous:
        token = await sign_in(anonymous, operator)
    async with api_client(gateway, token) as client:
        me = (await client.get("/me")).json()
    assert me["is_operator"] is True
    assert {t["name"] for t in me["tenants"]} == names
    assert {t["role"] for t in me["tenants"]} == {"operator"}


async def test_expired_token_disabled_user_and_reset_password_are_refused(
    gateway: Gateway,
) -> None:
    operator = await new_person(gateway.sessions, "operator")
    async with api_client(gateway) as anonymous:
        first = await sign_in(anonymous, operator)
        second = await sign_in(anonymous, operator)
    async with unit_of_work(gateway.sessions) as db:
        # Time passes for the first token only.
        await db.exec(
            update(ApiToken)
            .where(col(ApiToken.token_hash) == hashlib.sha256(first.encode()).hexdigest())
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    async with api_client(gateway, first) as client:
        assert (await client.get("/me")).status_code == 401
    async with api_client(gateway, second) as client:
        assert (await client.get("/me")).status_code == 200
    async with unit_of_work(gateway.sessions) as db:
        renewed = await reset_password(db, operator.email, actor="test")
    async with api_client(gateway, second) as client:
        assert (await client.get("/me")).status_code == 401
    async with api_client(gateway) as anonymous:
        old = await anonymous.post(
            "/auth/token", json={"email": operator.email, "password": operator.password}
        )
        assert old.status_code == 401
        new = await anonymous.post(
            "/auth/token", json={"email": operator.email, "password": renewed.password}
        )
        assert new.status_code == 200
        token = new.json()["access_token"]
    async with unit_of_work(gateway.sessions) as db:
        await disable_user(db, operator.email, actor="test")
    async with api_client(gateway, token) as client:
        assert (await client.get("/me")).status_code == 401
    async with api_client(gateway) as anonymous:
        disabled = await anonymous.post(
            "/auth/token", json={"email": operator.email, "password": renewed.password}
        )
        assert disabled.status_code == 401
        assert disabled.json()["detail"] == "wrong e-mail or password"


async def test_failed_sign_ins_are_throttled_with_a_refusal(gateway: Gateway) -> None:
    person = await new_person(gateway.sessions, "operator")
    limit = gateway.settings.login_max_per_account_at_address
    async with api_client(gateway) as anonymous:
        for _ in range(limit):
            wrong = await anonymous.post(
                "/auth/token", json={"email": person.email, "password": "guess"}
            )
            assert wrong.status_code == 401
        refused = await anonymous.post(
            "/auth/token", json={"email": person.email, "password": person.password}
        )
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert "too many failed sign-ins" in refused.json()["detail"]
        # Another account from the same address is not affected.
        other = await new_person(gateway.sessions, "operator")
        assert await sign_in(anonymous, other)


async def test_openapi_document_is_served(gateway: Gateway) -> None:
    async with api_client(gateway) as anonymous:
        response = await anonymous.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/auth/token", "/auth/revoke", "/me"} <= set(paths)
