"""Company files survive a restart of the simulator (the demo re-runs against them)."""

from __future__ import annotations

from pathlib import Path

from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.persistence import load_companies, save_companies
from tests.conftest import REFERENCE_DIR


def test_saved_company_comes_back_with_transactions_and_counters(tmp_path: Path) -> None:
    sim = QuickBooksSimulator()
    company = sim.company("Persisted", seed_demo=True)
    company.add_item("Travel", item_type="ItemOtherCharge", account="Sales")
    sample = (REFERENCE_DIR / "qbxml-samples" / "InvoiceAddRq.valid.xml").read_text()
    assert 'statusCode="0"' in company.process_request(sample)
    before = company.totals_by_type()
    state = tmp_path / "qb.pickle"
    save_companies(sim, state)

    restarted = QuickBooksSimulator()
    loaded = load_companies(restarted, state)
    assert [c.path for c in loaded] == [company.path]
    again = restarted.company("Persisted")
    assert again.file_id == company.file_id
    assert again.count_by_ref_number("1001", "Invoice") == 1
    assert again.totals_by_type() == before
    # New ids continue after the saved ones instead of colliding with them.
    response = again.process_request(sample.replace("1001", "1002"))
    assert 'statusCode="0"' in response
    txn_ids = {t.txn_id for t in again.transactions("Invoice")}
    assert len(txn_ids) == 2


def test_missing_state_file_loads_nothing(tmp_path: Path) -> None:
    assert load_companies(QuickBooksSimulator(), tmp_path / "none.pickle") == []
