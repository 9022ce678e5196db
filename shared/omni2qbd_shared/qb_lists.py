"""The mapper's view of a tenant's QuickBooks lists (customers, vendors, items, accounts, ...).

The gateway keeps the mirror in the database; the mapper consumer and the gateway build a
``QbLists`` from it, and ``omni2qbd preview`` passes an empty one. An empty list means "not
mirrored yet": the mapper then trusts the names in the settings file instead of holding the
entry for an account it cannot see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

NameListKind = Literal["customer", "vendor", "employee", "other_name"]
ListName = Literal["customer", "vendor", "item", "account", "class", "sales_tax_item"]

_SPACES = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """Case- and spacing-insensitive form used for exact-name matching."""
    return _SPACES.sub(" ", name).strip().casefold()


@dataclass(frozen=True)
class QbListElement:
    list_id: str | None
    full_name: str
    email: str | None = None
    is_active: bool = True
    # Sales tax items only: the rate QuickBooks will charge, in percent.
    tax_rate: Decimal | None = None


class QbListsView(Protocol):
    """What the mapping rules may ask about QuickBooks lists. All lookups are by exact
    (normalised) full name unless said otherwise."""

    def is_mirrored(self, list_name: ListName) -> bool: ...

    def find(self, list_name: ListName, full_name: str) -> QbListElement | None: ...

    def find_by_email(
        self, list_name: Literal["customer", "vendor"], email: str
    ) -> QbListElement | None: ...

    def confirmed_match(
        self, list_name: Literal["customer", "vendor", "item"], cin7_key: str
    ) -> QbListElement | None:
        """A match a person confirmed: Cin7 memberId (contacts) or product code (items)."""
        ...

    def name_owner(self, name: str) -> NameListKind | None:
        """Which name list already uses ``name`` (names are unique across all four)."""
        ...

    def ref_number_owner(self, entry_kind: str, ref_number: str) -> str | None:
        """Which Cin7 document (``<kind>:<id>``, e.g. ``sales_order:2221``) holds this
        RefNumber for this kind of entry, if any."""
        ...


@dataclass
class QbLists:
    """A plain in-memory ``QbListsView``; build it from the mirror tables or leave it empty."""

    lists: dict[str, dict[str, QbListElement]] = field(default_factory=dict)
    matches: dict[tuple[str, str], QbListElement] = field(default_factory=dict)
    other_names: dict[str, NameListKind] = field(default_factory=dict)
    ref_numbers: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> QbLists:
        return cls()

    def add(self, list_name: ListName, elements: Iterable[QbListElement]) -> QbLists:
        target = self.lists.setdefault(list_name, {})
        for element in elements:
            target[normalise_name(element.full_name)] = element
        return self

    def add_match(self, list_name: str, cin7_key: str, element: QbListElement) -> QbLists:
        self.matches[(list_name, str(cin7_key))] = element
        return self

    def add_names(self, kind: NameListKind, names: Iterable[str]) -> QbLists:
        for name in names:
            self.other_names[normalise_name(name)] = kind
        return self

    def add_ref_numbers(self, entry_kind: str, owners: Mapping[str, str]) -> QbLists:
        """``owners`` maps RefNumber -> holding document (``sales_order:2221``)."""
        for ref, owner in owners.items():
            self.ref_numbers[(entry_kind, ref.casefold())] = owner
        return self

    def is_mirrored(self, list_name: ListName) -> bool:
        return bool(self.lists.get(list_name))

    def find(self, list_name: ListName, full_name: str) -> QbListElement | None:
        return self.lists.get(list_name, {}).get(normalise_name(full_name))

    def find_by_email(
        self, list_name: Literal["customer", "vendor"], email: str
    ) -> QbListElement | None:
        wanted = email.strip().casefold()
        if not wanted:
            return None
        for element in self.lists.get(list_name, {}).values():
            if element.email and element.email.strip().casefold() == wanted:
                return element
        return None

    def confirmed_match(
        self, list_name: Literal["customer", "vendor", "item"], cin7_key: str
    ) -> QbListElement | None:
        return self.matches.get((list_name, str(cin7_key)))

    def name_owner(self, name: str) -> NameListKind | None:
        key = normalise_name(name)
        if key in self.lists.get("customer", {}):
            return "customer"
        if key in self.lists.get("vendor", {}):
            return "vendor"
        return self.other_names.get(key)

    def ref_number_owner(self, entry_kind: str, ref_number: str) -> str | None:
        return self.ref_numbers.get((entry_kind, ref_number.casefold()))
