"""Async client of the Cin7 Omni REST API (``https://api.cin7.com/api/v1``).

Paging follows reference §3.3 (``rows`` up to 250, stop on ``[]`` or a short page). Every
request first takes a slot from the API key's limiter; 429, 5xx and transport errors are retried
with exponential backoff (honouring ``Retry-After`` if Cin7 sends one); other 4xx are not
retried. 401 and 403 raise :class:`Cin7AuthError`, whose message says what the tenant must fix.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog

from omni2qbd_fetcher.metrics import CIN7_REQUESTS
from omni2qbd_fetcher.models import (
    UpsertResult,
    format_cin7_datetime,
)
from omni2qbd_fetcher.rate_limit import KeyRateLimiter, RateLimiterRegistry

DEFAULT_BASE_URL = "https://api.cin7.com/api"
MAX_ROWS = 250
log = structlog.get_logger(__name__)
# Clients built without a limiter share these, so one process never exceeds a key's limits.
DEFAULT_LIMITERS = RateLimiterRegistry()


class Cin7Error(Exception):
    """Base of every error the client raises."""


class Cin7AuthError(Cin7Error):
    """401/403: the tenant's credentials or the connection's permissions need fixing."""

    def __init__(self, tenant: str, status: int, resource: str) -> None:
        self.tenant, self.status, self.resource = tenant, status, resource
        if status == 401:
            text = (
                f"Cin7 Omni rejected the API username or API key of tenant {tenant!r} (HTTP 401). "
                "Copy the API Username and the connection's API Key from Cin7 Omni "
                "(Settings > Integrations & API > API v1) into the tenant's Cin7 settings; "
                "a lost key must be regenerated there."
            )
        else:
            text = (
                f"Cin7 Omni refused {resource} to tenant {tenant!r} (HTTP 403): the API "
                "connection has no permission for it. In Cin7 Omni, Settings > Integrations & "
                f"API > API v1, edit the connection and allow Read on {resource}."
            )
        super().__init__(text)


class Cin7RequestError(Cin7Error):
    """A 4xx other than 401/403/429, or a body that is not what the API documents."""

    def __init__(self, tenant: str, status: int, what: str, detail: str) -> None:
        self.tenant, self.status = tenant, status
        super().__init__(f"Cin7 Omni answered HTTP {status} to {what} for {tenant!r}: {detail}")


class Cin7UnavailableError(Cin7Error):
    """Cin7 kept failing (429, 5xx, network) after every retry."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_delay, retry_after)
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return backoff * random.uniform(0.5, 1.0)  # jitter keeps tenants from retrying in step


def quote(value: str) -> str:
    """A ``where`` string literal: single quotes, with embedded quotes doubled (§3.2)."""
    return "'" + value.replace("'", "''") + "'"


def where_since(field: str, since: datetime) -> str:
    return f"{field}>={quote(format_cin7_datetime(since))}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "client_error"


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or "(empty body)"
    if isinstance(body, dict):
        return str(body.get("Message") or body.get("message") or body)[:300]
    return str(body)[:300]


class Cin7Client:
    """One tenant's connection to Cin7 Omni. Use as an async context manager or ``aclose()``."""

    def __init__(
        self,
        *,
        tenant: str,
        username: str,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        limiter: KeyRateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        max_limiter_wait: float | None = 300.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.tenant = tenant
        self.limiter = limiter or DEFAULT_LIMITERS.for_key(api_key)
        self.retry = retry or RetryPolicy()
        self.max_limiter_wait = max_limiter_wait
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        # People paste either ".../api" or ".../api/v1" (what Cin7's docs and our simulator
        # show); both mean the same API.
        self._base = base_url.rstrip("/").removesuffix("/v1") + "/v1/"
        self._auth = httpx.BasicAuth(username, api_key)
        self.requests_sent = 0

    async def __aenter__(self) -> Cin7Client:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        resource: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        what = f"{method} /v1/{path}"
        idempotent = method != "POST"
        last_problem = ""
        for attempt in range(1, self.retry.attempts + 1):
            await self.limiter.acquire(self.max_limiter_wait)
            self.requests_sent += 1
            try:
                response = await self._http.request(
                    method,
                    self._base + path,
                    params=params,
                    json=body,
                    auth=self._auth,
                    headers={"Accept": "application/json"},
                )
            except httpx.TransportError as exc:
                # A POST that may have reached Cin7 must not be repeated (it would duplicate).
                if not idempotent and not isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout
                ):
                    raise Cin7UnavailableError(
                        f"{what} for {self.tenant!r} failed: {exc!r}"
                    ) from exc
                last_problem = f"network error {type(exc).__name__}"
                retry_after = None
                CIN7_REQUESTS.labels("network").inc()
            else:
                status = response.status_code
                CIN7_REQUESTS.labels(_outcome(status)).inc()
                if status < 400:
                    return response
                if status in (401, 403):
                    raise Cin7AuthError(self.tenant, status, resource)
                if status == 429:
                    retry_after = _retry_after(response)
                    self.limiter.pause(self.retry.delay(attempt, retry_after))
                    last_problem = "HTTP 429 (rate limit)"
                elif status >= 500 and idempotent:
                    retry_after = _retry_after(response)
                    last_problem = f"HTTP {status}"
                else:
                    raise Cin7RequestError(self.tenant, status, what, _detail(response))
            if attempt == self.retry.attempts:
                break
            delay = self.retry.delay(attempt, retry_after)
            log.warning(
                "cin7_retry",
                tenant=self.tenant,
                request=what,
                problem=last_problem,
                retry_in=round(delay, 2),
            )
            await asyncio.sleep(delay)
        raise Cin7UnavailableError(
            f"{what} for {self.tenant!r} still failing after {self.retry.attempts} attempts "
            f"({last_problem})"
        )

    @staticmethod
    def _json(response: httpx.Response, tenant: str, what: str) -> Any:
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise Cin7RequestError(
                tenant, response.status_code, what, "the body is not JSON"
            ) from exc

    async def list_page(
        self,
        resource: str,
        *,
        where: str | None = None,
        order: str | None = None,
        fields: str | None = None,
        page: int = 1,
        rows: int = MAX_ROWS,
    ) -> list[dict[str, Any]]:
        """One page of ``GET /v1/{resource}`` as the raw JSON objects."""
        if not 1 <= rows <= MAX_ROWS:
            raise ValueError(f"rows must be 1..{MAX_ROWS}, got {rows}")
        params: dict[str, str | int] = {"page": page, "rows": rows}
        for name, value in (("where", where), ("order", order), ("fields", fields)):
            if value:
                params[name] = value
        response = await self._request("GET", resource, resource, params=params)
        body = self._json(response, self.tenant, f"GET /v1/{resource}")
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise Cin7RequestError(
                self.tenant, response.status_code, f"GET /v1/{resource}", "expected a JSON array"
            )
        return body

    async def iter_pages(
        self,
        resource: str,
        *,
        where: str | None = None,
        order: str = "id",
        fields: str | None = None,
        rows: int = MAX_ROWS,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page in turn, stopping at ``[]`` or a page shorter than ``rows``."""
        page = 1
        while True:
            items = await self.list_page(
                resource, where=where, order=order, fields=fields, page=page, rows=rows
            )
            if items:
                yield items
            if len(items) < rows:
                return
            page += 1

    async def list_all(self, resource: str, **query: Any) -> list[dict[str, Any]]:
        return [item async for page in self.iter_pages(resource, **query) for item in page]

    async def get(self, resource: str, record_id: int) -> dict[str, Any] | None:
        """``GET /v1/{resource}/{id}``; None when Cin7 says 404 or answers ``null``."""
        try:
            response = await self._request("GET", f"{resource}/{record_id}", resource)
        except Cin7RequestError as exc:
            if exc.status == 404:
                return None
            raise
        body = self._json(response, self.tenant, f"GET /v1/{resource}/{record_id}")
        return body if isinstance(body, dict) else None

    async def _write(
        self, method: str, resource: str, records: Sequence[Mapping[str, Any]]
    ) -> list[UpsertResult]:
        response = await self._request(method, resource, resource, body=list(records))
        body = self._json(response, self.tenant, f"{method} /v1/{resource}")
        if not isinstance(body, list):
            raise Cin7RequestError(
                self.tenant,
                response.status_code,
                f"{method} /v1/{resource}",
                "expected a JSON array",
            )
        return [UpsertResult.model_validate(item) for item in body]

    async def create(
        self, resource: str, records: Sequence[Mapping[str, Any]]
    ) -> list[UpsertResult]:
        return await self._write("POST", resource, records)

    async def update(
        self, resource: str, records: Sequence[Mapping[str, Any]]
    ) -> list[UpsertResult]:
        return await self._write("PUT", resource, records)
