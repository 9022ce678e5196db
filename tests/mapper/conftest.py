"""Helpers for the mapper tests: the document corpus and settings variations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from omni2qbd_shared.db.models import QbListCursor, QbListItem
from omni2qbd_shared.tenant_settings import TenantSettings

CORPUS = Path(__file__).parent / "corpus"


def load_doc(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def settings_with(**sections: dict[str, Any] | Any) -> TenantSettings:
    """Default settings with some sections (or top-level values) replaced."""
    data = TenantSettings().model_dump(mode="json")
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return TenantSettings.model_validate(data)


@pytest.fixture
def defaults() -> TenantSettings:
    return TenantSettings()


# QuickBooks item types the defaults' items have in a well set-up company file.
_ITEM_TYPES = {
    "default_item": "ItemNonInventoryRet",
    "account_mode_item": "ItemNonInventoryRet",
    "freight_item": "ItemOtherChargeRet",
    "surcharge_item": "ItemOtherChargeRet",
    "discount_item": "ItemDiscountRet",
    "rounding_item": "ItemOtherChargeRet",
    "tax_line_item": "ItemOtherChargeRet",
}


def mirror_rows(tenant_id: str, settings: TenantSettings | None = None) -> list[Any]:
    """The gateway's mirror of a company file that has every name the settings use, as
    after the tenant's first Web Connector session (every list read, cursors set)."""

    settings = settings or TenantSettings()
    rows: list[Any] = []
    names: set[tuple[str, str]] = set()

    def add(list_type: str, name: str | None, ret: str) -> None:
        if not name or (list_type, name.casefold()) in names:
            return
        names.add((list_type, name.casefold()))
        rows.append(
            QbListItem(
                tenant_id=tenant_id,
                list_type=list_type,
                list_id=f"{list_type[:3].upper()}-{len(rows) + 1}",
                full_name=name,
                data={"ret": ret},
            )
        )

    for value in settings.accounts.model_dump().values():
        if isinstance(value, str):
            add("account", value, "AccountRet")
    for value in settings.accounts.account_map.values():
        add("account", value, "AccountRet")
    for field, ret in _ITEM_TYPES.items():
        add("item", getattr(settings.items, field), ret)
    for value in settings.items.item_map.values():
        add("item", value, "ItemNonInventoryRet")
    add("sales_tax_item", settings.tax.default_tax_item, "ItemSalesTaxRet")
    for mapped in settings.tax.tax_item_map.values():
        add("sales_tax_item", mapped.item, "ItemSalesTaxRet")
    for value in settings.classes.branch_class_map.values():
        add("class", value, "ClassRet")
    add("class", settings.classes.default_class, "ClassRet")
    now = datetime.now(UTC)
    for list_type in ("customer", "vendor", "item", "account", "class", "sales_tax_item"):
        rows.append(QbListCursor(tenant_id=tenant_id, list_type=list_type, refreshed_at=now))
    return rows
