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


class _Rule:
    """What the US rules say about one element path, and about the paths below it."""

    __slots__ = ("below", "limit", "unsupported")

    def __init__(self) -> None:
        self.below: dict[str, _Rule] = {}
        self.limit: int | None = None
        self.unsupported = False


@cache
def _rules(request_tag: str) -> _Rule | None:
    """The request's limits and unsupported elements as a tree of element names, so a check
    walks only the elements some rule names a path through (not every element)."""
    rules = _table().get(request_tag)
    if rules is None:
        return None
    root = _Rule()

    def node(path: str) -> _Rule:
        at = root
        for name in path.split("/"):
            at = at.below.setdefault(name, _Rule())
        return at

    for path, limit in rules["max_length"].items():
        node(path).limit = limit
    for path in rules["not_in_qbd_us"]:
        node(path).unsupported = True
    return root


def check_request(rq: etree._Element) -> None:
    """Raise the status US QuickBooks answers this request with, if it refuses it."""
    rules = _rules(str(rq.tag))
    if rules is not None:
        _check(rq, rules, "")


def _check(element: etree._Element, rules: _Rule, prefix: str) -> None:
    """The elements below ``element`` in document order, as far as a rule names them."""
    below = rules.below
    for child in element:
        rule = below.get(child.tag)
        if rule is None:  # no rule names this path or one under it (nor a comment)
            continue
        path = f"{prefix}{child.tag}"
        if rule.unsupported:
            # Code and words as Intuit's status table gives 3250; which status US QuickBooks
            # uses for an element the OSR marks "not in QBD" was not confirmed.
            raise statuses.RequestFailed(
                NOT_AVAILABLE,
                "This feature is not enabled or not available in this version of QuickBooks.  "
                f"The element {path} is not supported by US QuickBooks Desktop.",
            )
        text = child.text or ""
        if rule.limit is not None and not len(child) and len(text) > rule.limit:
            raise statuses.RequestFailed(
                STRING_TOO_LONG,
                f'The string "{text}" in the field "{child.tag}" is too long.',
            )
        if rule.below:
            _check(child, rule, f"{path}/")
