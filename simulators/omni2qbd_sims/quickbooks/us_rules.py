"""What US QuickBooks Desktop refuses per request, beyond Intuit's XSD.

QuickBooks does not fail a whole message set for an over-long string: it answers that one
request with status 3070 ("The string "..." in the field "..." is too long."), so the
simulator leaves maxLength out of the set-wide XSD check and applies the US limits here.
The limits and the elements US QuickBooks does not support come from Intuit's OSR sample
files (``qbxmlops130.xml`` / ``qbxmlops140.xml``, github.com/qbwc/qbxml ``schema/``), via
``us_limits.json`` (see docs/simulators.md for the provenance).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from omni2qbd_sims.quickbooks import statuses

_LIMITS_FILE = Path(__file__).with_name("us_limits.json")
STRING_TOO_LONG = 3070
NOT_AVAILABLE = 3250


@cache
def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_LIMITS_FILE.read_text(encoding="utf-8"))
    return data["requests"]  # type: ignore[no-any-return]


def is_length_error(message: str) -> bool:
    """An XSD error that real QuickBooks reports per request (3070), not for the set."""
    return "[facet 'maxLength']" in message


def _paths(element: etree._Element, prefix: str = "") -> list[tuple[str, etree._Element]]:
    found: list[tuple[str, etree._Element]] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        path = f"{prefix}{child.tag}"
        found.append((path, child))
        found += _paths(child, f"{path}/")
    return found


def check_request(rq: etree._Element) -> None:
    """Raise the status US QuickBooks answers this request with, if it refuses it."""
    rules = _table().get(str(rq.tag))
    if rules is None:
        return
    limits: dict[str, int] = rules["max_length"]
    unsupported = set(rules["not_in_qbd_us"])
    for path, element in _paths(rq):
        if path in unsupported:
            # Code and words as Intuit's status table gives 3250; which status US QuickBooks
            # uses for an element the OSR marks "not in QBD" was not confirmed.
            raise statuses.RequestFailed(
                NOT_AVAILABLE,
                "This feature is not enabled or not available in this version of QuickBooks.  "
                f"The element {path} is not supported by US QuickBooks Desktop.",
            )
        limit = limits.get(path)
        text = element.text or ""
        if limit is not None and not len(element) and len(text) > limit:
            raise statuses.RequestFailed(
                STRING_TOO_LONG,
                f'The string "{text}" in the field "{element.tag}" is too long.',
            )
