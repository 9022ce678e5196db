"""The fetcher's control API is not open to whoever reaches the port (issue 13, point 3)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from omni2qbd_fetcher.app import create_app
from omni2qbd_shared.config import AppSettings

SECRET = "test-secret-key-that-is-long-enough-for-production"
TOKEN = "operator-token-0123456789"
PATHS = [
    ("GET", "/tenants"),
    ("GET", "/tenants/t-1/status"),
    ("POST", "/tenants/t-1/refresh"),
    ("POST", "/tenants/t-1/supplier-credit-notes"),
]


async def call(
    settings: AppSettings, method: str, path: str, *, client_host: str, token: str | None = None
) -> httpx.Response:
    # The app's lifespan is not run: the API answers 503 "still starting" once let through.
    transport = httpx.ASGITransport(app=create_app(settings), client=(client_host, 40000))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://fetcher") as http:
        return await http.request(method, path, headers=headers)


@pytest.mark.parametrize(("method", "path"), PATHS)
async def test_without_a_token_only_this_machine_is_answered(method: str, path: str) -> None:
    settings = AppSettings(environment="test", secret_key=SecretStr(SECRET))
    remote = await call(settings, method, path, client_host="203.0.113.9")
    assert remote.status_code == 403
    assert "OMNI2QBD_FETCHER_API_TOKEN" in remote.json()["detail"]
    local = await call(settings, method, path, client_host="127.0.0.1")
    assert local.status_code not in (401, 403)


@pytest.mark.parametrize(("method", "path"), PATHS)
async def test_with_a_token_every_caller_must_present_it(method: str, path: str) -> None:
    settings = AppSettings(
        environment="test", secret_key=SecretStr(SECRET), fetcher_api_token=SecretStr(TOKEN)
    )
    for host in ("127.0.0.1", "203.0.113.9"):
        assert (await call(settings, method, path, client_host=host)).status_code == 401
        wrong = await call(settings, method, path, client_host=host, token="guess")
        assert wrong.status_code == 401
        right = await call(settings, method, path, client_host=host, token=TOKEN)
        assert right.status_code not in (401, 403)


async def test_production_without_a_token_has_no_control_api_and_no_docs() -> None:
    settings = AppSettings(
        environment="production",
        secret_key=SecretStr(SECRET),
        amqp_url="amqp://omni2qbd:pw@127.0.0.1:5672/",
    )
    local = await call(settings, "GET", "/tenants", client_host="127.0.0.1")
    assert local.status_code == 403
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert (await call(settings, "GET", path, client_host="127.0.0.1")).status_code == 404
    development = AppSettings(environment="development")
    assert (await call(development, "GET", "/openapi.json", client_host="127.0.0.1")).is_success
