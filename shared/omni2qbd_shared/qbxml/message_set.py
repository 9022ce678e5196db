"""The one qbXML message-set builder and requestID scheme (reference §3).

The gateway sends what this builds and ``omni2qbd preview`` prints it, so what a person
previews is byte for byte what QuickBooks receives. Every set is validated against the XSD of
its version before it leaves: QuickBooks never sees a request we could have known was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy

from lxml import etree

from omni2qbd_shared.qbxml.schema import schema_for

ON_ERROR_VALUES = ("stopOnError", "continueOnError", "rollbackOnError")
REQUEST_ID_MAX = 50  # QuickBooks refuses longer requestIDs
MESSAGE_SET_ID_MAX = 23
_ENTRY_PREFIX = "e-"


class InvalidRequestSet(ValueError):
    """A message set we built does not validate: a bug or bad entry data, never sent."""


def entry_request_id(entry_id: str) -> str:
    """The requestID of an entry's Add or Mod: its answer names the entry it belongs to."""
    return f"{_ENTRY_PREFIX}{entry_id}"[:REQUEST_ID_MAX]


def entry_id_of(request_id: str | None) -> str | None:
    if request_id and request_id.startswith(_ENTRY_PREFIX):
        return request_id[len(_ENTRY_PREFIX) :]
    return None


def with_request_id(element: etree._Element, request_id: str) -> etree._Element:
    """A copy of a request element carrying ``request_id`` (callers may reuse the original)."""
    if not request_id or len(request_id) > REQUEST_ID_MAX:
        raise ValueError(f"requestID must be 1-{REQUEST_ID_MAX} characters: {request_id!r}")
    copy = deepcopy(element)
    copy.set("requestID", request_id)
    return copy


def validation_problems(root: etree._Element, version: str) -> list[str]:
    schema = schema_for(version)
    if schema.validate(root.getroottree()):
        return []
    return [f"{e.message}" for e in schema.error_log]  # type: ignore[attr-defined]


def message_set(
    version: str,
    requests: Iterable[etree._Element],
    *,
    on_error: str = "continueOnError",
    new_message_set_id: str | None = None,
    old_message_set_id: str | None = None,
) -> str:
    """``<?qbxml version="X"?><QBXML><QBXMLMsgsRq ...>`` holding ``requests`` (each already
    carrying its requestID), XSD-checked; raises ``InvalidRequestSet`` rather than build a
    set QuickBooks would refuse."""
    if on_error not in ON_ERROR_VALUES:
        raise ValueError(f"onError must be one of {ON_ERROR_VALUES}, not {on_error!r}")
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRq")
    msgs.set("onError", on_error)
    for attribute, value in (
        ("newMessageSetID", new_message_set_id),
        ("oldMessageSetID", old_message_set_id),
    ):
        if value:
            if len(value) > MESSAGE_SET_ID_MAX:
                raise ValueError(f"{attribute} must be 1-{MESSAGE_SET_ID_MAX} characters")
            msgs.set(attribute, value)
    for request in requests:
        msgs.append(request)
    errors = validation_problems(root, version)
    if errors:
        raise InvalidRequestSet("; ".join(errors[:5]))
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?><?qbxml version="{version}"?>{body}'
