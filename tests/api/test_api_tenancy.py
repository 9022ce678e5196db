"""Every route of the gateway app refuses a request without a token, and a tenant's user
asking for another tenant's data (docs/design.md §8). The routes are read from the app itself, so a
route added later is checked without touching this test."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fastapi.routing
import httpx
from starlette.routing import BaseRoute, Mount

from omni2qbd_gateway.app import create_app
from tests.api.api_helpers import Person, api_client, deliver, new_person, sign_in
from tests.gateway.gateway_helpers import Gateway, invoice, new_tenant

# Answer without a person signed in, by design: health probes, the SOAP endpoint (it has its
# own sign-in, `authenticate`), sign-in itself, API docs, and the console's sign-in page and
# static files.
PUBLIC = {
    "/livez",
    "/readyz",
    "/metrics",
    "/qbwc",
    "/support",
    "/api/v1/auth/token",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/api/v1/docs/oauth2-redirect",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}
PUBLIC_PREFIXES = ("/console/login", "/console/static", "/static")
PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    def url(self, values: dict[str, str]) -> str:
        return PARAM.sub(lambda m: values.get(m.group(1), "x"), self.path)


def _contexts(routes: Sequence[BaseRoute]) -> Iterable[Any]:
    """Routes with the routers they were included from flattened (newer FastAPI keeps
    included routers lazily; ``iter_route_contexts`` is its public way to walk them)."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    return walk(routes) if walk is not None else routes


def endpoints(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[Endpoint]:
    for context in _contexts(routes):
        route = getattr(context, "original_route", context)
        if isinstance(route, Mount):
            yield from endpoints(getattr(route.app, "routes", route.routes), prefix + route.path)
            continue
        path = getattr(context, "path", None)
        for method in sorted(getattr(context, "methods", None) or ()):
            if path is not None and method not in ("HEAD", "OPTIONS"):
                yield Endpoint(method, prefix + path)


def all_endpoints(gateway: Gateway) -> list[Endpoint]:
    app = create_app(gateway.settings)
    found = sorted(set(endpoints(app.routes)), key=lambda e: (e.path, e.method))
    assert any(e.path.startswith("/api/v1/tenants/{tenant_id}") for e in found)
    return found


def is_public(endpoint: Endpoint) -> bool:
    return endpoint.path in PUBLIC or endpoint.path.startswith(PUBLIC_PREFIXES)


def refused(response: httpx.Response, api: bool) -> bool:
    if api:
        return response.status_code in (401, 403, 404)
    if response.is_redirect:
        return "login" in response.headers.get("location", "")
    return response.status_code in (401, 403, 404)


async def _call(client: httpx.AsyncClient, endpoint: Endpoint, url: str) -> httpx.Response:
    body: dict[str, object] | None = {} if endpoint.method in ("POST", "PUT", "PATCH") else None
    return await client.request(endpoint.method, url, json=body, follow_redirects=False)


async def test_every_route_refuses_without_a_token_and_across_tenants(gateway: Gateway) -> None:
    acme = await new_tenant(gateway.sessions, "Acme Trading")
    other = await new_tenant(gateway.sessions, "Other Co")
    acme_entry = await deliver(gateway.sessions, invoice(acme.tenant_id, 1))
    other_entry = await deliver(gateway.sessions, invoice(other.tenant_id, 2))
    bookkeeper: Person = await new_person(gateway.sessions, "bookkeeper", [acme.tenant_id])
    problems: list[str] = []
    checked = 0
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as plain:
        for endpoint in all_endpoints(gateway):
            if is_public(endpoint):
                continue
            api = endpoint.path.startswith("/api/v1")
            checked += 1
            # 1. Nobody signed in.
            url = endpoint.url({"tenant_id": other.tenant_id, "entry_id": other_entry})
            response = await _call(plain, endpoint, url)
            if not refused(response, api) or (api and response.status_code != 401):
                problems.append(f"no token: {endpoint.method} {url} -> {response.status_code}")
            # 2. Acme's bookkeeper, with Other Co's tenant id (and Other Co's entry). A fresh
            # token each time: one of the routes is the sign-out that revokes it.
            async with api_client(gateway) as anonymous:
                plain.headers["Authorization"] = f"Bearer {await sign_in(anonymous, bookkeeper)}"
            try:
                if "tenant_id" in endpoint.params:
                    response = await _call(plain, endpoint, url)
                    if not refused(response, api):
                        problems.append(
                            f"across tenants: {endpoint.method} {url} -> {response.status_code}"
                        )
                # 3. Acme's own tenant id with Other Co's entry id: not found, never B's data.
                if "tenant_id" in endpoint.params and "entry_id" in endpoint.params:
                    own = endpoint.url({"tenant_id": acme.tenant_id, "entry_id": other_entry})
                    response = await _call(plain, endpoint, own)
                    if response.status_code != 404 and api:
                        problems.append(
                            f"other tenant's entry: {endpoint.method} {own} -> "
                            f"{response.status_code}"
                        )
                # 4. Routes without a tenant in the path never show another tenant's data.
                if "tenant_id" not in endpoint.params:
                    response = await _call(plain, endpoint, endpoint.url({}))
                    if other.tenant_id in response.text or other.name in response.text:
                        problems.append(f"leak: {endpoint.method} {endpoint.path} shows Other Co")
            finally:
                plain.headers.pop("Authorization")
        # The same token does read its own tenant (so the refusals above are about tenancy).
        async with api_client(gateway) as anonymous:
            plain.headers["Authorization"] = f"Bearer {await sign_in(anonymous, bookkeeper)}"
        own_entry = await plain.get(f"/api/v1/tenants/{acme.tenant_id}/entries/{acme_entry}")
        assert own_entry.status_code == 200
    assert checked >= 15
    assert problems == []
