"""Which addresses a tenant's Cin7 Omni base URL may point at.

The server itself calls that address (the credential check, every sync), so a user who could
store any URL could make the server reach anything it can reach (internal services, the cloud
metadata address): server-side request forgery. Only hosts on an explicit allow-list pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

# The real Cin7 Omni API (reference/cin7-omni-api.md: https://api.cin7.com/api/).
DEFAULT_CIN7_HOSTS = ("api.cin7.com",)


class Cin7AddressRefused(ValueError):
    """A Cin7 base URL whose host is not on the allow-list; the message says what to do."""


def _host_and_port(url: str) -> tuple[str, int | None]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Cin7AddressRefused(
            f"The Cin7 Omni address {url[:80]!r} is not a usable web address; it looks like "
            "https://api.cin7.com/api/."
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Cin7AddressRefused(
            f"The Cin7 Omni address {url[:80]!r} is not an http(s) address with a host name; "
            "it looks like https://api.cin7.com/api/."
        )
    return parts.hostname.lower().rstrip("."), port


def allowed(url: str, allowed_hosts: Sequence[str]) -> bool:
    """True when the URL's host (and port, where an entry names one) is on the list.

    An entry is a host name (``api.cin7.com``: any port) or ``host:port``.
    """
    host, port = _host_and_port(url)
    for entry in allowed_hosts:
        name, _, entry_port = entry.strip().lower().rpartition(":")
        if not name or not entry_port.isdigit():  # no port in the entry (or an IPv6 form)
            name, entry_port = entry.strip().lower().strip("[]"), ""
        if name.strip("[]").rstrip(".") == host and (not entry_port or int(entry_port) == port):
            return True
    return False


def refuse_unlisted(url: str, allowed_hosts: Sequence[str]) -> None:
    """Raise ``Cin7AddressRefused`` unless the URL's host is allowed (nothing is contacted)."""
    if allowed(url, allowed_hosts):
        return
    host, _port = _host_and_port(url)
    listed = ", ".join(allowed_hosts) or "nothing"
    raise Cin7AddressRefused(
        f"The Cin7 Omni address {url[:120]!r} was refused: its host {host!r} is not a Cin7 Omni "
        f"API host this server may call (allowed: {listed}). Use https://api.cin7.com/api/, or "
        "ask the operator to add the host to OMNI2QBD_CIN7_ALLOWED_HOSTS."
    )
