"""Async client of the Cin7 Omni REST API (``https://api.cin7.com/api/v1``).

Paging follows reference §3.3 (``rows`` up to 250, stop on ``[]`` or a short page). Every
request first takes a slot from the API key's limiter; 429, 5xx and transport errors are retried
with exponential backoff (honouring ``Retry-After`` if Cin7 sends one); other 4xx are not
retried. 401 and 403 raise :class:`Cin7AuthError`, whose message says what the tenant must fix.

A broken or hostile Cin7 must hurt only its own tenant, so every request has a total time
limit (a server dripping one byte at a time does not hold a worker), a body size limit, a
redirect is an error (never an empty success), a ``Retry-After`` longer than the client
would wait ends the sync with a message saying when it resumes, and a body that is not
strict JSON (``NaN``, ``Infinity``) is refused in words.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import httpx
import structlog

from omni2qbd_fetcher.metrics import CIN7_REQUESTS
from omni2qbd_fetcher.rate_limit import KeyRateLimiter, RateLimiterRegistry
from omni2qbd_shared.cin7_dates import format_cin7_datetime

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

    def __init__(self, message: str, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


@dataclass(frozen=True)
class ResponseLimits:
    """What one answer of Cin7 may cost: seconds in total and bytes of body."""

    total_seconds: float = 30.0
    max_bytes: int = 20 * 1024 * 1024


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


class _Retry(NamedTuple):
    """Why an attempt failed in a way worth another, and how long Cin7 asked to wait."""

    problem: str
    retry_after: float | None


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"the body contains {name}, which is not a JSON number; nothing was imported")


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


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
        limits: ResponseLimits | None = None,
    ) -> None:
        self.tenant = tenant
        self.limits = limits or ResponseLimits()
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

    async def _get(
        self, path: str, resource: str, *, params: Mapping[str, str | int] | None = None
    ) -> httpx.Response:
        """A GET (idempotent, so every transport error, 429 and 5xx is retried)."""
        what = f"GET /v1/{path}"
        last_problem = ""
        for attempt in range(1, self.retry.attempts + 1):
            answer = await self._attempt(path, resource, what, params, attempt)
            if isinstance(answer, httpx.Response):
                return answer
            last_problem, retry_after = answer
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

    async def _attempt(
        self,
        path: str,
        resource: str,
        what: str,
        params: Mapping[str, str | int] | None,
        attempt: int,
    ) -> httpx.Response | _Retry:
        """One try within the rate limit: the answer, or why another try is worth it."""
        await self.limiter.acquire(self.max_limiter_wait)
        self.requests_sent += 1
        try:
            response = await self._send(path, params)
        except TimeoutError as exc:
            # Not retried: a Cin7 this slow would hold a worker for every attempt.
            CIN7_REQUESTS.labels("network").inc()
            raise Cin7UnavailableError(
                f"Cin7 Omni did not finish answering {what} for {self.tenant!r} within "
                f"{self.limits.total_seconds:.0f} seconds (a slow or stalled connection); "
                "syncing this tenant is retried later. If it persists, check Cin7 Omni's "
                "status and the tenant's Cin7 base URL."
            ) from exc
        except httpx.TransportError as exc:
            CIN7_REQUESTS.labels("network").inc()
            return _Retry(f"network error {type(exc).__name__}", None)
        CIN7_REQUESTS.labels(_outcome(response.status_code)).inc()
        return self._judge(response, resource, what, attempt)

    def _judge(
        self, response: httpx.Response, resource: str, what: str, attempt: int
    ) -> httpx.Response | _Retry:
        status = response.status_code
        if 300 <= status < 400:
            target = response.headers.get("location", "(no Location given)")
            raise Cin7RequestError(
                self.tenant,
                status,
                what,
                f"a redirect to {target[:200]}, which is not followed: check the "
                "tenant's Cin7 base URL (it should be https://api.cin7.com/api)",
            )
        if status < 400:
            return response
        if status in (401, 403):
            raise Cin7AuthError(self.tenant, status, resource)
        if status == 429:
            return self._rate_limited(response, attempt)
        if status >= 500:
            return _Retry(f"HTTP {status}", _retry_after(response))
        raise Cin7RequestError(self.tenant, status, what, _detail(response))

    def _rate_limited(self, response: httpx.Response, attempt: int) -> _Retry:
        """Wait as Cin7 asks, every request of this key included, unless that is too long."""
        retry_after = _retry_after(response)
        if retry_after is not None and retry_after > self.retry.max_delay:
            raise Cin7UnavailableError(
                f"Cin7 Omni asked tenant {self.tenant!r} to wait "
                f"{_duration(retry_after)} before the next request (HTTP 429 with "
                "Retry-After); this tenant's sync pauses meanwhile. If that is "
                "unexpected, check the API connection's limits in Cin7 Omni.",
                retry_in=retry_after,
            )
        self.limiter.pause(self.retry.delay(attempt, retry_after))
        return _Retry("HTTP 429 (rate limit)", retry_after)

    async def _send(self, path: str, params: Mapping[str, str | int] | None) -> httpx.Response:
        """One request within the total time limit, its body read up to the size limit."""
        async with asyncio.timeout(self.limits.total_seconds):
            request = self._http.build_request(
                "GET", self._base + path, params=params, headers={"Accept": "application/json"}
            )
            response = await self._http.send(
                request, auth=self._auth, stream=True, follow_redirects=False
            )
            try:
                declared = int(response.headers.get("content-length") or 0)
                if declared > self.limits.max_bytes:
                    raise self._too_large(response, path)
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():  # decoded: a zip bomb counts whole
                    size += len(chunk)
                    if size > self.limits.max_bytes:
                        raise self._too_large(response, path)
                    chunks.append(chunk)
            finally:
                await response.aclose()
        # The body is already decoded: keep the headers but not the encoding's.
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=b"".join(chunks), request=request
        )

    def _too_large(self, response: httpx.Response, path: str) -> Cin7RequestError:
        return Cin7RequestError(
            self.tenant,
            response.status_code,
            f"GET /v1/{path}",
            f"the answer is larger than {self.limits.max_bytes // (1024 * 1024)} MB and was "
            "refused; a page of 250 documents is far smaller, so Cin7 or something between "
            "is sending something else",
        )

    @staticmethod
    def _json(response: httpx.Response, tenant: str, what: str) -> Any:
        try:
            return json.loads(response.content, parse_constant=_refuse_constant)
        except _NotJson as exc:
            raise Cin7RequestError(tenant, response.status_code, what, str(exc)) from exc
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
        response = await self._get(resource, resource, params=params)
        body = self._json(response, self.tenant, f"GET /v1/{resource}")
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise Cin7RequestError(
                self.tenant, response.status_code, f"GET /v1/{resource}", "expected a JSON array"
            )
        return body
