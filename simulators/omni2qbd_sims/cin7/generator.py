"""Deterministic, realistic Cin7 Omni accounts for tests, demos and benchmarks.

``generate(seed, scale)`` always builds the same data for the same arguments. At scale 1 there
are three accounts with about 3,000 sales orders between them, plus purchase orders (a few of
them supplier returns with negative quantities), customer credit notes, stock adjustments,
payments and stock levels, with the awkward cases a bridge must handle: drafts, voids, partial
and full dispatch, invoiced-but-not-dispatched, not yet invoiced, non-USD documents, late cost
changes (``modifiedCOGSDate`` after ``modifiedDate``), more than 250 orders sharing one
``modifiedDate`` (a bulk edit), and contact names that collide or are too long for QuickBooks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from omni2qbd_sims.cin7 import schema
from omni2qbd_sims.cin7.store import ApiConnection, Cin7Store, Record, TenantAccount, derive_fields

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 330 * 24 * 3600


@dataclass(frozen=True)
class TenantProfile:
    username: str
    company: str
    sales_orders: int
    state: str
    tax_rate: float


PROFILES = (
    TenantProfile("AcmeOutdoorAPI", "Acme Outdoor Supply", 1500, "CO", 8.81),
    TenantProfile("BluebirdHomeAPI", "Bluebird Home Goods", 1000, "NY", 8.875),
    TenantProfile("CascadeToolsAPI", "Cascade Tools", 500, "WA", 10.1),
)

_FIRST = [
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Ella",
    "Finn",
    "Grace",
    "Hugo",
    "Iris",
    "Jack",
    "Kai",
    "Lena",
    "Max",
    "Nora",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
]
_LAST = [
    "Adams",
    "Brooks",
    "Chen",
    "Diaz",
    "Evans",
    "Foster",
    "Garcia",
    "Hughes",
    "Ito",
    "Jones",
    "Kim",
    "Lopez",
    "Moore",
    "Nguyen",
    "Ortiz",
    "Patel",
    "Reed",
    "Silva",
    "Turner",
    "Wood",
]
_WORDS = [
    "Alpine",
    "Harbor",
    "Summit",
    "Cedar",
    "Maple",
    "River",
    "Granite",
    "Prairie",
    "Coastal",
    "Redwood",
    "Aspen",
    "Meadow",
    "Canyon",
    "Bayside",
    "Pioneer",
    "Evergreen",
    "Lakeside",
    "Sunset",
    "Northgate",
    "Ironwood",
]
_SUFFIX = ["Traders", "Outfitters", "Supply Co", "Retail", "Goods", "Mercantile", "Stores", "LLC"]
_PRODUCTS = [
    "Tent",
    "Lantern",
    "Backpack",
    "Stove",
    "Kettle",
    "Blanket",
    "Jacket",
    "Boots",
    "Gloves",
    "Rope",
    "Knife",
    "Compass",
    "Bottle",
    "Cooler",
    "Hammock",
    "Tarp",
    "Chair",
    "Table",
    "Skillet",
    "Mug",
]
_COLOURS = ["Red", "Blue", "Green", "Black", "Grey"]
_STAGES = ["New", "Processing", "Awaiting Payment", "On Hold"]


def _at(offset_seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=int(offset_seconds))


def _count(base: int, scale: float, minimum: int) -> int:
    return max(minimum, round(base * scale))


class _Builder:
    # The helpers draw from ``rng`` in a fixed order, some draws only on some branches:
    # reordering any draw changes every seed's data, which tests and benches rely on.
    def __init__(self, rng: random.Random, account: TenantAccount, profile: TenantProfile) -> None:
        self.rng = rng
        self.account = account
        self.profile = profile

    def add(self, resource: str, record: Record) -> Record:
        full = schema.blank(resource)
        full.update(record)
        if full.get("id") is None:
            full["id"] = self.account.new_id(resource)
        if resource in schema.LINE_FIELDS:
            lines = []
            for sort, line in enumerate(full.get("lineItems") or [], start=1):
                blank_line = schema.blank_line(resource)
                blank_line.update(line)
                blank_line.update(
                    id=self.account.new_id("lines"),
                    transactionId=full["id"],
                    sort=sort,
                    createdDate=full["createdDate"],
                )
                lines.append(blank_line)
            full["lineItems"] = lines
        derive_fields(self.account, resource, full, previous=None)
        self.account.records[resource][full["id"]] = full
        return full

    def when(self) -> datetime:
        return _at(self.rng.uniform(0, YEAR_SECONDS))

    def later(self, start: datetime, max_days: float) -> datetime:
        return start + timedelta(seconds=int(self.rng.uniform(60, max_days * 86400)))


def _branches(b: _Builder) -> list[Record]:
    names = [("Main Warehouse", "Warehouse"), ("Downtown Store", "Retail")]
    if b.rng.random() < 0.5:
        names.append(("Online Fulfilment", "3PL"))
    return [
        b.add(
            "Branches",
            {
                "createdDate": EPOCH,
                "modifiedDate": EPOCH,
                "isActive": True,
                "company": f"{b.profile.company} - {name}",
                "branchType": kind,
                "state": b.profile.state,
                "country": "United States",
                "taxStatus": "Excl",
                "customFields": {},
                "secondaryContacts": [],
                "branchLocations": [],
            },
        )
        for name, kind in names
    ]


def _contact(b: _Builder, kind: str, company: str) -> Record:
    first, last = b.rng.choice(_FIRST), b.rng.choice(_LAST)
    created = b.when()
    slug = "".join(ch for ch in company.lower() if ch.isalnum())[:20]
    return b.add(
        "Contacts",
        {
            "createdDate": created,
            "modifiedDate": b.later(created, 30),
            "isActive": True,
            "type": kind,
            "company": company,
            "firstName": first,
            "lastName": last,
            "email": f"{first.lower()}@{slug}{b.account.id_base % 97}.example.com",
            "phone": f"555-{b.rng.randint(100, 999)}-{b.rng.randint(1000, 9999)}",
            "address1": f"{b.rng.randint(1, 999)} {b.rng.choice(_WORDS)} St",
            "city": b.rng.choice(_WORDS) + "ville",
            "state": b.profile.state,
            "postCode": f"{b.rng.randint(10000, 99999)}",
            "country": "United States",
            "customFields": {},
            "secondaryContacts": [],
            "paymentTerms": b.rng.choice(["Net 30", "Net 15", "Due on receipt"]),
            "taxStatus": "Excl",
            "onHold": False,
            "creditLimit": 5000.0,
            "balanceOwing": 0.0,
            "accountingIntegrationId": {
                "xero": None,
                "quickBooksOnline": None,
                "quickBooksDesktop": None,
            },
        },
    )


def _contacts(b: _Builder, scale: float) -> tuple[list[Record], list[Record]]:
    used: set[str] = set()

    def name() -> str:
        while True:
            candidate = f"{b.rng.choice(_WORDS)} {b.rng.choice(_WORDS)} {b.rng.choice(_SUFFIX)}"
            if candidate not in used:
                used.add(candidate)
                return candidate

    customers = [_contact(b, "Customer", name()) for _ in range(_count(120, scale, 6))]
    suppliers = [_contact(b, "Supplier", name()) for _ in range(_count(20, scale, 3))]
    # Awkward names every account carries: the same name as customer and supplier (QuickBooks
    # error 3100), a near-duplicate, one longer than QuickBooks' 41 characters, XML specials.
    customers.append(_contact(b, "Customer", "Northwind Traders"))
    suppliers.append(_contact(b, "Supplier", "Northwind Traders"))
    customers.append(_contact(b, "Customer", "Northwind Traders, Inc."))
    customers.append(
        _contact(b, "Customer", "The Extraordinarily Long Named Outdoor Company of Colorado")
    )
    customers.append(_contact(b, "Customer", "O'Brien & Sons <Wholesale>"))
    inactive = _contact(b, "Customer", name())
    inactive["isActive"] = False
    return customers, suppliers


def _products(b: _Builder, suppliers: list[Record], scale: float) -> list[Record]:
    options: list[Record] = []
    for index in range(_count(60, scale, 5)):
        options.extend(_product(b, suppliers, index))
    return options


def _product(b: _Builder, suppliers: list[Record], index: int) -> list[Record]:
    """One product in one to three colours; returns its options (the first is Primary)."""
    created = b.when()
    base = f"{b.rng.choice(_WORDS)} {_PRODUCTS[index % len(_PRODUCTS)]}"
    style = f"{_PRODUCTS[index % len(_PRODUCTS)][:3].upper()}-{index + 100}"
    cost = round(b.rng.uniform(3, 120), 2)
    product_id = b.account.new_id("Products")
    colours = b.rng.sample(_COLOURS, b.rng.randint(1, 3))
    product_options = [
        _product_option(b, product_id, style, colour, cost, created, primary=position == 0)
        for position, colour in enumerate(colours)
    ]
    b.add(
        "Products",
        {
            "id": product_id,
            "status": "Public",
            "createdDate": created,
            "modifiedDate": max(o["modifiedDate"] for o in product_options),
            "styleCode": style,
            "name": base,
            "description": f"{base} for the outdoors",
            "brand": b.profile.company.split()[0],
            "category": "Outdoor",
            "supplierId": b.rng.choice(suppliers)["id"],
            "stockControl": "FIFO",
            "orderType": "Order",
            "salesAccount": "4000",
            "purchasesAccount": "5000",
            "optionLabel1": "Colour",
            "customFields": {},
            "images": [],
            "productOptions": product_options,
        },
    )
    return product_options


def _product_option(
    b: _Builder,
    product_id: int,
    style: str,
    colour: str,
    cost: float,
    created: datetime,
    *,
    primary: bool,
) -> Record:
    option_cost = round(cost * b.rng.uniform(0.95, 1.05), 2)
    retail = round(option_cost * b.rng.uniform(1.6, 2.4), 2)
    option = schema.blank("ProductOptions")
    option.update(
        {
            "id": b.account.new_id("ProductOptions"),
            "createdDate": created,
            "modifiedDate": b.later(created, 60),
            "status": "Primary" if primary else "Active",
            "productId": product_id,
            "code": f"{style}-{colour[:3].upper()}",
            "productOptionCode": f"{style}-{colour[:3].upper()}",
            "barcode": f"{b.rng.randint(10**11, 10**12 - 1)}",
            "option1": colour,
            "retailPrice": retail,
            "wholesalePrice": round(retail * 0.7, 2),
            "priceColumns": {
                "retailUSD": retail,
                "wholesaleUSD": round(retail * 0.7, 2),
                "costUSD": option_cost,
            },
            "uomOptions": [],
            "image": None,
            "stockAvailable": 0.0,
            "stockOnHand": 0.0,
        }
    )
    b.account.records["ProductOptions"][option["id"]] = option
    return option


def _line(
    b: _Builder, option: Record, products: dict[int, Record], qty: float, with_cost: bool
) -> Record:
    product = products[option["productId"]]
    line: Record = {
        "productId": option["productId"],
        "productOptionId": option["id"],
        "code": option["productOptionCode"],
        "name": product["name"],
        "option1": option["option1"],
        "styleCode": product["styleCode"],
        "barcode": option["barcode"],
        "qty": qty,
        "unitPrice": option["retailPrice"],
        "discount": 0.0,
        "qtyShipped": 0.0,
    }
    if with_cost:
        line.update(
            unitCost=option["priceColumns"]["costUSD"],
            stockControl="FIFO",
            stockMovements=[],
            holdingQty=0.0,
        )
    return line


def _header(b: _Builder, contact: Record, branch: Record, created: datetime) -> Record:
    return {
        "createdDate": created,
        "createdBy": 17,
        "processedBy": 17,
        "isApproved": True,
        "memberId": contact["id"],
        "memberEmail": contact["email"],
        "company": contact["company"],
        "firstName": contact["firstName"],
        "lastName": contact["lastName"],
        "email": contact["email"],
        "phone": contact["phone"],
        "branchId": branch["id"],
        "billingCompany": contact["company"],
        "billingAddress1": contact["address1"],
        "billingCity": contact["city"],
        "billingState": contact["state"],
        "billingPostalCode": contact["postCode"],
        "billingCountry": contact["country"],
        "deliveryCompany": contact["company"],
        "deliveryAddress1": contact["address1"],
        "deliveryCity": contact["city"],
        "deliveryState": contact["state"],
        "deliveryPostalCode": contact["postCode"],
        "deliveryCountry": contact["country"],
        "taxStatus": "Excl",
        "taxRate": b.profile.tax_rate,
        "currencyCode": "USD",
        "currencyRate": 1.0,
        "source": "Cin7",
        "paymentTerms": contact["paymentTerms"],
    }


def _sales_orders(
    b: _Builder,
    customers: list[Record],
    branches: list[Record],
    options: list[Record],
    products: dict[int, Record],
    scale: float,
) -> list[Record]:
    orders = []
    for _ in range(_count(b.profile.sales_orders, scale, 20)):
        order = b.add("SalesOrders", _sales_order(b, customers, branches, options, products))
        order["reference"] = f"SO-{order['id']}"
        orders.append(order)
    return orders


def _sales_order(
    b: _Builder,
    customers: list[Record],
    branches: list[Record],
    options: list[Record],
    products: dict[int, Record],
) -> Record:
    created = b.when()
    customer = b.rng.choice(customers)
    doc = _header(b, customer, b.rng.choice(branches), created)
    lines = _order_lines(b, options, products)
    doc.update(
        lineItems=lines,
        stage=b.rng.choice(_STAGES),
        customerOrderNo=f"PO-{b.rng.randint(100, 9999)}",
    )
    _order_terms(b, doc)
    modified = _order_progress(b, doc, lines, created)
    if b.rng.random() < 0.04:
        doc.update(isVoid=True, stage="Declined")
        modified = b.later(modified, 10)
    doc["modifiedDate"] = modified
    doc["modifiedCOGSDate"] = doc.get("dispatchedDate") or modified
    if doc.get("dispatchedDate") and b.rng.random() < 0.05:
        # late freight/FIFO cost: the cost moves weeks later without touching modifiedDate
        for line in lines:
            line["unitCost"] = round(line["unitCost"] * b.rng.uniform(1.01, 1.08), 4)
        doc["modifiedCOGSDate"] = b.later(modified, 40)
    return doc


def _order_lines(b: _Builder, options: list[Record], products: dict[int, Record]) -> list[Record]:
    lines = [
        _line(b, option, products, float(b.rng.randint(1, 20)), with_cost=True)
        for option in b.rng.sample(options, b.rng.randint(1, min(6, len(options))))
    ]
    if b.rng.random() < 0.15:
        lines[0]["discount"] = round(lines[0]["unitPrice"] * lines[0]["qty"] * 0.1, 2)
    return lines


def _order_terms(b: _Builder, doc: Record) -> None:
    """Some orders carry freight, a foreign currency or a tax exemption."""
    if b.rng.random() < 0.3:
        doc.update(freightTotal=round(b.rng.uniform(5, 40), 2), freightDescription="Courier")
    if b.rng.random() < 0.06:
        currency, rate = b.rng.choice([("CAD", 1.36), ("EUR", 0.92)])
        doc.update(currencyCode=currency, currencyRate=rate)
    if b.rng.random() < 0.05:
        doc.update(taxStatus="Exempt", taxRate=0.0)


def _order_progress(b: _Builder, doc: Record, lines: list[Record], created: datetime) -> datetime:
    """How far the order got (draft, approved, partly or fully dispatched, invoiced);
    returns its modifiedDate so far."""
    modified = b.later(created, 5)
    roll = b.rng.random()
    if roll < 0.08:  # draft
        doc.update(isApproved=False)
    elif roll < 0.18:  # approved, not yet dispatched or invoiced
        pass
    elif roll < 0.26:  # partly dispatched, perhaps invoiced already
        _dispatch_part(b, doc, lines, created)
    else:  # dispatched; usually invoiced, sometimes invoiced before dispatch or not yet
        dispatched = _dispatch_all(b, doc, created)
        modified = max(modified, dispatched + timedelta(seconds=5))
    return modified


def _dispatch_part(b: _Builder, doc: Record, lines: list[Record], created: datetime) -> None:
    for line in lines:
        line["qtyShipped"] = float(b.rng.randint(0, int(line["qty"])))
        line["stockMovements"] = [{"batch": None, "quantity": line["qtyShipped"], "serial": None}]
    if b.rng.random() < 0.5:
        doc.update(invoiceDate=b.later(created, 3))


def _dispatch_all(b: _Builder, doc: Record, created: datetime) -> datetime:
    dispatched = b.later(created, 4)
    doc.update(
        dispatchedDate=dispatched,
        stage="Dispatched",
        trackingCode=f"TRK{b.rng.randint(10**6, 10**7)}",
    )
    if b.rng.random() < 0.93:
        doc.update(invoiceDate=dispatched if b.rng.random() < 0.8 else b.later(created, 2))
    return dispatched


def _bulk_edit(b: _Builder, orders: list[Record]) -> None:
    """A mass stage change gives more than one page of orders the same modifiedDate."""
    size = len(orders) // 5
    if size <= 250:
        return
    stamp = _at(YEAR_SECONDS + 3 * 86400)
    for order in b.rng.sample(orders, size):
        if order["stage"] != "Dispatched":
            order["stage"] = "Processing"
        order["modifiedDate"] = stamp


def _purchase_orders(
    b: _Builder,
    suppliers: list[Record],
    branches: list[Record],
    options: list[Record],
    products: dict[int, Record],
    count: int,
) -> list[Record]:
    orders = []
    for index in range(count):
        created = b.when()
        doc = _header(b, b.rng.choice(suppliers), b.rng.choice(branches), created)
        lines = [
            _line(b, option, products, float(b.rng.randint(5, 100)), with_cost=False)
            for option in b.rng.sample(options, b.rng.randint(1, min(8, len(options))))
        ]
        for line in lines:
            line["unitPrice"] = products[line["productId"]]["productOptions"][0]["priceColumns"][
                "costUSD"
            ]
        doc.update(lineItems=lines, stage="New", taxStatus="Exempt", taxRate=0.0)
        modified = b.later(created, 10)
        roll = b.rng.random()
        if index % 25 == 7:
            # A supplier return, the way Cin7 users record supplier credits through the API:
            # a purchase order with negative quantities and the supplier's credit reference.
            for line in lines:
                line["qty"] = -float(b.rng.randint(1, 5))
            received = b.later(created, 5)
            doc.update(
                fullyReceivedDate=received,
                invoiceDate=received,
                stage="Received",
                supplierInvoiceReference=f"SCN-{b.rng.randint(1000, 9999)}",
                internalComments="Return to supplier: damaged in transit",
            )
        elif roll < 0.1:
            doc.update(isApproved=False)
        elif roll < 0.3:
            pass  # approved, waiting for the goods
        else:
            received = b.later(created, 20)
            doc.update(fullyReceivedDate=received, stage="Received")
            if b.rng.random() < 0.85:
                doc.update(
                    invoiceDate=b.later(received, 5),
                    supplierInvoiceReference=f"INV-{b.rng.randint(10000, 99999)}",
                )
            modified = max(modified, received)
        if b.rng.random() < 0.03:
            doc.update(isVoid=True)
        doc["modifiedDate"] = modified
        doc["modifiedCOGSDate"] = doc.get("fullyReceivedDate") or modified
        order = b.add("PurchaseOrders", doc)
        order["reference"] = f"PO-{order['id']}"
        orders.append(order)
    return orders


def _credit_notes(b: _Builder, orders: list[Record], count: int) -> None:
    invoiced = [o for o in orders if o.get("invoiceDate") and not o.get("isVoid")]
    for source in b.rng.sample(invoiced, min(count, len(invoiced))):
        created = b.later(source["invoiceDate"], 30)
        returned = b.rng.sample(source["lineItems"], b.rng.randint(1, len(source["lineItems"])))
        lines = []
        for line in returned:
            qty = -float(b.rng.randint(1, max(1, int(line["qtyShipped"] or line["qty"]))))
            lines.append(
                {
                    key: line[key]
                    for key in (
                        "productId",
                        "productOptionId",
                        "code",
                        "name",
                        "option1",
                        "styleCode",
                        "barcode",
                        "unitPrice",
                        "unitCost",
                    )
                }
                | {"qty": qty, "qtyShipped": qty, "discount": 0.0}
            )
        doc = {
            key: source[key]
            for key in (
                "memberId",
                "memberEmail",
                "company",
                "firstName",
                "lastName",
                "email",
                "branchId",
                "taxStatus",
                "taxRate",
                "currencyCode",
                "currencyRate",
                "billingCompany",
            )
        }
        doc.update(
            createdDate=created,
            salesReference=source["reference"],
            lineItems=lines,
            customerReport=b.rng.choice(["Damaged", "Wrong colour", "Not needed"]),
        )
        if b.rng.random() < 0.85:
            done = b.later(created, 3)
            doc.update(completedDate=done, creditNoteDate=done, modifiedDate=b.later(done, 1))
        else:
            doc.update(isApproved=False, modifiedDate=b.later(created, 2))
        doc["modifiedCOGSDate"] = doc.get("completedDate") or doc["modifiedDate"]
        note = b.add("CreditNotes", doc)
        note["reference"] = f"CRN-{note['id']}"


def _adjustments(
    b: _Builder,
    branches: list[Record],
    options: list[Record],
    products: dict[int, Record],
    count: int,
) -> None:
    for _ in range(count):
        created = b.when()
        lines = []
        for option in b.rng.sample(options, b.rng.randint(1, min(4, len(options)))):
            qty = float(b.rng.choice([-3, -2, -1, 1, 2, 5]))
            lines.append(
                {
                    "productId": option["productId"],
                    "productOptionId": option["id"],
                    "code": option["productOptionCode"],
                    "name": products[option["productId"]]["name"],
                    "option1": option["option1"],
                    "qty": qty,
                    "qtyAdjusted": qty,
                    "holdingQty": 0.0,
                    "account": "5100",
                    "unitCost": option["priceColumns"]["costUSD"],
                }
            )
        completed = b.later(created, 2)
        approved = b.rng.random() < 0.9
        b.add(
            "Adjustments",
            {
                "createdDate": created,
                "modifiedDate": b.later(completed, 1),
                "createdBy": 17,
                "processedBy": 17,
                "isApproved": approved,
                "branchId": b.rng.choice(branches)["id"],
                "completedDate": completed if approved else None,
                "adjustInAccountingSystem": completed if approved else None,
                "adjustmentReason": b.rng.choice(["Stocktake", "Damaged", "Found", "Theft"]),
                "productTotal": round(sum(line["qty"] * line["unitCost"] for line in lines), 2),
                "source": "Cin7",
                "lineItems": lines,
            },
        )
    for record in b.account.records["Adjustments"].values():
        record["reference"] = record["reference"] or f"ADJ-{record['id']}"


def _payments(b: _Builder, orders: list[Record]) -> None:
    for order in orders:
        if order.get("invoiceDate") and not order.get("isVoid") and b.rng.random() < 0.6:
            paid = b.later(order["invoiceDate"], 30)
            b.add(
                "Payments",
                {
                    "createdDate": paid,
                    "modifiedDate": paid,
                    "paymentDate": paid,
                    "amount": order["total"],
                    "method": b.rng.choice(["Credit Card", "ACH", "Check"]),
                    "isAuthorized": True,
                    "orderId": order["id"],
                    "orderRef": order["reference"],
                    "branchId": order["branchId"],
                    "orderType": "SalesOrder",
                },
            )


def _stock(
    b: _Builder, branches: list[Record], options: list[Record], products: dict[int, Record]
) -> None:
    for option in options:
        total = 0.0
        for branch in branches:
            on_hand = float(b.rng.randint(0, 400))
            open_sales = float(b.rng.randint(0, int(on_hand // 4) + 1))
            total += on_hand
            b.account.stock[(option["id"], branch["id"])] = {
                "productId": option["productId"],
                "productOptionId": option["id"],
                "modifiedDate": b.later(option["modifiedDate"], 200),
                "styleCode": products[option["productId"]]["styleCode"],
                "code": option["productOptionCode"],
                "barcode": option["barcode"],
                "branchId": branch["id"],
                "branchName": branch["company"],
                "productName": products[option["productId"]]["name"],
                "option1": option["option1"],
                "option2": None,
                "option3": None,
                "size": None,
                "available": on_hand - open_sales,
                "stockOnHand": on_hand,
                "openSales": open_sales,
                "incoming": 0.0,
                "virtual": 0.0,
                "holding": 0.0,
            }
        option["stockOnHand"] = option["stockAvailable"] = total


def _api_key(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def generate(seed: int = 1, scale: float = 1.0) -> Cin7Store:
    """Build the simulator's accounts; the same (seed, scale) always gives the same data."""
    rng = random.Random(seed)
    store = Cin7Store()
    for index, profile in enumerate(PROFILES):
        connections = [
            ApiConnection(_api_key(rng), "Omni2QBD"),
            # A second connection that may only read contacts: calls elsewhere answer 403.
            ApiConnection(_api_key(rng), "Contacts only", frozenset({"Contacts"})),
        ]
        account = TenantAccount(
            profile.username, profile.company, connections, (index + 1) * 1_000_000
        )
        builder = _Builder(random.Random(rng.getrandbits(64)), account, profile)
        branches = _branches(builder)
        customers, suppliers = _contacts(builder, scale)
        options = _products(builder, suppliers, scale)
        products = account.records["Products"]
        orders = _sales_orders(builder, customers, branches, options, products, scale)
        _bulk_edit(builder, orders)
        _purchase_orders(builder, suppliers, branches, options, products, max(5, len(orders) // 6))
        _credit_notes(builder, orders, max(3, len(orders) // 20))
        _adjustments(builder, branches, options, products, max(3, len(orders) // 30))
        _payments(builder, orders)
        _stock(builder, branches, options, products)
        store.add(account)
    return store


def describe(store: Cin7Store) -> list[dict[str, Any]]:
    """What a person needs to point a client at the simulator: usernames, keys, counts."""
    return [
        {
            "username": account.username,
            "company": account.company,
            "connections": [
                {
                    "name": c.name,
                    "apiKey": c.api_key,
                    "resources": sorted(c.resources) if c.resources is not None else "all",
                }
                for c in account.connections
            ],
            "counts": {
                resource: len(account.rows(resource)) for resource in schema.RESOURCE_FIELDS
            },
        }
        for account in store.tenants.values()
    ]
