"""Per-document mapping context: settings, QuickBooks lists, findings and shared lookups."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from omni2qbd_mapper.cin7doc import Cin7Doc, Cin7Kind, local_date
from omni2qbd_mapper.result import PostedEntry
from omni2qbd_shared.entries import (
    Entry,
    EntryKind,
    Finding,
    Ref,
    SourceRef,
    external_guid_for,
)
from omni2qbd_shared.kinds import CIN7_LABEL
from omni2qbd_shared.qb_lists import QbListsView
from omni2qbd_shared.tenant_settings import REF_NUMBER_LIMITS, TenantSettings

KIND_LABELS = CIN7_LABEL


ItemRole = Literal["product", "charge", "discount"]

# The bridge posts values, never quantities (docs/design.md §1): only these item types may carry its
# lines. An Inventory Part would make QuickBooks post its own COGS and move quantities, on
# top of the bridge's COGS journals.
ALLOWED_ITEM_TYPES: dict[ItemRole, tuple[str, ...]] = {
    "product": ("ItemNonInventory", "ItemService"),
    "charge": ("ItemOtherCharge", "ItemService", "ItemNonInventory"),
    "discount": ("ItemDiscount", "ItemOtherCharge"),
}
ITEM_TYPE_WORDS = {
    "ItemService": "Service",
    "ItemNonInventory": "Non-inventory Part",
    "ItemOtherCharge": "Other Charge",
    "ItemInventory": "Inventory Part",
    "ItemInventoryAssembly": "Inventory Assembly",
    "ItemSalesTax": "Sales Tax Item",
    "ItemSalesTaxGroup": "Sales Tax Group",
    "ItemDiscount": "Discount",
    "ItemSubtotal": "Subtotal",
    "ItemPayment": "Payment",
    "ItemGroup": "Group",
    "ItemFixedAsset": "Fixed Asset",
}


def fmt(value: Decimal) -> str:
    return f"{value:,.2f}"


@dataclass
class MappingContext:
    kind: Cin7Kind
    doc: Cin7Doc
    settings: TenantSettings
    lists: QbListsView
    tenant_id: str
    revision: str
    posted: Sequence[PostedEntry] = ()
    findings: list[Finding] = field(default_factory=list)
    # The document's id as published (csv-imported supplier credits have no Cin7 id).
    source_id: str | None = None
    # Entries that must reach QuickBooks before this document's (new customers/vendors).
    dependencies: list[Entry] = field(default_factory=list)

    @property
    def reference(self) -> str:
        doc = self.doc
        return doc.text("reference") or doc.text("period") or f"#{doc.id or '?'}"

    @property
    def label(self) -> str:
        """How findings name the document: "Sales order SO-2221"."""
        return f"{KIND_LABELS[self.kind]} {self.reference}"

    @property
    def cin7_id(self) -> str:
        return self.source_id or self.doc.id or self.reference

    @property
    def identity(self) -> str:
        """``sales_order:2221``: who holds a RefNumber (see ``QbListsView.ref_number_owner``)."""
        return f"{self.kind.value}:{self.cin7_id}"

    def source(self) -> SourceRef:
        return SourceRef(
            kind=self.kind.value,
            cin7_id=self.cin7_id,
            revision=self.revision,
            reference=self.doc.text("reference"),
        )

    def finding(
        self, code: str, message: str, *, field: str | None = None, blocking: bool = True
    ) -> Finding:
        return Finding(
            code=code, blocking=blocking, message=message, document=self.label, field=field
        )

    def note(
        self, code: str, message: str, *, field: str | None = None, blocking: bool = True
    ) -> Finding:
        """Record a document-level finding and return it."""
        found = self.finding(code, message, field=field, blocking=blocking)
        self.findings.append(found)
        return found

    def local_date(self, moment: datetime) -> date:
        return local_date(moment, self.settings.zone())

    def class_name(self) -> str | None:
        branch = self.doc.text("branchId")
        if branch is not None and branch in self.settings.classes.branch_class_map:
            return self.settings.classes.branch_class_map[branch]
        return self.settings.classes.default_class

    def new_entry(self, kind: EntryKind, key: str, **values: Any) -> Entry:
        return Entry(
            kind=kind,
            source=self.source(),
            key=key,
            tenant_id=self.tenant_id,
            external_guid=external_guid_for(self.tenant_id, key, self.revision),
            **values,
        )

    # -- QuickBooks list checks -------------------------------------------------------------

    def check_account(self, name: str, setting: str, purpose: str) -> list[Finding]:
        """Hold the entry if the mirror is loaded and lacks the account a setting names."""
        if self.lists.is_mirrored("account") and self.lists.find("account", name) is None:
            return [
                self.finding(
                    "unmapped_account",
                    f"{self.label}: QuickBooks has no account {name!r} (setting {setting}), needed "
                    f"for {purpose}. Create it in QuickBooks or change the setting.",
                    field=setting,
                )
            ]
        return []

    def check_item(
        self, name: str, setting: str, purpose: str, role: ItemRole = "charge"
    ) -> list[Finding]:
        if self.lists.is_mirrored("item") and self.lists.find("item", name) is None:
            return [
                self.finding(
                    "unmapped_item",
                    f"{self.label}: QuickBooks has no item {name!r} (setting {setting}), needed "
                    f"for {purpose}. Create it in QuickBooks or change the setting.",
                    field=setting,
                )
            ]
        return self.check_item_type(name, role, setting)

    def check_item_type(self, name: str, role: ItemRole, where: str) -> list[Finding]:
        """Hold the entry when the QuickBooks item has a type the bridge must not post to."""
        found = self.lists.find("item", name)
        if found is None or found.item_type is None:
            return []
        allowed = ALLOWED_ITEM_TYPES[role]
        if found.item_type in allowed:
            return []
        kind = ITEM_TYPE_WORDS.get(found.item_type, found.item_type)
        choices = " or ".join(ITEM_TYPE_WORDS[t] for t in allowed)
        why = (
            " QuickBooks would post its own cost of goods sold and move quantities on top of "
            "the bridge's COGS journals (the bridge syncs values, not quantities)."
            if found.item_type in ("ItemInventory", "ItemInventoryAssembly")
            else ""
        )
        return [
            self.finding(
                "item_type_not_allowed",
                f"{self.label}: QuickBooks item {found.full_name!r} ({where}) is an {kind}, "
                f"which the bridge does not put on its lines.{why} Choose a {choices} item "
                "for it (items.item_map or the items settings).",
                field=where,
            )
        ]

    def rounding_note(self, difference: Decimal, rounded_amounts: int) -> list[Finding]:
        """Say so when the rounding line is more than a cent per rounded line: a difference
        that size is not rounding alone, and nobody should find it only in the ledger."""
        if abs(difference) <= Decimal("0.01") * max(rounded_amounts, 1):
            return []
        return [
            self.finding(
                "rounding_difference",
                f"{self.label}: the lines differ from Cin7's total (field total) by "
                f"{fmt(difference)}, more than a cent per line ({rounded_amounts} lines); "
                f"{fmt(difference)} is posted as a rounding line to "
                f"{self.settings.accounts.rounding!r}. Above rounding.tolerance "
                f"({fmt(self.settings.rounding.tolerance)}) the entry would be held.",
                field="total",
                blocking=False,
            )
        ]

    def unmapped_account_code(self, code: str | None, line_no: int, used: str) -> list[Finding]:
        """The note docs/mapper.md promises for a Cin7 accountCode missing from account_map."""
        if not code or code in self.settings.accounts.account_map:
            return []
        return [
            self.finding(
                "unmapped_account",
                f"{self.label}, line {line_no}: Cin7 account code {code!r} (field "
                f"lineItems[{line_no - 1}].accountCode) is not in accounts.account_map, so the "
                f"line posts to {used!r}. Map it in the tenant settings if it should not.",
                field=f"lineItems[{line_no - 1}].accountCode",
                blocking=False,
            )
        ]

    def item_ref(self, name: str) -> Ref:
        found = self.lists.find("item", name)
        return Ref(name=found.full_name, list_id=found.list_id) if found else Ref(name=name)

    # -- RefNumber ------------------------------------------------------------------------

    def ref_number(
        self,
        pattern: str,
        tokens: Mapping[str, Any],
        entry_kind: Literal["invoice", "credit_memo", "journal", "bill", "vendor_credit"],
        setting: str,
    ) -> tuple[str | None, list[Finding]]:
        """Render a RefNumber pattern within QuickBooks' length, avoiding numbers in use.

        A number is free when nobody holds it or this same Cin7 document does (a re-import).
        """
        me = self.identity
        limit = REF_NUMBER_LIMITS[entry_kind]
        values = {k: "" if v is None else str(v) for k, v in tokens.items()}
        rendered = string.Formatter().vformat(pattern, (), _Blank(values)).strip()
        findings: list[Finding] = []
        if not rendered:
            return None, findings
        if len(rendered) > limit:
            # The distinctive part of a reference is usually at its end (SO-000123), so keep that.
            shortened = rendered[-limit:]
            findings.append(
                self.finding(
                    "ref_number_shortened",
                    f"{self.label}: the reference {rendered!r} (from setting {setting}) is longer "
                    f"than QuickBooks' {limit} characters, so {shortened!r} is used.",
                    field=setting,
                    blocking=False,
                )
            )
            rendered = shortened
        owner = self.lists.ref_number_owner(entry_kind, rendered)
        if owner is None or owner == me:
            return rendered, findings
        for n in range(2, 100):
            suffix = f"-{n}"
            candidate = rendered[: limit - len(suffix)] + suffix
            holder = self.lists.ref_number_owner(entry_kind, candidate)
            if holder is None or holder == me:
                findings.append(
                    self.finding(
                        "ref_number_collision",
                        f"{self.label}: reference {rendered!r} is already used by another "
                        f"{entry_kind.replace('_', ' ')} ({owner}), so {candidate!r} is used.",
                        field=setting,
                        blocking=False,
                    )
                )
                return candidate, findings
        findings.append(
            self.finding(
                "ref_number_collision",
                f"{self.label}: reference {rendered!r} and its variants are all in use; change "
                f"setting {setting}.",
                field=setting,
            )
        )
        return rendered, findings

    # -- currency ---------------------------------------------------------------------------

    def currency(self) -> tuple[str, Decimal | None, list[Finding]]:
        """The document currency, the exchange rate to send, and findings."""
        home = self.settings.home_currency.upper()
        code = (self.doc.text("currencyCode") or home).upper()
        if code == home:
            return code, None, []
        if not self.settings.multi_currency:
            return (
                code,
                None,
                [
                    self.finding(
                        "foreign_currency",
                        f"{self.label} is in {code} (field currencyCode) but QuickBooks "
                        f"multi-currency is off for this company (setting multi_currency); it "
                        f"cannot be posted in {home}. Turn on multi-currency or re-issue it in "
                        f"{home}.",
                        field="currencyCode",
                    )
                ],
            )
        rate = self.doc.opt_dec("currencyRate")
        if rate is None or rate <= 0:
            return (
                code,
                None,
                [
                    self.finding(
                        "no_exchange_rate",
                        f"{self.label} is in {code} but has no exchange rate (field currencyRate).",
                        field="currencyRate",
                    )
                ],
            )
        # Cin7 stores units of document currency per unit of the account's base currency
        # (docs/mapper.md, "Currency", says how sure that is); QuickBooks wants home currency
        # per unit of the foreign currency.
        exchange_rate = (Decimal(1) / rate).quantize(Decimal("0.000001"))
        return code, exchange_rate, self._rate_moved(code, exchange_rate)

    def _rate_moved(self, code: str, exchange_rate: Decimal) -> list[Finding]:
        """A rate far from the tenant's previous one for the currency is checked by a person:
        it is how an inverted or mistyped rate shows before it reaches the books."""
        previous = self.lists.previous_exchange_rate(code)
        if previous is None or previous <= 0:
            return []
        limit = self.settings.currency.max_rate_change_percent
        moved = abs(exchange_rate / previous - 1) * 100
        if moved <= limit:
            return []
        return [
            self.finding(
                "exchange_rate_moved",
                f"{self.label}: its exchange rate gives {exchange_rate.normalize():f} "
                f"{self.settings.home_currency} per {code} (field currencyRate "
                f"{self.doc.dec('currencyRate').normalize():f}), {moved.quantize(Decimal('0.1'))}% "
                f"away from the previous {previous.normalize():f} for {code}, more than "
                f"currency.max_rate_change_percent ({limit.normalize():f}%). Check the rate in "
                "Cin7, or raise the setting if the currency really moved that much.",
                field="currencyRate",
            )
        ]


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""
