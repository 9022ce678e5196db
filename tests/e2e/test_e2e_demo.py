"""The README's main job end to end: ``omni2qbd demo --no-serve`` with the real broker and
each database, every figure checked against the QuickBooks simulator's company file."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from omni2qbd_shared.db.engine import create_engine
from omni2qbd_shared.messaging import Topology
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.company_file import CompanyFile
from omni2qbd_sims.quickbooks.persistence import load_companies
from tests.conftest import AMQP_URL, REPO_ROOT, closed_port, delete_topology, run_blocking

SCALE = "0.05"
QB_TYPES = {
    "invoice": "Invoice",
    "bill": "Bill",
    "credit_memo": "CreditMemo",
    "vendor_credit": "VendorCredit",
    "journal": "JournalEntry",
}


def namespace_for(data_dir: Path) -> str:
    """One broker namespace per data directory: runs of one test share it, tests never do."""
    return f"e2e{abs(hash(str(data_dir))) % 10**8}."


@pytest.fixture(autouse=True)
def remove_demo_queues(tmp_path: Path) -> Iterator[None]:
    yield
    run_blocking(delete_topology(Topology(namespace=namespace_for(tmp_path))))


def run_demo(data_dir: Path, database_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMNI2QBD_AMQP_URL": AMQP_URL}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "omni2qbd",
            "demo",
            "--no-serve",
            "--scale",
            SCALE,
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
            # Its own queues: the two databases' runs go side by side under xdist, and a
            # mapper taking the other run's documents would dead-letter them (unknown tenant).
            "--amqp-namespace",
            namespace_for(data_dir),
            *extra,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def company_file(data_dir: Path) -> CompanyFile:
    sim = QuickBooksSimulator()
    loaded = load_companies(sim, data_dir / "quickbooks-company-files.pickle")
    assert len(loaded) == 1
    return loaded[0]


def posted_rows(database_url: str) -> list[tuple[str, str, str, str]]:
    """(entry kind, cin7 id, external guid, ref) of every posted outbox entry, read with SQL."""

    async def read() -> list[tuple[str, str, str, str]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text(
                        "SELECT entry_kind, cin7_id, body, ref_number FROM outbox "
                        "WHERE state = 'posted'"
                    )
                )

                result = []
                for kind, cin7_id, body, ref in rows:
                    data = body if isinstance(body, dict) else json.loads(body)
                    result.append((kind, cin7_id, data["external_guid"], ref or ""))
                return result
        finally:
            await engine.dispose()

    return asyncio.run(read())


def check_exactly_once(company: CompanyFile, posted: list[tuple[str, str, str, str]]) -> None:
    for kind, cin7_id, guid, ref in posted:
        if kind not in QB_TYPES:
            continue
        matches = [t for t in company.find_by_external_guid(guid) if t.txn_type == QB_TYPES[kind]]
        if not matches:
            # a re-imported draft keeps the first version's transaction (and GUID)
            assert company.count_by_ref_number(ref, QB_TYPES[kind]) == 1, (kind, cin7_id)
        else:
            assert len(matches) == 1, (kind, cin7_id, len(matches))


def summary_rows(stdout: str) -> dict[str, tuple[int, Decimal]]:
    rows: dict[str, tuple[int, Decimal]] = {}
    words = {
        "Invoices": "Invoice",
        "Bills": "Bill",
        "Credit Memos": "CreditMemo",
        "Vendor Credits": "VendorCredit",
        "Journal Entries": "JournalEntry",
    }
    for line in stdout.splitlines():
        for label, qb_type in words.items():
            if line.strip().startswith(label):
                parts = line.split()
                rows[qb_type] = (int(parts[-3]), Decimal(parts[-1].replace(",", "")))
    return rows


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_demo_posts_everything_once_reconciles_and_reimports_a_draft(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database_url = (
        f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
        if database == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    first = run_demo(tmp_path, database_url)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "exactly once" in first.stdout
    assert "fetched" in first.stdout  # progress lines while it ran
    company = company_file(tmp_path)
    posted = posted_rows(database_url)
    check_exactly_once(company, posted)

    # The summary's figures are the company file's own.
    in_qb = company.totals_by_type()
    shown = summary_rows(first.stdout)
    assert shown, first.stdout
    for qb_type, (count, total) in shown.items():
        assert in_qb[qb_type].count == count, qb_type
        assert (
            abs(in_qb[qb_type].total) == total
            or sum(abs(t.total) for t in company.transactions(qb_type)) == total
        ), qb_type
    assert "Invoice" in shown and "JournalEntry" in shown
    # Held documents are named with their reason: the non-USD order, the colliding name.
    assert "foreign_currency" in first.stdout and "name_in_use" in first.stdout
    before = Counter(t.txn_type for t in company.transactions())

    # A re-run against the same database and company file fetches and maps everything again
    # and posts nothing twice; with --change, the one Cin7 order it edits (its invoice already
    # in QuickBooks, still a draft) is re-imported as a Mod of that invoice, not a new one.
    # (One run checks both: a plain re-run did the same fetch and post without the edit.)
    invoices_before = {t.txn_id: t for t in company.transactions("Invoice")}
    second = run_demo(tmp_path, database_url, "--change")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "Re-using the demo tenant" in second.stdout
    assert "re-imported" in second.stdout
    company = company_file(tmp_path)
    assert Counter(t.txn_type for t in company.transactions()) == before
    invoices_after = {t.txn_id: t for t in company.transactions("Invoice")}
    assert invoices_after.keys() == invoices_before.keys()
    modified = [
        txn_id
        for txn_id, txn in invoices_after.items()
        if txn.edit_sequence != invoices_before[txn_id].edit_sequence
    ]
    assert len(modified) == 1
    assert invoices_after[modified[0]].total != invoices_before[modified[0]].total
    assert invoices_after[modified[0]].is_pending is True
    check_exactly_once(company, posted_rows(database_url))


def test_demo_reports_failure_when_rabbitmq_is_unreachable(tmp_path: Path) -> None:

    env = {**os.environ, "OMNI2QBD_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{closed_port()}/"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "omni2qbd",
            "demo",
            "--no-serve",
            "--scale",
            SCALE,
            "--data-dir",
            str(tmp_path / f"d{uuid.uuid4().hex[:6]}"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "demo failed: cannot reach RabbitMQ" in result.stderr
    assert "guest:guest" not in result.stderr
