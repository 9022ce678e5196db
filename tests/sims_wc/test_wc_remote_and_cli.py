"""The Web Connector simulator with QuickBooks in another server, and its command line."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
from typer.testing import CliRunner

from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.http_api import create_app
from omni2qbd_sims.quickbooks.serving import running_server
from omni2qbd_sims.webconnector import WebConnectorSimulator
from omni2qbd_sims.webconnector.cli import app as webconnector_cli
from tests.sims_wc.sims_wc_gateway import Plan, TestGateway, invoice_rq, qbxml_set

Start = Callable[[dict[str, Plan]], AbstractContextManager[tuple[TestGateway, str]]]
DEMO = "C:\\Companies\\Demo.qbw"


async def test_session_against_a_remote_quickbooks_simulator(gateway: Start) -> None:
    remote = QuickBooksSimulator()
    remote.company(DEMO, seed_demo=True)
    bad = qbxml_set("<InvoiceAddRq><InvoiceAdd><Oops/></InvoiceAdd></InvoiceAddRq>")
    plan = Plan("pw", request_sets=[qbxml_set(invoice_rq("R-1")), bad])
    with running_server(create_app(remote)) as qb_url, gateway({"u": plan}) as (service, url):
        report = await WebConnectorSimulator(url, "u", "pw", qb_url, DEMO).run_session()
        async with httpx.AsyncClient(base_url=qb_url) as http:
            count = (await http.get("/companies/Demo/count", params={"ref_number": "R-1"})).json()
    assert count == {"count": 1}
    first = next(r for r in service.received if r.operation == "sendRequestXML")
    assert remote.company(DEMO).file_id in first.params["strHCPResponse"]
    assert report.progress == [50, -101]
    assert report.set_failures == [
        ("0x80040400", "QuickBooks found an error when parsing the provided XML text stream.")
    ]
    assert report.calls[-2:] == ["getLastError", "closeConnection"]


def test_cli_runs_updates_and_prints_qbwc_words(gateway: Start) -> None:
    plans = {"u": Plan("pw", request_sets=[qbxml_set(invoice_rq("CLI-1"))])}
    with gateway(plans) as (service, url):
        result = CliRunner().invoke(
            webconnector_cli,
            ["--url", url, "--user", "u", "--password", "pw", "--runs", "2"],
        )
    assert result.exit_code == 0, result.output
    assert result.output.count("--- update") == 2
    assert '*** Calling authenticate() with following parameters:<userName="u">' in result.output
    assert "<password=<MaskedForSecurity>" in result.output and 'pw"' not in result.output
    assert "Status: OK" in result.output
    assert [r.operation for r in service.received].count("authenticate") == 2

    with gateway({"u": Plan("pw", auth_status=DEMO)}) as (_service, url):
        failed = CliRunner().invoke(
            webconnector_cli,
            ["--url", url, "--user", "u", "--password", "pw", "--qb-not-running"],
        )
    assert failed.exit_code == 1
    assert "Could not start QuickBooks." in failed.output
