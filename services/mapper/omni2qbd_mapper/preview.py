"""Preview support: the requests an import of one mapping result would send, in order."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from omni2qbd_mapper.result import MappingResult
from omni2qbd_shared.entries import Entry, request_id_for
from omni2qbd_shared.qbxml.message_set import entry_request_id, message_set, with_request_id
from omni2qbd_shared.qbxml.render import RenderError, render_add


def ordered_entries(result: MappingResult) -> list[Entry]:
    """Dependencies (new customers/vendors) before the transactions that name them."""
    lists = [e for e in result.entries if e.is_list_add]
    others = [e for e in result.entries if not e.is_list_add]
    return lists + others


def preview_request_id(entry: Entry, entry_id: str | None = None) -> str:
    """The gateway's requestID scheme. Without a database an entry has no id yet: its stable
    digest (tenant, key, revision) stands in for it."""
    return entry_request_id(entry_id or request_id_for(entry))


def result_requests(result: MappingResult, version: str) -> list[etree._Element]:
    requests = []
    for entry in ordered_entries(result):
        try:
            element = render_add(entry, version)
        except RenderError:
            continue  # an entry with nothing to send (held); its findings say why
        requests.append(with_request_id(element, preview_request_id(entry)))
    return requests


def result_message_set(result: MappingResult, version: str) -> str:
    """Built by the builder the gateway sends with (``omni2qbd_shared.qbxml.message_set``)."""
    return message_set(version, result_requests(result, version))


def result_json(result: MappingResult) -> dict[str, Any]:
    """The result as JSON, each entry with its debit/credit table beside it."""
    data: dict[str, Any] = json.loads(result.model_dump_json())
    for entry_data, entry in zip(data["entries"], result.entries, strict=True):
        entry_data["held"] = entry.held
        entry_data["debit_credit"] = [json.loads(p.model_dump_json()) for p in entry.debit_credit()]
    data["findings"] = [json.loads(f.model_dump_json()) for f in result.all_findings()]
    if result.cogs:
        data["cogs_counts_when"] = COGS_RULE
    return data


# How pending (draft) invoices count: see docs/mapper.md, "COGS follows the revenue".
COGS_RULE = (
    "This document's COGS counts in its month's journal once its invoice or credit memo is in "
    "QuickBooks (a pending draft counts, and the month's journal says how much is on pending "
    "drafts), or once it is marked do not import; until then it waits."
)
