"""Helpers for the mapper tests: the document corpus and settings variations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
