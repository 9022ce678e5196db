"""Testing a tenant's Cin7 Omni credentials with one small read, the result in words."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from pydantic import BaseModel

from omni2qbd_shared.cin7_address import refuse_unlisted
from omni2qbd_shared.config import without_credentials


class Cin7Check(BaseModel):
    ok: bool
    message: str
    status_code: int | None = None


# Why Cin7 Omni refused, and what to do about it, by HTTP status (any other status: UNCONFIRMED).
REFUSALS: dict[int, str] = {
    401: (
        "Cin7 Omni refused the API user {username!r} or its key (HTTP 401). Copy the API "
        "Username and the connection's API Key from Cin7 Omni (Settings > Integrations & "
        "API > API v1); a lost key must be regenerated there."
    ),
    403: (
        "Cin7 Omni accepted the credentials but the API connection may not read contacts "
        "(HTTP 403): in Cin7 Omni, Settings > Integrations & API > API v1, allow Read on "
        "Contacts, Sales Orders, Purchase Orders, Credit Notes, Products and Adjustments."
    ),
    429: (
        "Cin7 Omni's rate limit for this API key is used up (HTTP 429), so the credentials "
        "could not be checked now; try again in a minute."
    ),
}
UNCONFIRMED = "Cin7 Omni answered HTTP {status} at {shown}; the credentials are not confirmed."


def contacts_url(base_url: str) -> str:
    root = base_url.rstrip("/").removesuffix("/v1")
    return f"{root}/v1/Contacts"


async def check_credentials(
    base_url: str,
    username: str,
    api_key: str,
    *,
    allowed_hosts: Sequence[str],
    wait_seconds: float = 15.0,
) -> Cin7Check:
    """Read one contact with these credentials: the cheapest call that needs them.

    Raises ``Cin7AddressRefused`` (before any request) when the host is not allowed."""
    refuse_unlisted(base_url, allowed_hosts)
    url = contacts_url(base_url)
    try:
        shown = without_credentials(url)
    except ValueError:  # not even parseable: say so below without repeating it
        shown = base_url[:80]
    try:
        async with httpx.AsyncClient(timeout=wait_seconds) as client:
            response = await client.get(
                url,
                params={"rows": 1, "fields": "id"},
                auth=httpx.BasicAuth(username, api_key),
            )
    except (httpx.InvalidURL, ValueError, OverflowError, ExceptionGroup) as exc:
        # An address httpx cannot even try (bad brackets, a port past 65535, ...): this is a
        # check whose answer is words for a person, never a server error.
        return Cin7Check(
            ok=False,
            message=f"The Cin7 Omni address {shown!r} is not a usable web address "
            f"({type(exc).__name__}); it looks like https://api.cin7.com/api.",
        )
    except httpx.HTTPError as exc:
        return Cin7Check(
            ok=False,
            message=f"Cin7 Omni could not be reached at {shown}: {type(exc).__name__}. Check the "
            "address and this server's connection to the internet.",
        )
    return _answer(response.status_code, username, shown)


def _answer(status: int, username: str, shown: str) -> Cin7Check:
    """What Cin7 Omni's HTTP status says about the credentials, in words."""
    if status == 200:
        return Cin7Check(
            ok=True,
            status_code=status,
            message=f"Cin7 Omni accepted the API user {username!r} and its key.",
        )
    message = REFUSALS.get(status, UNCONFIRMED).format(
        username=username, status=status, shown=shown
    )
    return Cin7Check(ok=False, status_code=status, message=message)
