"""Sign-in: ``POST /auth/token``, ``POST /auth/revoke`` and ``GET /me``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel
from sqlmodel import col, select

from omni2qbd_gateway.api.deps import (
    bearer,
    current_user,
    database,
    settings_of,
    throttle_policy,
)
from omni2qbd_gateway.workflow import users
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Tenant

router = APIRouter(tags=["sign-in"])


class TokenRequest(BaseModel):
    email: str
    password: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  (the OAuth 2 token type, not a secret)
    expires_in: int


class Problem(BaseModel):
    detail: str


class RevokeResponse(BaseModel):
    revoked: bool


class TenantGrant(BaseModel):
    tenant_id: str
    name: str
    role: str
    active: bool


class MeResponse(BaseModel):
    user_id: str
    email: str
    is_operator: bool
    role: str
    tenants: list[TenantGrant]


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    responses={401: {"model": Problem}, 429: {"model": Problem}},
)
async def token(body: TokenRequest, request: Request) -> TokenResponse:
    """Exchange an e-mail and password for a bearer token (throttled on failures)."""
    settings = settings_of(request)
    try:
        issued = await users.sign_in(
            database(request),
            body.email,
            body.password,
            address=request.client.host if request.client else None,
            policy=throttle_policy(settings),
            ttl_seconds=settings.api_token_ttl_seconds,
        )
    except users.SignInRefused as refused:
        if refused.retry_after is not None:
            raise HTTPException(
                429, refused.message, headers={"Retry-After": str(refused.retry_after)}
            ) from None
        raise HTTPException(401, refused.message) from None
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post("/auth/revoke", response_model=RevokeResponse, responses={401: {"model": Problem}})
async def revoke(
    request: Request,
    _principal: users.Principal = Depends(current_user),
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
) -> RevokeResponse:
    """Revoke the token this request carries (sign out)."""
    assert credentials is not None  # current_user has checked it
    async with unit_of_work(database(request)) as db:
        return RevokeResponse(revoked=await users.revoke(db, credentials.credentials))


@router.get("/me", response_model=MeResponse, responses={401: {"model": Problem}})
async def me(request: Request, principal: users.Principal = Depends(current_user)) -> MeResponse:
    """The signed-in user and the tenants they may see, with their role in each."""
    async with unit_of_work(database(request)) as db:
        query = select(Tenant).order_by(col(Tenant.name))
        if not principal.is_operator:
            query = query.where(col(Tenant.id).in_(list(principal.roles)))
        tenants = (await db.exec(query)).all()
    return MeResponse(
        user_id=principal.user_id,
        email=principal.email,
        is_operator=principal.is_operator,
        role="operator" if principal.is_operator else "member",
        tenants=[
            TenantGrant(
                tenant_id=t.id, name=t.name, role=principal.role_in(t.id) or "", active=t.active
            )
            for t in tenants
        ],
    )
