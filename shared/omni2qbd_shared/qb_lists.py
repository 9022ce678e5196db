"""The mapper's view of a tenant's QuickBooks lists (customers, vendors, items, accounts, ...).

The gateway keeps the mirror in the database; the mapper consumer and the gateway build a
``QbLists`` from it, and ``omni2qbd preview`` passes an empty one.

Two kinds of view exist. An *offline* view (``QbLists()``, what ``preview`` uses) knows no
QuickBooks company: an empty list there means "not mirrored", and the mapper trusts the
names in the settings file. A *tenant* view (``QbLists.for_tenant(read_lists)``, what the
mapper service builds) knows which lists the gateway has read from QuickBooks: until it has
read them, every entry waits (it is held with a finding saying so), and once a list was read
a name missing from it is missing from QuickBooks, even when the list is empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

NameListKind = Literal["customer", "vendor", "employee", "other_name"]
ListName = Literal["customer", "vendor", "item", "account", "class", "sales_tax_item"]

# The lists an entry may be checked against before it can be called ready.
REQUIRED_LISTS: tuple[ListName, ...] = (
    "customer",
    "vendor",
    "item",
    "account",
    "class",
    "sales_tax_item",
)

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
    # Items only: QuickBooks' item type as its Ret names it ("ItemNonInventory", "ItemService",
    # "ItemOtherCharge", "ItemDiscount", "ItemInventory", ...); None when not known.
    item_type: str | None = None
    # Customers only: the customer's sales tax code (e.g. "Tax", "Non") when QuickBooks has one.
    sales_tax_code: str | None = None


class QbListsView(Protocol):
    """What the mapping rules may ask about QuickBooks lists. All lookups are by exact
    (normalised) full name unless said otherwise."""

    def is_mirrored(self, list_name: ListName) -> bool: ...

    def awaiting_lists(self) -> list[str]:
        """Lists a tenant view has not read from QuickBooks yet (always empty offline)."""
        ...

    def previous_exchange_rate(self, currency: str) -> Decimal | None:
        """The exchange rate (home units per foreign unit) of the tenant's latest entry in
        ``currency`` before this one, if any."""
        ...

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
    # None: offline (no company known). Otherwise the lists the gateway has read so far.
    read_lists: frozenset[str] | None = None
    exchange_rates: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> QbLists:
        return cls()

    @classmethod
    def for_tenant(cls, read_lists: Iterable[str]) -> QbLists:
        return cls(read_lists=frozenset(read_lists))

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
        if self.read_lists is not None and list_name in self.read_lists:
            return True
        return bool(self.lists.get(list_name))

    def awaiting_lists(self) -> list[str]:
        if self.read_lists is None:
            return []
        return [name for name in REQUIRED_LISTS if name not in self.read_lists]

    def previous_exchange_rate(self, currency: str) -> Decimal | None:
        return self.exchange_rates.get(currency.upper())

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
