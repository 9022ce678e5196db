"""The generated accounts are deterministic and carry the cases a bridge must handle."""

from __future__ import annotations

from collections import Counter

from omni2qbd_sims.cin7 import generate


def test_same_seed_same_data_and_other_seed_other_data() -> None:
    first, again, other = generate(3, 0.1), generate(3, 0.1), generate(4, 0.1)
    for username, account in first.tenants.items():
        assert account.records == again.tenants[username].records
        assert account.stock == again.tenants[username].stock
        assert [c.api_key for c in account.connections] == [
            c.api_key for c in again.tenants[username].connections
        ]
    name = next(iter(first.tenants))
    assert first.tenants[name].records["SalesOrders"] != other.tenants[name].records["SalesOrders"]


def test_scale_one_has_thousands_of_orders_and_every_awkward_case() -> None:
    store = generate(1, 1.0)
    assert len(store.tenants) >= 3
    assert len({a.connections[0].api_key for a in store.tenants.values()}) == len(store.tenants)
    orders = [o for a in store.tenants.values() for o in a.records["SalesOrders"].values()]
    assert len(orders) >= 2000
    assert all(o["lineItems"] for o in orders)
    assert any(o["status"] == "VOID" and o["isVoid"] for o in orders)
    assert any(o["status"] == "DRAFT" for o in orders)
    assert any(o["invoiceDate"] is None and o["status"] == "APPROVED" for o in orders)
    assert any(o["dispatchedDate"] and o["invoiceDate"] for o in orders)
    partly = [
        o
        for o in orders
        if o["dispatchedDate"] is None
        and any(0 < line["qtyShipped"] < line["qty"] for line in o["lineItems"])
    ]
    assert partly
    assert any(o["currencyCode"] != "USD" for o in orders)
    assert any(o["modifiedCOGSDate"] > o["modifiedDate"] for o in orders)  # late cost change
    # a bulk edit: more than a page of one account's orders share one modifiedDate
    acme = next(iter(store.tenants.values()))
    stamps = Counter(o["modifiedDate"] for o in acme.records["SalesOrders"].values())
    assert stamps.most_common(1)[0][1] > 250
    # customer credit notes reference invoiced orders and have negative quantities
    for account in store.tenants.values():
        references = {o["reference"] for o in account.records["SalesOrders"].values()}
        notes = list(account.records["CreditNotes"].values())
        assert notes
        assert all(n["salesReference"] in references for n in notes)
        assert all(line["qty"] < 0 for n in notes for line in n["lineItems"])
        # supplier returns: purchase orders with a negative total
        assert any(p["total"] < 0 for p in account.records["PurchaseOrders"].values())
        assert account.records["Adjustments"] and account.stock and account.records["Payments"]
        contacts = account.records["Contacts"].values()
        names = Counter(c["company"] for c in contacts)
        assert any(count > 1 for count in names.values())  # same name as customer and supplier
        assert any(len(c["company"]) > 41 for c in contacts)


def test_totals_add_up_from_the_lines() -> None:
    store = generate(5, 0.1)
    for account in store.tenants.values():
        for order in account.records["SalesOrders"].values():
            lines = sum(
                line["qty"] * line["unitPrice"] - line["discount"] for line in order["lineItems"]
            )
            assert abs(order["productTotal"] - lines) < 0.01
            net = order["productTotal"] + order["freightTotal"] - order["discountTotal"]
            assert order["total"] >= net - 0.01
