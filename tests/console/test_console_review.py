"""Review and import in the browser with every service running: the counts, an entry's debits
and credits and qbXML, Import, a Web Connector run watched live, and a failure explained,
fixed and retried."""

from __future__ import annotations

import re
import threading
from typing import Any

from playwright.sync_api import Page, expect
from sqlmodel import select

from omni2qbd_shared.db.models import OutboxItem
from omni2qbd_sims.webconnector.report import SessionReport
from tests.conftest import run_blocking
from tests.console.browser import screenshot, sign_in
from tests.console.console_stack import Account, ConsoleStack, Person


def run_in_background(stack: ConsoleStack, account: Account, delay: float = 0.0) -> Any:
    """A Web Connector update in a thread, QuickBooks taking ``delay`` seconds per request."""
    connector = stack.connector(account.qbwc_username, account.qbwc_password, account.company_path)
    connector.quickbooks_delay_seconds = delay
    reports: list[SessionReport] = []
    thread = threading.Thread(target=lambda: reports.append(run_blocking(connector.run_session())))
    thread.start()
    return thread, reports


def count_of(page: Page, state: str) -> int:
    """The number on a state's card at the top of the page."""
    return int(page.locator(f".counts a[data-state={state}] .n").inner_text().replace(",", ""))


def test_review_an_entry_import_it_and_watch_the_run_post_it(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    sign_in(page, stack, bookkeeper)
    expect(page.get_by_role("heading", name="Review & import")).to_be_visible()
    ready_before = count_of(page, "ready")
    posted_before = count_of(page, "posted")
    assert ready_before >= 3
    # Amounts are right-aligned, like an accounting report.
    amount_cell = page.locator("section", has_text="Ready to import").locator("td.num").nth(1)
    assert amount_cell.evaluate("el => getComputedStyle(el).textAlign") == "right"
    screenshot(page, "review-and-import")

    # One entry: its debits and credits balance, and the qbXML is there on request.
    page.locator("section", has_text="Ready to import").locator("tbody a").first.click()
    expect(page.get_by_role("heading", name="Debits and credits")).to_be_visible()
    totals = page.locator("tfoot td.num").all_inner_texts()
    assert len(totals) == 2 and totals[0] == totals[1] and totals[0] not in ("", "0.00")
    page.get_by_role("button", name="Show the qbXML").click()
    expect(page.locator("pre.xml")).to_contain_text("<QBXML>")
    expect(page.locator("pre.xml")).to_contain_text("Add")
    screenshot(page, "entry")
    page.go_back()

    # Select three with the keyboard-usable check boxes and Import.
    page.reload()
    ready = page.locator("section", has_text="Ready to import")
    boxes = ready.locator("tbody input[type=checkbox]")
    for index in range(3):
        boxes.nth(index).check()
    expect(ready.get_by_role("button", name=re.compile(r"Import selected \(3\)"))).to_be_enabled()
    ready.get_by_role("button", name=re.compile("Import selected")).click()
    expect(page.locator("#flash")).to_contain_text("will be sent to QuickBooks")
    approved = count_of(page, "approved")
    assert approved >= 3

    # The Web Connector runs; the page shows it live, then the result.
    thread, reports = run_in_background(stack, acme, delay=1.5)
    expect(page.get_by_role("heading", name="The Web Connector is running")).to_be_visible(
        timeout=30_000
    )
    screenshot(page, "import-progress")
    expect(page.locator("#last-run")).to_be_visible(timeout=90_000)
    thread.join(60)
    assert reports and reports[0].status != "error", reports
    page.reload()
    assert count_of(page, "posted") >= posted_before + 3
    assert count_of(page, "approved") == 0
    posted = page.goto(
        f"{stack.urls['gateway']}/console/tenants/{acme.tenant_id}/entries?state=posted"
    )
    assert posted is not None and posted.status == 200
    expect(page.locator("tbody .badge.posted").first).to_have_text("In QuickBooks")
    screenshot(page, "transactions-posted")


def test_a_refused_entry_is_explained_and_retried_after_the_fix(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    company = stack.company(acme)

    # A ready invoice whose customer is already in QuickBooks (matched or created earlier).
    async def pick(db: Any) -> tuple[str, str] | None:
        rows = (
            await db.exec(
                select(OutboxItem).where(
                    OutboxItem.tenant_id == acme.tenant_id,
                    OutboxItem.state == "ready",
                    OutboxItem.entry_kind == "invoice",
                )
            )
        ).all()
        for row in rows:
            party = (row.body.get("header") or {}).get("party") or {}
            record = company.find_name("Name", str(party.get("name") or ""))
            if record is not None and record.kind == "Customer":
                return row.entry_id, record.list_id
        return None

    picked = stack.query(pick)
    assert picked is not None, "no ready invoice for a customer already in QuickBooks"
    entry_id, customer_id = picked
    # Someone deletes that customer in QuickBooks before the next run.
    removed = company.lists.pop(customer_id)

    entry_url = f"{stack.urls['gateway']}/console/tenants/{acme.tenant_id}/entries/{entry_id}"
    sign_in(page, stack, bookkeeper, path=f"/console/tenants/{acme.tenant_id}/entries/{entry_id}")
    expect(page).to_have_url(entry_url)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#flash")).to_contain_text("will be sent to QuickBooks")
    thread, _reports = run_in_background(stack, acme)
    thread.join(90)
    page.reload()
    expect(page.locator(".facts .badge")).to_have_text("Refused by QuickBooks")
    reason = page.locator("#failure-reason")
    expect(reason).to_be_visible()
    assert removed.name.casefold() in reason.inner_text().casefold() or "customer" in (
        reason.inner_text().casefold()
    )
    expect(page.get_by_text("Next step:")).to_be_visible()
    screenshot(page, "failure-explained")

    # The fix (the customer is back in QuickBooks), then Retry and the next run posts it.
    company.lists[customer_id] = removed
    page.get_by_role("button", name="Retry after the fix").click()
    expect(page.locator("#flash")).to_contain_text("Sent again at the next Web Connector run")
    thread, _reports = run_in_background(stack, acme)
    thread.join(90)
    page.reload()
    expect(page.locator(".facts .badge")).to_have_text("In QuickBooks")
