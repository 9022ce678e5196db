"""Iterators across pages, FromModifiedDate, and error recovery by message set id."""

from __future__ import annotations

import copy
import hashlib

from lxml import etree

from omni2qbd_shared.xmlsafe import parse_xml
from omni2qbd_sims.quickbooks import CompanyFile
from tests.sims_qb.sims_qb_helpers import (
    SteppingClock,
    invoice_add,
    message_set,
    parse_valid,
    rs_list,
    status,
)


def _customer_page(mode: str, iterator_id: str = "", max_returned: int = 10) -> str:
    attrs = f' iterator="{mode}"' + (f' iteratorID="{iterator_id}"' if iterator_id else "")
    return (
        f'<CustomerQueryRq requestID="{mode}"{attrs}><MaxReturned>{max_returned}</MaxReturned>'
        "<ActiveStatus>All</ActiveStatus></CustomerQueryRq>"
    )


def test_iterator_pages_through_every_customer_once(demo: CompanyFile) -> None:
    for n in range(23):
        demo.add_customer(f"Customer {n:02d}")
    expected = {c.list_id for c in demo.list_records("Customer")}
    assert len(expected) == 25

    (first,) = rs_list(demo.process_request(message_set(_customer_page("Start"))))
    iterator_id = first.get("iteratorID") or ""
    assert iterator_id.startswith("{") and first.get("iteratorRemainingCount") == "15"
    seen = [r.findtext("ListID") for r in first.findall("CustomerRet")]
    remaining = [15]
    while remaining[-1] > 0:
        (page,) = rs_list(
            demo.process_request(message_set(_customer_page("Continue", iterator_id)))
        )
        assert status(page)[0] == 0 and page.get("iteratorID") == iterator_id
        seen += [r.findtext("ListID") for r in page.findall("CustomerRet")]
        remaining.append(int(page.get("iteratorRemainingCount") or "-1"))
    assert remaining == [15, 5, 0]
    assert len(seen) == 25 and set(seen) == expected

    # A finished iterator is gone.
    (stale,) = rs_list(demo.process_request(message_set(_customer_page("Continue", iterator_id))))
    assert status(stale)[0:2] == (3000, "Error")


def test_iterators_do_not_survive_the_session(demo: CompanyFile) -> None:
    (first,) = rs_list(demo.process_request(message_set(_customer_page("Start", max_returned=1))))
    iterator_id = first.get("iteratorID") or ""
    assert int(first.get("iteratorRemainingCount") or 0) > 0
    demo.end_session()
    (page,) = rs_list(demo.process_request(message_set(_customer_page("Continue", iterator_id))))
    assert status(page)[0] == 3000


def test_from_modified_date_returns_only_later_changes(
    demo: CompanyFile, clock: SteppingClock
) -> None:
    cutoff = clock.advance(hours=1)
    clock.advance(minutes=1)
    demo.add_customer("Late Customer")
    demo.rename_customer("Globex", "Globex Corporation")
    query = (
        '<CustomerQueryRq requestID="q"><FromModifiedDate>'
        f"{cutoff.isoformat(timespec='seconds')}</FromModifiedDate></CustomerQueryRq>"
    )
    (rs,) = rs_list(demo.process_request(message_set(query)))
    assert sorted(r.findtext("FullName") or "" for r in rs.findall("CustomerRet")) == [
        "Globex Corporation",
        "Late Customer",
    ]


def test_invoice_iterator_with_line_items(demo: CompanyFile) -> None:
    demo.process_request(message_set(*(invoice_add(f"I{n}", request_id=str(n)) for n in range(5))))
    start = (
        '<InvoiceQueryRq requestID="s" iterator="Start"><MaxReturned>2</MaxReturned>'
        "<IncludeLineItems>true</IncludeLineItems></InvoiceQueryRq>"
    )
    (rs,) = rs_list(demo.process_request(message_set(start)))
    assert rs.get("iteratorRemainingCount") == "3"
    rets = rs.findall("InvoiceRet")
    assert [r.findtext("RefNumber") for r in rets] == ["I0", "I1"]
    assert all(r.find("InvoiceLineRet") is not None for r in rets)
    cont = (
        f'<InvoiceQueryRq requestID="c" iterator="Continue" iteratorID="{rs.get("iteratorID")}">'
        "<MaxReturned>10</MaxReturned></InvoiceQueryRq>"
    )
    (rs2,) = rs_list(demo.process_request(message_set(cont)))
    assert [r.findtext("RefNumber") for r in rs2.findall("InvoiceRet")] == ["I2", "I3", "I4"]
    assert rs2.get("iteratorRemainingCount") == "0"


# ---- error recovery ------------------------------------------------------------------


def _write_set(set_id: str, ref: str = "E1") -> str:
    return message_set(
        invoice_add(ref, request_id="w1"),
        on_error="continueOnError",
        attrs=f' newMessageSetID="{set_id}"',
    )


def test_resending_a_remembered_set_does_not_post_twice(demo: CompanyFile) -> None:
    first = demo.process_request(_write_set("gw-1"))
    again = demo.process_request(_write_set("gw-1"))
    assert demo.count_by_ref_number("E1", "Invoice") == 1
    (rs1,), (rs2,) = rs_list(first), rs_list(again)
    assert rs1.findtext("InvoiceRet/TxnID") == rs2.findtext("InvoiceRet/TxnID")
    msgs = parse_valid(again).find("QBXMLMsgsRs")
    assert msgs is not None
    assert msgs.get("newMessageSetID") == "gw-1" and msgs.get("messageSetStatusCode") == "0"


def test_same_id_different_content_is_refused(demo: CompanyFile) -> None:
    demo.process_request(_write_set("gw-2", "E2"))
    answer = demo.process_request(_write_set("gw-2", "E3"))
    msgs = parse_valid(answer).find("QBXMLMsgsRs")
    assert msgs is not None and msgs.get("messageSetStatusCode") == "9001"
    assert len(msgs) == 0
    assert demo.count_by_ref_number("E3") == 0


def test_old_message_set_check_reports_what_was_created(demo: CompanyFile) -> None:
    first = demo.process_request(_write_set("gw-3", "E4"))
    created = rs_list(first)[0].find("InvoiceRet")
    assert created is not None
    check = demo.process_request(message_set(attrs=' oldMessageSetID="gw-3"'))
    (rs,) = rs_list(check)
    assert rs.tag == "InvoiceAddRs" and rs.get("requestID") == "w1" and status(rs)[0] == 0
    recovery = rs.find("ErrorRecovery")
    assert recovery is not None
    assert recovery.findtext("TxnID") == created.findtext("TxnID")
    assert recovery.findtext("EditSequence") == created.findtext("EditSequence")
    assert demo.count_by_ref_number("E4") == 1

    unknown = parse_valid(demo.process_request(message_set(attrs=' oldMessageSetID="gw-404"')))
    msgs = unknown.find("QBXMLMsgsRs")
    assert msgs is not None and msgs.get("messageSetStatusCode") == "600" and len(msgs) == 0

    demo.process_request(message_set(attrs=' oldMessageSetID="ClearAllMessageSets"'))
    cleared = parse_valid(demo.process_request(message_set(attrs=' oldMessageSetID="gw-3"')))
    cleared_msgs = cleared.find("QBXMLMsgsRs")
    assert cleared_msgs is not None and cleared_msgs.get("messageSetStatusCode") == "600"


def test_recovery_shows_a_stop_on_error_set_was_partly_applied(demo: CompanyFile) -> None:
    partial = message_set(
        invoice_add("P1", request_id="a"),
        invoice_add("P2", customer="Nobody", request_id="b"),
        invoice_add("P3", request_id="c"),
        attrs=' newMessageSetID="gw-4"',
    )
    demo.process_request(partial)
    rows = rs_list(demo.process_request(message_set(attrs=' oldMessageSetID="gw-4"')))
    assert [(r.get("requestID"), status(r)[0]) for r in rows] == [("a", 0), ("b", 3140)]
    assert rows[0].find("ErrorRecovery/TxnID") is not None
    assert rows[1].find("ErrorRecovery") is None


def test_remembered_checksum_is_the_canonical_set_without_old_message_set_id(
    demo: CompanyFile,
) -> None:
    """The checksum a remembered set keeps (saved in company files too): SHA-256 of the
    canonical XML of the QBXMLMsgsRq alone, oldMessageSetID left out; a set sent with an
    oldMessageSetID as well still matches the one sent without."""
    plain = _write_set("gw-5", "E6")
    demo.process_request(plain)
    msgs = parse_xml(plain).find("QBXMLMsgsRq")
    assert msgs is not None
    expected = hashlib.sha256(etree.tostring(copy.deepcopy(msgs), method="c14n")).hexdigest()
    assert demo.message_sets["gw-5"].checksum == expected
    with_old = plain.replace(
        ' newMessageSetID="gw-5"', ' newMessageSetID="gw-5" oldMessageSetID="gw-5"'
    )
    again = demo.process_request(with_old)
    msgs_rs = parse_valid(again).find("QBXMLMsgsRs")
    assert msgs_rs is not None and msgs_rs.get("messageSetStatusCode") == "0"
    assert demo.count_by_ref_number("E6", "Invoice") == 1  # answered from memory
