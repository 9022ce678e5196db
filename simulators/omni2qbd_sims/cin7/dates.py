"""Date forms of the Cin7 Omni API (reference §5).

The documented wire form is ``yyyy-MM-ddTHH:mm:ssZ``; the other forms exist in the official
material (the Payment model page, the help-page samples) and the simulator can be switched to
emit any of them so that clients prove they read every one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum


class DateForm(StrEnum):
    ISO_Z = "iso_z"  # 2022-09-16T09:00:05Z (documented form, default)
    FRACTION_Z = "fraction_z"  # 2022-09-16T09:00:05.123Z
    SPACE = "space"  # 2022-09-16 09:00:05 (official Payment model page, UTC)
    NAIVE = "naive"  # 2022-09-16T09:00:05 (no zone: UTC)
    OFFSET = "offset"  # 2022-09-16T21:00:05.1946848+12:00 (help-page sample form)
    DATE_ONLY = "date_only"  # 2022-09-16 (loses the time; only for calendar-date tests)


_NZ = timezone(timedelta(hours=12))


def format_date(value: datetime, form: DateForm = DateForm.ISO_Z) -> str:
    value = value.astimezone(UTC)
    if form is DateForm.ISO_Z:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form is DateForm.FRACTION_Z:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if form is DateForm.SPACE:
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if form is DateForm.NAIVE:
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if form is DateForm.OFFSET:
        local = value.astimezone(_NZ)
        # .NET prints 7 fractional digits; the 7th is always 0 for microsecond-precise values.
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0+12:00"
    return value.strftime("%Y-%m-%d")


_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


def parse_date(text: str) -> datetime:
    """Parse any of the forms above; no zone means UTC. Raises ValueError otherwise."""
    match = _DATE_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a date: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = UTC
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    parsed = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        tzinfo=tz,
    )
    return parsed.astimezone(UTC)


def looks_like_date(text: str) -> bool:
    return bool(_DATE_RE.match(text.strip()))
