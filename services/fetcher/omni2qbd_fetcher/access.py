"""Who may use the fetcher's control API (list tenants, sync now, import supplier credits).

It is an internal API, off the public surface: the fetcher binds to 127.0.0.1 by default
and the API requires ``Authorization: Bearer <OMNI2QBD_FETCHER_API_TOKEN>``. Without a token
configured it answers only callers on the same machine, and nobody in production.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import HTTPException, Request

from omni2qbd_shared.config import AppSettings

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def require_operator(settings: AppSettings) -> Callable[[Request], None]:
    token = settings.fetcher_api_token.get_secret_value() if settings.fetcher_api_token else ""

    def check(request: Request) -> None:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if token:
            if scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token):
                return
            raise HTTPException(
                401,
                "the fetcher's control API needs "
                "Authorization: Bearer <OMNI2QBD_FETCHER_API_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if settings.environment == "production":
            raise HTTPException(
                403, "the fetcher's control API is off: set OMNI2QBD_FETCHER_API_TOKEN to use it"
            )
        client = request.client.host if request.client else ""
        if client not in LOOPBACK:
            raise HTTPException(
                403,
                "the fetcher's control API answers only this machine unless "
                "OMNI2QBD_FETCHER_API_TOKEN is set",
            )

    return check
