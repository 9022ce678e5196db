"""What the first ``sendRequestXML`` says about the open company file (``strHCPResponse``).

QBWC stores the .qwc file's FileID in the company file the first time it connects, as a
private DataExt named ``FileID`` under our OwnerID (reference §2), and sends it back in
CompanyRet on every session: that is how we know the right file is open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from omni2qbd_shared.qbxml.schema import SUPPORTED_VERSIONS
from omni2qbd_shared.xmlsafe import UnsafeXmlError, parse_xml


@dataclass(frozen=True)
class CompanyInfo:
    company_name: str | None
    file_ids: dict[str, str]  # OwnerID (upper case) -> FileID
    supported_versions: tuple[str, ...]
    product_name: str | None
    # What connection health shows: "QuickBooks Enterprise ... 23.0, US" (HostRet).
    host: dict[str, str] = field(default_factory=dict)


def _braced(value: str) -> str:
    value = value.strip().upper()
    return value if value.startswith("{") else "{" + value + "}"


def read_hcp(text: str, *, max_bytes: int) -> CompanyInfo | None:
    if not text.strip():
        return None
    try:
        root = parse_xml(text, max_bytes=max_bytes)
    except UnsafeXmlError:
        return None
    file_ids: dict[str, str] = {}
    for ext in root.iter("DataExtRet"):
        if (ext.findtext("DataExtName") or "").strip() == "FileID":
            owner = _braced(ext.findtext("OwnerID") or "")
            file_ids[owner] = _braced(ext.findtext("DataExtValue") or "")
    versions = tuple(
        version
        for v in root.iter("SupportedQBXMLVersion")
        if _is_version(version := (v.text or "").strip())
    )
    return CompanyInfo(
        company_name=root.findtext(".//CompanyRet/CompanyName"),
        file_ids=file_ids,
        supported_versions=versions,
        product_name=root.findtext(".//HostRet/ProductName"),
        host=_host(root),
    )


HOST_TEXT_LIMIT = 100  # an answer's text is shown, never trusted to be short


def _host(root: Any) -> dict[str, str]:
    """Product, version and country of the QuickBooks that answered, as plain short text."""
    found = {
        "product": root.findtext(".//HostRet/ProductName"),
        "major": root.findtext(".//HostRet/MajorVersion"),
        "minor": root.findtext(".//HostRet/MinorVersion"),
        "country": root.findtext(".//HostRet/Country"),
    }
    clean = {
        key: " ".join(value.split())[:HOST_TEXT_LIMIT]
        for key, value in found.items()
        if value and value.strip() and value.isprintable()
    }
    host: dict[str, str] = {k: clean[k] for k in ("product", "country") if k in clean}
    major, minor = clean.get("major", ""), clean.get("minor", "")
    if major.isdecimal() and major.isascii():
        host["version"] = f"{major}.{minor}" if minor.isdecimal() and minor.isascii() else major
    return host


def file_id_problem(
    info: CompanyInfo | None, *, owner_id: str, expected_file_id: str, expected_label: str
) -> str | None:
    """None when the open file is the tenant's; otherwise a message naming the right one."""
    expected = _braced(expected_file_id)
    if info is None:
        return (
            "The Web Connector did not report which company file is open, so nothing was "
            f"sent. Open {expected_label} (FileID {expected}) and run the update again."
        )
    found = info.file_ids.get(_braced(owner_id))
    if found is None and len(info.file_ids) == 1:
        found = next(iter(info.file_ids.values()))
    if found == expected:
        return None
    opened = info.company_name or "another company file"
    detail = f"FileID {found}" if found else "no FileID for this application"
    return (
        f"Wrong company file: QuickBooks has {opened!r} open ({detail}), but this connection "
        f"belongs to {expected_label} (FileID {expected}). Nothing was sent. Open "
        f"{expected_label} in QuickBooks and run the update again."
    )


def negotiate_version(
    tenant_version: str, info: CompanyInfo | None, major: int, minor: int
) -> str | None:
    """The qbXML version to speak: the tenant's, or the highest both sides support."""

    def key(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))

    reported = f"{major}.{minor}" if major > 0 else None
    supported = set(info.supported_versions) if info and info.supported_versions else set()
    if reported:
        supported.add(reported)
        ceiling = key(reported)
        supported = {v for v in supported if _is_version(v) and key(v) <= ceiling}
    ours = [v for v in SUPPORTED_VERSIONS if not supported or v in supported]
    if not ours:
        return None
    if tenant_version in ours:
        return tenant_version
    return max(ours, key=key)


_VERSION = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}")


def _is_version(value: str) -> bool:
    # ASCII digits only: "1.²" passes str.isdigit() and then breaks int().
    return _VERSION.fullmatch(value) is not None
