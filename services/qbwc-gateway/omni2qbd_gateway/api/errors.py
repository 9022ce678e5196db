"""The answer every router gives for the workflow's refusals (one place, same words)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel

from omni2qbd_gateway.workflow import approval, entries, tenant_admin
from omni2qbd_shared.cin7_address import Cin7AddressRefused


class Problem(BaseModel):
    detail: str


Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: {"model": Problem, "description": "No such tenant or entry"}}
AUTH: Responses = {
    401: {"model": Problem, "description": "No valid token"},
    403: {"model": Problem, "description": "The role does not allow it"},
    **NOT_FOUND,
}
BAD_REQUEST: Responses = {
    400: {"model": Problem, "description": "A filter or cursor that cannot be used"}
}
CONFLICT: Responses = {409: {"model": Problem, "description": "Not possible in the entry's state"}}
UNPROCESSABLE: Responses = {
    422: {"model": Problem, "description": "A Cin7 address this server may not call"}
}


def http_error(exc: Exception) -> HTTPException:
    if isinstance(exc, entries.EntryNotFound | tenant_admin.TenantNotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, approval.ActionRefused | tenant_admin.ConfirmationMismatch):
        return HTTPException(409, str(exc))
    if isinstance(exc, entries.BadRequest):
        return HTTPException(400, str(exc))
    if isinstance(exc, Cin7AddressRefused):
        return HTTPException(422, str(exc))
    raise exc


REFUSALS = (
    entries.EntryNotFound,
    entries.BadRequest,
    tenant_admin.TenantNotFound,
    approval.ActionRefused,
    tenant_admin.ConfirmationMismatch,
    Cin7AddressRefused,
)
