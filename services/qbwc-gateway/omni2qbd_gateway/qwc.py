"""The .qwc file a tenant adds to the Web Connector (reference §2).

- AppURL: the gateway's public ``/qbwc`` endpoint over HTTPS (QBWC refuses anything else
  except localhost during development).
- AppSupport: a page on the same host (QBWC requires the same domain).
- OwnerID: one GUID for the product, never per tenant or version; FileID: the tenant's own
  GUID, which QBWC writes into the company file and sends back on every session.
- AuthFlags 0xF (SimpleStart, Pro, Premier, Enterprise), QBType QBFS, a scheduler interval.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from lxml import etree

from omni2qbd_shared.db.models import Tenant

# Generated once for Omni2QBD; changing it would orphan every FileID already stored in
# customers' company files.
OWNER_ID = "{3C359236-D34F-459B-987B-BCABD589B9B6}"
APP_NAME = "Omni2QBD"
APP_DESCRIPTION = "Posts reviewed Cin7 Omni documents into QuickBooks Desktop"
DEFAULT_RUN_EVERY_MINUTES = 15
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class QwcError(ValueError):
    pass


def endpoint_url(public_url: str) -> str:
    return f"{public_url.rstrip('/')}/qbwc"


def support_url(public_url: str) -> str:
    return f"{public_url.rstrip('/')}/support"


def check_public_url(public_url: str) -> None:
    """QBWC accepts only HTTPS, except for localhost while developing."""
    parts = urlsplit(public_url)
    if not parts.hostname:
        raise QwcError(f"OMNI2QBD_GATEWAY_PUBLIC_URL {public_url!r} has no host name")
    if parts.scheme != "https" and parts.hostname not in _LOCAL_HOSTS:
        raise QwcError(
            f"OMNI2QBD_GATEWAY_PUBLIC_URL {public_url!r} must use https://: the Web Connector "
            "refuses plain HTTP for anything but localhost (QBWC1051)"
        )


def build_qwc(
    tenant: Tenant, public_url: str, *, run_every_minutes: int = DEFAULT_RUN_EVERY_MINUTES
) -> str:
    check_public_url(public_url)
    root = etree.Element("QBWCXML")
    fields = (
        ("AppName", f"{APP_NAME} - {tenant.name}"[:100]),
        ("AppID", ""),
        ("AppURL", endpoint_url(public_url)),
        ("AppDescription", APP_DESCRIPTION[:80]),
        ("AppSupport", support_url(public_url)),
        ("UserName", tenant.qbwc_username),
        ("OwnerID", OWNER_ID),
        ("FileID", tenant.qb_file_id),
        ("QBType", "QBFS"),
        ("Style", "Document"),
        ("AuthFlags", "0xF"),
    )
    for tag, value in fields:
        etree.SubElement(root, tag).text = value
    scheduler = etree.SubElement(root, "Scheduler")
    etree.SubElement(scheduler, "RunEveryNMinutes").text = str(max(1, run_every_minutes))
    etree.SubElement(root, "IsReadOnly").text = "false"
    body = etree.tostring(root, encoding="unicode", pretty_print=True)
    return f'<?xml version="1.0"?>\n{body}'


def qwc_filename(tenant: Tenant) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in tenant.qbwc_username)
    return f"omni2qbd-{safe}.qwc"
