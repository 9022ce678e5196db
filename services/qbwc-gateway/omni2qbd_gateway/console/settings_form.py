"""The tenant's mapping settings as a form, built from the settings model itself so every
setting appears with its one-line explanation and its recommended (default) value.

Settings that name something in QuickBooks (accounts, items, classes, sales tax items and
codes) offer the tenant's QuickBooks list as a searchable choice. Maps (Cin7 code ->
QuickBooks name) are kept as they are: the Matching page edits contacts and items.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from omni2qbd_shared.tenant_settings import TenantSettings

# Which QuickBooks list a setting's value comes from.
LIST_OF_SECTION = {"accounts": "account", "items": "item", "classes": "class"}
LIST_OF_FIELD = {
    ("tax", "taxable_code"): "sales_tax_code",
    ("tax", "non_taxable_code"): "sales_tax_code",
    ("tax", "default_tax_item"): "sales_tax_item",
}
SECTION_WORDS = {
    "general": "General",
    "accounts": "Accounts",
    "items": "Items",
    "sales": "Sales orders → invoices and credit memos",
    "purchases": "Purchase orders → bills and vendor credits",
    "tax": "Sales tax",
    "classes": "Classes",
    "contacts": "Contacts",
    "cogs": "Cost of goods sold",
    "adjustments": "Stock adjustments",
    "rounding": "Rounding",
}
HIDDEN = {("general", "schema_version")}


@dataclass
class SettingField:
    section: str
    name: str
    label: str
    help: str
    kind: str  # text | bool | choice | number | list | map
    value: Any
    recommended: Any
    choices: list[str] = field(default_factory=list)
    list_type: str | None = None
    problem: str | None = None

    @property
    def key(self) -> str:
        return self.name if self.section == "general" else f"{self.section}.{self.name}"

    @property
    def is_recommended(self) -> bool:
        return _text(self.value) == _text(self.recommended)

    @property
    def recommended_text(self) -> str:
        return _text(self.recommended)


@dataclass
class SettingSection:
    name: str
    title: str
    fields: list[SettingField]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return f"{len(value)} entries"
    return str(value)


LABELS = {"qbxml_version": "qbXML version", "cogs": "COGS", "months_open": "Months kept open"}


def _label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    words = name.replace("_", " ")
    return words[:1].upper() + words[1:]


def _base_type(annotation: Any) -> Any:
    """``str | None`` -> ``str``; other unions and plain types pass through."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _kind(annotation: Any) -> tuple[str, list[str]]:
    base = _base_type(annotation)
    origin = typing.get_origin(base)
    if origin is dict:
        return "map", []
    if origin is list:
        return "list", []
    if base is bool:
        return "bool", []
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return "choice", [str(member.value) for member in base]
    if base in (int, float, Decimal):
        return "number", []
    return "text", []


def _fields_of(
    section: str, model: BaseModel, defaults: BaseModel, problems: dict[str, str]
) -> list[SettingField]:
    found = []
    for name, info in type(model).model_fields.items():
        if (section, name) in HIDDEN:
            continue
        annotation = info.annotation
        base = _base_type(annotation)
        if isinstance(base, type) and issubclass(base, BaseModel):
            continue  # a section, listed on its own
        kind, choices = _kind(annotation)
        list_type = LIST_OF_FIELD.get((section, name)) or (
            LIST_OF_SECTION.get(section)
            if kind == "text" and not name.endswith("pattern")
            else None
        )
        setting = SettingField(
            section=section,
            name=name,
            label=_label(name),
            help=(info.description or "").strip(),
            kind=kind,
            value=getattr(model, name),
            recommended=getattr(defaults, name),
            choices=choices,
            list_type=list_type,
        )
        setting.problem = problems.get(setting.key)
        found.append(setting)
    return found


def sections(
    settings: TenantSettings, problems: dict[str, str] | None = None
) -> list[SettingSection]:
    defaults = TenantSettings()
    problems = problems or {}
    result = [
        SettingSection(
            "general", SECTION_WORDS["general"], _fields_of("general", settings, defaults, problems)
        )
    ]
    for name, info in TenantSettings.model_fields.items():
        base = _base_type(info.annotation)
        if isinstance(base, type) and issubclass(base, BaseModel):
            result.append(
                SettingSection(
                    name,
                    SECTION_WORDS.get(name, _label(name)),
                    _fields_of(name, getattr(settings, name), getattr(defaults, name), problems),
                )
            )
    return result


def _converted(kind: str, raw: str | None) -> Any:
    if kind == "bool":
        return raw == "on"
    text = (raw or "").strip()
    if kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    if text == "":
        return None
    return text


def body_from_form(current: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
    """The settings body with the form's values over the current ones (maps kept)."""
    body = {k: (dict(v) if isinstance(v, dict) else v) for k, v in current.items()}
    model = TenantSettings.model_validate(current)
    for section in sections(model):
        for setting in section.fields:
            if setting.kind == "map":
                continue
            raw = form.get(setting.key)
            value = _converted(setting.kind, raw if isinstance(raw, str) else None)
            if value is None and setting.recommended is not None and setting.kind != "text":
                value = setting.recommended if setting.kind != "number" else None
            target = body if section.name == "general" else body.setdefault(section.name, {})
            if value is None and setting.kind == "number":
                continue  # left empty: keep what was there
            target[setting.name] = value
    return body


def changed_keys(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the settings whose values differ."""
    keys: list[str] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        path = f"{prefix}{name}"
        if isinstance(old, dict) and isinstance(new, dict) and not path.endswith("_map"):
            keys += changed_keys(old, new, f"{path}.")
        elif old != new:
            keys.append(path)
    return keys
