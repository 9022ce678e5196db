"""The company file's indexed lookups answer what a scan of every transaction or list record
answers, after adds, Mods (ExternalGUID, RefNumber or customer changed), deletions, renames,
records removed behind the simulator's back, and a save and load."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from lxml import etree

from omni2qbd_sims.quickbooks import CompanyFile, QuickBooksSimulator
from omni2qbd_sims.quickbooks.model import ListRecord, Txn, list_family
from omni2qbd_sims.quickbooks.persistence import load_companies, save_companies
from omni2qbd_sims.quickbooks.render import _customer_balance
from omni2qbd_sims.quickbooks.txn_ops import ZERO, mod_txn, totals
from tests.sims_qb.sims_qb_helpers import SteppingClock, invoice_add, message_set, rs_list, status

Send = Callable[..., str]


# ---- the scans the indexes replaced (the answers they must keep giving) ------------------


def scan_guid(company: CompanyFile, guid: str) -> list[str]:
    wanted = guid.strip().upper()
    return [
        t.txn_id
        for t in company.txns.values()
        if not t.deleted and (t.body.findtext("ExternalGUID") or "").upper() == wanted
    ]


def scan_ref_count(company: CompanyFile, ref: str, txn_type: str | None = None) -> int:
    return sum(
        1
        for t in company.txns.values()
        if not t.deleted
        and (txn_type is None or t.txn_type == txn_type)
        and t.body.findtext("RefNumber") == ref
    )


def scan_name(company: CompanyFile, family: str, full_name: str) -> ListRecord | None:
    key = full_name.strip().casefold()
    for record in company.lists.values():
        if list_family(record.kind) == family and company.full_name(record).casefold() == key:
            return record
    return None


def scan_customer_balance(company: CompanyFile, record: ListRecord) -> Decimal:
    balance = ZERO
    for txn in company.txns.values():
        if txn.deleted or txn.body.findtext("CustomerRef/ListID") != record.list_id:
            continue
        if txn.body.findtext("IsPending") == "true":
            continue
        if txn.txn_type == "Invoice":
            balance += totals(company, txn).balance
        elif txn.txn_type == "CreditMemo":
            balance -= totals(company, txn).balance
    return balance


def assert_lookups_agree(company: CompanyFile, guids: set[str], refs: set[str]) -> None:
    for guid in guids | {"", "{00000000-0000-0000-0000-000000000000}"}:
        assert [s.txn_id for s in company.find_by_external_guid(guid)] == scan_guid(
            company, guid
        ), guid
        assert [s.txn_id for s in company.find_by_external_guid(guid.lower())] == scan_guid(
            company, guid
        ), guid
    for ref in refs | {"", "nothing"}:
        for txn_type in (None, "Invoice", "Bill", "JournalEntry"):
            assert company.count_by_ref_number(ref, txn_type) == scan_ref_count(
                company, ref, txn_type
            ), (ref, txn_type)
    for record in list(company.lists.values()):
        full = company.full_name(record)
        for asked in (full, full.upper(), f"  {full} "):
            assert company.find_name(list_family(record.kind), asked) is scan_name(
                company, list_family(record.kind), asked
            )
        if record.kind == "Customer":
            assert _customer_balance(company, record) == scan_customer_balance(company, record)


# ---- qbXML ------------------------------------------------------------------------------


def _post(company: CompanyFile, ref: str, guid: str | None, customer: str = "Acme Corp") -> Txn:
    answer = company.process_request(
        message_set(invoice_add(ref, customer=customer, guid=guid, pending=False))
    )
    (rs,) = rs_list(answer)
    assert status(rs)[0] == 0, status(rs)
    return company.txns[rs.findtext("*/TxnID") or ""]


def test_lookups_follow_adds_mods_and_deletes(send: Send, demo: CompanyFile) -> None:
    first = _post(demo, "IX-1", "{AAAAAAAA-0000-0000-0000-000000000001}")
    second = _post(demo, "IX-2", "{aaaaaaaa-0000-0000-0000-000000000002}")
    _post(demo, "IX-3", None, customer="Globex")
    guids = {f"{{AAAAAAAA-0000-0000-0000-00000000000{n}}}" for n in (1, 2, 3)}
    refs = {"IX-1", "IX-2", "IX-3", "IX-1B"}
    assert [s.txn_id for s in demo.find_by_external_guid(next(iter(sorted(guids))))] == [
        first.txn_id
    ]
    # Stored in lower case, found in upper case, as before.
    assert [s.txn_id for s in demo.find_by_external_guid(sorted(guids)[1])] == [second.txn_id]
    assert_lookups_agree(demo, guids, refs)

    # A Mod that changes the RefNumber and the customer.
    mod = (
        f"<InvoiceModRq><InvoiceMod><TxnID>{first.txn_id}</TxnID>"
        f"<EditSequence>{first.edit_sequence}</EditSequence>"
        "<CustomerRef><FullName>Globex</FullName></CustomerRef>"
        "<RefNumber>IX-1B</RefNumber></InvoiceMod></InvoiceModRq>"
    )
    (rs,) = rs_list(send(mod))
    assert status(rs)[0] == 0, status(rs)
    assert demo.count_by_ref_number("IX-1", "Invoice") == 0
    assert demo.count_by_ref_number("IX-1B", "Invoice") == 1
    globex = demo.require_list(("Customer",), "Globex")
    acme = demo.require_list(("Customer",), "Acme Corp")
    assert _customer_balance(demo, globex) == scan_customer_balance(demo, globex) > 0
    assert _customer_balance(demo, acme) == scan_customer_balance(demo, acme)
    assert_lookups_agree(demo, guids, refs)

    # A Mod that changes the ExternalGUID (qbXML's Mods do not carry one; a change made
    # through the same code path must still move the transaction in the index).
    change = etree.fromstring(
        f"<InvoiceMod><TxnID>{second.txn_id}</TxnID>"
        f"<EditSequence>{second.edit_sequence}</EditSequence>"
        "<ExternalGUID>{AAAAAAAA-0000-0000-0000-000000000003}</ExternalGUID></InvoiceMod>"
    )
    with demo.lock:
        mod_txn(demo, "Invoice", change)
    assert demo.find_by_external_guid(sorted(guids)[1]) == []
    assert [s.txn_id for s in demo.find_by_external_guid(sorted(guids)[2])] == [second.txn_id]
    assert_lookups_agree(demo, guids, refs)

    # Deleted in QuickBooks: found by neither GUID nor RefNumber, out of the balance.
    demo.delete_transaction(second.txn_id)
    assert demo.find_by_external_guid(sorted(guids)[2]) == []
    assert demo.count_by_ref_number("IX-2") == 0
    assert_lookups_agree(demo, guids, refs)

    # The same RefNumber again (QuickBooks allows it): counted twice.
    _post(demo, "IX-3", "{AAAAAAAA-0000-0000-0000-000000000001}")
    assert demo.count_by_ref_number("IX-3", "Invoice") == 2
    assert len(demo.find_by_external_guid(sorted(guids)[0])) == 2
    assert_lookups_agree(demo, guids, refs)


def test_automatic_ref_numbers_skip_used_ones(send: Send, demo: CompanyFile) -> None:
    two = _post(demo, "2", None)
    no_ref = (
        '<InvoiceAddRq requestID="1"><InvoiceAdd><CustomerRef><FullName>Acme Corp</FullName>'
        "</CustomerRef><InvoiceLineAdd><ItemRef><FullName>Widget</FullName></ItemRef>"
        "</InvoiceLineAdd></InvoiceAdd></InvoiceAddRq>"
    )
    numbers = [rs_list(send(no_ref))[0].findtext("InvoiceRet/RefNumber") for _ in range(3)]
    assert numbers == ["1", "3", "4"]
    assert demo.count_by_ref_number("2") == 1
    demo.delete_transaction(two.txn_id)
    assert demo.count_by_ref_number("2") == 0
    assert rs_list(send(no_ref))[0].findtext("InvoiceRet/RefNumber") == "5"


def test_name_lookups_follow_adds_renames_and_removals(send: Send, demo: CompanyFile) -> None:
    parent = demo.add_customer("Harbour Group")
    demo.add_customer("Dock 4", parent="Harbour Group")
    assert demo.require_list(("Customer",), "harbour group:DOCK 4").name == "Dock 4"
    _post(demo, "N-1", None, customer="Harbour Group:Dock 4")

    # A rename changes the full name of the customer and of its sub-customer.
    demo.rename_customer(parent.list_id, "Harbor Holdings")
    assert demo.find_name("Name", "Harbour Group:Dock 4") is None
    assert demo.find_name("Name", "Harbor Holdings:Dock 4") is not None
    (refused,) = rs_list(send(invoice_add("N-2", customer="Harbour Group:Dock 4")))
    assert status(refused)[0] == 3140
    _post(demo, "N-3", None, customer="Harbor Holdings:Dock 4")
    # The old name is free again, in the whole name family.
    demo.add_vendor("Harbour Group")
    assert demo.find_name("Name", "Harbour Group") is not None
    assert_lookups_agree(demo, set(), {"N-1", "N-3"})

    # A customer removed behind the simulator's back is not found; put back, it is.
    globex = demo.require_list(("Customer",), "Globex")
    removed = demo.lists.pop(globex.list_id)
    assert demo.find_list(("Customer",), full_name="Globex") is None
    (refused,) = rs_list(send(invoice_add("N-4", customer="Globex")))
    assert status(refused)[0] == 3140
    demo.lists[globex.list_id] = removed
    assert demo.find_list(("Customer",), full_name="globex") is removed
    assert_lookups_agree(demo, set(), {"N-1", "N-3"})


def test_indexes_rebuilt_after_loading(tmp_path: Path) -> None:
    clock = SteppingClock()
    sim = QuickBooksSimulator(clock=clock)
    company = sim.company("Saved", seed_demo=True)

    _post(company, "L-1", "{BBBBBBBB-0000-0000-0000-000000000001}")
    company.add_customer("Before Saving")
    save_companies(sim, tmp_path / "qb.pickle")

    again = QuickBooksSimulator(clock=clock)
    (loaded,) = load_companies(again, tmp_path / "qb.pickle")
    assert "_txn_index" not in loaded.__getstate__()
    assert [
        s.ref_number for s in loaded.find_by_external_guid("{bbbbbbbb-0000-0000-0000-000000000001}")
    ] == ["L-1"]
    assert loaded.find_name("Name", "before saving") is not None
    _post(
        loaded,
        "L-2",
        "{BBBBBBBB-0000-0000-0000-000000000002}",
        customer="Before Saving",
    )
    assert loaded.count_by_ref_number("L-2", "Invoice") == 1
    assert_lookups_agree(
        loaded,
        {"{BBBBBBBB-0000-0000-0000-000000000001}", "{BBBBBBBB-0000-0000-0000-000000000002}"},
        {"L-1", "L-2"},
    )


def test_random_changes_keep_every_lookup_as_a_scan_answers(demo: CompanyFile) -> None:
    """A seeded sequence of adds (some without RefNumber, GUIDs shared and in either case),
    Mods of RefNumber, customer and ExternalGUID, payments, deletions and renames."""
    rng = random.Random(15)
    guids = [f"{{CCCCCCCC-0000-0000-0000-00000000000{n}}}" for n in range(6)]
    refs = [f"R-{n}" for n in range(8)]
    customers = ["Acme Corp", "Globex"]
    for n in range(4):
        demo.add_customer(f"Extra {n}")
        customers.append(f"Extra {n}")
    for _step in range(160):
        live = [t for t in demo.txns.values() if not t.deleted and t.txn_type == "Invoice"]
        action = rng.random()
        if action < 0.45 or not live:
            guid = rng.choice([*guids, None])
            ref = rng.choice([*refs, None])
            guid_xml = (
                f"<ExternalGUID>{rng.choice([guid.lower(), guid])}</ExternalGUID>" if guid else ""
            )
            ref_xml = f"<RefNumber>{ref}</RefNumber>" if ref else ""
            demo.process_request(
                message_set(
                    "<InvoiceAddRq><InvoiceAdd><CustomerRef><FullName>"
                    f"{rng.choice(customers)}</FullName></CustomerRef>{ref_xml}"
                    "<IsPending>false</IsPending>"
                    f"{guid_xml}<InvoiceLineAdd><ItemRef><FullName>Widget</FullName></ItemRef>"
                    "</InvoiceLineAdd></InvoiceAdd></InvoiceAddRq>"
                )
            )
        elif action < 0.75:
            txn = rng.choice(live)
            fields = rng.choice(
                [
                    f"<RefNumber>{rng.choice(refs)}</RefNumber>",
                    f"<CustomerRef><FullName>{rng.choice(customers)}</FullName></CustomerRef>",
                    f"<ExternalGUID>{rng.choice(guids)}</ExternalGUID>",
                ]
            )
            change = etree.fromstring(
                f"<InvoiceMod><TxnID>{txn.txn_id}</TxnID>"
                f"<EditSequence>{txn.edit_sequence}</EditSequence>{fields}</InvoiceMod>"
            )
            with demo.lock:
                mod_txn(demo, "Invoice", change)
        elif action < 0.85:
            txn = rng.choice(live)
            if demo.transaction(txn.txn_id).balance_remaining >= 1:
                demo.apply_payment(txn.txn_id, "1.00")
        elif action < 0.95:
            demo.delete_transaction(rng.choice(live).txn_id)
        else:
            index = rng.randrange(2, len(customers))
            customers[index] = f"{customers[index]} renamed"
            demo.rename_customer(customers[index].removesuffix(" renamed"), customers[index])
        assert_lookups_agree(demo, set(guids), set(refs))
    assert sum(1 for t in demo.txns.values() if t.deleted) > 3
