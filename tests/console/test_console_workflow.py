"""Matching a contact and the reconciliation charts, in the browser, on the same running
product as the review tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect
from sqlmodel import select

from omni2qbd_shared.db.models import OutboxItem, QbLink
from tests.console.browser import screenshot, sign_in
from tests.console.console_stack import Account, ConsoleStack, Person

# What each QuickBooks list of the demo company file holds, to search for in the pick box.
SEARCH_FOR = {
    "customer": ("Walk", "Walk-in Customer"),
    "supplier": ("Office", "Office Supplies Co"),
}


def test_match_a_contact_by_searching_quickbooks(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    base = f"/console/tenants/{acme.tenant_id}/matching"
    sign_in(page, stack, bookkeeper, path=base)
    expect(page.get_by_role("heading", name="Matching contacts")).to_be_visible()
    waiting = page.locator("tbody tr:has(.pick)")
    assert waiting.count() >= 1, "no Cin7 contact waiting for a match"
    row = waiting.first
    name = row.locator("th[scope=row]").inner_text().split("\n")[0].strip()
    kind = "supplier" if "supplier" in row.inner_text() else "customer"
    typed, wanted = SEARCH_FOR[kind]
    screenshot(page, "matching")

    row.get_by_label("Search QuickBooks").fill(typed)
    use = row.get_by_role("button", name=f"Use {wanted}")
    expect(use).to_be_visible()
    use.click()
    expect(page.locator("#flash")).to_contain_text("Matched to the QuickBooks")
    expect(page.locator("#flash")).to_contain_text(wanted)
    matched = page.goto(f"{stack.urls['gateway']}{base}?status=matched")
    assert matched is not None and matched.status == 200
    done = page.locator(
        "tbody tr", has=page.get_by_role("rowheader", name=re.compile(re.escape(name)))
    )
    expect(done.first).to_contain_text(wanted)
    expect(done.first).to_contain_text(f"by {bookkeeper.email}")


def test_reconciliation_chart_is_drawn_after_quickbooks_is_read(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    url = f"/console/tenants/{acme.tenant_id}/reconciliation"
    sign_in(page, stack, bookkeeper, path=url)
    expect(page.get_by_role("heading", name="Cin7 against QuickBooks")).to_be_visible()
    status = page.locator("#reading-status")
    if "has not been read" in status.inner_text():
        # The page asked for a reading; the next Web Connector run answers it.
        stack.run_web_connector(acme)
        page.reload()
    expect(status).to_contain_text("QuickBooks as read on")
    charts = page.locator("[data-chart]")
    expect(charts).to_have_count(4)
    for index in range(4):
        expect(charts.nth(index)).to_have_attribute("data-drawn", "true")
        expect(charts.nth(index).locator("canvas")).to_have_count(1)
    # Figures line up as an accounting report, and a difference leads to its documents.
    first_month = page.locator("section.card").first
    cells = first_month.locator("td.num")
    assert cells.first.evaluate("el => getComputedStyle(el).textAlign") == "right"
    screenshot(page, "reconciliation")

    # An inventory difference (bills not yet in QuickBooks) is approved as an adjustment
    # journal, which then waits in the queue for the next run.
    adjust = page.get_by_role("button", name=re.compile("Approve an adjustment journal of"))
    assert adjust.count() >= 1, "no month with an inventory difference to adjust"
    label = adjust.first.inner_text()
    month = label.rsplit(" for ", 1)[1]
    adjust.first.click()
    expect(page.locator("#flash")).to_contain_text(
        f"The inventory adjustment for {month} is approved"
    )
    approved = page.goto(
        f"{stack.urls['gateway']}/console/tenants/{acme.tenant_id}/entries?state=approved"
    )
    assert approved is not None and approved.status == 200
    expect(page.locator("tbody")).to_contain_text("Journal")


def test_settings_are_explained_chosen_from_quickbooks_and_versioned(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    url = f"/console/tenants/{acme.tenant_id}/settings"
    sign_in(page, stack, bookkeeper, path=url)
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    income = page.get_by_label("Income", exact=True)
    # Accounts are chosen from the tenant's QuickBooks chart of accounts.
    assert income.get_attribute("list") == "qb-account"
    assert page.locator("#qb-account option[value='Sales']").count() == 1
    expect(page.locator("#s-accounts-income-help")).to_contain_text("account mode")

    # A required account left empty is refused in words, naming the setting.
    income.fill("")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("#problems")).to_contain_text("Nothing was saved")
    expect(page.locator("#problems")).to_contain_text("accounts.income")

    page.get_by_label("Income", exact=True).fill("Sales")
    page.get_by_label("Memo pattern").first.fill("From Cin7 {reference}")
    page.get_by_role("button", name="Save as a new version").click()
    saved = page.locator("#saved")
    expect(saved).to_contain_text("Saved as version")
    expect(saved).to_contain_text("sales.memo_pattern")
    expect(saved).to_contain_text("checked again with these settings")
    history = page.locator("section", has_text="History").locator("tbody tr").first
    expect(history).to_contain_text(bookkeeper.email)
    screenshot(page, "settings")


def test_a_posted_document_changed_in_cin7_shows_what_changed(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    async def posted_invoice(db: Any) -> str | None:
        link = (
            await db.exec(
                select(QbLink).where(
                    QbLink.tenant_id == acme.tenant_id, QbLink.entry_kind == "invoice"
                )
            )
        ).first()
        return None if link is None else str(link.cin7_id)

    cin7_id = stack.query(posted_invoice)
    assert cin7_id is not None, "the review test posts invoices first"
    entry_id = change_in_cin7_and_wait_for_the_new_version(
        stack,
        acme,
        cin7_id,
        {"freightTotal": 12.34, "customerOrderNo": "CHANGED-IN-CIN7"},
    )
    sign_in(page, stack, bookkeeper, path=f"/console/tenants/{acme.tenant_id}/entries/{entry_id}")
    expect(page.get_by_role("heading", name="Changed in Cin7 after it was posted")).to_be_visible()
    expect(page.locator("#reimport-status")).to_contain_text("QuickBooks can still be updated")
    changed = page.locator("section", has_text="What changed")
    expect(changed).to_contain_text("CHANGED-IN-CIN7")
    # Fields in a bookkeeper's words, not the entry's internal paths.
    expect(changed.locator("tr", has_text="CHANGED-IN-CIN7")).to_contain_text("P.O. number")
    expect(changed.locator("tbody")).not_to_contain_text("header.")
    screenshot(page, "reimport")


def test_a_reimport_edited_in_quickbooks_meanwhile_is_locked_and_explained(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    async def posted_invoice(db: Any) -> tuple[str, str] | None:
        links = (
            await db.exec(
                select(QbLink).where(
                    QbLink.tenant_id == acme.tenant_id, QbLink.entry_kind == "invoice"
                )
            )
        ).all()
        revised = {
            row.cin7_id
            for row in (
                await db.exec(
                    select(OutboxItem).where(
                        OutboxItem.tenant_id == acme.tenant_id, OutboxItem.version > 1
                    )
                )
            ).all()
        }
        for link in links:
            if link.cin7_id not in revised and link.is_pending:
                return str(link.cin7_id), link.txn_id
        return None

    picked = stack.query(posted_invoice)
    assert picked is not None, "the review test posts invoices first"
    cin7_id, txn_id = picked
    entry_id = change_in_cin7_and_wait_for_the_new_version(
        stack, acme, cin7_id, {"freightTotal": 7.5}
    )
    sign_in(page, stack, bookkeeper, path=f"/console/tenants/{acme.tenant_id}/entries/{entry_id}")
    expect(page.locator("#reimport-status")).to_contain_text("QuickBooks can still be updated")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#flash")).to_contain_text("will be sent to QuickBooks")
    # Meanwhile someone edits the invoice in QuickBooks: the bridge must not overwrite it.
    stack.company(acme).edit_transaction(txn_id, memo="Corrected by hand in QuickBooks")
    stack.run_web_connector(acme)
    page.reload()
    expect(page.locator(".facts .badge")).to_have_text("Changed in QuickBooks (locked)")
    status = page.locator("#reimport-status")
    expect(status).to_contain_text("Locked:")
    expect(status).to_contain_text("edited in QuickBooks")
    expect(status).to_contain_text("never overwrites what people changed in QuickBooks")
    # What to do, in each system.
    expect(page.locator("#reimport-actions")).to_contain_text("In QuickBooks")
    screenshot(page, "locked", full_page=True)


def test_operator_pages_health_audit_people_and_cogs(
    page: Page, stack: ConsoleStack, acme: Account, operator: Person
) -> None:
    base = stack.urls["gateway"]
    sign_in(page, stack, operator, path="/console/health")
    expect(page.get_by_role("heading", name="Connection health")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(re.escape(acme.name)))).to_contain_text(
        acme.company_path
    )
    screenshot(page, "health")

    page.goto(f"{base}/console/tenants/{acme.tenant_id}/audit?action=entries.")
    expect(page.locator("tbody")).to_contain_text("entries.approved")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    csv_text = Path(download.value.path()).read_text()
    assert csv_text.startswith("at,actor,action") and "entries.approved" in csv_text

    page.goto(f"{base}/console/people")
    page.get_by_label("Email").fill("new.viewer@example.com")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_label("Tenants (not for operators)").select_option(acme.tenant_id)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("Added new.viewer@example.com")
    assert len(page.locator("#new-password").inner_text().strip()) >= 16

    page.goto(f"{base}/console/tenants/{acme.tenant_id}/cogs")
    expect(page.get_by_role("heading", name=re.compile("Cost of goods sold"))).to_be_visible()
    expect(page.locator("section", has_text="Documents behind it")).to_be_visible()


UNLABELLED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 120))"""
# Out of the keyboard's reach or out of reading order: a control taken out of the Tab order,
# or any positive tabindex (which jumps ahead of the page's order).
OFF_THE_TAB_ORDER = """() => Array.from(document.querySelectorAll('[tabindex]'))
  .filter(el => el.tabIndex > 0
                || (el.tabIndex < 0 && el.matches('input, select, textarea, button, a[href]')))
  .map(el => el.outerHTML.slice(0, 120))"""
IS_FOCUSED = "el => el === document.activeElement"


def test_every_control_on_the_main_pages_has_a_label(
    page: Page, stack: ConsoleStack, acme: Account, operator: Person
) -> None:
    t = f"/console/tenants/{acme.tenant_id}"
    sign_in(page, stack, operator)
    for path in (
        "/console/",
        "/console/people",
        f"{t}/",
        f"{t}/entries?state=ready",
        f"{t}/matching",
        f"{t}/settings",
        f"{t}/reconciliation",
        f"{t}/cogs",
        f"{t}/audit",
        f"{t}/connect",
    ):
        page.goto(f"{stack.urls['gateway']}{path}")
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate(OFF_THE_TAB_ORDER) == [], path
        # Each page says where one is, in words, in the window title.
        title = page.title()
        assert title.endswith("· Omni2QBD") and "<" not in title and len(title) < 120, path


def test_every_form_is_reached_and_sent_by_keyboard(
    page: Page, stack: ConsoleStack, acme: Account, operator: Person
) -> None:
    """From its first field, Tab reaches each form's button (check boxes ticked with Space
    where the button waits for a choice); and a form is sent with Enter."""
    t = f"/console/tenants/{acme.tenant_id}"
    sign_in(page, stack, operator)
    walked = 0
    for path in (
        "/console/",
        "/console/people",
        f"{t}/",
        f"{t}/entries?state=needs_attention",
        f"{t}/matching",
        f"{t}/settings",
        f"{t}/reconciliation",
        f"{t}/audit",
        f"{t}/connect",
    ):
        page.goto(f"{stack.urls['gateway']}{path}")
        forms = page.locator("main form")
        for index in range(min(forms.count(), 6)):
            form = forms.nth(index)
            button = form.locator("button[type=submit], button:not([type])").last
            if not form.is_visible() or not button.is_visible():
                continue
            fields = form.locator(
                "input:not([type=hidden]):visible, select:visible, textarea:visible"
            )
            start = fields.first if fields.count() else button
            start.focus()
            for _ in range(80):
                if button.evaluate(IS_FOCUSED):
                    break
                if button.is_disabled() and page.evaluate(
                    "() => document.activeElement.type === 'checkbox'"
                ):
                    page.keyboard.press("Space")
                page.keyboard.press("Tab")
            assert button.evaluate(IS_FOCUSED), (path, index, button.inner_text())
            walked += 1
    assert walked >= 12, walked

    # Sent with the keyboard alone: a company added from the start page.
    page.goto(f"{stack.urls['gateway']}/console/")
    page.get_by_label("Company name").focus()
    page.keyboard.type("Keyboard Trading")
    page.keyboard.press("Tab")
    assert page.get_by_role("button", name="Add and connect").evaluate(IS_FOCUSED)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Connect Keyboard Trading")).to_be_visible()


def change_in_cin7_and_wait_for_the_new_version(
    stack: ConsoleStack, acme: Account, cin7_id: str, changes: dict[str, Any]
) -> str:
    """Edit a posted sales order in the Cin7 simulator; the id of the entry's next version."""
    cin7 = stack.cin7_accounts[0]
    changed = httpx.post(
        f"{stack.urls['cin7']}/_sim/change-document",
        json={
            "username": cin7["username"],
            "resource": "SalesOrders",
            "id": int(cin7_id),
            "changes": changes,
        },
        timeout=10,
    )
    assert changed.status_code == 200, changed.text

    async def newer_version(db: Any) -> str | None:
        rows = (
            await db.exec(
                select(OutboxItem).where(
                    OutboxItem.tenant_id == acme.tenant_id,
                    OutboxItem.entry_kind == "invoice",
                    OutboxItem.cin7_id == cin7_id,
                    OutboxItem.version > 1,
                )
            )
        ).all()
        return rows[0].entry_id if rows else None

    entry_id: str = stack.wait_for(
        "the new version of the changed order", lambda: stack.query(newer_version)
    )
    return entry_id
