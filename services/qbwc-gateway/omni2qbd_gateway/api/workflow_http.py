"""Small pieces the workflow routers (matching, COGS, re-import, reconciliation) share."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel

from omni2qbd_gateway.api.deps import runtime_of


class Problem(BaseModel):
    detail: str


PROBLEMS: dict[int | str, dict[str, object]] = {
    code: {"model": Problem} for code in (400, 401, 403, 404, 409, 422)
}


def publish_soon(request: Request) -> None:
    """Wake the gateway's pending-message publisher (a committed tenant event goes out now
    instead of on its next background pass)."""
    parts = getattr(runtime_of(request), "gateway_parts", None)
    if parts is not None:
        parts.pending.poke()
