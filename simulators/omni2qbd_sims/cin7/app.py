"""The Cin7 Omni API simulator: ``/api/v1/{Resource}`` as reference §14 describes it.

Admin endpoints under ``/_sim`` (no authentication; bind the simulator to localhost) let
tests and demos inspect the accounts, inject faults, change documents and tune limits.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from omni2qbd_sims.cin7 import schema
from omni2qbd_sims.cin7.dates import DateForm
from omni2qbd_sims.cin7.faults import FaultBook, FaultKind, FaultRule
from omni2qbd_sims.cin7.generator import describe
from omni2qbd_sims.cin7.limits import DEFAULT_LIMITS, RateLimiter
from omni2qbd_sims.cin7.query import (
    DEFAULT_ROWS,
    MAX_ROWS,
    page_slice,
    parse_order,
    project,
    sort_records,
    to_wire,
)
from omni2qbd_sims.cin7.store import ApiConnection, Cin7Store, TenantAccount, WriteError
from omni2qbd_sims.cin7.where import WhereError, compile_where

MAX_BATCH = 250
THROTTLE_BODY = '"API rate limit exceeded"'


@dataclass
class SimConfig:
    rate_limits: tuple[tuple[int, float], ...] = DEFAULT_LIMITS
    rate_limits_enabled: bool = True
    # Whether 429 answers carry Retry-After; the real API's behaviour is unconfirmed (§6.2).
    retry_after: bool = False
    date_form: DateForm = DateForm.ISO_Z


class _Reply(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


def _message(status: int, text: str) -> _Reply:
    # ASP.NET Web API's default error body, which S8 parses.
    return _Reply(_json({"Message": text}, status))


class FaultIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: FaultKind
    status: int = 500
    delay_seconds: float = Field(0.0, alias="delaySeconds")
    count: int = 1
    times: int | None = 1
    resource: str | None = None
    username: str | None = None
    method: str | None = None


class ChangeIn(BaseModel):
    username: str
    resource: str
    id: int
    changes: dict[str, Any] = Field(default_factory=dict)


class CostChangeIn(BaseModel):
    username: str
    resource: str
    id: int
    factor: float = 1.05


class ConfigIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    rate_limits_enabled: bool | None = Field(None, alias="rateLimitsEnabled")
    rate_limits: list[tuple[int, float]] | None = Field(None, alias="rateLimits")
    retry_after: bool | None = Field(None, alias="retryAfter")
    date_form: DateForm | None = Field(None, alias="dateForm")


@dataclass
class _Sim:
    """What every route shares: the accounts, their settings, the rate limiter, the faults."""

    store: Cin7Store
    config: SimConfig
    limiter: RateLimiter
    faults: FaultBook

    async def gate(self, request: Request, name: str, method: str) -> tuple[TenantAccount, str]:
        """The checks every API call passes, in this order: credentials, rate limit,
        injected faults, the resource's name, the connection's permission for it."""
        account, connection = _authenticate(self.store, request)
        self._throttle(connection)
        await self._injected_faults(account, name, method)
        resource = schema.resolve_resource(name)
        if resource is None:
            raise _message(
                404,
                f"No HTTP resource was found that matches the request URI '{request.url.path}'.",
            )
        if not connection.allows(resource):
            raise _message(403, f"This API connection has no permission for {resource}.")
        return account, resource

    def _throttle(self, connection: ApiConnection) -> None:
        wait = self.limiter.try_acquire(connection.api_key)
        if wait is None:
            return
        headers = (
            {"Retry-After": str(max(1, round(wait + 0.5)))} if self.config.retry_after else None
        )
        raise _Reply(Response(THROTTLE_BODY, 429, headers=headers, media_type="application/json"))

    async def _injected_faults(self, account: TenantAccount, name: str, method: str) -> None:
        slow = self.faults.take("slow", account.username, name, method)
        if slow:
            await asyncio.sleep(slow.delay_seconds)
        failure = self.faults.take("status", account.username, name, method)
        if failure:
            raise _message(failure.status, "An error has occurred.")


def create_app(store: Cin7Store, config: SimConfig | None = None) -> FastAPI:
    """Build the simulator around ``store`` (see ``generate``)."""
    config = config or SimConfig()
    sim = _Sim(
        store, config, RateLimiter(config.rate_limits, config.rate_limits_enabled), FaultBook()
    )
    app = FastAPI(title="Cin7 Omni API simulator", docs_url=None, redoc_url=None)
    app.state.store, app.state.config, app.state.limiter, app.state.faults = (
        store,
        config,
        sim.limiter,
        sim.faults,
    )

    @app.exception_handler(_Reply)
    async def _reply(_request: Request, exc: _Reply) -> Response:
        return exc.response

    _read_routes(app, sim)
    _write_routes(app, sim)
    _admin_routes(app, sim)
    return app


def _read_routes(app: FastAPI, sim: _Sim) -> None:
    """GET /api/v1/{Resource}: a filtered, sorted page; GET /api/v1/{Resource}/{id}: one."""

    @app.get("/api/v1/{name}")
    async def list_records(request: Request, name: str) -> Response:
        account, resource = await sim.gate(request, name, "GET")
        params = {key.lower(): value for key, value in request.query_params.items()}
        fields = {n.lower(): n for n in schema.RESOURCE_FIELDS[resource]}
        try:
            predicate = compile_where(params.get("where"), fields)
            order = parse_order(params.get("order"), fields)
            page = int(params.get("page") or 1)
            rows = min(int(params.get("rows") or DEFAULT_ROWS), MAX_ROWS)
        except (WhereError, ValueError) as exc:
            raise _message(400, f"The request is invalid: {exc}") from exc
        if page < 1 or rows < 1:
            raise _message(400, "The request is invalid: page and rows must be 1 or more.")
        matched = [record for record in account.rows(resource) if predicate(record)]
        sort_records(matched, order)
        served = matched[page_slice(len(matched), page, rows)]
        body = [
            to_wire(project(record, params.get("fields")), sim.config.date_form)
            for record in served
        ]
        change = sim.faults.take("change_between_pages", account.username, resource, "GET")
        if change and served and resource != "Stock":
            sim.store.touch(account, resource, served[: change.count])
        return _json(body)

    @app.get("/api/v1/{name}/{item_id}")
    async def get_record(request: Request, name: str, item_id: str) -> Response:
        account, resource = await sim.gate(request, name, "GET")
        if resource not in schema.GETTABLE_BY_ID:
            raise _message(405, "The requested resource does not support http method 'GET'.")
        record = account.records[resource].get(int(item_id)) if item_id.isdigit() else None
        if record is None:
            raise _message(404, f"{resource} {item_id} was not found.")
        fields = request.query_params.get("fields")
        return _json(to_wire(project(record, fields), sim.config.date_form))


def _write_routes(app: FastAPI, sim: _Sim) -> None:
    """POST (create) and PUT (update) batches of records; DELETE one record."""

    async def write(request: Request, name: str, method: str) -> Response:
        account, resource = await sim.gate(request, name, method)
        if resource not in schema.WRITABLE:
            raise _message(405, f"The requested resource does not support http method '{method}'.")
        batch = await _batch_of(request)
        results = [
            _write_one(sim.store, account, resource, method, index, data)
            for index, data in enumerate(batch)
        ]
        return _json(results)

    @app.post("/api/v1/{name}")
    async def create_records(request: Request, name: str) -> Response:
        return await write(request, name, "POST")

    @app.put("/api/v1/{name}")
    async def update_records(request: Request, name: str) -> Response:
        return await write(request, name, "PUT")

    @app.delete("/api/v1/{name}/{item_id}")
    async def delete_record(request: Request, name: str, item_id: int) -> Response:
        account, resource = await sim.gate(request, name, "DELETE")
        if resource not in schema.DELETABLE:
            raise _message(405, "The requested resource does not support http method 'DELETE'.")
        ok = sim.store.delete(account, resource, item_id)
        errors = [] if ok else [f"{resource} {item_id} was not found"]
        return _json({"success": ok, "id": item_id, "code": None, "errors": errors})


async def _batch_of(request: Request) -> list[Any]:
    """The JSON array a write sends; a malformed or oversized batch fails as a whole (400)."""
    try:
        batch = json.loads(await request.body())
    except ValueError as exc:
        raise _message(400, f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(batch, list):
        raise _message(400, "The request body must be a JSON array of records.")
    if len(batch) > MAX_BATCH:
        raise _message(400, f"At most {MAX_BATCH} records may be sent in one request.")
    return batch


def _write_one(
    store: Cin7Store, account: TenantAccount, resource: str, method: str, index: int, data: Any
) -> dict[str, Any]:
    """One record of a batch: its own result row, so one bad record does not fail the rest."""
    try:
        if not isinstance(data, dict):
            raise WriteError("each record must be a JSON object")
        if method == "POST":
            _check_unique_email(account, resource, data)
            record = store.create(account, resource, data)
        else:
            record = store.update(account, resource, data)
    except WriteError as exc:
        return {"index": index, "success": False, "id": None, "code": None, "errors": [str(exc)]}
    return {
        "index": index,
        "success": True,
        "id": record["id"],
        "code": record.get("reference"),
        "errors": [],
    }


def _authenticate(store: Cin7Store, request: Request) -> tuple[TenantAccount, ApiConnection]:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    try:
        username, _, api_key = base64.b64decode(encoded, validate=True).decode().partition(":")
        if scheme.lower() != "basic":
            raise ValueError("not Basic")
        return store.authenticate(username, api_key)
    except (ValueError, binascii.Error, PermissionError) as exc:
        raise _Reply(
            _json(
                {"Message": "Authorization has been denied for this request."},
                401,
                headers={"WWW-Authenticate": 'Basic realm="api.cin7.com"'},
            )
        ) from exc


def _check_unique_email(account: TenantAccount, resource: str, data: Mapping[str, Any]) -> None:
    if resource != "Contacts":
        return
    email = next((v for k, v in data.items() if k.lower() == "email"), None)
    if email and any(
        (c.get("email") or "").lower() == str(email).lower()
        for c in account.records["Contacts"].values()
    ):
        raise WriteError(f"A contact with the email {email} already exists")


def _admin_routes(app: FastAPI, sim: _Sim) -> None:
    """``/_sim``: inspect the accounts, inject faults, change documents, tune the limits."""

    @app.get("/_sim/tenants")
    async def tenants() -> Response:
        return _json(describe(sim.store))

    _fault_routes(app, sim.faults)
    _document_routes(app, sim.store, sim.config)
    _limit_routes(app, sim.config, sim.limiter)


def _fault_routes(app: FastAPI, faults: FaultBook) -> None:
    @app.get("/_sim/faults")
    async def list_faults() -> Response:
        return _json([rule.to_json() for rule in faults.rules])

    @app.post("/_sim/faults")
    async def add_fault(body: FaultIn) -> Response:
        rule = FaultRule(**body.model_dump())
        faults.add(rule)
        return _json(rule.to_json(), 201)

    @app.delete("/_sim/faults")
    async def clear_faults() -> Response:
        faults.clear()
        return Response(status_code=204)


def _document_routes(app: FastAPI, store: Cin7Store, config: SimConfig) -> None:
    """Change a document or its costs as a person in Cin7 would, between the bridge's runs."""

    @app.post("/_sim/change-document")
    async def change_document(body: ChangeIn) -> Response:
        account, resource = _account_of(store, body.username), _resource_of(body.resource)
        try:
            record = store.update(account, resource, {**body.changes, "id": body.id})
        except WriteError as exc:
            raise _message(404, str(exc)) from exc
        return _json(to_wire(record, config.date_form))

    @app.post("/_sim/change-cost")
    async def change_cost(body: CostChangeIn) -> Response:
        account, resource = _account_of(store, body.username), _resource_of(body.resource)
        if body.id not in account.records[resource]:
            raise _message(404, f"{resource} {body.id} was not found")
        record = store.change_cost(account, resource, body.id, body.factor)
        return _json(to_wire(record, config.date_form))


def _account_of(store: Cin7Store, username: str) -> TenantAccount:
    account = store.tenants.get(username)
    if account is None:
        raise _message(404, f"no simulated account with the username {username!r}")
    return account


def _resource_of(name: str) -> str:
    resource = schema.resolve_resource(name)
    if resource is None or resource == "Stock":
        raise _message(404, f"no document resource {name!r}")
    return resource


def _limit_routes(app: FastAPI, config: SimConfig, limiter: RateLimiter) -> None:
    """The simulator's settings (rate limits, Retry-After, date form) and the usage counts."""

    @app.get("/_sim/config")
    async def get_config() -> Response:
        return _json(_config_json(config))

    @app.post("/_sim/config")
    async def set_config(body: ConfigIn) -> Response:
        if body.rate_limits is not None:
            config.rate_limits = tuple(body.rate_limits)
        if body.rate_limits_enabled is not None:
            config.rate_limits_enabled = body.rate_limits_enabled
        if body.retry_after is not None:
            config.retry_after = body.retry_after
        if body.date_form is not None:
            config.date_form = body.date_form
        limiter.configure(body.rate_limits, body.rate_limits_enabled)
        return _json(_config_json(config))

    @app.get("/_sim/stats")
    async def stats() -> Response:
        usage = {
            key: {"accepted": value.accepted, "throttled": value.throttled}
            for key, value in limiter.usage.items()
        }
        return _json({"usage": usage})

    @app.post("/_sim/reset-usage")
    async def reset_usage() -> Response:
        limiter.reset()
        return Response(status_code=204)


def _config_json(config: SimConfig) -> dict[str, Any]:
    return {
        "rateLimitsEnabled": config.rate_limits_enabled,
        "rateLimits": [list(pair) for pair in config.rate_limits],
        "retryAfter": config.retry_after,
        "dateForm": config.date_form.value,
    }
