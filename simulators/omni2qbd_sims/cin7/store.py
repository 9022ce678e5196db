"""The simulator's in-memory Cin7 Omni accounts and the write rules of reference §14.4."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omni2qbd_sims.cin7 import schema
from omni2qbd_sims.cin7.dates import looks_like_date, parse_date

Record = dict[str, Any]


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class ApiConnection:
    """One "API Connection" of an account: its key and the resources it may use (None = all)."""

    api_key: str
    name: str
    resources: frozenset[str] | None = None

    def allows(self, resource: str) -> bool:
        return self.resources is None or resource in self.resources


@dataclass
class TenantAccount:
    """One Cin7 Omni account: an API username, its connections and its records."""

    username: str
    company: str
    connections: list[ApiConnection]
    id_base: int
    records: dict[str, dict[int, Record]] = field(default_factory=dict)
    stock: dict[tuple[int, int], Record] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    next_invoice_number: int = 1001
    next_credit_note_number: int = 501

    def __post_init__(self) -> None:
        for resource in schema.RESOURCE_FIELDS:
            self.records.setdefault(resource, {})

    def connection(self, api_key: str) -> ApiConnection | None:
        for connection in self.connections:
            if connection.api_key == api_key:
                return connection
        return None

    def new_id(self, resource: str) -> int:
        # Line ids share one sequence per account, as Cin7's line table does.
        value = self.next_ids.get(resource, self.id_base + 1)
        self.next_ids[resource] = value + 1
        return value

    def rows(self, resource: str) -> list[Record]:
        if resource == "Stock":
            return list(self.stock.values())
        return list(self.records[resource].values())


class WriteError(ValueError):
    """One record of a batch write was refused (reported per record, HTTP 200)."""


class Cin7Store:
    """All simulated accounts, keyed by API username."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self.tenants: dict[str, TenantAccount] = {}
        self.clock = clock

    def add(self, account: TenantAccount) -> None:
        self.tenants[account.username] = account

    def authenticate(self, username: str, api_key: str) -> tuple[TenantAccount, ApiConnection]:
        account = self.tenants.get(username)
        connection = account.connection(api_key) if account else None
        if account is None or connection is None:
            raise PermissionError("Authorization has been denied for this request.")
        return account, connection

    def _stamp(self, record: Record) -> datetime:
        # modifiedDate never goes backwards for one record, even if two writes share a second.
        now = self.clock()
        previous = record.get("modifiedDate")
        if isinstance(previous, datetime) and previous > now:
            now = previous
        record["modifiedDate"] = now
        return now

    def create(self, account: TenantAccount, resource: str, data: Mapping[str, Any]) -> Record:
        record = schema.blank(resource)
        _apply(record, resource, data, creating=True)
        now = self.clock()
        record["id"] = account.new_id(resource)
        record["createdDate"] = record["createdDate"] or now
        record["modifiedDate"] = now
        if resource in schema.LINE_FIELDS:
            for sort, line in enumerate(record.get("lineItems") or [], start=1):
                line["id"] = account.new_id("lines")
                line["transactionId"] = record["id"]
                line["createdDate"] = now
                line["sort"] = line.get("sort") or sort
        prefix = _REFERENCE_PREFIX.get(resource)
        if prefix is not None:  # "leave blank to auto-generate in an insert"
            record["reference"] = record["reference"] or f"{prefix}-{record['id']}"
        if resource in ("SalesOrders", "PurchaseOrders", "CreditNotes"):
            approved = record["isApproved"] is not False
            record["isApproved"] = approved
            record["status"] = "APPROVED" if approved else "DRAFT"
            record["modifiedCOGSDate"] = now
        derive_fields(account, resource, record, previous=None)
        account.records[resource][record["id"]] = record
        return record

    def update(self, account: TenantAccount, resource: str, data: Mapping[str, Any]) -> Record:
        record_id = _get_ci(data, "id")
        if not isinstance(record_id, int) or record_id not in account.records[resource]:
            raise WriteError(f"{resource} record id {record_id!r} was not found")
        record = account.records[resource][record_id]
        previous = copy.deepcopy(record)
        _apply(record, resource, data, creating=False)
        for line in record.get("lineItems") or []:
            if line.get("id") is None:
                line["id"] = account.new_id("lines")
                line["transactionId"] = record_id
                line["createdDate"] = self.clock()
        derive_fields(account, resource, record, previous=previous)
        if record != previous:
            self._stamp(record)
            if resource in schema.COGS_RESOURCES and _costs(record) != _costs(previous):
                record["modifiedCOGSDate"] = record["modifiedDate"]
        return record

    def change_cost(
        self, account: TenantAccount, resource: str, record_id: int, factor: float
    ) -> Record:
        """A late cost change (FIFO re-costing): unitCost moves, only modifiedCOGSDate is bumped."""
        record = account.records[resource][record_id]
        for line in record.get("lineItems") or []:
            if isinstance(line.get("unitCost"), int | float):
                line["unitCost"] = round(line["unitCost"] * factor, 4)
        record["modifiedCOGSDate"] = max(
            self.clock(), record.get("modifiedCOGSDate") or self.clock()
        )
        return record

    def touch(self, account: TenantAccount, resource: str, records: Iterable[Record]) -> None:
        """Bump modifiedDate as an edit in the Cin7 screens would (fault: change between pages)."""
        for record in records:
            stored = account.records[resource].get(record.get("id") or -1)
            if stored is not None:
                if "internalComments" in stored:
                    stored["internalComments"] = f"edited at {self.clock().isoformat()}"
                self._stamp(stored)

    def delete(self, account: TenantAccount, resource: str, record_id: int) -> bool:
        return account.records[resource].pop(record_id, None) is not None


def _get_ci(data: Mapping[str, Any], name: str) -> Any:
    for key, value in data.items():
        if key.lower() == name.lower():
            return value
    return None


_REFERENCE_PREFIX = {
    "SalesOrders": "SO",
    "PurchaseOrders": "PO",
    "CreditNotes": "CRN",
    "Adjustments": "ADJ",
}
_READ_ONLY = frozenset(
    {
        "id",
        "createdDate",
        "modifiedDate",
        "status",
        "modifiedCOGSDate",
        "invoiceNumber",
        "creditNoteNumber",
        "currencySymbol",
        "source",
    }
)


def _convert(name: str, value: Any) -> Any:
    if isinstance(value, str) and name.lower().endswith("date") and looks_like_date(value):
        return parse_date(value)
    return value


def _apply(record: Record, resource: str, data: Mapping[str, Any], *, creating: bool) -> None:
    """PUT semantics: a missing or null field leaves the value, "" clears it (reference §2)."""
    names = schema.canonical_names(resource)
    for key, value in data.items():
        name = names.get(key.lower())
        if name is None or name in _READ_ONLY or value is None:
            continue
        if name == "isVoid" and record.get("isVoid") and value is False:
            continue  # voiding is irreversible
        if name == "lineItems" and resource in schema.LINE_FIELDS:
            _apply_lines(record, resource, value)
            continue
        record[name] = None if value == "" else _convert(name, value)


def _apply_lines(record: Record, resource: str, lines: Any) -> None:
    if not isinstance(lines, list):
        raise WriteError("lineItems must be an array")
    names = {name.lower(): name for name in schema.LINE_FIELDS[resource]}
    existing = {line["id"]: line for line in record.get("lineItems") or []}
    result = list(record.get("lineItems") or [])
    for data in lines:
        if not isinstance(data, dict):
            raise WriteError("each line item must be an object")
        line_id = _get_ci(data, "id")
        line = existing.get(line_id) if line_id is not None else None
        if line is None:
            line = schema.blank_line(resource)
            result.append(line)
        for key, value in data.items():
            name = names.get(key.lower())
            if name is None or name in ("id", "transactionId", "qtyShipped") or value is None:
                continue
            line[name] = None if value == "" else _convert(name, value)
    record["lineItems"] = result


def _costs(record: Mapping[str, Any]) -> list[Any]:
    return [line.get("unitCost") for line in record.get("lineItems") or []]


def derive_fields(
    account: TenantAccount, resource: str, record: Record, previous: Record | None
) -> None:
    """Fields Cin7 computes itself: totals, invoice numbers, shipped quantities, void status."""
    lines = record.get("lineItems") or []
    if resource in schema.LINE_FIELDS:
        for line in lines:
            _link_product(account, resource, line)
    if resource in ("SalesOrders", "PurchaseOrders", "CreditNotes"):
        _derive_document(resource, record, lines)
    if resource in ("SalesOrders", "PurchaseOrders"):
        _derive_order_status(resource, record, lines)
    if resource == "SalesOrders" and record.get("invoiceDate") and not record.get("invoiceNumber"):
        record["invoiceNumber"] = account.next_invoice_number
        account.next_invoice_number += 1
    if resource == "CreditNotes":
        _set_approval_status(record)
        if record.get("completedDate") and not record.get("creditNoteNumber"):
            record["creditNoteNumber"] = account.next_credit_note_number
            account.next_credit_note_number += 1


_CURRENCY_SYMBOLS = {"USD": "$", "CAD": "$", "EUR": "€", "GBP": "£"}


def _derive_document(resource: str, record: Record, lines: list[Record]) -> None:
    """A document's zero defaults, its totals, currency and accounting defaults."""
    for line in lines:
        for name in ("qty", "unitPrice", "discount"):
            line[name] = line.get(name) or 0.0
        if resource == "SalesOrders":
            _dispatch_from_movements(line)
        line["qtyShipped"] = line.get("qtyShipped") or 0.0
    _derive_totals(record, lines)
    record["currencyCode"] = record.get("currencyCode") or "USD"
    record["currencyRate"] = record.get("currencyRate") or 1.0
    record["currencySymbol"] = _CURRENCY_SYMBOLS.get(record["currencyCode"], "$")
    record["customFields"] = record.get("customFields") or {}
    record["accountingAttributes"] = record.get("accountingAttributes") or {
        "importDate": None,
        "accountingImportStatus": "NotImported",
    }


def _derive_totals(record: Record, lines: list[Record]) -> None:
    """productTotal from the lines; total adds freight and surcharge, less the discount,
    plus tax when prices exclude it."""
    product_total = round(
        sum(line["qty"] * line["unitPrice"] - line["discount"] for line in lines), 2
    )
    record["productTotal"] = product_total
    freight = record.get("freightTotal") or 0.0
    surcharge = record.get("surcharge") or 0.0
    discount = record.get("discountTotal") or 0.0
    record["freightTotal"], record["surcharge"], record["discountTotal"] = (
        freight,
        surcharge,
        discount,
    )
    net = product_total + freight + surcharge - discount
    tax = net * (record.get("taxRate") or 0.0) / 100 if record.get("taxStatus") == "Excl" else 0
    record["total"] = round(net + tax, 2)


def _derive_order_status(resource: str, record: Record, lines: list[Record]) -> None:
    """An order's status (VOID, APPROVED or DRAFT); a dispatched sale or a fully received
    purchase has shipped every line in full."""
    if record.get("dispatchedDate" if resource == "SalesOrders" else "fullyReceivedDate"):
        for line in lines:
            line["qtyShipped"] = line["qty"]
    if record.get("isVoid"):
        record["status"] = "VOID"
    else:
        _set_approval_status(record)
    record["isVoid"] = bool(record.get("isVoid"))


def _set_approval_status(record: Record) -> None:
    if record.get("isApproved") is not None:
        record["status"] = "APPROVED" if record["isApproved"] else "DRAFT"


def _link_product(account: TenantAccount, resource: str, line: Record) -> None:
    """A line given by code or barcode is linked to its product option, as Cin7 does."""
    if line.get("productOptionId") is not None:
        return
    wanted = {str(v).lower() for v in (line.get("code"), line.get("barcode")) if v}
    option = _option_by_code(account, wanted) if wanted else None
    if option is not None:
        _fill_from_option(account, resource, line, option)


def _option_by_code(account: TenantAccount, wanted: set[str]) -> Record | None:
    """The first product option whose option code, code or barcode is one of ``wanted``."""
    for option in account.records["ProductOptions"].values():
        codes = {str(option.get(k) or "").lower() for k in ("productOptionCode", "code", "barcode")}
        if wanted & codes:
            return option
    return None


def _fill_from_option(account: TenantAccount, resource: str, line: Record, option: Record) -> None:
    """Link the line and fill what it left out from the option and its product."""
    product = account.records["Products"].get(option["productId"]) or {}
    cost = (option.get("priceColumns") or {}).get("costUSD")
    line.update(productOptionId=option["id"], productId=option["productId"])
    line["code"] = line.get("code") or option.get("productOptionCode")
    line["name"] = line.get("name") or product.get("name")
    line["option1"] = line.get("option1") or option.get("option1")
    if "styleCode" in line:
        line["styleCode"] = line.get("styleCode") or product.get("styleCode")
    if "unitCost" in line and line.get("unitCost") is None:
        line["unitCost"] = cost
    if line.get("unitPrice") is None:
        line["unitPrice"] = cost if resource == "PurchaseOrders" else option.get("retailPrice")


def _dispatch_from_movements(line: Record) -> None:
    """StockMovement dispatch: quantities are totals, capped at the ordered quantity (§9.2)."""
    movements = line.get("stockMovements") or []
    if movements:
        shipped = sum(float(m.get("quantity") or 0) for m in movements if isinstance(m, dict))
        line["qtyShipped"] = min(shipped, float(line.get("qty") or 0))
