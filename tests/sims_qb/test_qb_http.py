"""The QuickBooks simulator's HTTP API under a real uvicorn server."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal
from urllib.parse import quote

import httpx
from typer.testing import CliRunner

from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.cli import app as quickbooks_cli
from omni2qbd_sims.quickbooks.http_api import create_app
from omni2qbd_sims.quickbooks.serving import free_port, running_server
from tests.sims_qb.sims_qb_helpers import invoice_add, message_set, rs_list, status


def test_http_processing_control_and_inspection() -> None:
    sim = QuickBooksSimulator()
    with running_server(create_app(sim)) as base, httpx.Client(base_url=base) as http:
        assert http.get("/livez").json() == {"status": "ok"}
        created = http.put("/companies/Shop", json={"seed_demo": True}).json()
        assert created["path"] == "C:\\Companies\\Shop.qbw"
        by_path = http.get(f"/companies/{quote(created['path'], safe='')}").json()
        assert by_path["file_id"] == created["file_id"] == sim.company("Shop").file_id
        hcp = http.get("/companies/Shop/hcp")
        assert created["file_id"] in hcp.text and hcp.headers["content-type"].startswith("text/xml")

        answer = http.post("/companies/Shop/qbxml", content=message_set(invoice_add("H-1")))
        assert answer.status_code == 200
        (rs,) = rs_list(answer.text)
        assert status(rs)[0] == 0
        txn_id = rs.findtext("InvoiceRet/TxnID") or ""

        broken = http.post("/companies/Shop/qbxml", content="<QBXML><oops")
        assert broken.status_code == 422
        assert broken.json()["hresult"] == "0x80040400"
        assert broken.json()["message"] == (
            "QuickBooks found an error when parsing the provided XML text stream."
        )

        seeded = http.post("/companies/Shop/seed/customer", json={"name": "Web Buyer"}).json()
        assert seeded["kind"] == "Customer" and seeded["full_name"] == "Web Buyer"
        dup = http.post("/companies/Shop/seed/vendor", json={"name": "Web Buyer"})
        assert dup.status_code == 400 and "already in use" in dup.json()["detail"]

        final = http.post(f"/companies/Shop/transactions/{txn_id}/mark-final").json()
        assert final["is_pending"] is False
        paid = http.post(
            f"/companies/Shop/transactions/{txn_id}/payments", json={"amount": "10.00"}
        )
        assert paid.json()["txn_type"] == "ReceivePayment"
        invoice = http.get(f"/companies/Shop/transactions/{txn_id}").json()
        assert invoice["balance_remaining"] == str(Decimal(invoice["total"]) - Decimal("10.00"))
        assert invoice["linked_txns"][0]["txn_id"] == paid.json()["txn_id"]
        edited = http.post(f"/companies/Shop/transactions/{txn_id}/edit", json={"memo": "hand"})
        assert edited.json()["memo"] == "hand"
        renamed = http.post(
            "/companies/Shop/customers/Acme Corp/rename", json={"new_name": "Acme Two"}
        )
        assert renamed.json()["full_name"] == "Acme Two"

        assert http.get("/companies/Shop/count", params={"ref_number": "H-1"}).json() == {
            "count": 1
        }
        totals = http.get("/companies/Shop/totals").json()
        assert totals["Invoice"]["count"] == 1 and totals["Invoice"]["total"] == invoice["total"]

        assert (
            http.post("/companies/Shop/faults/lock", json={"code": 3170, "count": 1}).status_code
            == 204
        )
        (locked,) = rs_list(
            http.post(
                "/companies/Shop/qbxml", content=message_set(invoice_add("H-2", customer="Globex"))
            ).text
        )
        assert status(locked)[0] == 3170

        assert http.delete(f"/companies/Shop/transactions/{txn_id}").json()["deleted"] is True
        assert http.get("/companies/Shop/count", params={"ref_number": "H-1"}).json() == {
            "count": 0
        }
        assert http.get("/companies/Shop/transactions/NOPE-1").status_code == 404
        listed = http.get("/companies/Shop/lists", params={"kind": "SalesTaxCode"}).json()
        assert [x["name"] for x in listed] == ["Non", "Tax"]


def test_cli_commands_are_mountable() -> None:
    result = CliRunner().invoke(quickbooks_cli, ["--help"])
    assert result.exit_code == 0
    for flag in ("--port", "--host", "--seed-demo"):
        assert flag in result.output


def test_omni2qbd_sim_quickbooks_serves_over_http() -> None:

    port = free_port()
    code = "from omni2qbd_sims.quickbooks.cli import app; app()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--port", str(port), "--seed-demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/companies/Demo", timeout=1).json()
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert info["edition"] == "QuickBooks Pro 2014" and info["highest_qbxml_version"] == "13.0"
        answer = httpx.post(
            f"http://127.0.0.1:{port}/companies/Demo/qbxml",
            content=message_set(
                "<CustomerQueryRq><FullName>Acme Corp</FullName></CustomerQueryRq>"
            ),
        )
        (rs,) = rs_list(answer.text)
        assert rs.findtext("CustomerRet/Name") == "Acme Corp"
    finally:
        process.terminate()
        process.wait(timeout=10)
