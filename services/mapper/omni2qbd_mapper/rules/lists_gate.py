"""The gate every mapping result passes: nothing is ready before QuickBooks' lists are read."""

from __future__ import annotations

from omni2qbd_mapper.result import DocumentStatus, MappingResult
from omni2qbd_shared.entries import Finding
from omni2qbd_shared.qb_lists import QbListsView

_LIST_WORDS = {
    "customer": "customers",
    "vendor": "vendors",
    "item": "items",
    "account": "accounts",
    "class": "classes",
    "sales_tax_item": "sales tax items",
}


def hold_until_lists_read(result: MappingResult, lists: QbListsView) -> MappingResult:
    """Nothing is ready before it was checked against QuickBooks' lists: until the gateway
    has read them (the tenant's first Web Connector session), every entry is held with a
    finding that says so, and it is checked again as soon as a list arrives."""
    missing = lists.awaiting_lists()
    if not missing or not result.entries:
        return result
    words = ", ".join(_LIST_WORDS.get(name, name) for name in missing)
    finding = Finding(
        code="waiting_for_quickbooks_lists",
        blocking=True,
        message=(
            f"{result.document}: waiting for QuickBooks' lists ({words}) to be read by the "
            "first Web Connector session. It is checked against them as soon as they arrive; "
            "nothing to fix yet."
        ),
        document=result.document,
    )
    for entry in result.entries:
        entry.findings.append(finding)
    result.findings.append(finding)
    result.status = DocumentStatus.HELD
    return result
