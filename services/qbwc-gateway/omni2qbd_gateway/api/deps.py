"""FastAPI dependencies of the JSON API, for every router (and the console) to reuse.

- ``database(request)``: the runtime's session maker; open ``unit_of_work(...)`` with it.
- ``current_user``: the signed-in ``Principal`` from ``Authorization: Bearer <token>``
  (401 otherwise).
- ``tenant_access("viewer" | "bookkeeper" | "operator")``: a dependency factory for routes
  with a ``{tenant_id}`` path parameter; gives a ``TenantAccess`` (principal, tenant id, role
  and the ``TenantScope`` to query through). A tenant the user may not see answers 404, the
  same as a tenant that does not exist; a role too low for the route answers 403.
- ``operator_only``: the principal, or 403 for anyone but an operator.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.login_throttle import ThrottlePolicy
from omni2qbd_gateway.workflow import users
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Tenant
from omni2qbd_shared.service import ServiceRuntime

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def settings_of(request: Request) -> AppSettings:
    return runtime_of(request).settings


def database(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions = runtime_of(request).sessions
    if sessions is None:
        raise HTTPException(503, "the service is still starting")
    return sessions


def throttle_policy(settings: AppSettings) -> ThrottlePolicy:
    return ThrottlePolicy(
        window_seconds=settings.login_window_seconds,
        per_address=settings.login_max_per_address,
        per_account_at_address=settings.login_max_per_account_at_address,
        per_account=settings.login_max_per_account,
    )


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def current_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
) -> users.Principal:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("sign in first: POST /api/v1/auth/token, then send the bearer token")
    async with unit_of_work(database(request)) as db:
        user = await users.user_for_token(db, credentials.credentials)
        if user is None:
            raise _unauthorized("the token is unknown, expired or revoked: sign in again")
        return await users.principal(db, user)


async def operator_only(
    principal: users.Principal = Depends(current_user),
) -> users.Principal:
    if not principal.is_operator:
        raise HTTPException(403, "only an operator may do this")
    return principal


@dataclass(frozen=True)
class TenantAccess:
    principal: users.Principal
    tenant_id: str
    role: str
    scope: TenantScope


NO_SUCH_TENANT = "no such tenant"


def tenant_access(required: str = "viewer") -> Callable[..., Awaitable[TenantAccess]]:
    """A dependency granting the route's tenant to users with at least ``required``."""

    async def dependency(
        tenant_id: str,
        request: Request,
        principal: users.Principal = Depends(current_user),
    ) -> TenantAccess:
        role = principal.role_in(tenant_id)
        if role is None:
            # The same answer as for a tenant that does not exist: nothing about B leaks to A.
            raise HTTPException(404, NO_SUCH_TENANT)
        if principal.is_operator:
            async with unit_of_work(database(request)) as db:
                if await db.get(Tenant, tenant_id) is None:
                    raise HTTPException(404, NO_SUCH_TENANT)
        if not users.role_satisfies(role, required):
            raise HTTPException(403, f"a {role} may not do this; it needs a {required}")
        return TenantAccess(principal, tenant_id, role, TenantScope(tenant_id, principal.email))

    return dependency


read_access = tenant_access("viewer")
write_access = tenant_access("bookkeeper")
operator_access = tenant_access("operator")
