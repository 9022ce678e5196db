"""The simulator against the reference: Intuit's samples, the captured response and HCP."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from lxml import etree

from omni2qbd_shared.qbxml.schema import schema_for
from omni2qbd_shared.xmlsafe import parse_xml
from omni2qbd_sims.quickbooks import (
    PARSE_ERROR_HRESULT,
    PARSE_ERROR_MESSAGE,
    CompanyFile,
    QbxmlSetError,
    QuickBooksSimulator,
    hcp_response,
)
from tests.conftest import REFERENCE_DIR
from tests.sims_qb.sims_qb_helpers import message_set, parse_valid, rs_list, status

SAMPLES = REFERENCE_DIR / "qbxml-samples"
CAPTURES = REFERENCE_DIR / "qbwc" / "captures"
TXN_ID = re.compile(r"^[0-9A-F]+-\d{10}$")


def _captured_invoice_ret() -> list[str]:
    envelope = parse_xml((CAPTURES / "receiveResponseXML-InvoiceAddRs.xml").read_bytes())
    response = envelope.find(".//{http://developer.intuit.com/}response")
    assert response is not None and response.text
    ret = parse_xml(response.text).find("QBXMLMsgsRs/InvoiceAddRs/InvoiceRet")
    assert ret is not None
    return [str(c.tag) for c in ret]


def test_valid_invoice_sample_posts_and_answers_like_the_capture(demo: CompanyFile) -> None:
    demo.add_item("Travel", item_type="ItemOtherCharge", account="Sales")
    response = demo.process_request((SAMPLES / "InvoiceAddRq.valid.xml").read_text())

    # Formatting seen in the capture: declaration with a space, one element per line.
    assert response.startswith('<?xml version="1.0" ?>\n<QBXML>\n<QBXMLMsgsRs>\n')
    (rs,) = rs_list(response)
    assert rs.tag == "InvoiceAddRs" and rs.get("requestID") == "inv-1001"
    assert status(rs) == (0, "Info", "Status OK")
    ret = rs.find("InvoiceRet")
    assert ret is not None
    assert TXN_ID.match(ret.findtext("TxnID") or "")
    assert (ret.findtext("EditSequence") or "").isdigit()
    assert ret.findtext("Subtotal") == "1745.10"  # 10 x 150.00 + 245.10
    assert ret.findtext("BalanceRemaining") == "1745.10"
    assert ret.findtext("IsPending") == "true"
    assert ret.findtext("CustomerRef/FullName") == "Acme Corp"
    assert [line.findtext("Amount") for line in ret.findall("InvoiceLineRet")] == [
        "1500.00",
        "245.10",
    ]
    # Children the capture also has come in the capture's order.
    ours = list(dict.fromkeys(str(c.tag) for c in ret))
    captured = [tag for tag in dict.fromkeys(_captured_invoice_ret()) if tag in ours]
    assert [tag for tag in ours if tag in captured] == captured
    assert len(captured) >= 15
    assert demo.count_by_ref_number("1001", "Invoice") == 1


@pytest.mark.parametrize(
    "sample",
    [
        "InvoiceAddRq.wrong-order.invalid.xml",
        "InventoryAdjustmentAddRq.value-difference.xsd-rejects.xml",
    ],
)
def test_invalid_samples_fail_the_whole_set(demo: CompanyFile, sample: str) -> None:
    with pytest.raises(QbxmlSetError) as failure:
        demo.process_request((SAMPLES / sample).read_text())
    assert failure.value.hresult == PARSE_ERROR_HRESULT == "0x80040400"
    assert failure.value.message == PARSE_ERROR_MESSAGE
    assert "not expected" in failure.value.detail
    assert demo.transactions() == []


def test_mixed_sample_answers_every_request_in_order(demo: CompanyFile) -> None:
    response = demo.process_request((SAMPLES / "MixedQueriesAndWrites.valid.xml").read_text())
    rows = rs_list(response)
    assert [(rs.tag, rs.get("requestID")) for rs in rows] == [
        ("CustomerQueryRs", "q1"),
        ("ItemInventoryQueryRs", "q2"),
        ("AccountQueryRs", "q3"),
        ("TxnDeletedQueryRs", "q4"),
        ("JournalEntryAddRs", "je1"),
        ("InvoiceModRs", "m1"),
    ]
    msgs = parse_xml(response).find("QBXMLMsgsRs")
    assert msgs is not None and msgs.get("newMessageSetID") == "gw-000123"
    codes = [status(rs)[0] for rs in rows]
    # Widget is a non-inventory item, so the inventory-item query cannot find it (500);
    # the Mod names a TxnID that does not exist (3120); continueOnError runs them all.
    assert codes == [0, 500, 0, 1, 0, 3120]
    incomes = [r.findtext("Name") for r in rows[2].findall("AccountRet")]
    assert incomes and all(
        demo.require_list(("Account",), n).account_type == "Income" for n in incomes if n
    )
    journal = demo.transactions("JournalEntry")
    assert [(j.ref_number, j.total) for j in journal] == [("JE-9", Decimal("100.00"))]


def test_not_well_formed_and_unsupported_versions_fail_whole(demo: CompanyFile) -> None:
    with pytest.raises(QbxmlSetError):
        demo.process_request('<?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">')
    sixteen = (SAMPLES / "InvoiceAddRq.valid.xml").read_text().replace('"13.0"', '"16.0"')
    with pytest.raises(QbxmlSetError) as failure:
        demo.process_request(sixteen)  # QuickBooks Pro 2014 speaks up to 13.0
    assert "not supported" in failure.value.detail


def test_enterprise_edition_accepts_16_and_answers_valid_16(sim: QuickBooksSimulator) -> None:
    company = sim.company("Big", edition="enterprise2021", seed_demo=True)
    company.add_item("Travel", item_type="ItemOtherCharge", account="Sales")
    sixteen = (SAMPLES / "InvoiceAddRq.valid.xml").read_text().replace('"13.0"', '"16.0"')
    (rs,) = rs_list(company.process_request(sixteen), "16.0")
    assert status(rs)[0] == 0


def test_hcp_response_matches_the_capture_and_carries_the_file_id(demo: CompanyFile) -> None:
    ours = parse_xml(demo.hcp_response())
    captured = parse_xml((CAPTURES / "strHCPResponse-QuickBooksPro2014.xml").read_bytes())
    assert schema_for("13.0").validate(ours.getroottree())

    def shape(root: etree._Element) -> list[tuple[str, str | None]]:
        msgs = root.find("QBXMLMsgsRs")
        assert msgs is not None
        return [(str(rs.tag), rs.get("requestID")) for rs in msgs]

    assert shape(ours) == shape(captured)
    # Same elements in the same places as the capture; only the values are this company's,
    # plus the SubscribedServices list the capture left out (real answers carry it).
    services = ours.find("QBXMLMsgsRs/CompanyQueryRs/CompanyRet/SubscribedServices")
    assert services is not None and services.find("Service/ServiceStatus") is not None
    paths = [ours.getroottree().getpath(e) for e in ours.iter()]
    assert [p for p in paths if "/SubscribedServices" not in p] == [
        captured.getroottree().getpath(e) for e in captured.iter()
    ]
    host = ours.find("QBXMLMsgsRs/HostQueryRs/HostRet")
    assert host is not None
    assert host.findtext("ProductName") == "QuickBooks Pro 2014"
    assert [v.text for v in host.findall("SupportedQBXMLVersion")] == [
        v.text for v in captured.iterfind(".//SupportedQBXMLVersion")
    ]
    file_ids = [
        ext.findtext("DataExtValue")
        for ext in ours.iterfind(".//CompanyRet/DataExtRet")
        if ext.findtext("DataExtName") == "FileID"
    ]
    assert file_ids == [demo.file_id]
    assert re.fullmatch(r"\{[0-9A-F-]{36}\}", demo.file_id)
    assert hcp_response(demo.path) == demo.hcp_response()  # FileID derived from the path


def test_first_call_queries_answer_like_hcp(demo: CompanyFile) -> None:

    response = demo.process_request(
        message_set(
            '<HostQueryRq requestID="0"/><CompanyQueryRq requestID="1"/>'
            '<PreferencesQueryRq requestID="2"/>'
        )
    )
    rows = rs_list(response)
    assert [r.tag for r in rows] == ["HostQueryRs", "CompanyQueryRs", "PreferencesQueryRs"]
    assert demo.file_id in response
    assert unescape(response).count("<HostRet>") == 1
    parse_valid(response)


def test_the_captured_invoice_reproduced(sim: QuickBooksSimulator) -> None:
    """Rebuild the request behind the captured InvoiceAddRs and compare field by field."""

    company = sim.company("Spree", seed_demo=True)
    company.add_customer("spree@example.com")
    company.add_item(
        "SPREE-T-SHIRT",
        item_type="ItemNonInventory",
        price="103.00",
        account="Sales",
        sales_tax_code="Non",
    )
    company.add_list("Template", "Intuit Service Invoice")
    address = (
        "<Addr1>1234 Awesome Street</Addr1><City>Hollywood</City><State>CA</State>"
        "<PostalCode>90210</PostalCode><Country>USA</Country>"
    )
    request = (
        "<InvoiceAddRq><InvoiceAdd><CustomerRef><FullName>spree@example.com</FullName>"
        "</CustomerRef><TemplateRef><FullName>Intuit Service Invoice</FullName></TemplateRef>"
        f"<TxnDate>2014-02-03</TxnDate><RefNumber>R1TT46883</RefNumber>"
        f"<BillAddress>{address}</BillAddress><ShipAddress>{address}</ShipAddress>"
        "<IsPending>false</IsPending><DueDate>2014-02-03</DueDate><ShipDate>2014-02-03</ShipDate>"
        "<IsToBePrinted>true</IsToBePrinted><IsToBeEmailed>false</IsToBeEmailed>"
        "<InvoiceLineAdd><ItemRef><FullName>SPREE-T-SHIRT</FullName></ItemRef>"
        "<Quantity>2</Quantity></InvoiceLineAdd></InvoiceAdd></InvoiceAddRq>"
    )
    (rs,) = rs_list(company.process_request(message_set(request)))
    ours = rs.find("InvoiceRet")
    envelope = parse_xml((CAPTURES / "receiveResponseXML-InvoiceAddRs.xml").read_bytes())
    text = envelope.findtext(".//{http://developer.intuit.com/}response") or ""
    theirs = parse_xml(text).find("QBXMLMsgsRs/InvoiceAddRs/InvoiceRet")
    assert ours is not None and theirs is not None
    assert [c.tag for c in ours] == [c.tag for c in theirs]
    varying = {
        "TxnID",
        "TimeCreated",
        "TimeModified",
        "EditSequence",
        "TxnNumber",
        "ListID",
        "TxnLineID",
        "Addr2",
        "Addr3",
    }  # ids, times, and QuickBooks' state/country names

    def values(ret: etree._Element) -> list[tuple[str, str]]:
        return [
            (e.getroottree().getpath(e), (e.text or "").strip())
            for e in ret.iter()
            if e.tag not in varying and not len(e)
        ]

    assert values(ours) == values(theirs)
