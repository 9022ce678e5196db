"""``fields``, ``order``, ``page``/``rows`` and serialisation of list answers (reference §3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from omni2qbd_sims.cin7.dates import DateForm, format_date
from omni2qbd_sims.cin7.where import WhereError

MAX_ROWS = 250
DEFAULT_ROWS = 50


def parse_order(text: str | None, fields: Mapping[str, str]) -> list[tuple[str, bool]]:
    """``"modifiedDate DESC, id"`` -> [("modifiedDate", True), ("id", False)]."""
    if not text or not text.strip():
        return [("id", False)]
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise WhereError(f"cannot read the order clause {part.strip()!r}")
        name = fields.get(words[0].lower())
        if name is None:
            raise WhereError(f"unknown order field {words[0]!r}")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise WhereError(f"order direction must be ASC or DESC, not {words[1]!r}")
        keys.append((name, direction == "DESC"))
    return keys


def _sort_value(value: Any) -> tuple[int, Any]:
    # SQL Server sorts NULL first in ascending order; text sorts without regard to case.
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (1, value.lower())
    if isinstance(value, datetime):
        return (1, value.timestamp())
    if isinstance(value, dict | list):
        return (1, 0)
    return (1, value)


def sort_records(records: list[dict[str, Any]], keys: Sequence[tuple[str, bool]]) -> None:
    # Stable sorts from the last key to the first give a multi-key order with mixed directions;
    # a final tie-break on id keeps paging deterministic, as a clustered index would.
    records.sort(key=lambda r: _sort_value(r.get("id")))
    for name, descending in reversed(keys):

        def key(record: dict[str, Any], field: str = name) -> tuple[int, Any]:
            return _sort_value(record.get(field))

        records.sort(key=key, reverse=descending)


def split_fields(text: str) -> list[str]:
    """Split on commas outside parentheses: ``id,lineItems(code,qty)``."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += char == "("
        depth -= char == ")"
        current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def project(record: Mapping[str, Any], selection: str | None) -> dict[str, Any]:
    """Keep the fields named in ``selection``; unknown names are ignored."""
    if not selection:
        return dict(record)
    lower = {key.lower(): key for key in record}
    result: dict[str, Any] = {}
    for part in split_fields(selection):
        name, _, inner = part.partition("(")
        key = lower.get(name.strip().lower())
        if key is None:
            continue
        value = record[key]
        if inner and isinstance(value, list):
            nested = inner.rstrip(")")
            value = [project(item, nested) if isinstance(item, dict) else item for item in value]
        result[key] = value
    return result


def page_slice(total: int, page: int, rows: int) -> slice:
    start = (page - 1) * rows
    return slice(start, max(start, min(total, start + rows)))


def to_wire(value: Any, form: DateForm) -> Any:
    """Dates become strings in the configured form; everything else is JSON already."""
    if isinstance(value, datetime):
        return format_date(value, form)
    if isinstance(value, dict):
        return {key: to_wire(item, form) for key, item in value.items()}
    if isinstance(value, list):
        return [to_wire(item, form) for item in value]
    return value
