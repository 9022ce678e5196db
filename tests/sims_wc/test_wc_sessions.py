"""Web Connector sessions against a real SOAP server (uvicorn) and the QuickBooks simulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from omni2qbd_shared.xmlsafe import parse_xml
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.webconnector import WebConnectorSimulator
from tests.sims_wc.sims_wc_gateway import Plan, TestGateway, invoice_rq, qbxml_set

DEMO = "C:\\Companies\\Demo.qbw"
Start = Callable[[dict[str, Plan]], AbstractContextManager[tuple[TestGateway, str]]]
CUSTOMER_QUERY = qbxml_set(
    '<CustomerQueryRq requestID="c" iterator="Start"><MaxReturned>1</MaxReturned></CustomerQueryRq>'
)


async def test_full_session_in_qbwc_order(gateway: Start, qb: QuickBooksSimulator) -> None:
    plan = Plan("pw", request_sets=[CUSTOMER_QUERY, qbxml_set(invoice_rq("W-1"))])
    with gateway({"alice": plan}) as (service, url):
        report = await WebConnectorSimulator(url, "alice", "pw", qb, DEMO).run_session()

    assert [r.operation for r in service.received] == [
        "serverVersion",
        "clientVersion",
        "authenticate",
        "sendRequestXML",
        "receiveResponseXML",
        "sendRequestXML",
        "receiveResponseXML",
        "closeConnection",
    ]
    assert all(not r.schema_errors for r in service.received)
    assert {r.soap_action for r in service.received} == {
        f'"http://developer.intuit.com/{r.operation}"' for r in service.received
    }
    assert all(r.content_type.startswith("text/xml") for r in service.received)
    first, second = (r.params for r in service.received if r.operation == "sendRequestXML")
    company = qb.company(DEMO)
    assert company.file_id in first["strHCPResponse"] and "<HostRet>" in first["strHCPResponse"]
    assert second["strHCPResponse"] == ""
    assert (first["strCompanyFileName"], first["qbXMLCountry"]) == (DEMO, "US")
    assert (first["qbXMLMajorVers"], first["qbXMLMinorVers"]) == ("13", "0")
    assert first["ticket"] == report.ticket and report.ticket

    assert report.completed and report.progress == [50, 100]
    assert report.round_trips == 8 and report.requests_processed == 2
    assert report.status == "OK" and report.errors == []
    assert "password" not in " ".join(report.log).replace("<password=<MaskedForSecurity>", "")
    assert "pw" not in [w.strip('"<>') for line in report.log for w in line.split("=")]
    invoice_response = parse_xml(service.responses[1][0])
    invoice_rs = invoice_response.find("QBXMLMsgsRs/InvoiceAddRs")
    assert invoice_rs is not None and invoice_rs.get("statusCode") == "0"
    assert company.count_by_ref_number("W-1", "Invoice") == 1


async def test_authenticate_answers(gateway: Start, qb: QuickBooksSimulator) -> None:
    plans = {
        "idle": Plan("pw", auth_status="none"),
        "busy": Plan("pw", auth_status="busy"),
        "later": Plan("pw", auth_status="", postpone="60", min_run="300"),
    }
    with gateway(plans) as (service, url):
        idle = await WebConnectorSimulator(url, "idle", "pw", qb, DEMO).run_session()
        busy = await WebConnectorSimulator(url, "busy", "pw", qb, DEMO).run_session()
        bad = await WebConnectorSimulator(url, "idle", "wrong", qb, DEMO).run_session()
        later = await WebConnectorSimulator(url, "later", "pw", qb, DEMO).run_session()

    assert (idle.status, idle.calls[-1]) == ("No Data Exchange", "closeConnection")
    assert (busy.status, busy.calls[-1]) == ("Application Busy", "closeConnection")
    assert (bad.status, bad.calls[-1]) == ("Invalid password for username", "closeConnection")
    assert later.status == "Update postponed by application"
    assert (later.postpone_seconds, later.min_run_every_seconds) == (60, 300)
    assert later.calls[-1] == "authenticate"
    for report in (idle, busy, bad, later):
        assert "sendRequestXML" not in report.calls and report.requests_processed == 0
    assert all(not r.schema_errors for r in service.received)


async def test_set_failure_reports_hresult_and_last_error(
    gateway: Start, qb: QuickBooksSimulator
) -> None:
    wrong_order = qbxml_set(
        "<InvoiceAddRq><InvoiceAdd><RefNumber>X</RefNumber>"
        "<CustomerRef><FullName>Acme Corp</FullName></CustomerRef></InvoiceAdd></InvoiceAddRq>"
    )
    with gateway({"u": Plan("pw", request_sets=[wrong_order])}) as (service, url):
        report = await WebConnectorSimulator(url, "u", "pw", qb, DEMO).run_session()
    receive = next(r for r in service.received if r.operation == "receiveResponseXML")
    assert receive.params == {
        "ticket": report.ticket,
        "response": "",
        "hresult": "0x80040400",
        "message": "QuickBooks found an error when parsing the provided XML text stream.",
    }
    assert report.progress == [-101]
    assert report.calls[-2:] == ["getLastError", "closeConnection"]
    assert report.status.startswith("QuickBooks could not process the request: 0x80040400")
    assert qb.company(DEMO).transactions() == []


async def test_noop_pauses_then_continues_and_empty_request_ends(
    gateway: Start, qb: QuickBooksSimulator
) -> None:
    plan = Plan("pw", request_sets=["NoOp", CUSTOMER_QUERY], nothing_to_do_message="All done")
    with gateway({"u": plan}) as (_service, url):
        started = time.monotonic()
        report = await WebConnectorSimulator(
            url, "u", "pw", qb, DEMO, noop_pause_seconds=0.3
        ).run_session()
        elapsed = time.monotonic() - started
    assert report.calls[3:7] == [
        "sendRequestXML",
        "getLastError",
        "sendRequestXML",
        "receiveResponseXML",
    ]
    assert report.noops == 1 and elapsed >= 0.3
    assert report.completed

    with gateway({"u": Plan("pw", request_sets=[], nothing_to_do_message="All done")}) as (_s, url):
        empty = await WebConnectorSimulator(url, "u", "pw", qb, DEMO).run_session()
    assert empty.calls[3:] == ["sendRequestXML", "getLastError", "closeConnection"]
    assert empty.last_errors == ["All done"]
    # QBWC shows getLastError's text; closeConnection was still called.
    assert (empty.status, empty.close_result) == ("All done", "OK")


async def test_quickbooks_not_running(gateway: Start, qb: QuickBooksSimulator) -> None:
    plans = {
        "open-file": Plan("pw", auth_status=""),
        "named": Plan("pw", auth_status=DEMO, connection_error_answers=[DEMO, "done"]),
    }
    with gateway(plans) as (service, url):
        open_file = await WebConnectorSimulator(
            url, "open-file", "pw", qb, DEMO, quickbooks_not_running=True
        ).run_session()
        named = await WebConnectorSimulator(
            url, "named", "pw", qb, DEMO, quickbooks_not_running=True
        ).run_session()
    assert [(c.hresult, c.answer) for c in open_file.connection_errors] == [("0x80040416", "done")]
    assert open_file.calls[-2:] == ["connectionError", "closeConnection"]
    assert [(c.hresult, c.answer) for c in named.connection_errors] == [
        ("0x80040408", DEMO),
        ("0x80040408", "done"),
    ]
    assert named.status == "Could not start QuickBooks."
    assert all(not r.schema_errors for r in service.received)
    assert "sendRequestXML" not in open_file.calls + named.calls


async def test_wrong_company_file_open(gateway: Start, qb: QuickBooksSimulator) -> None:
    other = "C:\\Companies\\Other.qbw"
    qb.company(other, seed_demo=True)
    plans = {"strict": Plan("pw", auth_status=DEMO), "lenient": Plan("pw", auth_status="")}
    with gateway(plans) as (service, url):
        strict = await WebConnectorSimulator(
            url, "strict", "pw", qb, DEMO, wrong_company_open=other
        ).run_session()
        lenient = await WebConnectorSimulator(
            url, "lenient", "pw", qb, DEMO, wrong_company_open=other
        ).run_session()
    assert [c.hresult for c in strict.connection_errors] == ["0x8004040A"]
    # With "" QBWC uses whatever file is open: the HCP shows the other file's FileID.
    assert lenient.company_path == other
    first = next(r for r in service.calls("lenient") if r.operation == "sendRequestXML")
    assert qb.company(other).file_id in first.params["strHCPResponse"]
    assert qb.company(DEMO).file_id not in first.params["strHCPResponse"]


async def test_dropped_connection_then_recovery_next_run(
    gateway: Start, qb: QuickBooksSimulator
) -> None:
    write = qbxml_set(invoice_rq("D-1"), attrs=' newMessageSetID="set-1"')
    check = qbxml_set("", attrs=' oldMessageSetID="set-1"')
    with gateway({"u": Plan("pw", request_sets=[write])}) as (service, url):
        dropped = await WebConnectorSimulator(
            url, "u", "pw", qb, DEMO, drop_connection_after_set=1
        ).run_session()
    assert dropped.dropped and dropped.requests_processed == 1
    assert "receiveResponseXML" not in dropped.calls and "closeConnection" not in dropped.calls
    assert service.responses == []
    assert qb.company(DEMO).count_by_ref_number("D-1") == 1  # QuickBooks did post it

    with gateway({"u": Plan("pw", request_sets=[check])}) as (service, url):
        recovered = await WebConnectorSimulator(url, "u", "pw", qb, DEMO).run_session()
    assert recovered.completed
    answer = parse_xml(service.responses[0][0])
    txn_id = answer.findtext("QBXMLMsgsRs/InvoiceAddRs/ErrorRecovery/TxnID")
    assert txn_id == qb.company(DEMO).transactions("Invoice")[0].txn_id
    assert qb.company(DEMO).count_by_ref_number("D-1") == 1


async def test_two_sessions_at_once_with_a_slow_quickbooks(
    gateway: Start, qb: QuickBooksSimulator
) -> None:
    second = "C:\\Companies\\Second.qbw"
    qb.company(second, seed_demo=True)
    plans = {
        "a": Plan("pw", request_sets=[qbxml_set(invoice_rq(f"A-{n}")) for n in range(3)]),
        "b": Plan("pw", request_sets=[qbxml_set(invoice_rq(f"B-{n}")) for n in range(3)]),
    }
    delay = 0.2
    with gateway(plans) as (service, url):
        started = time.monotonic()
        one, two = await asyncio.gather(
            WebConnectorSimulator(
                url, "a", "pw", qb, DEMO, quickbooks_delay_seconds=delay
            ).run_session(),
            WebConnectorSimulator(
                url, "b", "pw", qb, second, quickbooks_delay_seconds=delay
            ).run_session(),
        )
        elapsed = time.monotonic() - started
    assert one.completed and two.completed and one.ticket != two.ticket
    assert elapsed >= 3 * delay  # each QuickBooks answer took its delay
    # Overlapped, not one after the other: the second user's session began (authenticate)
    # before the first one's ended (closeConnection), in the order the gateway received them.
    order = service.calls()
    begun = [n for n, r in enumerate(order) if r.operation == "authenticate"]
    ended = [n for n, r in enumerate(order) if r.operation == "closeConnection"]
    assert len(begun) == 2 and len(ended) == 2 and max(begun) < min(ended)
    assert [t.ref_number for t in qb.company(DEMO).transactions()] == ["A-0", "A-1", "A-2"]
    assert [t.ref_number for t in qb.company(second).transactions()] == ["B-0", "B-1", "B-2"]
    operations = [
        r.params.get("ticket") for r in service.received if r.operation == "sendRequestXML"
    ]
    assert operations != sorted(operations, key=lambda t: t != one.ticket)  # interleaved


async def test_client_version_answers(gateway: Start, qb: QuickBooksSimulator) -> None:
    for answer, goes_on, status in [
        ("W:Please upgrade soon", True, "OK"),
        ("E:This service is closed", False, "This service is closed"),
        (
            "O:2.3.0.200",
            False,
            "This application requires QBWebConnector version 2.3.0.200 or higher.",
        ),
    ]:
        plan = Plan("pw", client_version_answer=answer, request_sets=[CUSTOMER_QUERY])
        with gateway({"u": plan}) as (_service, url):
            report = await WebConnectorSimulator(url, "u", "pw", qb, DEMO).run_session()
        assert ("authenticate" in report.calls) is goes_on
        assert report.status == status


async def test_qbwc_errors_for_broken_answers(gateway: Start, qb: QuickBooksSimulator) -> None:
    plans = {
        "short": Plan("pw", auth_answer=["only-a-ticket"]),
        "php": Plan("pw", request_sets=[CUSTOMER_QUERY], broken_receive=True),
    }
    with gateway(plans) as (_service, url):
        short = await WebConnectorSimulator(url, "short", "pw", qb, DEMO).run_session()
        php = await WebConnectorSimulator(url, "php", "pw", qb, DEMO).run_session()
    assert short.status.startswith("QBWC1012: Authentication failed")
    assert "Index Out Of Range" in short.status
    assert short.calls[-1] == "authenticate"
    assert php.status.startswith("QBWC1042: ReceiveResponseXML failed")
    assert "not well-formed" in php.status
    assert php.calls[-1] == "receiveResponseXML" and php.requests_processed == 1
