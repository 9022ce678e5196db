"""Issue 12, point 1: a document's COGS counts only once its invoice or credit memo is in
QuickBooks (or a person marked it "do not import"); a late one re-opens its month."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omni2qbd.cli import app as cli
from omni2qbd_mapper import handlers
from omni2qbd_mapper.cogs_status import cogs_status, describe_cogs_status
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import create_engine, session_factory
from tests.conftest import run_blocking
from tests.mapper.conftest import load_doc
from tests.mapper.test_mapper_store import (
    Sessions,
    deliver,
    doc_message,
    make_tenant,
    rows,
    states,
)


async def post(sessions: Sessions, tenant: str, entry_id: str) -> list[m.Message]:
    result = m.ResultMessage(entry_id=entry_id, tenant_id=tenant, outcome="posted", txn_id="T")
    return await deliver(sessions, handlers.handle_result, result)


async def test_held_and_unsent_documents_add_no_cogs(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    held = load_doc("so_foreign_currency")  # held: non-USD without multi-currency
    ready = load_doc("so_tax_exclusive")
    for payload in (held, ready):
        await deliver(
            sessions, handlers.handle_document, doc_message(tenant, "sales_order", payload)
        )
    invoices = {r.cin7_id: r for r in await rows(sessions, tenant, entry_kind="invoice")}
    assert invoices[str(held["id"])].state == "needs_attention"
    assert invoices[str(ready["id"])].state == "ready"
    # Neither invoice is in QuickBooks, so September has no COGS journal yet.
    assert await rows(sessions, tenant, source_kind="cogs_month") == []

    async with sessions() as session:
        months = await cogs_status(session, tenant)
    (september,) = [month for month in months if month.period == "2022-09"]
    assert september.counted == Decimal("0.00")
    assert (september.waiting, september.waiting_documents) == (Decimal("170.00"), 2)
    assert "waiting" in describe_cogs_status(months)[0]


async def test_posted_invoice_counts_and_a_late_one_reopens_its_month(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    first = load_doc("so_tax_exclusive")
    second = {**first, "id": 3001, "reference": "SO-3001", "invoiceNumber": 3001}
    for payload in (first, second):
        await deliver(
            sessions, handlers.handle_document, doc_message(tenant, "sales_order", payload)
        )
    invoices = {r.cin7_id: r for r in await rows(sessions, tenant, entry_kind="invoice")}

    out = await post(sessions, tenant, invoices["2221"].id)
    assert states(out) == [("journal", "ready")]
    (month,) = await rows(sessions, tenant, source_kind="cogs_month")
    assert month.total is not None and Decimal(month.total) == Decimal("85.00")
    # the journal reaches QuickBooks ...
    await post(sessions, tenant, month.id)
    # ... and the second invoice is posted later: the month re-opens with the difference shown
    out = await post(sessions, tenant, invoices["3001"].id)
    assert states(out) == [("journal", "held")]  # September 2022 is long closed
    latest = max(await rows(sessions, tenant, source_kind="cogs_month"), key=lambda r: r.version)
    assert latest.total is not None and Decimal(latest.total) == Decimal("170.00")
    codes = {f["code"] for f in latest.findings}
    assert {"cogs_month_reopened", "cogs_month_closed"} <= codes


async def test_do_not_import_lets_the_cogs_count(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    await deliver(
        sessions,
        handlers.handle_document,
        doc_message(tenant, "sales_order", load_doc("so_tax_exclusive")),
    )
    (invoice,) = await rows(sessions, tenant, entry_kind="invoice")
    event = m.TenantEventMessage(
        tenant_id=tenant, event="do_not_import", detail={"entry_ids": [invoice.id]}
    )
    out = await deliver(sessions, handlers.handle_tenant_event, event)
    assert ("invoice", "superseded") in states(out)  # withdrawn from the gateway
    assert ("journal", "ready") in states(out)
    (month,) = await rows(sessions, tenant, source_kind="cogs_month")
    assert month.total is not None and Decimal(month.total) == Decimal("85.00")
    # not pending in QuickBooks: nothing to say about drafts
    assert not any(f["code"] == "cogs_includes_pending" for f in month.findings)


async def test_posted_credit_note_returns_its_cost(sessions: Sessions) -> None:
    tenant = await make_tenant(sessions)
    await deliver(
        sessions,
        handlers.handle_document,
        doc_message(tenant, "credit_note", load_doc("cn_credit_memo")),
    )
    assert await rows(sessions, tenant, source_kind="cogs_month") == []
    (memo,) = await rows(sessions, tenant, entry_kind="credit_memo")
    await post(sessions, tenant, memo.id)
    (month,) = await rows(sessions, tenant, source_kind="cogs_month")
    lines = month.body["lines"]
    # a return: Inventory Asset debited, COGS credited
    assert {(line["account"], line["side"]) for line in lines} == {
        ("Cost of Goods Sold", "credit"),
        ("Inventory Asset", "debit"),
    }


def test_status_shows_cogs_per_month(
    sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_database_url
    monkeypatch.setenv("OMNI2QBD_DATABASE_URL", url)

    async def prepare() -> str:
        engine = create_engine(url)
        try:
            sessions = session_factory(engine)
            tenant = await make_tenant(sessions)
            for payload in (load_doc("so_tax_exclusive"), load_doc("so_foreign_currency")):
                await deliver(
                    sessions, handlers.handle_document, doc_message(tenant, "sales_order", payload)
                )
            invoice = next(
                r for r in await rows(sessions, tenant, entry_kind="invoice") if r.cin7_id == "2221"
            )
            await post(sessions, tenant, invoice.id)
            return tenant
        finally:
            await engine.dispose()

    tenant = run_blocking(prepare())
    shown = CliRunner().invoke(cli, ["status", tenant])
    assert shown.exit_code == 0, shown.output
    assert (
        "COGS 2022-09: 85.00 counted (1 documents in QuickBooks, of which 85.00 on 1 pending "
        "drafts); 85.00 waiting for 1 invoices/credit memos to reach QuickBooks"
    ) in shown.output


def test_preview_says_when_the_cogs_counts(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("{}")
    document = Path(__file__).parents[1] / "mapper" / "corpus" / "so_tax_exclusive.json"
    shown = CliRunner().invoke(cli, ["preview", "--settings", str(settings), str(document)])
    assert shown.exit_code == 0, shown.output
    assert "[cogs] 2022-09: 85.00. This document's COGS counts" in shown.output
    assert "a pending draft counts" in shown.output
