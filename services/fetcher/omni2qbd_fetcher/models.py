"""Cin7 Omni's dates: every form the API sends (reference §5) read as aware UTC, and the form
its filters accept written back.

The fetcher passes Cin7's documents on as raw JSON (the mapper reads them), so nothing here
models a document.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

_DATE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"\s*(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)
_DOTNET = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<z>[+-]\d{4})?\)/$")


def parse_cin7_datetime(value: Any) -> datetime | None:
    """Read a Cin7 date in any form seen in the wild, as an aware UTC datetime.

    ``2022-09-16T09:00:05Z``, ``...05.1234567Z``, ``2022-09-16 09:00:05`` (Payment model page),
    ``...T09:00:05`` without a zone (UTC, as the API documents all dates), ``+12:00`` offsets,
    plain ``2022-09-16`` and the old ASP.NET ``/Date(ms)/``. Empty text reads as no date.
    """
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if isinstance(value, datetime) else None
    if not isinstance(value, str):
        raise ValueError(f"expected a date string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    dotnet = _DOTNET.match(text)
    if dotnet:
        return datetime.fromtimestamp(int(dotnet["ms"]) / 1000, tz=UTC)
    match = _DATE.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a date Cin7 sends (expected yyyy-MM-ddTHH:mm:ssZ)")
    fraction = (match["f"] or "0")[:6].ljust(6, "0")
    zone = UTC
    if match["z"] and match["z"].upper() != "Z":
        raw = match["z"].replace(":", "")
        sign = -1 if raw[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(raw[1:3]), minutes=int(raw[3:5] or 0)))
    parsed = datetime(
        int(match["y"]),
        int(match["mo"]),
        int(match["d"]),
        int(match["h"] or 0),
        int(match["mi"] or 0),
        int(match["s"] or 0),
        int(fraction),
        tzinfo=zone,
    )
    return parsed.astimezone(UTC)


def format_cin7_datetime(value: datetime) -> str:
    """The form the API documents and filters accept: ``yyyy-MM-ddTHH:mm:ssZ`` (UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
