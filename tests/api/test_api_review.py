"""The review queue, entry detail, summary, approval (with dependencies), unapprove, retry,
auto-approve rules and the audit log, through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from lxml import etree
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from omni2qbd_gateway.workflow import audit
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import AuditLog, FetchedDocument, OutboxItem, utcnow
from omni2qbd_shared.qbxml.schema import schema_for
from omni2qbd_shared.xmlsafe import parse_xml
from tests.api.api_helpers import blocked, deliver, new_person, signed_in
from tests.gateway.gateway_helpers import Gateway, bill, customer_add, invoice, new_tenant


async def _seed(gateway: Gateway, tenant_id: str) -> dict[str, str]:
    s = gateway.sessions
    ids = {
        "inv1": await deliver(s, invoice(tenant_id, 1, amount="100.00")),
        "inv2": await deliver(
            s,
            blocked(
                invoice(tenant_id, 2, customer="Zed Stores"),
                "Cin7 sales order 2: customer Zed Stores has no QuickBooks match",
            ),
            held=True,
        ),
        "bill3": await deliver(s, bill(tenant_id, 3)),
        "cust41": await deliver(s, customer_add(tenant_id, "41", "New Customer Ltd")),
    }
    ids["inv4"] = await deliver(
        s,
        invoice(tenant_id, 4, customer="New Customer Ltd", depends_on=["customer_add:contact:41"]),
    )
    return ids


async def test_queue_filters_paging_summary_and_detail(gateway: Gateway) -> None:
    tenant = await new_tenant(gateway.sessions)
    ids = await _seed(gateway, tenant.tenant_id)
    viewer = await new_person(gateway.sessions, "viewer", [tenant.tenant_id])
    base = f"/tenants/{tenant.tenant_id}"
    async with signed_in(gateway, viewer) as client:
        page = (await client.get(f"{base}/entries")).json()
        assert {i["id"] for i in page["items"]} == set(ids.values())
        assert page["next_cursor"] is None
        first = next(i for i in page["items"] if i["id"] == ids["inv1"])
        assert first["kind"] == "invoice" and first["qb_type"] == "Invoice"
        assert first["state"] == "ready" and first["contact"] == "Acme Corp"
        assert first["total"] == "100.00" and first["currency"] == "USD"
        assert first["txn_date"] == "2026-11-20"
        assert first["document"]["kind"] == "sales_order" and first["document"]["id"] == "1"

        held = (await client.get(f"{base}/entries", params={"state": "needs_attention"})).json()
        assert [i["id"] for i in held["items"]] == [ids["inv2"]]
        assert held["items"][0]["findings"][0]["blocking"] is True
        assert held["items"][0]["findings"][0]["field"] == "memberId"
        bills = (await client.get(f"{base}/entries", params={"kind": "bill"})).json()
        assert [i["id"] for i in bills["items"]] == [ids["bill3"]]
        zed = (await client.get(f"{base}/entries", params={"contact": "zed"})).json()
        assert [i["id"] for i in zed["items"]] == [ids["inv2"]]
        by_ref = (await client.get(f"{base}/entries", params={"q": "INV4"})).json()
        assert [i["id"] for i in by_ref["items"]] == [ids["inv4"]]
        dated = (
            await client.get(f"{base}/entries", params={"from": "2026-11-19", "to": "2026-11-19"})
        ).json()
        assert dated["items"] == []
        assert (
            await client.get(f"{base}/entries", params={"state": "nonsense"})
        ).status_code == 422
        assert (await client.get(f"{base}/entries", params={"cursor": "bad"})).status_code == 400

        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            chunk = (await client.get(f"{base}/entries", params=params)).json()
            seen += [i["id"] for i in chunk["items"]]
            cursor = chunk["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(ids.values()) and len(seen) == len(set(seen))

        summary = (await client.get(f"{base}/summary")).json()
        assert summary["by_state"]["ready"] == 4
        assert summary["by_state"]["needs_attention"] == 1
        assert summary["by_kind"] == {"bill": 1, "customer_add": 1, "invoice": 3}
        assert set(summary["by_state"]) == {
            "needs_attention", "waiting_in_cin7", "ready", "approved", "sent", "posted",
            "failed", "locked", "in_doubt", "withdrawn",
        }  # fmt: skip

        detail = (await client.get(f"{base}/entries/{ids['inv1']}")).json()
        assert detail["debit_credit"][0] == {
            "account": "Accounts Receivable", "debit": "100.00", "credit": "0.00",
            "memo": "Invoice to Acme Corp",
        }  # fmt: skip
        debits = sum(float(line["debit"]) for line in detail["debit_credit"])
        credits = sum(float(line["credit"]) for line in detail["debit_credit"])
        assert debits == credits == 100.0
        root = parse_xml(detail["qbxml"])
        assert schema_for("13.0").validate(etree.ElementTree(root))
        assert root.find(".//InvoiceAddRq") is not None
        assert detail["quickbooks"]["txn_id"] is None
        assert detail["history"][-1]["state"] == "ready"
        assert (await client.get(f"{base}/entries/nope")).status_code == 404


async def test_approval_with_dependencies_refusals_unapprove_and_retry(gateway: Gateway) -> None:
    tenant = await new_tenant(gateway.sessions)
    tid = tenant.tenant_id
    ids = await _seed(gateway, tid)
    # An invoice whose new customer needs attention cannot be approved: the customer is named.
    ids["cust42"] = await deliver(
        gateway.sessions,
        blocked(customer_add(tid, "42", "Long Name Pty"), "the name is longer than 41 characters"),
        held=True,
    )
    ids["inv5"] = await deliver(
        gateway.sessions, invoice(tid, 5, depends_on=["customer_add:contact:42"])
    )
    bookkeeper = await new_person(gateway.sessions, "bookkeeper", [tid])
    viewer = await new_person(gateway.sessions, "viewer", [tid])
    base = f"/tenants/{tid}/entries"
    async with signed_in(gateway, viewer) as client:
        refused = await client.post(f"{base}/approve", json={"entry_ids": [ids["inv1"]]})
        assert refused.status_code == 403
    async with signed_in(gateway, bookkeeper) as client:
        assert (await client.post(f"{base}/approve", json={})).status_code == 422
        result = (
            await client.post(
                f"{base}/approve",
                json={"entry_ids": [ids["inv4"], ids["inv2"], ids["inv5"], "missing"]},
            )
        ).json()
        assert [a["id"] for a in result["approved"]] == [ids["inv4"]]
        assert result["dependencies"] == [
            {
                "id": ids["cust41"],
                "kind": "customer_add",
                "label": "new customer (Cin7 contact 41)",
                "dependency_of": [ids["inv4"]],
            }
        ]
        reasons = {r["id"]: r["reason"] for r in result["refused"]}
        assert "needs attention" in reasons[ids["inv2"]] and "Zed Stores" in reasons[ids["inv2"]]
        assert "'Long Name Pty'" in reasons[ids["inv5"]]
        assert "longer than 41" in reasons[ids["inv5"]]
        assert reasons["missing"] == "no such entry in this tenant"

        bills = (
            await client.post(
                f"{base}/approve", json={"all_ready": True, "kind": "bill", "to": "2026-11-30"}
            )
        ).json()
        assert [a["id"] for a in bills["approved"]] == [ids["bill3"]]

        back = await client.post(f"{base}/{ids['inv4']}/unapprove")
        assert back.status_code == 200 and back.json()["state"] == "ready"
        again = await client.post(f"{base}/{ids['inv4']}/unapprove")
        assert again.status_code == 409 and "only an approved entry" in again.json()["detail"]

        not_failed = await client.post(f"{base}/{ids['inv1']}/retry")
        assert not_failed.status_code == 409
        async with unit_of_work(gateway.sessions) as db:
            row = await db.get(OutboxItem, ids["inv1"])
            assert row is not None
            row.state, row.last_status_code = "failed", "3140"
            row.last_status_message = "QuickBooks does not know the item Consulting"
            db.add(row)
        retried = await client.post(f"{base}/{ids['inv1']}/retry")
        assert retried.status_code == 200 and retried.json()["state"] == "approved"

        audit = (await client.get(f"/tenants/{tid}/audit")).json()["items"]
        actions = [e["action"] for e in audit]
        assert actions[:4] == [
            "entries.retried", "entries.unapproved", "entries.approved", "entries.approved"
        ]  # fmt: skip
        assert {e["actor"] for e in audit[:4]} == {bookkeeper.email}
        retry_event = audit[0]
        assert retry_event["detail"]["previous_failure"]["status_code"] == "3140"
        page = (await client.get(f"/tenants/{tid}/audit", params={"limit": 2})).json()
        rest = (
            await client.get(f"/tenants/{tid}/audit", params={"cursor": page["next_cursor"]})
        ).json()
        assert [e["id"] for e in page["items"] + rest["items"]] == [e["id"] for e in audit]
        exported = await client.get(f"/tenants/{tid}/audit", params={"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0] == ["at", "actor", "action", "subject", "settings_version", "detail"]
        assert rows[1][2] == "entries.retried"


async def test_auto_approve_rule_and_waiting_in_cin7(gateway: Gateway) -> None:
    tenant = await new_tenant(gateway.sessions)
    tid = tenant.tenant_id
    bookkeeper = await new_person(gateway.sessions, "bookkeeper", [tid])
    async with signed_in(gateway, bookkeeper) as client:
        rule_url = f"/tenants/{tid}/rules/auto-approve"
        assert (await client.get(rule_url)).json() == {
            "enabled": False, "kinds": [], "max_total": None
        }  # fmt: skip
        saved = await client.put(
            rule_url, json={"enabled": True, "kinds": ["invoice"], "max_total": "500.00"}
        )
        assert saved.status_code == 200
        small = await deliver(gateway.sessions, invoice(tid, 10, amount="150.00"))
        large = await deliver(gateway.sessions, invoice(tid, 11, amount="900.00"))
        held = await deliver(
            gateway.sessions, blocked(invoice(tid, 12), "no QuickBooks match"), held=True
        )
        a_bill = await deliver(gateway.sessions, bill(tid, 13))
        states = {
            i["id"]: i["state"]
            for i in (await client.get(f"/tenants/{tid}/entries")).json()["items"]
        }
        assert states == {
            small: "approved", large: "ready", held: "needs_attention", a_bill: "ready"
        }  # fmt: skip
        detail = (await client.get(f"/tenants/{tid}/entries/{small}")).json()
        assert detail["approved_by"] == "auto-approve rule"

        async with unit_of_work(gateway.sessions) as db:
            db.add(
                FetchedDocument(
                    tenant_id=tid,
                    kind="sales_order",
                    cin7_id="77",
                    revision="r1",
                    payload={"id": 77, "reference": "SO-77", "company": "Later Ltd",
                             "total": 42.5, "createdDate": "2026-11-21T10:00:00Z"},
                )
            )  # fmt: skip
        waiting = (
            await client.get(f"/tenants/{tid}/entries", params={"state": "waiting_in_cin7"})
        ).json()["items"]
        assert len(waiting) == 1
        assert waiting[0]["document"]["reference"] == "SO-77"
        assert waiting[0]["contact"] == "Later Ltd" and waiting[0]["total"] == "42.50"
        assert "not ready to import" in waiting[0]["findings"][0]["message"]
        summary = (await client.get(f"/tenants/{tid}/summary")).json()
        assert summary["by_state"]["waiting_in_cin7"] == 1
        assert summary["by_state"]["approved"] == 1
    _ = date  # dates are compared as ISO strings above


async def test_audit_retention_prunes_only_old_rows(gateway: Gateway) -> None:

    tenant = await new_tenant(gateway.sessions)
    async with unit_of_work(gateway.sessions) as db:
        old = AuditLog(tenant_id=tenant.tenant_id, actor="a", action="x.old")
        old.at = utcnow() - timedelta(days=40)
        db.add(old)
        db.add(AuditLog(tenant_id=tenant.tenant_id, actor="a", action="x.new"))
    async with unit_of_work(gateway.sessions) as db:
        assert await audit.prune(db, retention_days=30) == 1
    operator = await new_person(gateway.sessions, "operator")
    async with signed_in(gateway, operator) as client:
        actions = [
            e["action"]
            for e in (await client.get(f"/tenants/{tenant.tenant_id}/audit")).json()["items"]
        ]
    assert "x.new" in actions and "x.old" not in actions


async def test_the_audit_log_refuses_changes(gateway: Gateway) -> None:

    tenant = await new_tenant(gateway.sessions)
    async with unit_of_work(gateway.sessions) as db:
        db.add(AuditLog(tenant_id=tenant.tenant_id, actor="a", action="entries.approved"))
    with pytest.raises(DBAPIError, match="append-only"):  # noqa: PT012 - raised at the commit
        async with unit_of_work(gateway.sessions) as db:
            row = (await db.exec(select(AuditLog).where(AuditLog.actor == "a"))).one()
            row.actor = "someone else"
            db.add(row)
