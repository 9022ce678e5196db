"""The versioned JSON API, mounted at ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``).

One router module per area; each calls ``omni2qbd_gateway.workflow`` and nothing else for
data. ``create_api`` builds the sub-application; ``ROUTERS`` lists the areas (other modules
append theirs with ``register``).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from omni2qbd_gateway.api import audit, auth, entries, health, tenants
from omni2qbd_gateway.api import cogs as cogs_api
from omni2qbd_gateway.api import dead_letters as dead_letters_api
from omni2qbd_gateway.api import matching as matching_api
from omni2qbd_gateway.api import reconciliation as reconciliation_api
from omni2qbd_gateway.api import reimport as reimport_api
from omni2qbd_gateway.api.nul_guard import RefuseNulCharacters
from omni2qbd_gateway.workflow import housekeeping
from omni2qbd_shared.service import ServiceRuntime

API_PREFIX = "/api/v1"

ROUTERS: list[APIRouter] = [
    auth.router,
    entries.router,
    audit.router,
    health.router,
    tenants.router,
    dead_letters_api.router,
]
# The bookkeeper's workflow areas (api-workflow).
ROUTERS += [matching_api.router, reimport_api.router, cogs_api.router, reconciliation_api.router]


def register(router: APIRouter) -> None:
    """Add an area's router to the API (call at import time, before ``create_api``)."""
    if router not in ROUTERS:
        ROUTERS.append(router)


def create_api(runtime: ServiceRuntime) -> FastAPI:
    api = FastAPI(
        title="Omni2QBD API",
        version="1",
        description=(
            "The bookkeeper's and operator's workflow: sign-in, review, approval, audit, "
            "connection health and tenant lifecycle. Authenticate with POST /auth/token and "
            "send `Authorization: Bearer <access_token>`."
        ),
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    api.state.runtime = runtime
    api.add_middleware(RefuseNulCharacters)
    for router in ROUTERS:
        api.include_router(router)
    return api


def mount_api(app: FastAPI, runtime: ServiceRuntime) -> FastAPI:

    housekeeping.install(runtime)
    api = create_api(runtime)
    app.mount(API_PREFIX, api)
    return api
