"""The bookkeeper's whole job through the JSON API, on the real services and simulators:
Cin7 documents -> matching -> approval -> QuickBooks (a lost response on the way), a
re-import as a Mod, a transaction finalised in QuickBooks then changed in Cin7 (locked), a
re-opened COGS month, and a reconciliation that finds what was planted in the company file.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from omni2qbd_shared.db.models import OutboxItem, QbLink
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.messaging import Topology
from tests.api.api_helpers import api_client, new_person, sign_in
from tests.api_workflow.workflow_stack import (
    Stack,
    line,
    now_utc,
    purchase_order,
    sales_order,
    wait_for,
    workflow_stack,
)
from tests.gateway.gateway_helpers import new_tenant

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

ACME, GLOBEX, NORTHWIND, HOOLI, SUPPLIER = 7001, 7002, 7003, 7004, 8001


async def approve_ids(stack: Stack, entry_ids: list[str]) -> dict[str, Any]:
    """Import pressed, through the API; what was approved is exactly what was asked for."""
    result: dict[str, Any] = await post(stack, "/entries/approve", {"entry_ids": entry_ids})
    assert result["refused"] == [], result
    assert sorted(e["id"] for e in result["approved"]) == sorted(entry_ids)
    return result


async def get(stack: Stack, path: str, **params: Any) -> Any:
    response = await stack.api.get(f"{stack.tenant_url}{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def post(stack: Stack, path: str, body: Any = None, status: int = 200) -> Any:
    response = await stack.api.post(f"{stack.tenant_url}{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows}


async def link(stack: Stack, entry_kind: str, cin7_id: str) -> QbLink:
    async with stack.sessions() as db:
        found = (
            await db.exec(
                scoped(QbLink, stack.tenant.tenant_id).where(
                    QbLink.entry_kind == entry_kind, QbLink.cin7_id == cin7_id
                )
            )
        ).first()
    assert found is not None, (entry_kind, cin7_id)
    return found


async def test_from_cin7_to_quickbooks_through_the_api(
    database_url: str, topology: Topology
) -> None:
    async with workflow_stack(database_url, topology.namespace) as stack:
        company = stack.company
        company.add_customer("Acme Corp.")
        company.add_customer("Globex")
        company.add_customer("Northwind Traders Retail")
        company.add_item("Widget Blue", item_type="ItemNonInventory", account="Sales")
        company.add_item("Gadget", item_type="ItemNonInventory", account="Sales")
        await stack.web_connector_run()  # the first run mirrors the QuickBooks lists

        when = now_utc()
        orders = {
            name: stack.create(
                "SalesOrders",
                sales_order(member, name, reference=f"SO-{member}", lines=lines, when=when),
            )["id"]
            for member, name, lines in (
                (ACME, "Acme Corporation", [line("WIDGET-BLUE", 2, 25.0, 10.0)]),
                (GLOBEX, "Globex", [line("GADGET", 1, 40.0, 18.5)]),
                (NORTHWIND, "Northwind Traders", [line("GADGET", 3, 40.0, 18.5)]),
                (HOOLI, "Hooli Holdings", [line("GADGET", 2, 40.0, 20.0)]),
            )
        }
        bill_po = stack.create(
            "PurchaseOrders",
            purchase_order(
                SUPPLIER,
                "Office Supplies Co",
                reference="PO-1",
                invoice="SUP-991",
                amount=300.0,
                when=when,
            ),
        )["id"]
        await stack.refresh_from_cin7()
        so = {name: str(cin7_id) for name, cin7_id in orders.items()}

        async def all_mapped() -> bool:
            items = await stack.outbox()
            invoices = {i.cin7_id for i in items if i.entry_kind == "invoice"}
            bills = {i.cin7_id for i in items if i.entry_kind == "bill"}
            return set(so.values()) <= invoices and str(bill_po) in bills

        await wait_for(all_mapped, "every Cin7 document to reach the outbox")

        # ---- matching ------------------------------------------------------------------------
        contacts = by_name((await get(stack, "/contacts/matches"))["items"])
        acme = contacts["Acme Corporation"]
        assert acme["status"] == "proposed" and acme["list_type"] == "customer"
        assert acme["proposals"][0]["name"] == "Acme Corp."
        assert acme["proposals"][0]["reason"].startswith("similar name")
        assert set(acme["proposals"][0]) == {"list_id", "name", "list_type", "score", "reason"}
        assert contacts["Globex"]["proposals"][0]["reason"] == "exact name"
        northwind = contacts["Northwind Traders"]
        assert northwind["held_entry_ids"], northwind  # its name is a QuickBooks vendor's
        unmatched = (await get(stack, "/contacts/matches", status="unmatched"))["items"]
        assert [row["name"] for row in unmatched] == ["Hooli Holdings"]

        refused = await stack.api.post(
            f"{stack.tenant_url}/contacts/{NORTHWIND}/match", json={"create": True}
        )
        assert refused.status_code == 422
        assert "already used by a QuickBooks vendor" in refused.json()["detail"]
        created = await post(stack, f"/contacts/{HOOLI}/match", {"create": True})
        assert created["created_on_import"] is True and created["list_id"] is None

        acme_list_id = acme["proposals"][0]["list_id"]
        await post(stack, f"/contacts/{ACME}/match", {"list_id": acme_list_id})
        retail = next(p for p in northwind["proposals"] if p["name"] == "Northwind Traders Retail")
        matched = await post(stack, f"/contacts/{NORTHWIND}/match", {"list_id": retail["list_id"]})
        assert matched["rechecking"] == northwind["held_entry_ids"]
        bulk = await post(stack, "/contacts/matches/confirm-exact")
        assert sorted(c["name"] for c in bulk["confirmed"]) == ["Globex", "Office Supplies Co"]

        items = by_name((await get(stack, "/items/matches", status="proposed"))["items"])
        widget = items["Widget-Blue"]
        assert widget["proposals"][0]["name"] == "Widget Blue"
        await post(
            stack, "/items/WIDGET-BLUE/match", {"list_id": widget["proposals"][0]["list_id"]}
        )
        exact_items = await post(stack, "/items/matches/confirm-exact")
        assert [c["code"] for c in exact_items["confirmed"]] == ["GADGET"]

        async def rechecked() -> bool:
            north = await stack.live_item("invoice", so["Northwind Traders"])
            acme_invoice = await stack.live_item("invoice", so["Acme Corporation"])
            if north is None or acme_invoice is None or north.state != "ready":
                return False
            party = acme_invoice.body["header"]["party"]
            item = acme_invoice.body["lines"][0]["item"]
            return bool(party["list_id"] == acme_list_id and item["name"] == "Widget Blue")

        await wait_for(rechecked, "the held and matched invoices to be re-checked")
        matched_rows = by_name((await get(stack, "/contacts/matches", status="matched"))["items"])
        assert set(matched_rows) == {
            "Acme Corporation",
            "Globex",
            "Northwind Traders",
            "Hooli Holdings",
            "Office Supplies Co",
        }
        assert matched_rows["Acme Corporation"]["match"]["list_id"] == acme_list_id

        # ---- approval, and a response lost on the way back ----------------------------------
        month = when.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m")
        wanted = [
            *[await stack.live_item("invoice", cin7_id) for cin7_id in so.values()],
            await stack.live_item("bill", str(bill_po)),
        ]
        assert all(item is not None and item.state == "ready" for item in wanted), wanted
        approval = await approve_ids(stack, [item.entry_id for item in wanted if item is not None])
        # Hooli's new customer goes with its invoice, and is named.
        hooli_add = await stack.live_item("customer_add", str(HOOLI))
        assert hooli_add is not None
        assert [d["id"] for d in approval["dependencies"]] == [hooli_add.entry_id]
        wanted.append(hooli_add)
        # Renamed in QuickBooks before the run: the match is the ListID, so it still holds.
        company.rename_customer("Acme Corp.", "ACME Corporation (East)")
        dropped = await stack.web_connector_run(drop_connection_after_set=2)
        assert dropped.dropped
        await asyncio.sleep(1.2)  # the abandoned session is silent long enough to take over
        await stack.web_connector_run()
        posted = {i.entry_id: i.state for i in await stack.outbox()}
        assert {posted[item.entry_id] for item in wanted if item is not None} == {"posted"}

        # COGS follows the revenue: the month's journal counts each order once its invoice is in
        # QuickBooks; it is approved when it holds all four (2x10 + 18.50 + 3x18.50 + 2x20).
        async def cogs_journal() -> OutboxItem | None:
            item = await stack.live_item("journal", month)
            if item is None or Decimal(item.body["total"]) != Decimal("134.00"):
                return None
            return item if item.state in ("ready", "posted") else None

        journal_item = await wait_for(cogs_journal, "the month's COGS journal")
        if journal_item.state == "ready":
            await approve_ids(stack, [journal_item.entry_id])
            await stack.web_connector_run()
        assert {i.state for i in await stack.outbox() if i.entry_id == journal_item.entry_id} == {
            "posted"
        }
        invoices = company.transactions("Invoice")
        assert len(invoices) == 4  # exactly once each, despite the lost response
        assert len(company.transactions("Bill")) == 1
        acme_txn = next(t for t in invoices if t.entity_list_id == acme_list_id)
        assert acme_txn.entity == "ACME Corporation (East)"

        # ---- a re-import as a Mod (still a draft), and one finalised in QuickBooks (locked) ---
        globex_txn = next(t for t in invoices if t.entity == "Globex")
        company.mark_final(acme_txn.txn_id)  # a person approves the Acme invoice in QuickBooks
        finalised = company.transaction(acme_txn.txn_id).edit_sequence
        stack.change(
            "SalesOrders", orders["Globex"], {"customerOrderNo": "PO-77", "freightTotal": 12.5}
        )
        stack.change("SalesOrders", orders["Acme Corporation"], {"customerOrderNo": "ACME-2"})
        await stack.refresh_from_cin7()

        async def reimports_listed() -> list[dict[str, Any]] | None:
            items = (await get(stack, "/reimports"))["items"]
            ready = {i.entry_id for i in await stack.outbox() if i.state == "ready"}
            arrived = len(items) == 2 and all(r["entry_id"] in ready for r in items)
            return items if arrived else None

        listed = {
            r["document"]["cin7_id"]: r for r in await wait_for(reimports_listed, "re-imports")
        }
        globex_change = listed[so["Globex"]]
        assert globex_change["status"] == "draft" and globex_change["txn_id"] == globex_txn.txn_id
        changed = {c["field"]: c for c in globex_change["changes"]}
        assert changed["header.po_number"]["after"] == "PO-77"
        assert changed["total"] == {
            "field": "total",
            "label": "Total",
            "before": "40.00",
            "after": "52.50",
        }
        assert "InvoiceMod" in globex_change["actions"]["quickbooks"]
        # The re-imported Acme order is pending again; its match shows QuickBooks' new name.
        contacts = by_name((await get(stack, "/contacts/matches", status="matched"))["items"])
        assert contacts["Acme Corporation"]["match"]["name"] == "ACME Corporation (East)"

        await approve_ids(
            stack, [globex_change["entry_id"], listed[so["Acme Corporation"]]["entry_id"]]
        )
        await stack.web_connector_run()
        after = company.transaction(globex_txn.txn_id)
        assert after.total == Decimal("52.50") and after.edit_sequence != globex_txn.edit_sequence
        assert len(company.transactions("Invoice")) == 4  # a Mod, not a second invoice
        locked = await get(stack, f"/entries/{listed[so['Acme Corporation']]['entry_id']}/changes")
        assert locked["status"] == "locked", locked
        assert "final" in locked["reason"]
        assert "by hand" in locked["actions"]["quickbooks"]
        assert company.transaction(acme_txn.txn_id).edit_sequence == finalised  # untouched

        # ---- a COGS month re-opened by a late cost ---------------------------------------------
        before = await get(stack, "/cogs", month=month)
        assert before["status"] == "open" and before["reopened"] is False
        assert Decimal(before["total"]) == Decimal("2") * 10 + Decimal("18.50") * 4 + 40
        hooli_doc = next(d for d in before["documents"] if d["cin7_id"] == so["Hooli Holdings"])
        assert hooli_doc["lines"][0]["unit_cost"] == "20.00" and hooli_doc["amount"] == "40.00"
        cogs_txn = (await link(stack, "journal", month)).txn_id
        stack.cin7.change_cost(stack.account, "SalesOrders", orders["Hooli Holdings"], 1.5)
        await stack.refresh_from_cin7()

        async def reopened() -> dict[str, Any] | None:
            view = await get(stack, "/cogs", month=month)
            item = await stack.live_item("journal", month)
            ready = item is not None and item.entry_id == (view["journal"] or {}).get("entry_id")
            return view if view["reopened"] and ready else None

        view = await wait_for(reopened, "the COGS month to re-open")
        assert view["difference"] == "20.00"
        assert [(c["cin7_id"], c["change"]) for c in view["changes"]] == [
            (so["Hooli Holdings"], "20.00")
        ]
        assert "Mod" in view["next_step"]
        await approve_ids(stack, [view["journal"]["entry_id"]])
        await stack.web_connector_run()
        journal = company.transaction(cogs_txn)
        assert journal.total == Decimal(view["total"])  # the same journal, modified
        settled = await wait_for(
            lambda: _cogs_settled(stack, month), "the re-posted COGS month to show no difference"
        )
        assert settled["posted"]["txn_id"] == cogs_txn
        closed = await get(stack, "/cogs", month="2020-01")  # past cogs.months_open (1)
        assert closed["status"] == "closed" and "closed" in closed["next_step"]
        bad = await stack.api.get(f"{stack.tenant_url}/cogs", params={"month": "2026-13"})
        assert bad.status_code == 422 and "YYYY-MM" in bad.text

        # ---- reconciliation finds what was planted in the company file ------------------------
        day = when.astimezone(ZoneInfo("America/New_York")).date().isoformat()
        company.process_request(_planted(day))
        first = await get(stack, "/reconciliation", month=month)
        assert first["month"] == month and first["quickbooks_status"] == "waiting"
        assert {r["measure"] for r in first["rows"]} == {"sales", "purchases", "cogs", "inventory"}
        assert all(r["quickbooks"] is None for r in first["rows"])
        await stack.web_connector_run()  # the session reads QuickBooks
        rows = {r["measure"]: r for r in (await get(stack, "/reconciliation", month=month))["rows"]}
        assert rows["sales"]["difference"] == "-75.00"
        assert [d["ref_number"] for d in rows["sales"]["documents"]] == ["HAND-INV"]
        assert rows["sales"]["documents"][0]["source"] == "quickbooks"
        assert rows["purchases"]["difference"] == "0.00"
        assert rows["cogs"]["difference"] == "0.00"
        assert rows["inventory"]["difference"] == "-33.10"
        assert [d["ref_number"] for d in rows["inventory"]["documents"]] == ["HAND-ADJ"]
        expected_inventory = Decimal("300.00") - Decimal(view["total"])
        assert Decimal(rows["inventory"]["cin7"]) == expected_inventory

        adjustment = await post(
            stack, "/reconciliation/inventory-adjustment", {"month": month}, status=201
        )
        assert adjustment["difference"] == "-33.10" and adjustment["state"] == "approved"
        await stack.web_connector_run()  # posts the adjustment
        stale = await get(stack, "/reconciliation", month=month)
        assert stale["quickbooks_status"] == "stale" and stale["reading_requested"]
        await stack.web_connector_run()  # reads QuickBooks again
        rows = {r["measure"]: r for r in (await get(stack, "/reconciliation", month=month))["rows"]}
        assert rows["inventory"]["difference"] == "0.00", rows["inventory"]
        year, number = (int(p) for p in month.split("-"))
        previous = f"{year - (number == 1)}-{(number - 2) % 12 + 1:02d}"
        ranged = await get(stack, "/reconciliation", **{"from": previous, "to": month})
        assert ranged["month"] is None and [m["month"] for m in ranged["months"]] == [
            previous,
            month,
        ]
        assert ranged["quickbooks_status"] == "waiting"  # a new range is read at the next run
        again = await post(stack, "/reconciliation/refresh", {"from": previous, "to": month}, 202)
        assert again["state"] == "requested"  # the same waiting reading, not a second one
        await stack.web_connector_run()
        ranged = await get(stack, "/reconciliation", **{"from": previous, "to": month})
        empty, current = ranged["months"]
        assert {r["difference"] for r in empty["rows"]} == {"0.00"}
        assert {r["measure"]: r["difference"] for r in current["rows"]}["inventory"] == "0.00"

        # ---- every route of this area: another tenant's bookkeeper and no token get nothing --
        other_tenant = await new_tenant(stack.sessions, "Other Books")
        stranger = await new_person(stack.sessions, "bookkeeper", [other_tenant.tenant_id])
        entry_id = listed[so["Globex"]]["entry_id"]
        routes = [
            ("GET", "/contacts/matches", None),
            ("POST", "/contacts/matches/confirm-exact", None),
            ("POST", "/items/matches/confirm-exact", None),
            ("POST", f"/contacts/{ACME}/match", {"create": True}),
            ("GET", "/items/matches", None),
            ("POST", "/items/WIDGET-BLUE/match", {"list_id": "x"}),
            ("GET", "/reimports", None),
            ("GET", f"/entries/{entry_id}/changes", None),
            ("GET", f"/cogs?month={month}", None),
            ("GET", f"/reconciliation?month={month}", None),
            ("POST", "/reconciliation/refresh", {"month": month}),
            ("POST", "/reconciliation/inventory-adjustment", {"month": month}),
        ]
        async with api_client(stack.gateway) as anonymous:
            token = await sign_in(anonymous, stranger)
            for method, path, body in routes:
                response = await anonymous.request(method, f"{stack.tenant_url}{path}", json=body)
                assert response.status_code == 401, (method, path)
        async with api_client(stack.gateway, token) as other:
            for method, path, body in routes:
                response = await other.request(method, f"{stack.tenant_url}{path}", json=body)
                assert response.status_code == 404, (method, path, response.text)
                assert response.json() == {"detail": "no such tenant"}


async def _cogs_settled(stack: Stack, month: str) -> dict[str, Any] | None:
    view: dict[str, Any] = await get(stack, "/cogs", month=month)
    return view if view["difference"] == "0.00" else None


def _planted(day: str) -> str:
    """What a person typed into QuickBooks by hand: an invoice and an inventory journal."""
    return (
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
        "<InvoiceAddRq><InvoiceAdd><CustomerRef><FullName>Walk-in Customer</FullName>"
        f"</CustomerRef><TxnDate>{day}</TxnDate><RefNumber>HAND-INV</RefNumber>"
        "<IsPending>false</IsPending><InvoiceLineAdd><ItemRef><FullName>Cin7 Sales</FullName>"
        "</ItemRef><Desc>Counter sale</Desc><Quantity>1</Quantity><Rate>75.00</Rate>"
        "</InvoiceLineAdd></InvoiceAdd></InvoiceAddRq>"
        f"<JournalEntryAddRq><JournalEntryAdd><TxnDate>{day}</TxnDate><RefNumber>HAND-ADJ"
        "</RefNumber><JournalDebitLine><AccountRef><FullName>Inventory Asset</FullName>"
        "</AccountRef><Amount>33.10</Amount></JournalDebitLine><JournalCreditLine><AccountRef>"
        "<FullName>Inventory Adjustments</FullName></AccountRef><Amount>33.10</Amount>"
        "</JournalCreditLine></JournalEntryAdd></JournalEntryAddRq></QBXMLMsgsRq></QBXML>"
    )
