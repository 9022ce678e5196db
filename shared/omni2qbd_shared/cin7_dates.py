"""Cin7 Omni dates in every form the API sends (reference §5), read once for every service.

The fetcher reads them to page by modification date, the mapper to date entries: one parser, so
a form one of them accepts (the old ASP.NET ``/Date(ms)/``, 7-digit fractions) the other does too.
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
    if value is None:
        return None
    if isinstance(value, datetime):
        return _as_utc(value)
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
    return _from_match(match)


def _as_utc(value: datetime) -> datetime:
    """A naive datetime is UTC already (the API's dates all are); an aware one is converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _zone(text: str | None) -> timezone:
    """``Z``, no zone (UTC, as documented), ``+12``, ``+1200`` or ``+12:00``."""
    if not text or text.upper() == "Z":
        return UTC
    raw = text.replace(":", "")
    sign = -1 if raw[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(raw[1:3]), minutes=int(raw[3:5] or 0)))


def _from_match(match: re.Match[str]) -> datetime:
    # Python keeps microseconds: Cin7's 7-digit fractions lose their last digit.
    fraction = (match["f"] or "0")[:6].ljust(6, "0")
    parsed = datetime(
        int(match["y"]),
        int(match["mo"]),
        int(match["d"]),
        int(match["h"] or 0),
        int(match["mi"] or 0),
        int(match["s"] or 0),
        int(fraction),
        tzinfo=_zone(match["z"]),
    )
    return parsed.astimezone(UTC)


def format_cin7_datetime(value: datetime) -> str:
    """The form the API documents and filters accept: ``yyyy-MM-ddTHH:mm:ssZ`` (UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
